// `/experiments/:flagSet`: the flag set's experiments, newest first, each
// with its status and its health at its latest analysis (users, the
// sample-ratio test, the verdict), linking to its results.
import { useQuery } from 'urql';
import { Link, useParams } from 'wouter';

import { failureOf } from '../api/errors';
import { Gated } from '../components/Denied';
import { ErrorNotice } from '../components/ErrorNotice';
import { FlagSetSwitcher } from '../components/FlagSetSwitcher';
import { formatTime } from '../flags/flagFields';
import { useWriteDenial } from '../flags/useWriteDenial';
import type { ExperimentListQuery as ExperimentListData } from '../gql/graphql';
import { decodeParam, experimentPath, experimentsPath, flagPath, newExperimentPath } from '../routing';
import { StatusBadge } from './StatusBadge';
import { countText, percentText, pStatement } from './format';
import { ExperimentListQuery } from './operations';
import './experiments.css';

type ListedExperiment = ExperimentListData['experiments'][number];

// A created experiment returns an `Experiment`: the list is read again even
// when it was empty (and so held no `Experiment` for the cache to match).
const LIST_CONTEXT = { additionalTypenames: ['Experiment', 'ExperimentResult'] };

export function ExperimentsScreen() {
  const flagSet = decodeParam(useParams<{ flagSet: string }>().flagSet);
  return <FlagSetExperiments key={flagSet} flagSet={flagSet} />;
}

function FlagSetExperiments({ flagSet }: { flagSet: string }) {
  const [{ data, error, fetching }, refetch] = useQuery({
    query: ExperimentListQuery,
    variables: { flagSet },
    context: LIST_CONTEXT,
  });
  const denial = useWriteDenial(flagSet);
  const experiments = data?.experiments ?? [];

  return (
    <>
      <div className="screen-head">
        <h1>Experiments</h1>
        <FlagSetSwitcher flagSet={flagSet} pathOf={experimentsPath} />
        <NewExperimentLink flagSet={flagSet} denial={denial} />
      </div>
      {error && (
        <>
          <ErrorNotice failure={failureOf(error)} what="The experiments could not be loaded" />
          <button type="button" onClick={() => { refetch({ requestPolicy: 'network-only' }); }}>
            Try again
          </button>
        </>
      )}
      {!data && fetching && <p role="status">Loading experiments…</p>}
      {data && experiments.length === 0 && (
        <p className="empty">
          No experiments in {flagSet} yet. An experiment compares the variants of a flag’s <code>fractional</code>{' '}
          split on the events your application tracks.
        </p>
      )}
      {experiments.length > 0 && (
        <table className="experiment-list">
          <caption className="visually-hidden">Experiments of {flagSet}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Experiment</th>
              <th scope="col">Flag</th>
              <th scope="col">Status</th>
              <th scope="col" className="number">
                Users
              </th>
              <th scope="col">Sample ratio</th>
              <th scope="col">Verdict</th>
            </tr>
          </thead>
          <tbody>
            {experiments.map((experiment) => (
              <ExperimentRow key={experiment.id} flagSet={flagSet} experiment={experiment} />
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function ExperimentRow({ flagSet, experiment }: { flagSet: string; experiment: ListedExperiment }) {
  const { health } = experiment;
  return (
    <tr>
      <th scope="row">
        <Link href={experimentPath(flagSet, experiment.key)}>{experiment.key}</Link>
      </th>
      <td>
        <Link href={flagPath(flagSet, experiment.flag)}>{experiment.flag}</Link>
      </td>
      <td>
        <StatusBadge status={experiment.status} />
        <span className="since">{statusSince(experiment)}</span>
      </td>
      <td className="number">{health ? countText(health.users) : '—'}</td>
      <td>
        {health === null ? (
          '—'
        ) : health.srmMismatch ? (
          <span className="srm-mismatch">Mismatch ({pStatement(health.srmPValue)})</span>
        ) : health.srmPValue === null ? (
          'Not tested'
        ) : (
          <span className="srm-ok">Matches the weights</span>
        )}
        {health?.multipleExposureShare ? (
          <span className="since">{percentText(health.multipleExposureShare, 2)} saw several variants</span>
        ) : null}
      </td>
      <td className="verdict-cell">
        {health ? (
          <>
            {health.verdict}
            <span className="since">
              Analysed <time dateTime={health.computedAt}>{formatTime(health.computedAt)}</time>
            </span>
          </>
        ) : experiment.status === 'DRAFT' ? (
          'Not started'
        ) : (
          'Not analysed yet'
        )}
      </td>
    </tr>
  );
}

/** When the experiment reached its status, in words. */
function statusSince(experiment: ListedExperiment): string {
  if (experiment.status === 'STOPPED' && experiment.stoppedAt) return `since ${formatTime(experiment.stoppedAt)}`;
  if (experiment.status === 'RUNNING' && experiment.startedAt) return `since ${formatTime(experiment.startedAt)}`;
  return `edited ${formatTime(experiment.updatedAt)}`;
}

/** The way to the create form, or a disabled control with the reason. */
function NewExperimentLink({ flagSet, denial }: { flagSet: string; denial: string | null }) {
  if (denial !== null) {
    return (
      <span className="new-flag-link">
        <Gated reason={denial}>
          <button type="button">New experiment</button>
        </Gated>
      </span>
    );
  }
  return (
    <Link href={newExperimentPath(flagSet)} className="new-flag-link">
      New experiment
    </Link>
  );
}
