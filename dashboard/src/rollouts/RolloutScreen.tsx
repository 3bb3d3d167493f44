// `/rollouts/:flagSet/:id`: one rollout. Its status and what it means, the
// step that failed, the actions its status allows (pause, resume, cancel),
// its steps as a timeline and a chart, and for a guarded rollout the guard
// and its latest check with the figures drawn against the tolerance. Read
// again every few seconds while it may change, so a step applied or a
// guard's pause shows without a reload.
import type { ReactNode } from 'react';
import { useMutation, useQuery } from 'urql';
import { Link, Redirect, useParams } from 'wouter';

import { failureOf } from '../api/errors';
import { ActionButton } from '../components/ActionButton';
import { ConfirmAction } from '../components/ConfirmAction';
import { ErrorNotice } from '../components/ErrorNotice';
import { formatTime } from '../flags/flagFields';
import { useWriteDenial } from '../flags/useWriteDenial';
import type { RolloutFieldsFragment } from '../gql/graphql';
import { decodeParam, flagPath, flagTabPath, rolloutPath, rolloutsPath } from '../routing';
import { RolloutStatusBadge, VerdictBadge } from './Badges';
import { GuardChart } from './GuardChart';
import { StepsChart, type StepRow } from './StepsChart';
import { countText, durationText, plainPercent, relativeTime, signedPercent, weightsText } from './format';
import { CancelRolloutMutation, PauseRolloutMutation, ResumeRolloutMutation, RolloutQuery } from './operations';
import { ACTION_LABEL, DIRECTION_LABEL, STATUS_LABEL, STATUS_MEANING, VERDICT_MEANING, actionDenial, isLive } from './status';
import { usePolling } from './usePolling';
import '../editing/editing.css';
import './rollouts.css';

/** How often the rollout is read again while it may change. */
export const ROLLOUT_POLL_MS = 2000;

export function RolloutScreen() {
  const params = useParams<{ flagSet: string; id: string }>();
  const flagSet = decodeParam(params.flagSet);
  const back = (
    <p>
      <Link href={rolloutsPath(flagSet)}>← Rollouts of {flagSet}</Link>
    </p>
  );
  if (!/^\d{1,9}$/.test(params.id)) {
    return (
      <>
        {back}
        <h1>Not a rollout</h1>
        <p>“{decodeParam(params.id)}” is not a rollout’s number.</p>
      </>
    );
  }
  return <Rollout key={params.id} flagSet={flagSet} id={Number(params.id)} back={back} />;
}

function Rollout({ flagSet, id, back }: { flagSet: string; id: number; back: ReactNode }) {
  const [{ data, error }, refetch] = useQuery({ query: RolloutQuery, variables: { id } });
  const rollout = data?.rollout;
  usePolling(rollout !== undefined && isLive(rollout.status), refetch, ROLLOUT_POLL_MS);

  if (!rollout) {
    return (
      <>
        {back}
        <h1>Rollout {id}</h1>
        {error ? <ErrorNotice failure={failureOf(error)} what="The rollout could not be loaded" /> : <p role="status">Loading…</p>}
      </>
    );
  }
  // A rollout's number is unique across flag sets: show it under its own.
  if (rollout.flagSet !== flagSet) return <Redirect to={rolloutPath(rollout.flagSet, rollout.id)} replace />;

  return (
    <>
      {back}
      <div className="screen-head">
        <h1>
          Rollout {rollout.id} of <Link href={flagPath(rollout.flagSet, rollout.flag)}>{rollout.flag}</Link>
        </h1>
        <RolloutStatusBadge status={rollout.status} />
      </div>
      {error && <ErrorNotice failure={failureOf(error)} what="The rollout could not be read again" />}
      <StatusPanel rollout={rollout} />
      <StepsPanel rollout={rollout} />
      {rollout.guard && <GuardPanel rollout={rollout} guard={rollout.guard} />}
    </>
  );
}

