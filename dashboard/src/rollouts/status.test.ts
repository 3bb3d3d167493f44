// Which actions each status of a rollout allows, as the store allows them.
import { expect, it } from 'vitest';

import type { RolloutStatus } from '../gql/graphql';
import { actionDenial, allowedActions } from './status';

it('allows pausing an active rollout, resuming a paused one and cancelling either', () => {
  const statuses: RolloutStatus[] = ['SCHEDULED', 'RUNNING', 'PAUSED', 'DONE', 'CANCELLED', 'FAILED', 'RESTORED'];
  expect(Object.fromEntries(statuses.map((s) => [s, allowedActions(s)]))).toEqual({
    SCHEDULED: ['pause', 'cancel'],
    RUNNING: ['pause', 'cancel'],
    PAUSED: ['resume', 'cancel'],
    DONE: [],
    CANCELLED: [],
    FAILED: [],
    RESTORED: [],
  });
});

it('says why an action is not allowed', () => {
  expect(actionDenial('resume', 'RUNNING')).toBe('Only a paused rollout can be resumed');
  expect(actionDenial('pause', 'PAUSED')).toBe('Only a scheduled or running rollout can be paused');
  expect(actionDenial('cancel', 'DONE')).toBe('Only a scheduled, running or paused rollout can be cancelled');
});
