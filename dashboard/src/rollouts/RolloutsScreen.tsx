// `/rollouts/:flagSet`: the flag set's progressive rollouts, newest first,
// each with its status, its next step and when it is due, and its guard
// with the latest verdict. Read again every few seconds while one of them
// may still change.
import { useQuery } from 'urql';
import { Link, useParams } from 'wouter';

import { failureOf } from '../api/errors';
import { ErrorNotice } from '../components/ErrorNotice';
import { FlagSetSwitcher } from '../components/FlagSetSwitcher';
import { formatTime } from '../flags/flagFields';
import { useWriteDenial } from '../flags/useWriteDenial';
import type { RolloutSummaryFieldsFragment } from '../gql/graphql';
import { decodeParam, flagPath, newRolloutPath, rolloutPath, rolloutsPath } from '../routing';
import { NewRolloutLink } from './NewRolloutLink';
import { RolloutStatusBadge, VerdictBadge } from './Badges';
import { relativeTime, weightsText } from './format';
import { RolloutsQuery } from './operations';
import { isLive } from './status';
import { usePolling } from './usePolling';
import '../editing/editing.css';
import './rollouts.css';

/** How often the list is read again while a rollout in it may change. */
export const LIST_POLL_MS = 5000;

// An empty list names no type the cache could tie to a scheduled rollout:
// the list is dropped whenever a mutation returns a rollout, and read from
// the server whenever it is shown.
const LIST_CONTEXT = { additionalTypenames: ['Rollout'] };

export function RolloutsScreen() {
  const flagSet = decodeParam(useParams<{ flagSet: string }>().flagSet);
  return <FlagSetRollouts key={flagSet} flagSet={flagSet} />;
}

function FlagSetRollouts({ flagSet }: { flagSet: string }) {
  const [{ data, error }, refetch] = useQuery({
    query: RolloutsQuery,
    variables: { flagSet },
    context: LIST_CONTEXT,
    requestPolicy: 'cache-and-network',
  });
  const denial = useWriteDenial(flagSet);
  const rollouts = data?.rollouts ?? [];
  usePolling(rollouts.some((r) => isLive(r.status)), refetch, LIST_POLL_MS);

  return (
    <>
      <div className="screen-head">
        <h1>Rollouts</h1>
        <FlagSetSwitcher flagSet={flagSet} pathOf={rolloutsPath} />
        <NewRolloutLink href={newRolloutPath(flagSet)} denial={denial} />
      </div>
      <p className="help">
        Progressive rollouts change a flag’s <code>fractional</code> weights step by step at the times given; a guarded
        one moves on only while its guard finds the new variant no worse than it tolerates.
      </p>
      {error && !data && <ErrorNotice failure={failureOf(error)} what="The rollouts could not be loaded" />}
      {!data && !error && <p role="status">Loading…</p>}
      {data && rollouts.length === 0 && <p className="empty">No rollout in flag set {flagSet} yet.</p>}
      {rollouts.length > 0 && (
        <table className="rollouts-table">
          <caption className="visually-hidden">Rollouts of {flagSet}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Rollout</th>
              <th scope="col">Flag</th>
              <th scope="col">Status</th>
              <th scope="col">Next step</th>
              <th scope="col">Guard</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {rollouts.map((rollout) => (
              <RolloutRow key={rollout.id} rollout={rollout} />
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function RolloutRow({ rollout }: { rollout: RolloutSummaryFieldsFragment }) {
  return (
    <tr className={`rollout-row row-${rollout.status.toLowerCase()}`}>
      <th scope="row">
        <Link href={rolloutPath(rollout.flagSet, rollout.id)}>Rollout {rollout.id}</Link>
      </th>
      <td>
        <Link href={flagPath(rollout.flagSet, rollout.flag)}>{rollout.flag}</Link>
      </td>
      <td>
        <RolloutStatusBadge status={rollout.status} />
        {rollout.lastError && <span className="help"> {rollout.lastError}</span>}
      </td>
      <td>
        <NextStep rollout={rollout} />
      </td>
      <td>
        <GuardSummary rollout={rollout} />
      </td>
      <td>
        <time dateTime={rollout.createdAt}>{formatTime(rollout.createdAt)}</time>
        <span className="help"> by {rollout.createdBy}</span>
      </td>
    </tr>
  );
}

/** The next step's weights and when it is due; what stops it, when something does. */
export function NextStep({ rollout }: { rollout: RolloutSummaryFieldsFragment }) {
  const step = rollout.steps[rollout.nextStep];
  const count = rollout.steps.length;
  if (!step) return <span>All {count} steps applied</span>;
  const position = `Step ${String(rollout.nextStep + 1)} of ${String(count)}`;
  if (!isLive(rollout.status)) {
    return (
      <span>
        {position} never applied <span className="help">({weightsText(step.weights)})</span>
      </span>
    );
  }
  const due = rollout.nextAt ?? step.at;
  return (
    <span className="next-step">
      {position}: {weightsText(step.weights)}
      <br />
      <span className="help">
        {rollout.status === 'PAUSED' ? 'waits while paused' : <>due <time dateTime={due}>{formatTime(due)}</time> ({relativeTime(due)})</>}
        {rollout.guard && rollout.status !== 'PAUSED' ? ', once its guard clears the current step' : ''}
      </span>
    </span>
  );
}

function GuardSummary({ rollout }: { rollout: RolloutSummaryFieldsFragment }) {
  const { guard, guardCheck } = rollout;
  if (!guard) return <span className="help">No guard</span>;
  return (
    <span>
      {guard.metric.event} ({guard.metric.kind.toLowerCase()}){rollout.guardedVariant ? ` of ${rollout.guardedVariant}` : ''};{' '}
      {guard.action === 'PAUSE' ? 'pauses' : 'restores'} on a regression
      <br />
      {guardCheck ? (
        <>
          <span className="help">Latest check: </span>
          <VerdictBadge verdict={guardCheck.verdict} />
        </>
      ) : (
        <span className="help">Not checked yet</span>
      )}
    </span>
  );
}
