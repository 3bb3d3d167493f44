// The usage screen's figures in words: counts and times for people, the
// stale-flag window as the address keeps it (`?unused=30d`), why a flag
// is stale, and the orders the usage table can be read in.
import type { FlagUsageQuery, StaleFlagsQuery } from '../gql/graphql';
import { formatTime } from '../flags/flagFields';

export type Usage = FlagUsageQuery['flagUsage'][number];
export type Stale = StaleFlagsQuery['staleFlags'][number];

const NUMBER = new Intl.NumberFormat('en');

/** A count as the dashboard writes numbers: "12,345". */
export function countText(n: number): string {
  return NUMBER.format(n);
}

/** The default window: 30 days, as `staleFlags` defaults to. */
export const DEFAULT_WINDOW_HOURS = 720;

/** The longest window the server takes (`unusedForHours`): ten years of 366 days. */
export const MAX_WINDOW_HOURS = 87_840;

export type WindowUnit = 'days' | 'hours';

/** The stale-flag window as the user sets it. */
export interface StaleWindow {
  amount: number;
  unit: WindowUnit;
}

/** The window in hours, as `staleFlags` takes it. */
export function windowHours({ amount, unit }: StaleWindow): number {
  return unit === 'days' ? amount * 24 : amount;
}

/** Why a window cannot be used, or `null`. */
export function windowProblem(window: StaleWindow): string | null {
  if (!Number.isInteger(window.amount) || window.amount < 1) return `The window is a whole number of ${window.unit}, at least 1`;
  if (windowHours(window) > MAX_WINDOW_HOURS) return `The window is at most ${countText(MAX_WINDOW_HOURS / 24)} days`;
  return null;
}

/** The window the address names (`?unused=30d`, `?unused=12h`), with what could not be read of it. */
export function parseWindow(search: string): { window: StaleWindow; problem: string | null } {
  const fallback: StaleWindow = { amount: DEFAULT_WINDOW_HOURS / 24, unit: 'days' };
  const raw = new URLSearchParams(search).get('unused');
  if (raw === null) return { window: fallback, problem: null };
  const match = /^([1-9]\d{0,5})([dh])$/.exec(raw);
  const window: StaleWindow | null = match
    ? { amount: Number(match[1]), unit: match[2] === 'd' ? 'days' : 'hours' }
    : null;
  const problem = window ? windowProblem(window) : null;
  if (!window || problem) {
    return { window: fallback, problem: `the window “${raw}” (${problem ?? 'write it as 30d or 12h'}); showing 30 days` };
  }
  return { window, problem: null };
}

/** The query string of a window: none for the default. */
export function formatWindow(window: StaleWindow): string {
  if (windowHours(window) === DEFAULT_WINDOW_HOURS) return '';
  return `?unused=${window.amount}${window.unit === 'days' ? 'd' : 'h'}`;
}

/** A window in words: "30 days", "1 hour". */
export function windowText({ amount, unit }: StaleWindow): string {
  const noun = unit === 'days' ? 'day' : 'hour';
  return `${countText(amount)} ${noun}${amount === 1 ? '' : 's'}`;
}

const RELATIVE = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

const STEPS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 30],
  ['month', 12],
  ['year', Infinity],
];

/** How long before `now` (milliseconds) a time was, in words: "5 minutes ago". */
export function agoText(rfc3339: string, now: number): string {
  const then = Date.parse(rfc3339);
  if (Number.isNaN(then)) return rfc3339;
  let amount = (then - now) / 1000;
  for (const [unit, size] of STEPS) {
    if (Math.abs(amount) < size) return RELATIVE.format(Math.round(amount), unit);
    amount /= size;
  }
  return RELATIVE.format(Math.round(amount), 'year');
}

/** A variant as the usage screen names it; `null` is evaluations that served none. */
export function variantText(variant: string | null): string {
  return variant === null ? 'no variant (errors, or the caller’s default)' : `“${variant}”`;
}

/** Why a flag is stale, as a sentence. */
export function staleReasonText(stale: Stale): string {
  switch (stale.reason) {
    case 'NOT_EVALUATED':
      return stale.lastEvaluatedAt
        ? `Not evaluated since ${formatTime(stale.lastEvaluatedAt)}.`
        : 'Never evaluated.';
    case 'ONE_VARIANT': {
      const since = stale.since ? ` since ${formatTime(stale.since)}` : '';
      return stale.variant === null
        ? `Served no variant to anyone${since} (every evaluation an error or the caller’s default).`
        : `Served only variant ${variantText(stale.variant)} to everyone${since}.`;
    }
  }
}

/** What a stale flag's code can likely become. */
export function staleAdvice(stale: Stale): string {
  if (stale.reason === 'NOT_EVALUATED') return 'No code asks for it: remove it from the flag set.';
  return stale.variant === null
    ? 'Check why it serves no variant.'
    : `The code can use variant “${stale.variant}” directly, and the flag can go.`;
}

/** The orders the usage table can be read in. */
export const USAGE_SORTS = {
  key: 'Key',
  busiest: 'Most evaluated (30 days)',
  idle: 'Longest unused first',
} as const;

export type UsageSort = keyof typeof USAGE_SORTS;

export function isUsageSort(value: string): value is UsageSort {
  return Object.hasOwn(USAGE_SORTS, value);
}

/** `rows` in the order `sort` names; ties by key. */
export function sortUsage(rows: readonly Usage[], sort: UsageSort): Usage[] {
  const byKey = (a: Usage, b: Usage) => (a.flag < b.flag ? -1 : a.flag > b.flag ? 1 : 0);
  const last = (u: Usage) => (u.lastEvaluatedAt === null ? -Infinity : Date.parse(u.lastEvaluatedAt));
  const compare: Record<UsageSort, (a: Usage, b: Usage) => number> = {
    key: byKey,
    busiest: (a, b) => b.evaluations30d - a.evaluations30d || b.evaluations24h - a.evaluations24h || byKey(a, b),
    idle: (a, b) => last(a) - last(b) || byKey(a, b),
  };
  return [...rows].sort(compare[sort]);
}
