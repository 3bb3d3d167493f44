// A rollout's status and its guard's verdict as marked labels: the text
// says it, the colour only repeats it.
import type { GuardVerdict, RolloutStatus } from '../gql/graphql';
import { STATUS_LABEL, VERDICT_LABEL } from './status';

export function RolloutStatusBadge({ status }: { status: RolloutStatus }) {
  return <span className={`rollout-status status-${status.toLowerCase()}`}>{STATUS_LABEL[status]}</span>;
}

export function VerdictBadge({ verdict }: { verdict: GuardVerdict }) {
  return <span className={`verdict verdict-${verdict.toLowerCase().replace(/_/g, '-')}`}>{VERDICT_LABEL[verdict]}</span>;
}
