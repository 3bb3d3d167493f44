// The audit log's filters, kept in the URL's query string
// (`?actor=…&flagSet=…&flag=…&since=…&until=…`, times in RFC 3339) so a
// view can be shared and survives a reload. Empty filters are left out.
import type { AuditFilter } from '../gql/graphql';

export interface AuditParams {
  actor: string;
  flagSet: string;
  flag: string;
  /** RFC 3339, or empty for no bound. */
  since: string;
  /** RFC 3339, or empty for no bound. */
  until: string;
}

export const NO_FILTERS: AuditParams = { actor: '', flagSet: '', flag: '', since: '', until: '' };

const FIELDS = ['actor', 'flagSet', 'flag', 'since', 'until'] as const;

export interface ParsedAuditParams {
  params: AuditParams;
  /** What in the URL was not understood and so not applied. */
  problems: string[];
}

const RFC_3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** Whether `text` is an RFC 3339 time on a day that exists. */
export function isRfc3339(text: string): boolean {
  const parts = RFC_3339.exec(text);
  if (!parts) return false;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = parts.slice(1, 7).map(Number);
  const offsetHours = Number(parts[9] ?? 0);
  const offsetMinutes = Number(parts[10] ?? 0);
  // Date.UTC rolls February 30th over into March: a day that exists comes back unchanged.
  const date = new Date(Date.UTC(year, month - 1, day));
  return (
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    hour < 24 &&
    minute < 60 &&
    second < 60 &&
    offsetHours < 24 &&
    offsetMinutes < 60
  );
}

/** The filters in a query string (with or without its `?`). */
export function parseAuditParams(search: string): ParsedAuditParams {
  const query = new URLSearchParams(search);
  const params = { ...NO_FILTERS };
  const problems: string[] = [];
  for (const field of FIELDS) params[field] = query.get(field) ?? '';
  for (const field of ['since', 'until'] as const) {
    if (params[field] !== '' && !isRfc3339(params[field])) {
      problems.push(`${field} “${params[field]}” is not an RFC 3339 time`);
      params[field] = '';
    }
  }
  return { params, problems };
}

/** The query string of `params` (`?…`, or empty without filters). */
export function formatAuditParams(params: AuditParams): string {
  const query = new URLSearchParams();
  for (const field of FIELDS) if (params[field] !== '') query.set(field, params[field]);
  const text = query.toString();
  return text === '' ? '' : `?${text}`;
}

/** The `audit` query's filter for a page of `first` events before `beforeId`. */
export function auditFilter(params: AuditParams, beforeId: number | null, first: number): AuditFilter {
  const orNull = (text: string) => (text === '' ? null : text);
  return {
    actor: orNull(params.actor),
    flagSet: orNull(params.flagSet),
    flag: orNull(params.flag),
    since: orNull(params.since),
    until: orNull(params.until),
    beforeId,
    first,
  };
}

/** Why the time range cannot match anything, or `null`. */
export function rangeProblem(params: AuditParams): string | null {
  if (params.since === '' || params.until === '') return null;
  return new Date(params.since).getTime() >= new Date(params.until).getTime()
    ? '“Since” must be earlier than “Until”: no change could match'
    : null;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** An RFC 3339 time as the value of a `datetime-local` input, in local time. */
export function toLocalInput(rfc3339: string): string {
  if (rfc3339 === '') return '';
  const t = new Date(rfc3339);
  if (Number.isNaN(t.getTime())) return '';
  // The input's own normal form: seconds only when there are some.
  const seconds = t.getSeconds() === 0 ? '' : `:${pad(t.getSeconds())}`;
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T${pad(t.getHours())}:${pad(t.getMinutes())}${seconds}`;
}

/** A `datetime-local` input's value (local time) as RFC 3339 in UTC; `null` when it is not a time. */
export function fromLocalInput(local: string): string | null {
  if (local === '') return '';
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? null : t.toISOString();
}
