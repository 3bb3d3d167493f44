// Rollouts' figures as people read them: weights as shares, lifts as
// signed percentages, durations in words and times relative to now.
import { percent } from '../editing/ConflictPanel';
import { type Bucket, sum } from '../rollout/overlap';

/** Each variant's share: "new 10% · old 90%". */
export function weightsText(weights: readonly Bucket[]): string {
  const total = sum(weights);
  return weights.map((b) => `${b.variant} ${percent(b.weight, total)}`).join(' · ');
}

/** A variant's share of `weights`, as a percentage; `null` when it is not in them. */
export function shareOf(weights: readonly Bucket[], variant: string): string | null {
  const bucket = weights.find((b) => b.variant === variant);
  return bucket ? percent(bucket.weight, sum(weights)) : null;
}

/** A fraction as a signed percentage with one decimal: −12.3%, +0.4%, 0%. */
export function signedPercent(fraction: number): string {
  const value = Number((fraction * 100).toFixed(1));
  if (value === 0) return '0%';
  return `${value > 0 ? '+' : '−'}${String(Math.abs(value))}%`;
}

/** A fraction as a percentage without a sign, up to two decimals: 0.02 → 2%. */
export function plainPercent(fraction: number): string {
  return `${String(Number((fraction * 100).toFixed(2)))}%`;
}

const NUMBER = new Intl.NumberFormat('en');

/** A count as the dashboard writes numbers: "5,000". */
export function countText(n: number): string {
  return NUMBER.format(n);
}

/** A duration in seconds in words: "7 days", "1 hour", "90 minutes", "45 seconds". */
export function durationText(seconds: number): string {
  const units: [number, string][] = [
    [86_400, 'day'],
    [3_600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, name] of units) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size;
      return `${countText(n)} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${countText(seconds)} second${seconds === 1 ? '' : 's'}`;
}

const RELATIVE = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

/** How far `rfc3339` is from `now`, in words: "in 5 minutes", "2 hours ago". */
export function relativeTime(rfc3339: string, now: Date = new Date()): string {
  const seconds = (Date.parse(rfc3339) - now.getTime()) / 1000;
  if (Number.isNaN(seconds)) return '';
  const size = Math.abs(seconds);
  if (size < 45) return seconds <= 0 ? 'now' : 'in a few seconds';
  if (size < 3_600) return RELATIVE.format(Math.round(seconds / 60), 'minute');
  if (size < 86_400) return RELATIVE.format(Math.round(seconds / 3_600), 'hour');
  return RELATIVE.format(Math.round(seconds / 86_400), 'day');
}
