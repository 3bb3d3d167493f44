// The audit log's filters in the query string, and the time conversions
// between it (RFC 3339) and the form's local date-time inputs.
import { expect, test } from 'vitest';

import {
  NO_FILTERS,
  auditFilter,
  formatAuditParams,
  fromLocalInput,
  parseAuditParams,
  rangeProblem,
  toLocalInput,
} from './auditParams';

test('filters round-trip through the query string, empty ones left out', () => {
  const params = { ...NO_FILTERS, actor: 'ann lee', flag: 'a/b?c', since: '2026-12-01T00:00:00.000Z' };
  const query = formatAuditParams(params);
  expect(query).toBe('?actor=ann+lee&flag=a%2Fb%3Fc&since=2026-12-01T00%3A00%3A00.000Z');
  expect(parseAuditParams(query)).toEqual({ params, problems: [] });
  expect(formatAuditParams(NO_FILTERS)).toBe('');
});

test('a time that is not RFC 3339 is reported and not applied', () => {
  const { params, problems } = parseAuditParams('?since=yesterday&until=2026-12-01T10:00:00%2B02:00&actor=bob');
  expect(params).toEqual({ ...NO_FILTERS, actor: 'bob', until: '2026-12-01T10:00:00+02:00' });
  expect(problems).toEqual(['since “yesterday” is not an RFC 3339 time']);
  expect(parseAuditParams('?until=2026-02-30T00:00:00Z').problems).toEqual(['until “2026-02-30T00:00:00Z” is not an RFC 3339 time']);
  expect(parseAuditParams('?until=2026-12-01T24:00:00Z').problems).toHaveLength(1);
  expect(parseAuditParams('?until=2028-02-29T23:59:59.5-08:00').problems).toEqual([]);
});

test('the query filter sends nothing for an empty field', () => {
  expect(auditFilter({ ...NO_FILTERS, flagSet: 'mobile' }, 40, 25)).toEqual({
    actor: null,
    flagSet: 'mobile',
    flag: null,
    since: null,
    until: null,
    beforeId: 40,
    first: 25,
  });
});

test('a range whose start is not before its end is refused', () => {
  const range = (since: string, until: string) => rangeProblem({ ...NO_FILTERS, since, until });
  expect(range('2026-12-02T00:00:00Z', '2026-12-01T00:00:00Z')).toBe('“Since” must be earlier than “Until”: no change could match');
  expect(range('2026-12-01T00:00:00Z', '2026-12-01T00:00:00Z')).not.toBeNull();
  expect(range('2026-12-01T00:00:00Z', '2026-12-02T00:00:00Z')).toBeNull();
  expect(range('', '2026-12-02T00:00:00Z')).toBeNull();
});

test('local date-time inputs convert to UTC and back', () => {
  const utc = fromLocalInput('2026-12-01T10:30:15');
  expect(utc).toBe(new Date(2026, 11, 1, 10, 30, 15).toISOString());
  expect(toLocalInput(utc ?? '')).toBe('2026-12-01T10:30:15');
  // Whole minutes are written as the input writes them.
  expect(toLocalInput(new Date(2026, 11, 1, 10, 30).toISOString())).toBe('2026-12-01T10:30');
  expect(fromLocalInput('')).toBe('');
  expect(fromLocalInput('2026-13-45T99:00')).toBeNull();
  expect(toLocalInput('')).toBe('');
});
