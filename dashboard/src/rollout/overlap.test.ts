// The share of users a weight change moves: exact counts over the 2^32
// hashes, and the layouts checked hash by hash at every boundary against
// the engine's own walk (`variantAt`).
import { describe, expect, test } from 'vitest';

import { type Bucket, type FractionalVersion, HASH_SPACE, changedShare, layout, variantAt } from './overlap';

const w = (...pairs: [string, number][]): Bucket[] => pairs.map(([variant, weight]) => ({ variant, weight }));

/** The number of hashes that change variant. */
function changed(version: FractionalVersion, before: Bucket[], after: Bucket[]): bigint {
  return changedShare(version, before, after).changed;
}

const TENTH = (HASH_SPACE * 6n + 9n) / 10n - HASH_SPACE / 2n; // ceil(0.6 * 2^32) - 2^31

describe('v2 and v3', () => {
  for (const version of ['v2', 'v3'] as const) {
    test(`${version}: moving 10 points of 100 moves a tenth of the hashes`, () => {
      expect(changed(version, w(['on', 50], ['off', 50]), w(['on', 60], ['off', 40]))).toBe(TENTH);
      expect(changedShare(version, w(['on', 50], ['off', 50]), w(['on', 60], ['off', 40])).share).toBeCloseTo(0.1, 9);
    });
  }

  test('the same weights move no one', () => {
    expect(changed('v2', w(['a', 1], ['b', 2], ['c', 3]), w(['a', 1], ['b', 2], ['c', 3]))).toBe(0n);
  });

  test('weights not summing to 100: the same proportions at another total move no one', () => {
    expect(changed('v2', w(['on', 1], ['off', 2]), w(['on', 2], ['off', 4]))).toBe(0n);
    expect(changed('v2', w(['on', 1], ['off', 3]), w(['on', 25], ['off', 75]))).toBe(0n);
  });

  test('weights not summing to 100: a third moved to a half', () => {
    // on covers hashes below ceil(2^32 / 3), then below 2^31.
    const third = (HASH_SPACE + 2n) / 3n;
    expect(changed('v2', w(['on', 1], ['off', 2]), w(['on', 1], ['off', 1]))).toBe(HASH_SPACE / 2n - third);
  });

  test('a variant at 0 takes no hashes, and raising it takes them from its neighbour', () => {
    expect(changed('v2', w(['on', 0], ['off', 100]), w(['on', 0], ['off', 7]))).toBe(0n);
    const tenth = (HASH_SPACE + 9n) / 10n;
    expect(changed('v2', w(['on', 0], ['off', 100]), w(['on', 10], ['off', 90]))).toBe(tenth);
    // A middle variant at 0 then at 10 takes its hashes from the one after it.
    expect(changed('v2', w(['a', 50], ['b', 0], ['c', 50]), w(['a', 50], ['b', 10], ['c', 40]))).toBe(
      (HASH_SPACE * 6n + 9n) / 10n - HASH_SPACE / 2n,
    );
  });

  test('all weight moved from one variant to the other moves everyone', () => {
    expect(changed('v2', w(['on', 100], ['off', 0]), w(['on', 0], ['off', 100]))).toBe(HASH_SPACE);
    expect(changedShare('v2', w(['on', 100], ['off', 0]), w(['on', 0], ['off', 100])).share).toBe(1);
  });

  test('the order of the buckets is the order of the ranges', () => {
    expect(changed('v2', w(['a', 50], ['b', 50]), w(['b', 50], ['a', 50]))).toBe(HASH_SPACE);
  });

  test('all weights at 0 pick nothing: from there everyone changes, and to nothing too', () => {
    expect(changed('v2', w(['on', 0], ['off', 0]), w(['on', 1], ['off', 0]))).toBe(HASH_SPACE);
    expect(changed('v2', w(['on', 3]), w(['on', 0]))).toBe(HASH_SPACE);
    expect(changed('v2', w(['on', 0]), w(['off', 0]))).toBe(0n);
  });

  test('a variant added at the end takes hashes from the end of the space', () => {
    const ninety = (HASH_SPACE * 9n + 9n) / 10n;
    expect(changed('v2', w(['on', 100]), w(['on', 90], ['beta', 10]))).toBe(HASH_SPACE - ninety);
  });

  test('the largest weights the engine accepts', () => {
    const max = 2147483647;
    expect(changed('v2', w(['on', max], ['off', 0]), w(['on', 0], ['off', max]))).toBe(HASH_SPACE);
    expect(changed('v2', w(['on', max - 1], ['off', 1]), w(['on', max], ['off', 0]))).toBe(2n);
  });
});

