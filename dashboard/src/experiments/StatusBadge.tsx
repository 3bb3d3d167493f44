// An experiment's status as a badge: draft, running or stopped.
import type { ExperimentStatus } from '../gql/graphql';

const LABELS: Record<ExperimentStatus, string> = {
  DRAFT: 'Draft',
  RUNNING: 'Running',
  STOPPED: 'Stopped',
};

export function StatusBadge({ status }: { status: ExperimentStatus }) {
  return <span className={`status status-${status.toLowerCase()}`}>{LABELS[status]}</span>;
}
