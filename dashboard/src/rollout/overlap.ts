// How many users a change of `fractional` weights moves to another
// variant: the buckets laid out over the 32-bit hash space exactly as the
// engine lays them out (engine/src/ops/fractional/mod.rs, `locate_v1` and
// `locate_v2`), and the overlap of the saved and the edited layouts.

/** A `fractional` bucketing scheme (the flag set's `ensign.fractional`). */
export type FractionalVersion = 'v1' | 'v2' | 'v3';

/** One bucket of a `fractional` rule: a variant and its whole weight (≥ 0). */
export interface Bucket {
  variant: string;
  weight: number;
}

/** The share of the hash space whose variant changes. */
export interface Overlap {
  /** How many of the 2^32 hashes pick another variant (or none instead of one). */
  changed: bigint;
  /** The size of the hash space, 2^32. */
  space: bigint;
  /** `changed / space`, in [0, 1]. */
  share: number;
}

/** The size of the hash space: MurmurHash3 gives 32 bits. */
export const HASH_SPACE = 1n << 32n;

/** The largest weight, and the largest sum of one rule's weights, the engine accepts. */
export const MAX_WEIGHT = 2147483647;

/**
 * The variant a hash picks among `buckets`, as the engine picks it, or
 * `null` when it picks none (all weights 0, or v1 past its last range).
 * Slow but literal: the reference the ranges below are checked against.
 */
export function variantAt(version: FractionalVersion, buckets: readonly Bucket[], hash: number): string | null {
  const total = sum(buckets);
  if (total === 0) return null;
  if (version === 'v1') {
    const bucket = v1Bucket(Math.abs(hash | 0));
    let end = 0;
    for (const b of buckets) {
      end += (100 * b.weight) / total;
      if (bucket < end) return b.variant;
    }
    return null;
  }
  const bucket = (BigInt(hash >>> 0) * BigInt(total)) >> 32n;
  let end = 0n;
  for (const b of buckets) {
    end += BigInt(b.weight);
    if (bucket < end) return b.variant;
  }
  return null;
}

/**
 * The buckets' layout: consecutive ranges, in the rule's order, each the
 * exclusive `end` of a range starting where the previous one ends (at 0
 * for the first), with the variant it picks (`null` for none).
 *
 * For v2 and v3 a position is a hash (0 to 2^32). For v1 it is the
 * absolute value of the hash read as a signed 32-bit integer (0 to 2^31,
 * `abs` below), which is what v1 compares; see `hashesBelow`.
 */
export function layout(version: FractionalVersion, buckets: readonly Bucket[]): Range[] {
  const total = sum(buckets);
  if (version === 'v1') {
    const last = V1_POSITIONS;
    if (total === 0) return [{ end: last, variant: null }];
    const ranges: Range[] = [];
    let end = 0;
    for (const b of buckets) {
      end += (100 * b.weight) / total;
      ranges.push({ end: BigInt(firstNotBelow(end)), variant: b.variant });
    }
    ranges.push({ end: last, variant: null });
    return ranges;
  }
  if (total === 0) return [{ end: HASH_SPACE, variant: null }];
  // A hash h falls in the buckets before cumulative weight c when
  // floor(h * total / 2^32) < c, that is when h < ceil(c * 2^32 / total).
  const big = BigInt(total);
  let cumulative = 0n;
  return buckets.map((b) => {
    cumulative += BigInt(b.weight);
    return { end: ceilDiv(cumulative * HASH_SPACE, big), variant: b.variant };
  });
}

/** One range of a layout. */
export interface Range {
  end: bigint;
  variant: string | null;
}

/**
 * The share of hashes whose variant differs between the `before` and
 * `after` weights of one rule, whose bucketing value (and so each user's
 * hash) stays the same. Weights need not sum to 100, nor to the same total.
 */
export function changedShare(
  version: FractionalVersion,
  before: readonly Bucket[],
  after: readonly Bucket[],
): Overlap {
  const a = layout(version, before);
  const b = layout(version, after);
  const count = version === 'v1' ? hashesBelow : (position: bigint) => position;
  let unchanged = 0n;
  let start = 0n;
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const left = a[i];
    const right = b[j];
    if (!left || !right) break;
    const end = left.end < right.end ? left.end : right.end;
    if (end > start && left.variant === right.variant) unchanged += count(end) - count(start);
    if (end > start) start = end;
    if (left.end === end) i++;
    if (right.end === end) j++;
  }
  const changed = HASH_SPACE - unchanged;
  return { changed, space: HASH_SPACE, share: Number(changed) / Number(HASH_SPACE) };
}

/** The sum of the weights. */
export function sum(buckets: readonly Bucket[]): number {
  return buckets.reduce((total, b) => total + b.weight, 0);
}

// v1 compares `abs(hash as i32) / i32::MAX * 100`, in floating point, with
// cumulative percentages `100 * weight / total`. The absolute value runs
// from 0 to 2^31 (the hash 0x80000000); positions are one past it.
const V1_LARGEST = 2 ** 31;
const V1_POSITIONS = BigInt(V1_LARGEST) + 1n;

/** v1's bucket value of a hash whose signed absolute value is `abs`. */
function v1Bucket(abs: number): number {
  return (abs / MAX_WEIGHT) * 100;
}

/**
 * The least absolute value whose v1 bucket value is not below `end`
 * (2^31 + 1 when every one is). The bucket value grows with the absolute
 * value, so the values below `end` are exactly those before this one.
 */
function firstNotBelow(end: number): number {
  let low = 0;
  let high = V1_LARGEST + 1;
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    if (v1Bucket(mid) < end) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * How many hashes have a signed absolute value below `position`: 0 once
 * (the hash 0), each value from 1 to 2^31 - 1 twice (±), 2^31 once.
 */
function hashesBelow(position: bigint): bigint {
  if (position <= 0n) return 0n;
  if (position >= V1_POSITIONS) return HASH_SPACE;
  return 2n * position - 1n;
}

function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  return (numerator + denominator - 1n) / denominator;
}
