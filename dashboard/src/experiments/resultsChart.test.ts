// The per-variant chart's data: the normal quantile, the interval around a
// mean, each metric's rows in the experiment's order, undefined means with
// the note that explains them, and the scale's domain.
import { describe, expect, test } from 'vitest';

import { result, variant } from '../test/experiments';
import { meanDomain, meanInterval, metricMeans, normalQuantile, orderedMetrics, toneOf } from './resultsChart';

describe('normalQuantile', () => {
  test('matches the standard normal quantiles to many places', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 8);
    expect(normalQuantile(0.995)).toBeCloseTo(2.5758293035489, 8);
    expect(normalQuantile(0.95)).toBeCloseTo(1.6448536269514722, 8);
    expect(normalQuantile(0.5)).toBe(0);
    // The tails, on both sides, and symmetry.
    expect(normalQuantile(0.0001)).toBeCloseTo(-3.719016485455709, 7);
    expect(normalQuantile(0.9999)).toBeCloseTo(3.719016485455709, 7);
    expect(normalQuantile(0.01)).toBeCloseTo(-normalQuantile(0.99), 10);
  });

  test('is infinite at the ends and undefined outside', () => {
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    expect(normalQuantile(-0.1)).toBeNaN();
    expect(normalQuantile(1.5)).toBeNaN();
    expect(normalQuantile(Number.NaN)).toBeNaN();
  });
});

describe('meanInterval', () => {
  test('is the normal approximation at the level of alpha', () => {
    // p = 0.3 over 1,000 users: 0.3 ± 1.96·√(0.21/1000).
    const interval = meanInterval('CONVERSION', { mean: 0.3, variance: 0.21 }, 1000, 0.05);
    const half = 1.959963984540054 * Math.sqrt(0.21 / 1000);
    expect(interval?.low).toBeCloseTo(0.3 - half, 10);
    expect(interval?.high).toBeCloseTo(0.3 + half, 10);
    // A smaller alpha is a wider interval.
    const wider = meanInterval('CONVERSION', { mean: 0.3, variance: 0.21 }, 1000, 0.01);
    expect((wider?.high ?? 0) - (wider?.low ?? 0)).toBeGreaterThan((interval?.high ?? 0) - (interval?.low ?? 0));
  });

  test('keeps a conversion rate within 0 and 1, but not a sum', () => {
    expect(meanInterval('CONVERSION', { mean: 0.01, variance: 0.0099 }, 10, 0.05)).toEqual({ low: 0, high: expect.any(Number) as number });
    expect(meanInterval('CONVERSION', { mean: 0.99, variance: 0.0099 }, 10, 0.05)?.high).toBe(1);
    expect(meanInterval('SUM', { mean: 0.5, variance: 4 }, 10, 0.05)?.low).toBeLessThan(0);
  });

  test('is undefined without a mean, a variance or users', () => {
    expect(meanInterval('SUM', { mean: null, variance: 1 }, 10, 0.05)).toBeNull();
    expect(meanInterval('SUM', { mean: 3, variance: null }, 1, 0.05)).toBeNull();
    expect(meanInterval('SUM', { mean: 3, variance: 1 }, 0, 0.05)).toBeNull();
  });

  test('is the mean itself when every user has the same value', () => {
    expect(meanInterval('CONVERSION', { mean: 0, variance: 0 }, 50, 0.05)).toEqual({ low: 0, high: 0 });
  });
});

