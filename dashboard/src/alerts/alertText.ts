// An alert's reasons, severity and delivery state in words, and what it is
// about as links: the flag, the rollout whose guard stopped it, or the
// experiment whose sample ratio broke.
import type { AlertKind, AlertSeverity, AlertsQuery, DeliveryStatus } from '../gql/graphql';
import { experimentPath, flagPath, rolloutPath } from '../routing';

export type ShownAlert = AlertsQuery['alerts']['items'][number];

export const KIND_LABEL: Record<AlertKind, string> = {
  OUT_OF_BAND: 'Out-of-band edit',
  KILL_SWITCH: 'Kill switch',
  LOCKED_FLAG: 'Locked flag changed',
  SAMPLE_RATIO_MISMATCH: 'Sample-ratio mismatch',
  GUARD_STOP: 'Guard stopped a rollout',
};

export const SEVERITY_LABEL: Record<AlertSeverity, string> = {
  WARNING: 'Warning',
  CRITICAL: 'Critical',
};

export const DELIVERY_LABEL: Record<DeliveryStatus, string> = {
  DELIVERED: 'Delivered',
  PENDING: 'Pending',
  FAILING: 'Failing',
};

/** The alert's reasons as its title: "Kill switch, Locked flag changed". */
export function alertTitle(alert: Pick<ShownAlert, 'kinds' | 'kind'>): string {
  const kinds = alert.kinds.length > 0 ? alert.kinds : [alert.kind];
  return kinds.map((k) => KIND_LABEL[k]).join(', ');
}

/** A link to what an alert is about. */
export interface SubjectLink {
  label: string;
  href: string;
}

/** The links to what the alert is about, most specific first. */
export function subjectLinks(event: ShownAlert['event']): SubjectLink[] {
  const set = event.flagSet;
  if (set === null) return [];
  switch (event.subjectKind) {
    case 'flag':
      return [{ label: `Flag ${event.subjectKey}`, href: flagPath(set, event.subjectKey) }];
    case 'rollout': {
      // A rollout's event names its flag; its `after` holds its id.
      const after = event.after;
      const id = typeof after === 'object' && after !== null ? (after as Record<string, unknown>).id : undefined;
      const flag = { label: `Flag ${event.subjectKey}`, href: flagPath(set, event.subjectKey) };
      return typeof id === 'number' ? [{ label: `Rollout ${String(id)}`, href: rolloutPath(set, id) }, flag] : [flag];
    }
    case 'experiment':
      return [{ label: `Experiment ${event.subjectKey}`, href: experimentPath(set, event.subjectKey) }];
    default:
      return [];
  }
}
