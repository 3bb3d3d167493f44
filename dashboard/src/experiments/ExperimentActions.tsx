// What can be done to an experiment in its status: start a draft (or edit
// it), stop a running one (after confirmation), and analyse a started one
// now. Each shows its change pending, then a notice of its outcome.
import { useMutation } from 'urql';
import { Link } from 'wouter';

import { ActionButton } from '../components/ActionButton';
import { ConfirmAction } from '../components/ConfirmAction';
import { Gated } from '../components/Denied';
import type { ExperimentFieldsFragment } from '../gql/graphql';
import { newExperimentPath } from '../routing';
import { countText } from './format';
import { RunAnalysisMutation, StartExperimentMutation, StopExperimentMutation } from './operations';

export interface ExperimentActionsProps {
  experiment: ExperimentFieldsFragment;
  /** Why the signed-in token may not change it, or `null`. */
  denial: string | null;
  /** Called after an analysis, to read the results again. */
  onAnalysed: () => void;
}

export function ExperimentActions({ experiment, denial, onAnalysed }: ExperimentActionsProps) {
  const [, start] = useMutation(StartExperimentMutation);
  const [, stop] = useMutation(StopExperimentMutation);
  const [, analyse] = useMutation(RunAnalysisMutation);
  const { flagSet, key } = experiment;
  return (
    <div className="experiment-actions" role="group" aria-label="Actions">
      {experiment.status === 'DRAFT' && (
        <>
          <ActionButton
            label="Start experiment"
            pendingLabel="Starting…"
            denial={denial}
            run={() => start({ flagSet, key })}
            success={(data) => `Started ${data.startExperiment.key}: exposures of ${data.startExperiment.flag} are recorded from now on`}
            failure={`${key} was not started`}
          />
          {denial === null ? (
            <Link href={newExperimentPath(flagSet, key)} className="button-link">
              Edit draft
            </Link>
          ) : (
            <Gated reason={denial}>
              <button type="button">Edit draft</button>
            </Gated>
          )}
        </>
      )}
      {experiment.status === 'RUNNING' && (
        <ConfirmAction
          label="Stop experiment"
          className="danger"
          title={`Stop ${key}?`}
          confirmLabel="Stop experiment"
          pendingLabel="Stopping…"
          denial={denial}
          run={() => stop({ flagSet, key })}
          success={(data) => `Stopped ${data.stopExperiment.key}`}
        >
          <p>
            Exposures of <strong>{experiment.flag}</strong> stop being recorded now, and the periodic analysis no longer
            runs. The exposures and results recorded so far stay, and it can still be analysed. A stopped experiment
            cannot be started again.
          </p>
        </ConfirmAction>
      )}
      {experiment.status !== 'DRAFT' && (
        <ActionButton
          label="Analyse now"
          pendingLabel="Analysing…"
          denial={denial}
          run={() => analyse({ flagSet, key })}
          success={(data) => `Analysed ${key}: ${countText(data.runAnalysis.users)} users`}
          failure={`${key} was not analysed`}
          onDone={onAnalysed}
        />
      )}
    </div>
  );
}