function StatusPanel({ rollout }: { rollout: RolloutFieldsFragment }) {
  const { status } = rollout;
  const byGuard = rollout.guardCheck?.verdict === 'REGRESSED' && (status === 'PAUSED' || status === 'RESTORED');
  const failedStep = rollout.nextStep + 1;

  return (
    <section className="panel" aria-labelledby="status-heading">
      <h2 id="status-heading">Status</h2>
      <p className={`status-line line-${status.toLowerCase()}`}>
        <RolloutStatusBadge status={status} /> {STATUS_MEANING[status]}
        {byGuard && status === 'PAUSED' && ' Its guard paused it: the new variant regressed beyond the tolerance (see the latest check below).'}
      </p>
      {rollout.lastError && (
        <div className="error-notice" role="alert">
          <strong>Step {failedStep} failed:</strong> {rollout.lastError}
        </div>
      )}
      <dl className="details">
        <dt>Flag</dt>
        <dd>
          <Link href={flagTabPath(rollout.flagSet, rollout.flag, 'rollout')}>{rollout.flag}</Link> in {rollout.flagSet}
        </dd>
        <dt>Progress</dt>
        <dd>
          {rollout.nextStep} of {rollout.steps.length} step{rollout.steps.length === 1 ? '' : 's'} applied
        </dd>
        {rollout.nextAt && isLive(status) && (
          <>
            <dt>Next step due</dt>
            <dd>
              <time dateTime={rollout.nextAt}>{formatTime(rollout.nextAt)}</time> ({relativeTime(rollout.nextAt)})
              {rollout.guard ? ', once the guard has cleared the current step' : ''}
            </dd>
          </>
        )}
        <dt>Created</dt>
        <dd>
          <time dateTime={rollout.createdAt}>{formatTime(rollout.createdAt)}</time> by {rollout.createdBy}
        </dd>
        <dt>Changes made as</dt>
        <dd>
          <code>{rollout.actor}</code> (in the audit log)
        </dd>
      </dl>
      {isLive(status) ? (
        <RolloutActions rollout={rollout} />
      ) : (
        <p className="help">
          A {STATUS_LABEL[status].toLowerCase()} rollout is over: it can no longer be paused, resumed or cancelled.
        </p>
      )}
    </section>
  );
}

/** Pause, resume and cancel, each open only in the statuses that allow it and to a role that may change flags. */
function RolloutActions({ rollout }: { rollout: RolloutFieldsFragment }) {
  const denial = useWriteDenial(rollout.flagSet);
  const [, pause] = useMutation(PauseRolloutMutation);
  const [, resume] = useMutation(ResumeRolloutMutation);
  const [, cancel] = useMutation(CancelRolloutMutation);
  const { id, status } = rollout;
  return (
    <div className="actions">
      <ActionButton
        label="Pause"
        pendingLabel="Pausing…"
        denial={denial ?? actionDenial('pause', status)}
        run={() => pause({ id })}
        success={() => `Paused rollout ${String(id)}`}
        failure={`Rollout ${String(id)} was not paused`}
      />
      <ActionButton
        label="Resume"
        pendingLabel="Resuming…"
        denial={denial ?? actionDenial('resume', status)}
        run={() => resume({ id })}
        success={(d) => `Resumed rollout ${String(id)}: ${d.resumeRollout.status.toLowerCase()}`}
        failure={`Rollout ${String(id)} was not resumed`}
      />
      <ConfirmAction
        label="Cancel rollout"
        className="danger"
        title={`Cancel rollout ${String(id)} of ${rollout.flag}?`}
        confirmLabel="Cancel the rollout"
        dismissLabel="Keep it"
        pendingLabel="Cancelling…"
        denial={denial ?? actionDenial('cancel', status)}
        run={() => cancel({ id })}
        success={() => `Cancelled rollout ${String(id)}`}
      >
        <p>
          No further step of this rollout is applied. The flag keeps the weights its last applied step set
          {rollout.nextStep > 0 ? ` (${weightsText(rollout.steps[rollout.nextStep - 1]?.weights ?? [])})` : ''}. This
          cannot be undone; a new rollout can be scheduled instead.
        </p>
      </ConfirmAction>
    </div>
  );
}

/** Where a step stands, in words. */
function stepState(rollout: RolloutFieldsFragment, index: number): string {
  if (index < rollout.nextStep) return 'Applied';
  if (index === rollout.nextStep) {
    if (rollout.status === 'FAILED') return 'Failed';
    if (rollout.status === 'PAUSED') return 'Next (waits while paused)';
    if (isLive(rollout.status)) return 'Next';
  }
  return isLive(rollout.status) ? 'To come' : 'Never applied';
}

function StepsPanel({ rollout }: { rollout: RolloutFieldsFragment }) {
  const rows: StepRow[] = [
    ...(rollout.initialWeights ? [{ label: 'Before', weights: rollout.initialWeights, applied: true }] : []),
    ...rollout.steps.map((step, i) => ({ label: `Step ${String(i + 1)}`, weights: step.weights, applied: i < rollout.nextStep })),
  ];
  return (
    <section className="panel" aria-labelledby="steps-heading">
      <h2 id="steps-heading">Steps</h2>
      <ol className="step-timeline" aria-label="Steps">
        {rollout.steps.map((step, index) => {
          const state = stepState(rollout, index);
          const current = index === rollout.nextStep - 1 && rollout.stepStartedAt;
          return (
            <li key={step.at} className={`step step-${state.split(' ')[0]?.toLowerCase() ?? ''}`}>
              <span className="step-name">Step {index + 1}</span>
              <span className="step-state">{state}</span>
              <span>{weightsText(step.weights)}</span>
              <span className="help">
                due <time dateTime={step.at}>{formatTime(step.at)}</time>
                {index >= rollout.nextStep && isLive(rollout.status) ? ` (${relativeTime(step.at)})` : ''}
                {current ? (
                  <>
                    ; applied <time dateTime={current}>{formatTime(current)}</time>
                  </>
                ) : null}
              </span>
            </li>
          );
        })}
      </ol>
      <StepsChart rows={rows} label="The weights before the rollout and at each step" />
    </section>
  );
}

