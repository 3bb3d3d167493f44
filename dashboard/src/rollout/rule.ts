// Reading the `fractional` rule that `setRollout` edits (the first one in
// the targeting, found as the store finds it: store/src/weights.rs), the
// flag set's bucketing scheme, and moving weight between buckets.
import { type Bucket, type FractionalVersion, MAX_WEIGHT } from './overlap';

/** The rule's buckets, or why the slider cannot edit them. */
export type RolloutRule = { ok: true; buckets: Bucket[] } | { ok: false; reason: string };

/**
 * The buckets of the first `fractional` rule of `targeting`, with the
 * weights the engine reads (`[variant]` weighs 1, a negative weight 0).
 * Only constant buckets with string variants, each named once, can be
 * edited with sliders; anything else is edited as JSON.
 */
export function readRollout(targeting: unknown, version: FractionalVersion): RolloutRule {
  const args = findFractional(targeting);
  if (args === undefined) return { ok: false, reason: 'The targeting has no fractional rule.' };
  if (args === null) return { ok: false, reason: 'The first fractional rule’s arguments are not a list.' };
  // A first argument that is not an array is the bucketing value.
  const buckets = Array.isArray(args[0]) ? args : args.slice(1);
  if (buckets.length === 0) return { ok: false, reason: 'The fractional rule has no buckets.' };
  const read: Bucket[] = [];
  for (const bucket of buckets) {
    if (!Array.isArray(bucket) || bucket.length === 0 || bucket.length > 2) {
      return { ok: false, reason: `The bucket ${JSON.stringify(bucket)} is not [variant, weight].` };
    }
    const [variant, weight] = bucket as unknown[];
    if (typeof variant !== 'string') {
      return { ok: false, reason: `The bucket variant ${JSON.stringify(variant)} is not a variant name.` };
    }
    if (read.some((b) => b.variant === variant)) {
      return { ok: false, reason: `The variant “${variant}” has two buckets.` };
    }
    const value = weightOf(version, bucket.length === 1 ? undefined : weight);
    if (value === null) {
      return { ok: false, reason: `The weight ${JSON.stringify(weight)} of “${variant}” is not a whole number the engine accepts.` };
    }
    read.push({ variant, weight: value });
  }
  const total = read.reduce((sum, b) => sum + b.weight, 0);
  if (total > MAX_WEIGHT) {
    return { ok: false, reason: `The weights sum to ${total}, above ${MAX_WEIGHT}, the largest sum the engine accepts.` };
  }
  return { ok: true, buckets: read };
}

/**
 * The arguments of the first `fractional` operator in `rule`: `undefined`
 * when there is none, `null` when the first one's value is not an array.
 * Object members are searched in the store's order (its JSON objects are
 * sorted by key), not in the order the browser parsed them.
 */
export function findFractional(rule: unknown): unknown[] | null | undefined {
  if (Array.isArray(rule)) {
    for (const item of rule) {
      const found = findFractional(item);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof rule !== 'object' || rule === null) return undefined;
  const members = rule as Record<string, unknown>;
  if (Object.hasOwn(members, 'fractional')) {
    const args = members.fractional;
    return Array.isArray(args) ? (args as unknown[]) : null;
  }
  for (const key of Object.keys(members).sort(byCodePoint)) {
    const found = findFractional(members[key]);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** A weight as the engine reads it, or `null` when it is invalid. */
function weightOf(version: FractionalVersion, weight: unknown): number | null {
  if (weight === undefined) return 1;
  if (weight === null) return version === 'v3' ? null : 1;
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight > MAX_WEIGHT) return null;
  if (version !== 'v3' && weight < -(2 ** 63)) return null;
  return Math.max(0, weight);
}

/** Orders strings by code point, as Rust orders them (JavaScript's `<` compares UTF-16 units). */
function byCodePoint(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(j) ?? 0;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return Number(i < a.length) - Number(j < b.length);
}

/** The bucketing scheme of a flag set, and whether it is known or assumed. */
export interface SchemeOf {
  version: FractionalVersion;
  /** `false` when the flag set names none: the server's `--fractional` then applies, assumed to be its default. */
  known: boolean;
}

/** The default of the server's `--fractional`. */
export const SERVER_DEFAULT: FractionalVersion = 'v2';

/**
 * The scheme a flag set buckets by: its `fractional` setting, else its
 * metadata's `ensign.fractional`, else the server's setting, which the
 * admin API does not tell (its default is assumed).
 */
export function schemeOf(flagSet: { fractional?: string | null; metadata?: unknown } | undefined): SchemeOf {
  const metadata = flagSet?.metadata;
  const named =
    flagSet?.fractional ??
    (typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>)['ensign.fractional'] : undefined);
  if (typeof named === 'string') {
    const digits = named.replace(/^[vV]/, '');
    if (digits === '1' || digits === '2' || digits === '3') return { version: `v${digits}`, known: true };
  }
  return { version: SERVER_DEFAULT, known: false };
}

/**
 * Sets bucket `index` to `value` (clamped to 0…`total`) and shares the
 * rest of `total` among the other buckets in proportion to their weights
 * (equally when they are all 0), rounding by largest remainder, so the
 * weights always sum to `total`.
 */
export function redistribute(weights: readonly number[], index: number, value: number, total: number): number[] {
  const own = Math.min(total, Math.max(0, Math.round(value)));
  const others = weights.map((_, i) => i).filter((i) => i !== index);
  if (others.length === 0) return [total];
  const rest = BigInt(total - own);
  // Shares of `rest` as quotient and remainder over a common divisor,
  // in BigInt: weights up to 2^31 multiply beyond a double's precision.
  const base = others.reduce((sum, i) => sum + BigInt(weights[i] ?? 0), 0n);
  const parts = others.map((i) => (base === 0n ? 1n : BigInt(weights[i] ?? 0)));
  const divisor = base === 0n ? BigInt(others.length) : base;
  const shares = parts.map((part) => ({ floor: (rest * part) / divisor, remainder: (rest * part) % divisor }));
  let left = rest - shares.reduce((sum, share) => sum + share.floor, 0n);
  // Largest remainders first; ties go to the earlier bucket.
  const order = shares
    .map((share, k) => ({ k, remainder: share.remainder }))
    .sort((a, b) => (a.remainder === b.remainder ? a.k - b.k : a.remainder > b.remainder ? -1 : 1));
  for (const { k } of order) {
    if (left <= 0n) break;
    const share = shares[k];
    if (share) share.floor += 1n;
    left--;
  }
  const result = [...weights];
  result[index] = own;
  others.forEach((i, k) => {
    result[i] = Number(shares[k]?.floor ?? 0n);
  });
  return result;
}
