// How audit actions read: known ones in words, unknown ones as stored.
import { expect, test } from 'vitest';

import { actionText } from './eventText';

test('a guarded rollout’s stop and restore read as what happened', () => {
  expect(actionText('guard_stop')).toBe('rollout stopped by its guard');
  expect(actionText('guard_clear')).toBe('rollout step cleared by its guard');
  expect(actionText('rollout_restore')).toBe('starting weights restored by the guard');
  expect(actionText('sample_ratio_mismatch')).toBe('sample-ratio mismatch');
});

test('a rollout paused and resumed by hand, and a promotion, read as what happened', () => {
  expect(actionText('pause_rollout')).toBe('rollout paused');
  expect(actionText('resume_rollout')).toBe('rollout resumed');
  expect(actionText('promote')).toBe('promoted from another flag set');
});

test('an action this version does not know reads as stored, without underscores', () => {
  expect(actionText('some_future_action')).toBe('some future action');
});
