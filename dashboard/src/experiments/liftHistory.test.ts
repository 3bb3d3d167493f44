// The lift-over-time chart's data: results turned into one series per
// treatment per metric (oldest first, metrics in the experiment's order),
// undefined figures as gaps, intervals against zero, the axes' domains, and
// an empty history.
import { describe, expect, test } from 'vitest';

import { comparison, historyEntry } from '../test/experiments';
import {
  type LiftPoint,
  type MetricHistory,
  hasInterval,
  hasLift,
  latestPoint,
  liftDomain,
  liftHistory,
  runs,
  sideOfZero,
  timeDomain,
  timeTickText,
} from './liftHistory';

const tone = (variant: string) => ['off', 'on', 'blue'].indexOf(variant);

const at = (minute: number) => `2026-12-07T10:${String(minute).padStart(2, '0')}:00Z`;

function point(id: number, lift: number | null, low: number | null, high: number | null): LiftPoint {
  return { id, at: new Date(at(id)), users: 100 * id, lift, low, high };
}

describe('liftHistory', () => {
  test('one treatment: a point per analysis, oldest first, with its lift and sequence', () => {
    const history = liftHistory(
      [
        // Out of order on purpose: the chart reads time, not the list's order.
        historyEntry(2, at(10), [comparison('on', 'purchases', { relLift: 0.3, sequentialRelCi: { low: 0.05, high: 0.6 } })], 800),
        historyEntry(1, at(0), [comparison('on', 'purchases', { relLift: 0.5, sequentialRelCi: { low: -0.4, high: 1.4 } })], 200),
      ],
      ['purchases'],
      tone,
    );
    expect(history).toHaveLength(1);
    const [purchases] = history;
    expect(purchases?.metric).toBe('purchases');
    expect(purchases?.series.map((s) => [s.variant, s.tone])).toEqual([['on', 1]]);
    expect(purchases?.series[0]?.points).toEqual([
      { id: 1, at: new Date(at(0)), users: 200, lift: 0.5, low: -0.4, high: 1.4 },
      { id: 2, at: new Date(at(10)), users: 800, lift: 0.3, low: 0.05, high: 0.6 },
    ]);
  });

  test('several treatments and metrics: the experiment’s metric order, each metric’s treatments in order', () => {
    const history = liftHistory(
      [
        historyEntry(1, at(0), [
          comparison('on', 'revenue'),
          comparison('blue', 'revenue'),
          comparison('on', 'purchases'),
          comparison('blue', 'purchases'),
          comparison('on', 'dropped-metric'),
        ]),
      ],
      ['purchases', 'revenue'],
      tone,
    );
    expect(history.map((h) => h.metric)).toEqual(['purchases', 'revenue', 'dropped-metric']);
    expect(history.map((h) => h.series.map((s) => s.variant))).toEqual([['on', 'blue'], ['on', 'blue'], ['on']]);
    expect(history[0]?.series.map((s) => s.tone)).toEqual([1, 2]);
  });

  test('a metric of the experiment not analysed yet has no series', () => {
    const history = liftHistory([], ['purchases'], tone);
    expect(history).toEqual([{ metric: 'purchases', series: [] }]);
  });

  test('undefined figures are kept as null, and a treatment missing from one analysis has no point there', () => {
    const history = liftHistory(
      [
        historyEntry(1, at(0), [comparison('on', 'm', { relLift: null, sequentialRelCi: null }), comparison('blue', 'm')]),
        historyEntry(2, at(5), [comparison('blue', 'm')]),
        historyEntry(3, at(9), [comparison('on', 'm', { relLift: 0.1, sequentialRelCi: null }), comparison('blue', 'm')]),
      ],
      ['m'],
      tone,
    );
    const on = history[0]?.series.find((s) => s.variant === 'on');
    expect(on?.points.map((p) => [p.id, p.lift, p.low, p.high])).toEqual([
      [1, null, null, null],
      [3, 0.1, null, null],
    ]);
    expect(history[0]?.series.find((s) => s.variant === 'blue')?.points.map((p) => p.id)).toEqual([1, 2, 3]);
  });

  test('a result whose time cannot be read is left out', () => {
    const history = liftHistory([historyEntry(1, 'yesterday', [comparison('on', 'm')]), historyEntry(2, at(1), [comparison('on', 'm')])], ['m'], tone);
    expect(history[0]?.series[0]?.points.map((p) => p.id)).toEqual([2]);
  });
});