describe('metricMeans', () => {
  const metrics = [
    { name: 'purchases', kind: 'CONVERSION' as const },
    { name: 'revenue', kind: 'SUM' as const },
  ];

  test('charts every metric in the experiment’s order, each variant in the result’s', () => {
    const charts = metricMeans(
      result({
        variants: [
          // The server answers the experiment's order; a metric is looked up by name.
          variant('off', 1000, { revenue: [300, 4500, 4.5, 90], purchases: [300, 300, 0.3, 0.21] }),
          variant('on', 1000, { purchases: [420, 420, 0.42, 0.2436], revenue: [420, 6300, 6.3, 110] }),
        ],
      }),
      metrics,
      'off',
    );
    expect(charts.map((c) => [c.metric, c.kind])).toEqual([
      ['purchases', 'CONVERSION'],
      ['revenue', 'SUM'],
    ]);
    const [purchases, revenue] = charts;
    expect(purchases?.rows.map((r) => [r.variant, r.users, r.count, r.mean, r.isControl, r.tone])).toEqual([
      ['off', 1000, 300, 0.3, true, 0],
      ['on', 1000, 420, 0.42, false, 1],
    ]);
    expect(purchases?.controlMean).toBe(0.3);
    expect(purchases?.level).toBeCloseTo(0.95, 12);
    expect(revenue?.rows.map((r) => r.mean)).toEqual([4.5, 6.3]);
    // The domain holds every interval.
    for (const chart of charts) {
      for (const row of chart.rows) {
        expect(chart.domain?.[0]).toBeLessThanOrEqual(row.interval?.low ?? Infinity);
        expect(chart.domain?.[1]).toBeGreaterThanOrEqual(row.interval?.high ?? -Infinity);
      }
    }
  });

  test('an undefined mean carries the note that says why, and the control may have none', () => {
    const charts = metricMeans(
      result({
        variants: [variant('off', 0, { purchases: [0, 0, null, null] }), variant('on', 12, { purchases: [3, 3, 0.25, 0.1875] })],
        notes: [
          { pointer: '/variants/0/metrics/purchases/mean', reason: 'an arm has no users' },
          { pointer: '/variants/0/metrics/purchases/variance', reason: 'an arm has no users' },
        ],
      }),
      [metrics[0] ?? { name: 'purchases', kind: 'CONVERSION' }],
      'off',
    );
    const [chart] = charts;
    expect(chart?.rows[0]).toMatchObject({ variant: 'off', mean: null, interval: null, missing: 'an arm has no users' });
    expect(chart?.rows[1]?.missing).toBeNull();
    expect(chart?.controlMean).toBeNull();
    // The domain comes from the variant that has a mean.
    expect(chart?.domain?.[0]).toBeLessThan(0.25);
    expect(chart?.domain?.[1]).toBeGreaterThan(0.25);
  });

  test('a metric whose name needs escaping in a pointer finds its note', () => {
    const [chart] = metricMeans(
      result({
        variants: [variant('off', 1, { 'a/b~c': [0, 0, null, null] }), variant('on', 1, { 'a/b~c': [0, 0, null, null] })],
        notes: [{ pointer: '/variants/1/metrics/a~1b~0c/mean', reason: 'why' }],
      }),
      [{ name: 'a/b~c', kind: 'SUM' }],
      'off',
    );
    expect(chart?.rows.map((r) => r.missing)).toEqual(['undefined', 'why']);
    expect(chart?.domain).toBeNull();
  });

  test('a metric the result lacks is charted with no means; one the experiment dropped comes last', () => {
    const charts = metricMeans(
      result({ variants: [variant('off', 5, { old: [1, 1, 0.2, 0.16] }), variant('on', 5, { old: [2, 2, 0.4, 0.24] })] }),
      [{ name: 'purchases', kind: 'CONVERSION' }],
      'off',
    );
    expect(charts.map((c) => c.metric)).toEqual(['purchases', 'old']);
    expect(charts[0]?.rows.map((r) => r.missing)).toEqual([
      'this result has no figures for the metric',
      'this result has no figures for the metric',
    ]);
    expect(charts[1]?.kind).toBe('SUM');
    expect(charts[1]?.rows.map((r) => r.mean)).toEqual([0.2, 0.4]);
  });

  test('many variants cycle through the tones, each keeping its own', () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    expect(names.map((n) => toneOf(names, n))).toEqual([0, 1, 2, 3, 4, 5, 0]);
    expect(toneOf(names, 'unknown')).toBe(names.length % 6);
  });
});

describe('orderedMetrics', () => {
  test('keeps the experiment’s order and adds the result’s others once', () => {
    const ordered = orderedMetrics(
      [
        { name: 'b', kind: 'SUM' },
        { name: 'a', kind: 'CONVERSION' },
      ],
      { variants: [variant('x', 1, { a: [0, 0, 0, 0], c: [0, 0, 0, 0] }), variant('y', 1, { c: [0, 0, 0, 0] })] },
    );
    expect(ordered.map((m) => m.name)).toEqual(['b', 'a', 'c']);
  });
});

describe('meanDomain', () => {
  test('pads the extent by a tenth on each side', () => {
    expect(meanDomain([{ mean: 10, interval: { low: 8, high: 12 } }], 'SUM')).toEqual([7.6, 12.4]);
  });

  test('keeps conversion rates within 0 and 1', () => {
    expect(meanDomain([{ mean: 0.02, interval: { low: 0, high: 0.99 } }], 'CONVERSION')).toEqual([0, 1]);
  });

  test('a single value is padded by a tenth of itself, or by a fixed amount at zero', () => {
    expect(meanDomain([{ mean: 5, interval: null }], 'SUM')).toEqual([4.5, 5.5]);
    expect(meanDomain([{ mean: 0, interval: { low: 0, high: 0 } }], 'CONVERSION')).toEqual([0, 0.1]);
    expect(meanDomain([{ mean: 0, interval: null }], 'SUM')).toEqual([-1, 1]);
  });

  test('is null without any mean', () => {
    expect(meanDomain([{ mean: null, interval: null }], 'SUM')).toBeNull();
    expect(meanDomain([], 'CONVERSION')).toBeNull();
  });
});
