// What a rollout's status means to the person reading it, which of the
// actions on a rollout its status allows (as the store checks them:
// store/src/rollouts.rs), and the guard's verdict in words.
import type { GuardAction, GuardDirection, GuardVerdict, RolloutStatus } from '../gql/graphql';

/** An action on a rollout. */
export type RolloutAction = 'pause' | 'resume' | 'cancel';

/** The status as a short label. */
export const STATUS_LABEL: Record<RolloutStatus, string> = {
  SCHEDULED: 'Scheduled',
  RUNNING: 'Running',
  PAUSED: 'Paused',
  DONE: 'Done',
  CANCELLED: 'Cancelled',
  FAILED: 'Failed',
  RESTORED: 'Restored',
};

/** The status in a sentence. */
export const STATUS_MEANING: Record<RolloutStatus, string> = {
  SCHEDULED: 'No step applied yet; the first one is applied when it is due.',
  RUNNING: 'Some steps applied, more to come.',
  PAUSED: 'Paused: no step is applied until it resumes; the weights stay as the last applied step set them.',
  DONE: 'Every step applied.',
  CANCELLED: 'Cancelled: no further step is applied; the steps applied before stay.',
  FAILED: 'A step could not be applied.',
  RESTORED: 'Its guard found the new variant worse than it tolerates and wrote back the weights the rollout started from.',
};

/** Whether the rollout may still apply a step (so its figures may still change). */
export function isActive(status: RolloutStatus): boolean {
  return status === 'SCHEDULED' || status === 'RUNNING';
}

/** Whether the screen should keep reading the rollout: it may change on its own, or be resumed. */
export function isLive(status: RolloutStatus): boolean {
  return isActive(status) || status === 'PAUSED';
}

/**
 * Why `action` is not open to a rollout in `status`, or `null` when it is:
 * an active rollout (scheduled or running) can be paused, a paused one
 * resumed, and either cancelled.
 */
export function actionDenial(action: RolloutAction, status: RolloutStatus): string | null {
  switch (action) {
    case 'pause':
      return isActive(status) ? null : 'Only a scheduled or running rollout can be paused';
    case 'resume':
      return status === 'PAUSED' ? null : 'Only a paused rollout can be resumed';
    case 'cancel':
      return isLive(status) ? null : 'Only a scheduled, running or paused rollout can be cancelled';
  }
}

/** The actions open to a rollout in `status`. */
export function allowedActions(status: RolloutStatus): RolloutAction[] {
  return (['pause', 'resume', 'cancel'] as const).filter((action) => actionDenial(action, status) === null);
}

/** The guard's verdict as a short label. */
export const VERDICT_LABEL: Record<GuardVerdict, string> = {
  TOO_FEW_USERS: 'Too few users',
  UNDEFINED: 'Undefined',
  HEALTHY: 'Healthy',
  REGRESSED: 'Regressed',
};

/** The guard's verdict in a sentence. */
export const VERDICT_MEANING: Record<GuardVerdict, string> = {
  TOO_FEW_USERS: 'Fewer users than the guard’s minimum: the step waits.',
  UNDEFINED: 'The lift or its interval is undefined: the step waits.',
  HEALTHY: 'No regression beyond the tolerance: the next step may follow.',
  REGRESSED: 'A regression beyond the tolerance: the guard acted.',
};

export const ACTION_LABEL: Record<GuardAction, string> = {
  PAUSE: 'Pause the rollout',
  RESTORE: 'Restore the weights it started from',
};

export const DIRECTION_LABEL: Record<GuardDirection, string> = {
  HIGHER_IS_BETTER: 'Higher is better',
  LOWER_IS_BETTER: 'Lower is better',
};