describe('runs', () => {
  test('splits the points at undefined ones, keeping lone points as runs of one', () => {
    const points = [
      point(1, 0.1, 0, 0.2),
      point(2, 0.2, null, null),
      point(3, 0.3, 0.1, 0.5),
      point(4, null, 0.1, 0.4),
      point(5, 0.2, 0.1, 0.3),
    ];
    expect(runs(points, hasInterval).map((run) => run.map((p) => p.id))).toEqual([[1], [3, 4, 5]]);
    expect(runs(points, hasLift).map((run) => run.map((p) => p.id))).toEqual([[1, 2, 3], [5]]);
  });

  test('nothing defined, or nothing at all, is no run', () => {
    expect(runs([point(1, null, null, null)], hasLift)).toEqual([]);
    expect(runs([], hasInterval)).toEqual([]);
  });
});

describe('sideOfZero', () => {
  test('reads an interval against zero', () => {
    expect(sideOfZero({ low: 0.01, high: 0.3 })).toBe('above');
    expect(sideOfZero({ low: -0.3, high: -0.01 })).toBe('below');
    expect(sideOfZero({ low: -0.1, high: 0.2 })).toBe('crosses');
    // Touching zero is not leaving it.
    expect(sideOfZero({ low: 0, high: 0.2 })).toBe('crosses');
    expect(sideOfZero({ low: null, high: null })).toBe('undefined');
  });
});

const metric = (points: LiftPoint[][]): MetricHistory => ({
  metric: 'm',
  series: points.map((p, i) => ({ variant: `t${i}`, tone: i, points: p })),
});

describe('liftDomain', () => {
  test('holds every lift and interval end of every treatment, and zero', () => {
    const [low, high] = liftDomain(metric([[point(1, 0.3, 0.1, 0.5)], [point(1, 0.2, 0.15, 0.8)]]));
    // From 0 (not 0.1) to 0.8, padded by a twentieth.
    expect(low).toBeCloseTo(-0.04, 12);
    expect(high).toBeCloseTo(0.84, 12);
  });

  test('an interval crossing zero spans both sides', () => {
    const [low, high] = liftDomain(metric([[point(1, -0.05, -0.4, 0.3)]]));
    expect(low).toBeLessThan(-0.4);
    expect(high).toBeGreaterThan(0.3);
  });

  test('only negative lifts still show zero', () => {
    const [, high] = liftDomain(metric([[point(1, -0.3, -0.5, -0.1)]]));
    expect(high).toBeGreaterThan(0);
  });

  test('nothing defined, or all zero, is ±10%', () => {
    expect(liftDomain(metric([[point(1, null, null, null)]]))).toEqual([-0.1, 0.1]);
    expect(liftDomain(metric([]))).toEqual([-0.1, 0.1]);
    expect(liftDomain(metric([[point(1, 0, 0, 0)]]))).toEqual([-0.1, 0.1]);
  });
});

describe('timeDomain', () => {
  test('runs from the first to the last analysis of any treatment, a fortieth of the span beyond', () => {
    // Six minutes from the first to the last: nine seconds beyond each.
    expect(timeDomain(metric([[point(2, 0, 0, 0)], [point(1, 0, 0, 0), point(7, 0, 0, 0)]]))).toEqual([
      new Date('2026-12-07T10:00:51Z'),
      new Date('2026-12-07T10:07:09Z'),
    ]);
  });

  test('a single analysis, or none, is given an hour either side', () => {
    expect(timeDomain(metric([[point(5, 0, 0, 0)]]))).toEqual([new Date('2026-12-07T09:05:00Z'), new Date('2026-12-07T11:05:00Z')]);
    const now = new Date('2026-12-07T12:00:00Z');
    expect(timeDomain(metric([]), now)).toEqual([new Date('2026-12-07T11:00:00Z'), new Date('2026-12-07T13:00:00Z')]);
  });
});

describe('latestPoint', () => {
  test('is the latest point with a lift, else the latest point', () => {
    expect(latestPoint({ variant: 'on', tone: 0, points: [point(1, 0.1, 0, 0.2), point(2, null, null, null)] })?.id).toBe(1);
    expect(latestPoint({ variant: 'on', tone: 0, points: [point(1, null, null, null), point(2, null, null, null)] })?.id).toBe(2);
    expect(latestPoint({ variant: 'on', tone: 0, points: [] })).toBeNull();
  });
});

describe('timeTickText', () => {
  const start = new Date('2026-12-07T10:00:00Z');
  const after = (ms: number) => [start, new Date(start.getTime() + ms)] as [Date, Date];
  test('writes the time of day, with seconds over a few minutes, and the date over days', () => {
    expect(timeTickText(start, after(5 * 60_000))).toMatch(/^\d\d:\d\d:\d\d$/);
    expect(timeTickText(start, after(3 * 3_600_000))).toMatch(/^\d\d:\d\d$/);
    expect(timeTickText(start, after(3 * 86_400_000))).toMatch(/^Dec \d+$/);
  });
});
