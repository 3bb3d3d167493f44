// Reading the rule `setRollout` edits, the flag set's bucketing scheme,
// weight moved between buckets, and the share of users moved as shown.
import { expect, test } from 'vitest';

import { HASH_SPACE } from './overlap';
import { formatShare } from './RolloutTab';
import { findFractional, readRollout, redistribute, schemeOf } from './rule';

test('the first fractional rule is found as the store finds it, in sorted key order', () => {
  const targeting = {
    if: [{ '==': [1, 1] }, { fractional: [['b', 1]] }, { fractional: [['c', 1]] }],
  };
  expect(findFractional(targeting)).toEqual([['b', 1]]);
  // Members are searched by key, whatever order they were written in.
  expect(findFractional({ z: { fractional: [['z', 1]] }, a: { fractional: [['a', 1]] } })).toEqual([['a', 1]]);
  expect(findFractional({ if: [true, 'on'] })).toBeUndefined();
  expect(findFractional(null)).toBeUndefined();
  expect(findFractional({ fractional: 'nope' })).toBeNull();
});

test('buckets are read with the weights the engine reads', () => {
  expect(readRollout({ fractional: [{ var: 'email' }, ['on', 10], ['off', 90]] }, 'v2')).toEqual({
    ok: true,
    buckets: [
      { variant: 'on', weight: 10 },
      { variant: 'off', weight: 90 },
    ],
  });
  // The shorthand: no bucketing value, every argument a bucket; a bucket
  // without a weight weighs 1, a negative one 0.
  expect(readRollout({ fractional: [['heads'], ['tails', -4]] }, 'v2')).toEqual({
    ok: true,
    buckets: [
      { variant: 'heads', weight: 1 },
      { variant: 'tails', weight: 0 },
    ],
  });
  expect(readRollout({ fractional: [['a', null]] }, 'v1')).toEqual({ ok: true, buckets: [{ variant: 'a', weight: 1 }] });
});

test('rules the sliders cannot edit say why', () => {
  const reason = (targeting: unknown, version: 'v1' | 'v2' | 'v3' = 'v2') => {
    const read = readRollout(targeting, version);
    return read.ok ? 'ok' : read.reason;
  };
  expect(reason({ if: [true, 'on'] })).toBe('The targeting has no fractional rule.');
  expect(reason({ fractional: 5 })).toBe('The first fractional rule’s arguments are not a list.');
  expect(reason({ fractional: [{ var: 'email' }] })).toBe('The fractional rule has no buckets.');
  expect(reason({ fractional: [['on', { '+': [1, 2] }]] })).toBe(
    'The weight {"+":[1,2]} of “on” is not a whole number the engine accepts.',
  );
  expect(reason({ fractional: [['on', 1.5]] })).toMatch(/1.5 of “on” is not a whole number/);
  expect(reason({ fractional: [['on', null]] }, 'v3')).toMatch(/null of “on”/);
  expect(reason({ fractional: [[true, 1]] })).toBe('The bucket variant true is not a variant name.');
  expect(reason({ fractional: [['on', 1], ['on', 2]] })).toBe('The variant “on” has two buckets.');
  expect(reason({ fractional: [['on', 2147483647], ['off', 1]] })).toMatch(/sum to 2147483648, above 2147483647/);
});

test('the bucketing scheme: the flag set’s setting, its metadata, or the server’s default', () => {
  expect(schemeOf({ fractional: 'v1', metadata: {} })).toEqual({ version: 'v1', known: true });
  expect(schemeOf({ fractional: null, metadata: { 'ensign.fractional': '3' } })).toEqual({ version: 'v3', known: true });
  expect(schemeOf({ fractional: null, metadata: {} })).toEqual({ version: 'v2', known: false });
  expect(schemeOf(undefined)).toEqual({ version: 'v2', known: false });
});

test('weight moved to one bucket comes from the others in proportion', () => {
  expect(redistribute([50, 50], 0, 60, 100)).toEqual([60, 40]);
  expect(redistribute([50, 30, 20], 0, 80, 100)).toEqual([80, 12, 8]);
  // Buckets at 0 stay at 0 while others have weight.
  expect(redistribute([100, 0, 0], 1, 30, 100)).toEqual([70, 30, 0]);
  // When the others are all at 0, they share equally.
  expect(redistribute([100, 0, 0], 0, 40, 100)).toEqual([40, 30, 30]);
  // Clamped to 0…total, and the sum is always the total.
  expect(redistribute([10, 90], 1, 500, 100)).toEqual([0, 100]);
  expect(redistribute([10, 90], 1, -5, 100)).toEqual([100, 0]);
  expect(redistribute([1, 1, 1], 0, 0, 100)).toEqual([0, 50, 50]);
  expect(redistribute([33, 33, 34], 2, 0, 100)).toEqual([50, 50, 0]);
  expect(redistribute([7], 0, 3, 7)).toEqual([7]);
});

test('large weights are shared exactly', () => {
  const max = 2147483647;
  const result = redistribute([max - 2, 1, 1], 0, 1, max);
  expect(result).toEqual([1, (max - 1) / 2, (max - 1) / 2]);
  expect(result.reduce((a, b) => a + b, 0)).toBe(max);
});

test('the share of users moved is never rounded to 0% or 100% when it is not', () => {
  const share = (changed: bigint) => formatShare({ changed, space: HASH_SPACE, share: Number(changed) / Number(HASH_SPACE) });
  expect(share(0n)).toBe('0%');
  expect(share(1n)).toBe('under 0.01%');
  expect(share(HASH_SPACE / 10n)).toBe('10%');
  expect(share(HASH_SPACE / 3n)).toBe('33.33%');
  expect(share(HASH_SPACE - 3n)).toBe('over 99.99%');
  expect(share(HASH_SPACE)).toBe('100%');
});