describe('v1', () => {
  test('moving 10 points of 100 moves a tenth of the hashes', () => {
    // on covered |hash| below 1073741824 (50% of i32::MAX, rounded up),
    // then below 1288490189 (60%): 2 hashes (±) for each value between.
    expect(changed('v1', w(['on', 50], ['off', 50]), w(['on', 60], ['off', 40]))).toBe(
      2n * (1288490189n - 1073741824n),
    );
  });

  test('the hashes ±i32::MAX and 0x80000000 are past the last range when it ends at exactly 100', () => {
    // v1 compares `bucket < end`, and their bucket values are 100 and a
    // little more: no layout picks them, so they never count as changed.
    expect(changed('v1', w(['on', 100], ['off', 0]), w(['on', 0], ['off', 100]))).toBe(HASH_SPACE - 3n);
    for (const hash of [0x7fffffff, 0x80000000, 0x80000001]) {
      expect(variantAt('v1', w(['on', 1]), hash)).toBeNull();
    }
    expect(variantAt('v1', w(['on', 1]), 0x7ffffffe)).toBe('on');
  });

  test('the same weights, and the same proportions, move no one', () => {
    expect(changed('v1', w(['a', 1], ['b', 2]), w(['a', 1], ['b', 2]))).toBe(0n);
    expect(changed('v1', w(['a', 1], ['b', 1]), w(['a', 50], ['b', 50]))).toBe(0n);
  });

  test('all weights at 0 pick nothing', () => {
    expect(changed('v1', w(['on', 0]), w(['on', 5]))).toBe(HASH_SPACE - 3n);
  });
});

/** A deterministic stream of weights (xorshift). */
function weightsFrom(seed: number, count: number, scale: number): Bucket[] {
  let x = seed;
  return Array.from({ length: count }, (_, i) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return { variant: `v${i}`, weight: (x >>> 0) % scale };
  });
}

/** The hashes whose v1 signed absolute value is `abs`. */
function v1Hashes(abs: bigint): number[] {
  const a = Number(abs);
  if (a === 0) return [0];
  if (a === 2 ** 31) return [0x80000000];
  return [a, 2 ** 32 - a];
}

describe('each range starts and ends where the engine changes variant', () => {
  const layouts: Bucket[][] = [
    w(['on', 50], ['off', 50]),
    w(['a', 1], ['b', 2], ['c', 3]),
    w(['a', 0], ['b', 7], ['c', 0], ['d', 1]),
    w(['x', 2147483646], ['y', 1]),
    w(['p', 33], ['q', 33], ['r', 34]),
    ...[1, 2, 3, 4, 5, 6].map((seed) => weightsFrom(seed * 7919, 2 + seed, seed % 2 ? 100 : 1000003)),
  ];
  for (const buckets of layouts) {
    const name = buckets.map((b) => `${b.variant}:${b.weight}`).join(' ');
    test(`v2 ${name}`, () => {
      let start = 0n;
      for (const range of layout('v2', buckets)) {
        if (range.end > start) {
          expect(variantAt('v2', buckets, Number(start))).toBe(range.variant);
          expect(variantAt('v2', buckets, Number(range.end - 1n))).toBe(range.variant);
        }
        start = range.end;
      }
      expect(start).toBe(HASH_SPACE);
    });
    test(`v1 ${name}`, () => {
      let start = 0n;
      for (const range of layout('v1', buckets)) {
        if (range.end > start) {
          for (const hash of [...v1Hashes(start), ...v1Hashes(range.end - 1n)]) {
            expect(variantAt('v1', buckets, hash)).toBe(range.variant);
          }
        }
        start = range.end;
      }
    });
  }
});
