// How an audit event reads: its action in words, and its subject.
import type { AuditEventFieldsFragment } from '../gql/graphql';

export type AuditEvent = AuditEventFieldsFragment;

const ACTIONS: Record<string, string> = {
  create: 'created',
  update: 'updated',
  delete: 'deleted',
  archive: 'archived',
  rollback: 'rolled back',
  import: 'imported',
  promote: 'promoted from another flag set',
  kill: 'kill switch',
  set_default_variant: 'default variant set',
  set_rollout: 'rollout weights set',
  rollout_step: 'rollout step applied',
  schedule_rollout: 'rollout scheduled',
  cancel_rollout: 'rollout cancelled',
  pause_rollout: 'rollout paused',
  resume_rollout: 'rollout resumed',
  guard_stop: 'rollout stopped by its guard',
  guard_clear: 'rollout step cleared by its guard',
  rollout_restore: 'starting weights restored by the guard',
  restore: 'restored',
  start_experiment: 'experiment started',
  stop_experiment: 'experiment stopped',
  sample_ratio_mismatch: 'sample-ratio mismatch',
  revoke: 'revoked',
  insert: 'inserted',
};

/** An action as words (an action this version does not know, as stored). */
export function actionText(action: string): string {
  return ACTIONS[action] ?? action.replace(/_/g, ' ');
}

/** What an out-of-band event is. */
export const OUT_OF_BAND_DETAIL = 'changed by hand in SQL, outside Ensign';

/** Why an out-of-band event stands out. */
export const OUT_OF_BAND_TEXT = `Out of band: ${OUT_OF_BAND_DETAIL}`;

/** A subject kind as words. */
export function subjectText(kind: string): string {
  return kind.replace(/_/g, ' ');
}

/** An RFC 3339 time in the reader's locale, to the second (the text itself if it is not one). */
export function eventTime(rfc3339: string): string {
  const time = new Date(rfc3339);
  return Number.isNaN(time.getTime())
    ? rfc3339
    : time.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}
