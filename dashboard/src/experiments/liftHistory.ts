// The lift-over-time chart's data: from an experiment's results (oldest
// first), for each metric in the experiment's order and each treatment in
// the result's order, the relative lift of every analysis with its
// confidence sequence (`sequentialRelCi`), which is valid at every look, so
// the whole history may be read without inflating false positives.
//
// An analysis that left the lift or the sequence undefined (null) is a gap:
// the line and the band are drawn in runs of defined points, a lone point
// as a dot with its interval.

/** One analysis' figures of one treatment on one metric, as the history holds them. */
export interface HistoryResult {
  id: number;
  computedAt: string;
  users: number;
  comparisons: readonly {
    variant: string;
    metric: string;
    relLift: number | null;
    sequentialRelCi: { low: number; high: number } | null;
  }[];
}

/** One analysis on the chart. */
export interface LiftPoint {
  /** The result's id. */
  id: number;
  at: Date;
  users: number;
  lift: number | null;
  low: number | null;
  high: number | null;
}

/** One treatment's history on one metric. */
export interface LiftSeries {
  variant: string;
  /** Its colour's index (as the per-variant chart's). */
  tone: number;
  points: LiftPoint[];
}

/** One metric's chart. */
export interface MetricHistory {
  metric: string;
  series: LiftSeries[];
}

/** Where an interval lies against zero. */
export type Side = 'above' | 'below' | 'crosses' | 'undefined';

/**
 * Each metric's history: the metrics in `metrics`' order, then any other
 * the results hold in the order they first appear; each metric's
 * treatments in the order they first appear. `toneOf` gives each
 * treatment its colour. Results whose time cannot be read are left out.
 */
export function liftHistory(
  results: readonly HistoryResult[],
  metrics: readonly string[],
  toneOf: (variant: string) => number,
): MetricHistory[] {
  const timed = results
    .map((result) => ({ result, at: new Date(result.computedAt) }))
    .filter(({ at }) => !Number.isNaN(at.getTime()))
    .sort((a, b) => a.at.getTime() - b.at.getTime());
  const names = [...metrics];
  for (const { result } of timed) {
    for (const c of result.comparisons) if (!names.includes(c.metric)) names.push(c.metric);
  }
  return names.map((metric) => {
    const treatments: string[] = [];
    for (const { result } of timed) {
      for (const c of result.comparisons) {
        if (c.metric === metric && !treatments.includes(c.variant)) treatments.push(c.variant);
      }
    }
    return {
      metric,
      series: treatments.map((variant) => ({
        variant,
        tone: toneOf(variant),
        points: timed.flatMap(({ result, at }): LiftPoint[] => {
          const c = result.comparisons.find((x) => x.metric === metric && x.variant === variant);
          if (!c) return [];
          return [
            {
              id: result.id,
              at,
              users: result.users,
              lift: finite(c.relLift),
              low: finite(c.sequentialRelCi?.low ?? null),
              high: finite(c.sequentialRelCi?.high ?? null),
            },
          ];
        }),
      })),
    };
  });
}

function finite(x: number | null): number | null {
  return x !== null && Number.isFinite(x) ? x : null;
}

/** Whether a point's interval is defined. */
export function hasInterval(p: LiftPoint): p is LiftPoint & { low: number; high: number } {
  return p.low !== null && p.high !== null;
}

/** Whether a point's lift is defined. */
export function hasLift(p: LiftPoint): p is LiftPoint & { lift: number } {
  return p.lift !== null;
}

/** The runs of consecutive points for which `defined` holds: each is drawn as one piece. */
export function runs<T extends LiftPoint>(points: readonly LiftPoint[], defined: (p: LiftPoint) => p is T): T[][] {
  const pieces: T[][] = [];
  let current: T[] = [];
  for (const p of points) {
    if (defined(p)) {
      current.push(p);
    } else if (current.length > 0) {
      pieces.push(current);
      current = [];
    }
  }
  if (current.length > 0) pieces.push(current);
  return pieces;
}

/** Where a point's interval lies against zero. */
export function sideOfZero(p: Pick<LiftPoint, 'low' | 'high'>): Side {
  if (p.low === null || p.high === null) return 'undefined';
  if (p.low > 0) return 'above';
  if (p.high < 0) return 'below';
  return 'crosses';
}

/**
 * The lift axis' domain: every defined lift and interval end, and zero
 * (the line every interval is read against), padded by a twentieth of
 * the width; ±10% when nothing is defined or everything is zero.
 */
export function liftDomain(history: MetricHistory): [number, number] {
  const values = history.series.flatMap((s) => s.points.flatMap((p) => [p.lift, p.low, p.high])).filter((x): x is number => x !== null);
  const low = Math.min(0, ...values);
  const high = Math.max(0, ...values);
  if (low === high) return [-0.1, 0.1];
  const pad = (high - low) / 20;
  return [low - pad, high + pad];
}

/**
 * The time axis' domain: the first and last analysis, a fortieth of the
 * span beyond them (so no dot sits on the axis), or an hour either side of
 * a single one (or of none: now).
 */
export function timeDomain(history: MetricHistory, now: Date = new Date()): [Date, Date] {
  const times = history.series.flatMap((s) => s.points.map((p) => p.at.getTime()));
  if (times.length === 0) return [new Date(now.getTime() - HOUR_MS), new Date(now.getTime() + HOUR_MS)];
  const first = Math.min(...times);
  const last = Math.max(...times);
  if (first === last) return [new Date(first - HOUR_MS), new Date(last + HOUR_MS)];
  const pad = (last - first) / 40;
  return [new Date(first - pad), new Date(last + pad)];
}

const HOUR_MS = 3_600_000;

/** The latest point with a defined lift, or else the latest point. */
export function latestPoint(series: LiftSeries): LiftPoint | null {
  for (let i = series.points.length - 1; i >= 0; i--) {
    const p = series.points[i];
    if (p && hasLift(p)) return p;
  }
  return series.points[series.points.length - 1] ?? null;
}

/**
 * A time axis' tick: the time of day (with seconds when the axis spans
 * under ten minutes) when it spans under a day, else the date.
 */
export function timeTickText(at: Date, span: [Date, Date]): string {
  const width = span[1].getTime() - span[0].getTime();
  if (width >= 24 * HOUR_MS) return at.toLocaleDateString('en', { month: 'short', day: 'numeric' });
  return at.toLocaleTimeString('en-GB', {
    hour: '2-digit',
    minute: '2-digit',
    ...(width < 10 * 60_000 ? { second: '2-digit' } : {}),
  });
}