type Guard = NonNullable<RolloutFieldsFragment['guard']>;

function GuardPanel({ rollout, guard }: { rollout: RolloutFieldsFragment; guard: Guard }) {
  const check = rollout.guardCheck;
  return (
    <section className="panel" aria-labelledby="guard-heading">
      <h2 id="guard-heading">Guard</h2>
      <p className="help">
        Each step is judged on the users first exposed during it: the new variant against the others, by an
        always-valid 95% confidence sequence on the relative lift. The next step follows only a healthy check.
      </p>
      <dl className="details" aria-label="Guard settings">
        <dt>Guarded variant</dt>
        <dd>{rollout.guardedVariant ?? 'not known yet'}</dd>
        <dt>Metric</dt>
        <dd>
          <code>{guard.metric.event}</code>, as a {guard.metric.kind === 'CONVERSION' ? 'conversion' : 'sum'}, within{' '}
          {durationText(guard.metric.windowSeconds)} of a user’s first exposure
        </dd>
        <dt>Direction</dt>
        <dd>{DIRECTION_LABEL[guard.direction]}</dd>
        <dt>Tolerance</dt>
        <dd>
          {plainPercent(guard.tolerance)} {guard.direction === 'HIGHER_IS_BETTER' ? 'lower' : 'higher'} than the other
          variants
        </dd>
        <dt>Minimum users</dt>
        <dd>{countText(guard.minUsers)} per step, both sides together</dd>
        <dt>On a regression</dt>
        <dd>{ACTION_LABEL[guard.action]}</dd>
        <dt>Weights before the rollout</dt>
        <dd>{rollout.initialWeights ? weightsText(rollout.initialWeights) : 'known once the first step is applied'}</dd>
        <dt>Current step started</dt>
        <dd>
          {rollout.stepStartedAt ? (
            <>
              <time dateTime={rollout.stepStartedAt}>{formatTime(rollout.stepStartedAt)}</time> (step {rollout.nextStep})
            </>
          ) : (
            'no step applied yet'
          )}
        </dd>
      </dl>
      <h3 id="check-heading">Latest check</h3>
      {check ? (
        <GuardCheckFigures check={check} guard={guard} />
      ) : (
        <p>No check of the current step yet{rollout.nextStep === 0 ? ': no step is applied' : ''}.</p>
      )}
    </section>
  );
}

type Check = NonNullable<RolloutFieldsFragment['guardCheck']>;

function GuardCheckFigures({ check, guard }: { check: Check; guard: Guard }) {
  const [low, high] = check.interval ?? [];
  const interval = low !== undefined && high !== undefined ? ([low, high] as const) : null;
  return (
    <div className={`guard-check check-${check.verdict.toLowerCase()}`}>
      <p>
        <VerdictBadge verdict={check.verdict} /> {VERDICT_MEANING[check.verdict]}
      </p>
      <table className="figures" aria-labelledby="check-heading">
        <tbody>
          <tr>
            <th scope="row">Verdict</th>
            <td>{check.verdict}</td>
          </tr>
          <tr>
            <th scope="row">Step checked</th>
            <td>
              Step {check.step + 1}, at <time dateTime={check.checkedAt}>{formatTime(check.checkedAt)}</time> (
              {relativeTime(check.checkedAt)})
            </td>
          </tr>
          <tr>
            <th scope="row">Users of the new variant</th>
            <td>{countText(check.newUsers)}</td>
          </tr>
          <tr>
            <th scope="row">Users of the other variants</th>
            <td>{countText(check.oldUsers)}</td>
          </tr>
          <tr>
            <th scope="row">Relative lift</th>
            <td>{check.lift === null ? 'undefined' : signedPercent(check.lift)}</td>
          </tr>
          <tr>
            <th scope="row">95% interval</th>
            <td>{interval ? `${signedPercent(interval[0])} to ${signedPercent(interval[1])}` : 'undefined'}</td>
          </tr>
          {check.reason && (
            <tr>
              <th scope="row">Why undefined</th>
              <td>{check.reason}</td>
            </tr>
          )}
        </tbody>
      </table>
      {check.lift !== null && (
        <GuardChart lift={check.lift} interval={interval} tolerance={guard.tolerance} direction={guard.direction} />
      )}
    </div>
  );
}
