// Rollouts' figures as people read them.
import { expect, it } from 'vitest';

import { durationText, relativeTime, shareOf, signedPercent, weightsText } from './format';
import { guardChartLabel, liftDomain } from './GuardChart';

it('writes weights as shares and lifts as signed percentages', () => {
  const weights = [
    { variant: 'on', weight: 1 },
    { variant: 'off', weight: 2 },
  ];
  expect(weightsText(weights)).toBe('on 33.33% · off 66.67%');
  expect(shareOf(weights, 'off')).toBe('66.67%');
  expect(shareOf(weights, 'gone')).toBeNull();
  expect(signedPercent(-0.1234)).toBe('−12.3%');
  expect(signedPercent(0.004)).toBe('+0.4%');
  expect(signedPercent(-0.0004)).toBe('0%');
});

it('writes durations and times relative to now in words', () => {
  expect(durationText(604800)).toBe('7 days');
  expect(durationText(3600)).toBe('1 hour');
  expect(durationText(5400)).toBe('90 minutes');
  expect(durationText(45)).toBe('45 seconds');
  const now = new Date('2026-12-07T10:00:00Z');
  expect(relativeTime('2026-12-07T10:05:00Z', now)).toBe('in 5 minutes');
  expect(relativeTime('2026-12-07T08:00:00Z', now)).toBe('2 hours ago');
  expect(relativeTime('2026-12-07T09:59:50Z', now)).toBe('now');
  expect(relativeTime('2026-12-10T10:00:00Z', now)).toBe('in 3 days');
});

it('draws the guard chart over every figure, 0 and the tolerance, and names them', () => {
  const figures = { lift: -0.5, interval: [-0.8, -0.2] as const, tolerance: 0.02, direction: 'HIGHER_IS_BETTER' as const };
  const [low, high] = liftDomain(figures);
  expect(low).toBeLessThan(-0.8);
  expect(high).toBeGreaterThan(0);
  expect(guardChartLabel(figures)).toBe(
    'Relative lift of the new variant over the others: −50%, interval −80% to −20%. The guard tolerates 2%: it acts when the whole interval is below −2%.',
  );
  expect(guardChartLabel({ ...figures, direction: 'LOWER_IS_BETTER', interval: null })).toBe(
    'Relative lift of the new variant over the others: −50%. The guard tolerates 2%: it acts when the whole interval is above +2%.',
  );
});
