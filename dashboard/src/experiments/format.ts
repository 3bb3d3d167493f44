// An analysis' figures as people read them: conversion rates and their
// lifts in percent and points, sums per user, p-values to two significant
// figures, the attribution window in days and hours. A figure the analysis
// left undefined (null) is written "—"; the notes say why.
import type { MetricKind } from '../gql/graphql';

/** What an undefined figure shows. */
export const UNDEFINED = '—';

// The dashboard's text is English, so its numbers are grouped the English way.
const GROUPED = new Intl.NumberFormat('en');

/** A count: "12,345". */
export function countText(n: number): string {
  return GROUPED.format(n);
}

/**
 * `value` to `digits` significant figures, without trailing zeros after
 * the point and without an exponent ("0.000123", "1,230", "12.3").
 */
export function significant(value: number, digits = 3): string {
  if (value === 0 || !Number.isFinite(value)) return '0';
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const decimals = Math.min(20, Math.max(0, digits - 1 - magnitude));
  const rounded = Number(value.toFixed(decimals));
  return new Intl.NumberFormat('en', { maximumFractionDigits: decimals }).format(rounded);
}

/** A signed number with a real minus sign: "+1.5", "−0.25". */
function signed(text: string, negative: boolean): string {
  return negative ? `−${text}` : `+${text}`;
}

/** A share as a percentage: 0.304 → "30.4%". */
export function percentText(share: number | null, digits = 3): string {
  if (share === null) return UNDEFINED;
  return `${significant(100 * share, digits)}%`;
}

/** A relative change: 0.12 → "+12%", −0.045 → "−4.5%". */
export function signedPercent(share: number | null, digits = 3): string {
  if (share === null) return UNDEFINED;
  return signed(`${significant(Math.abs(100 * share), digits)}%`, share < 0);
}

/** A metric's mean per user: a conversion rate in percent, a sum as a number. */
export function meanText(kind: MetricKind, mean: number | null): string {
  if (mean === null) return UNDEFINED;
  return kind === 'CONVERSION' ? percentText(mean) : significant(mean, 4);
}

/** An absolute lift: points of conversion rate, or per user for a sum. */
export function absoluteText(kind: MetricKind, lift: number | null): string {
  if (lift === null) return UNDEFINED;
  return kind === 'CONVERSION'
    ? `${signed(significant(Math.abs(100 * lift)), lift < 0)} pts`
    : `${signed(significant(Math.abs(lift)), lift < 0)} per user`;
}

/** An interval of absolute lifts, in the metric's units: "+2.1 to +9.8 pts". */
export function absoluteIntervalText(kind: MetricKind, interval: { low: number; high: number } | null): string {
  if (interval === null) return UNDEFINED;
  const end = (x: number) => signed(significant(Math.abs(kind === 'CONVERSION' ? 100 * x : x)), x < 0);
  return `${end(interval.low)} to ${end(interval.high)}${kind === 'CONVERSION' ? ' pts' : ''}`;
}

/** An interval of relative lifts: "+3.2% to +21%". */
export function relativeIntervalText(interval: { low: number; high: number } | null): string {
  if (interval === null) return UNDEFINED;
  return `${signedPercent(interval.low)} to ${signedPercent(interval.high)}`;
}

/** A p-value to two significant figures; below 0.0001 as "< 0.0001". */
export function pValueText(p: number | null): string {
  if (p === null) return UNDEFINED;
  if (p < 0.0001) return '< 0.0001';
  return significant(p, 2);
}

/** A p-value as a statement: "p = 0.043", "p < 0.0001". */
export function pStatement(p: number | null): string {
  if (p === null) return `p undefined`;
  return p < 0.0001 ? 'p < 0.0001' : `p = ${pValueText(p)}`;
}

/** A probability in percent, as the chance to beat control: "97.3%", "> 99.99%". */
export function chanceText(p: number | null): string {
  if (p === null) return UNDEFINED;
  if (p > 0.9999) return '> 99.99%';
  if (p < 0.0001) return '< 0.01%';
  return percentText(p);
}

const HOUR = 3600;
const DAY = 24 * HOUR;

/** The attribution window: "7 days", "36 hours", "1 day 6 hours", "90 seconds". */
export function windowText(seconds: number): string {
  const plural = (n: number, unit: string) => `${countText(n)} ${unit}${n === 1 ? '' : 's'}`;
  if (seconds % HOUR !== 0) {
    return seconds < HOUR ? plural(seconds, 'second') : `${significant(seconds / HOUR)} hours`;
  }
  const days = Math.floor(seconds / DAY);
  const hours = (seconds % DAY) / HOUR;
  if (days === 0) return plural(hours, 'hour');
  if (hours === 0) return plural(days, 'day');
  return `${plural(days, 'day')} ${plural(hours, 'hour')}`;
}

/** The confidence level of `alpha`: 0.05 → "95%". */
export function levelText(alpha: number): string {
  return `${significant(100 * (1 - alpha), 4)}%`;
}

/** The metric kinds, in the order the form offers them, with what each reads. */
export const METRIC_KINDS: Record<MetricKind, { label: string; help: string }> = {
  CONVERSION: { label: 'Conversion', help: 'whether the user has at least one event' },
  SUM: { label: 'Sum', help: 'the sum of the events’ values per user' },
};

/** An analysis' time, to the second (analyses can be seconds apart): "Dec 7, 2026, 10:00:05 AM". */
export function analysisTime(at: Date | string): string {
  const time = typeof at === 'string' ? new Date(at) : at;
  return Number.isNaN(time.getTime())
    ? String(at)
    : time.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}
