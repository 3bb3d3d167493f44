// The per-variant chart's data: for each metric, in the experiment's order,
// each variant's users and mean with its interval, and the scale's domain.
//
// The analysis gives each variant's mean and variance per user (sample
// variance for sums, p(1 - p) for conversions, analytics/STATISTICS.md);
// the interval drawn around a mean is the normal approximation at the
// result's level, m ± z(1 − α/2)·√(v/n), clamped to [0, 1] for a
// conversion rate. It shows how precisely each mean is known; whether
// variants differ is the comparisons' business (their own intervals).
import type { MetricKind, ResultFieldsFragment } from '../gql/graphql';
import { type ResultNotes, noteAt, variantMetricPointer } from './notes';

/** A metric as the experiment defines it. */
export interface MetricDefinition {
  name: string;
  kind: MetricKind;
}

/** One variant's row of a metric's chart. */
export interface MeanRow {
  variant: string;
  users: number;
  /** Users with at least one attributed event. */
  count: number;
  isControl: boolean;
  /** Its colour's index, the same in every chart of the screen. */
  tone: number;
  mean: number | null;
  /** The interval around the mean; null when the mean or the variance is undefined. */
  interval: { low: number; high: number } | null;
  /** Why the mean is undefined, from the result's notes. */
  missing: string | null;
}

/** One metric's chart. */
export interface MetricMeans {
  metric: string;
  kind: MetricKind;
  /** The interval's level, 1 − α. */
  level: number;
  rows: MeanRow[];
  /** The control's mean, drawn as a reference line. */
  controlMean: number | null;
  /** The scale's domain; null when no variant has a mean. */
  domain: [number, number] | null;
}

/** How many colours the charts cycle through (as many as `.series-N` classes). */
export const TONES = 6;

/** A variant's colour: its place among the result's variants, cycled. */
export function toneOf(variants: readonly string[], variant: string): number {
  const index = variants.indexOf(variant);
  return (index < 0 ? variants.length : index) % TONES;
}

/**
 * The metrics to chart: the experiment's, in its order, then any the
 * result holds that the experiment no longer names (the server puts them
 * last), with the kind unknown read as a sum (a plain number).
 */
export function orderedMetrics(metrics: readonly MetricDefinition[], result: Pick<ResultFieldsFragment, 'variants'>): MetricDefinition[] {
  const ordered = [...metrics];
  for (const variant of result.variants) {
    for (const figures of variant.metrics) {
      if (!ordered.some((m) => m.name === figures.metric)) ordered.push({ name: figures.metric, kind: 'SUM' });
    }
  }
  return ordered;
}

/** The polynomial of `coefficients` (highest degree first) at `x`. */
function horner(coefficients: readonly number[], x: number): number {
  return coefficients.reduce((sum, c) => sum * x + c, 0);
}

// Acklam's coefficients.
const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1, 1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416, 1];
/** Below this, and above 1 minus it, the tails' approximation applies. */
const TAIL = 0.02425;

/**
 * The inverse of the standard normal distribution function, by Acklam's
 * rational approximation (relative error below 1.2e-9 over (0, 1)).
 */
export function normalQuantile(p: number): number {
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (!(p > 0 && p < 1)) return NaN;
  if (p < TAIL) {
    const q = Math.sqrt(-2 * Math.log(p));
    return horner(C, q) / horner(D, q);
  }
  if (p > 1 - TAIL) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -horner(C, q) / horner(D, q);
  }
  const q = p - 0.5;
  const r = q * q;
  return (q * horner(A, r)) / horner(B, r);
}

/**
 * The interval around a variant's mean at level 1 − `alpha`, or null when
 * the mean or the variance is undefined or there are no users.
 */
export function meanInterval(
  kind: MetricKind,
  figures: { mean: number | null; variance: number | null },
  users: number,
  alpha: number,
): { low: number; high: number } | null {
  const { mean, variance } = figures;
  if (mean === null || variance === null || users <= 0 || !(variance >= 0)) return null;
  const half = normalQuantile(1 - alpha / 2) * Math.sqrt(variance / users);
  if (!Number.isFinite(half)) return null;
  const low = mean - half;
  const high = mean + half;
  return kind === 'CONVERSION' ? { low: Math.max(0, low), high: Math.min(1, high) } : { low, high };
}

/** Each metric's chart of `result`, in the experiment's order of metrics and variants. */
export function metricMeans(
  result: Pick<ResultFieldsFragment, 'variants' | 'alpha' | 'notes'>,
  metrics: readonly MetricDefinition[],
  control: string,
): MetricMeans[] {
  const notes: ResultNotes = result.notes;
  const names = result.variants.map((v) => v.variant);
  return orderedMetrics(metrics, result).map((metric) => {
    const rows = result.variants.map((variant, v): MeanRow => {
      const figures = variant.metrics.find((m) => m.metric === metric.name);
      const mean = figures?.mean ?? null;
      const pointer = variantMetricPointer(v, metric.name, 'mean');
      return {
        variant: variant.variant,
        users: variant.users,
        count: figures?.count ?? 0,
        isControl: variant.variant === control,
        tone: toneOf(names, variant.variant),
        mean,
        interval: figures ? meanInterval(metric.kind, figures, variant.users, result.alpha) : null,
        missing:
          mean !== null ? null : figures ? (noteAt(notes, pointer) ?? 'undefined') : 'this result has no figures for the metric',
      };
    });
    return {
      metric: metric.name,
      kind: metric.kind,
      level: 1 - result.alpha,
      rows,
      controlMean: rows.find((r) => r.isControl)?.mean ?? null,
      domain: meanDomain(rows, metric.kind),
    };
  });
}

/**
 * The domain that holds every mean and interval, padded by a tenth of its
 * width on each side (a single value by a tenth of itself, or 1), and for a
 * conversion rate kept within [0, 1].
 */
export function meanDomain(rows: readonly Pick<MeanRow, 'mean' | 'interval'>[], kind: MetricKind): [number, number] | null {
  const values = rows.flatMap((r) => [r.mean, r.interval?.low ?? null, r.interval?.high ?? null]).filter((x): x is number => x !== null && Number.isFinite(x));
  if (values.length === 0) return null;
  let low = Math.min(...values);
  let high = Math.max(...values);
  const pad = high > low ? (high - low) / 10 : Math.abs(low) / 10 || (kind === 'CONVERSION' ? 0.1 : 1);
  low -= pad;
  high += pad;
  if (kind === 'CONVERSION') {
    low = Math.max(0, low);
    high = Math.min(1, high);
  }
  return [low, high];
}
