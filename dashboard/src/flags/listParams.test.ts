// The flag list's query-string state: what a URL means, and the URL of a
// view.
import { expect, test } from 'vitest';

import { DEFAULT_PARAMS, type ListParams, formatListParams, parseListParams } from './listParams';

function check(search: string, params: Partial<ListParams>, problems: string[] = []) {
  expect(parseListParams(search)).toEqual({ params: { ...DEFAULT_PARAMS, ...params }, problems });
}

test('query strings are read', () => {
  check('', {});
  check('?', {});
  check('?q=check', { search: 'check' });
  check('q=a%26b%20c', { search: 'a&b c' });
  check('?state=DISABLED&tag=payments&sort=UPDATED_DESC', { state: 'DISABLED', tag: 'payments', sort: 'UPDATED_DESC' });
  check('?archived=1', { archived: true });
  check('?archived=0', {});
});

test('values that mean nothing are reported, not applied', () => {
  check('?state=on&sort=newest&archived=yes&q=x', { search: 'x' }, [
    'state “on” is not one of ENABLED, DISABLED',
    'sort “newest” is not one of KEY_ASC, KEY_DESC, UPDATED_DESC, UPDATED_ASC',
    'archived “yes” is not 1 or 0',
  ]);
});

test('defaults are left out of the URL', () => {
  expect(formatListParams(DEFAULT_PARAMS)).toBe('');
  expect(formatListParams({ ...DEFAULT_PARAMS, sort: 'KEY_DESC' })).toBe('?sort=KEY_DESC');
  expect(
    formatListParams({ search: '50% & more', state: 'ENABLED', tag: 'a/b', sort: 'KEY_ASC', archived: true }),
  ).toBe('?q=50%25+%26+more&state=ENABLED&tag=a%2Fb&archived=1');
});

test('every view survives the round trip through its URL', () => {
  const views: ListParams[] = [
    DEFAULT_PARAMS,
    { search: 'é?#&=+%', state: 'DISABLED', tag: ' spaced ', sort: 'UPDATED_ASC', archived: true },
    { search: '', state: null, tag: 'x', sort: 'KEY_DESC', archived: false },
  ];
  for (const view of views) {
    expect(parseListParams(formatListParams(view))).toEqual({ params: view, problems: [] });
  }
});
