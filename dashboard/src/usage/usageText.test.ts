import { describe, expect, it } from 'vitest';

import {
  type Usage,
  agoText,
  countText,
  formatWindow,
  parseWindow,
  sortUsage,
  staleReasonText,
  windowHours,
  windowProblem,
  windowText,
} from './usageText';

const NOW = Date.parse('2026-12-07T12:00:00Z');

describe('the window', () => {
  it('reads days and hours from the address, 30 days when none or unreadable', () => {
    expect(parseWindow('')).toEqual({ window: { amount: 30, unit: 'days' }, problem: null });
    expect(parseWindow('?unused=7d')).toEqual({ window: { amount: 7, unit: 'days' }, problem: null });
    expect(parseWindow('?unused=12h')).toEqual({ window: { amount: 12, unit: 'hours' }, problem: null });
    expect(parseWindow('?unused=0d').problem).toMatch(/the window “0d”/);
    expect(parseWindow('?unused=4000d')).toEqual({
      window: { amount: 30, unit: 'days' },
      problem: 'the window “4000d” (The window is at most 3,660 days); showing 30 days',
    });
  });

  it('writes the default as no query, and others as the address keeps them', () => {
    expect(formatWindow({ amount: 30, unit: 'days' })).toBe('');
    expect(formatWindow({ amount: 720, unit: 'hours' })).toBe('');
    expect(formatWindow({ amount: 90, unit: 'days' })).toBe('?unused=90d');
    expect(formatWindow({ amount: 6, unit: 'hours' })).toBe('?unused=6h');
  });

  it('is sent in hours, within what the server takes', () => {
    expect(windowHours({ amount: 30, unit: 'days' })).toBe(720);
    expect(windowProblem({ amount: 87_840, unit: 'hours' })).toBeNull();
    expect(windowProblem({ amount: 87_841, unit: 'hours' })).toBe('The window is at most 3,660 days');
    expect(windowProblem({ amount: 1.5, unit: 'days' })).toBe('The window is a whole number of days, at least 1');
  });

  it('reads in words', () => {
    expect(windowText({ amount: 1, unit: 'days' })).toBe('1 day');
    expect(windowText({ amount: 48, unit: 'hours' })).toBe('48 hours');
  });
});

describe('figures for people', () => {
  it('groups counts and says how long ago', () => {
    expect(countText(1234567)).toBe('1,234,567');
    expect(agoText('2026-12-07T11:59:30Z', NOW)).toBe('30 seconds ago');
    expect(agoText('2026-12-07T11:00:00Z', NOW)).toBe('1 hour ago');
    expect(agoText('2026-12-06T12:00:00Z', NOW)).toBe('yesterday');
    expect(agoText('2026-10-07T12:00:00Z', NOW)).toBe('2 months ago');
    expect(agoText('not a time', NOW)).toBe('not a time');
  });
});

describe('staleReasonText', () => {
  const base = { flag: 'f', lastEvaluatedAt: null, variant: null, since: null };
  it('says why a flag is stale', () => {
    expect(staleReasonText({ ...base, reason: 'NOT_EVALUATED' })).toBe('Never evaluated.');
    expect(staleReasonText({ ...base, reason: 'NOT_EVALUATED', lastEvaluatedAt: '2026-10-01T08:00:00Z' })).toMatch(
      /^Not evaluated since Oct 1, 2026/,
    );
    expect(staleReasonText({ ...base, reason: 'ONE_VARIANT', variant: 'on', since: '2026-10-15T12:00:00Z' })).toMatch(
      /^Served only variant “on” to everyone since Oct 15, 2026/,
    );
    expect(staleReasonText({ ...base, reason: 'ONE_VARIANT', since: '2026-10-15T12:00:00Z' })).toMatch(
      /^Served no variant to anyone since .* \(every evaluation an error or the caller’s default\)\.$/,
    );
  });
});

describe('sortUsage', () => {
  const row = (flag: string, evaluations30d: number, lastEvaluatedAt: string | null): Usage => ({
    flag,
    evaluations30d,
    evaluations24h: 0,
    lastEvaluatedAt,
    firstEvaluatedAt: lastEvaluatedAt,
    variants: [],
  });
  const rows = [row('b', 10, '2026-12-01T00:00:00Z'), row('a', 10, null), row('c', 99, '2026-11-01T00:00:00Z'), row('d', 0, null)];

  it('orders by key, by evaluations, or the longest unused first', () => {
    expect(sortUsage(rows, 'key').map((r) => r.flag)).toEqual(['a', 'b', 'c', 'd']);
    expect(sortUsage(rows, 'busiest').map((r) => r.flag)).toEqual(['c', 'a', 'b', 'd']);
    expect(sortUsage(rows, 'idle').map((r) => r.flag)).toEqual(['a', 'd', 'c', 'b']);
  });
});
