// Recent contexts in storage: newest first, no duplicates, at most a few,
// per flag set, and whatever else is found under their key ignored.
import { afterEach, expect, test } from 'vitest';

import { MAX_RECENT, forgetContexts, recentContexts, rememberContext } from './recentContexts';

afterEach(() => {
  localStorage.clear();
});

test('the newest comes first, a repeated one moves up, and only the last few are kept', () => {
  for (let i = 0; i < MAX_RECENT + 2; i++) rememberContext('default', { n: i }, null);
  rememberContext('default', { n: MAX_RECENT }, null);
  expect(recentContexts('default')).toEqual([
    '{"n":5}',
    '{"n":6}',
    '{"n":4}',
    '{"n":3}',
    '{"n":2}',
  ]);
  expect(recentContexts('mobile')).toEqual([]);
});

test('a context holding the secret is not kept', () => {
  rememberContext('default', { a: 1 }, 'ens_adm_x');
  expect(rememberContext('default', { token: 'Bearer ens_adm_x' }, 'ens_adm_x')).toEqual(['{"a":1}']);
  expect(localStorage.getItem('ensign.debugger.recent.default')).not.toContain('ens_adm_x');
});

test('anything else under the key is ignored', () => {
  localStorage.setItem('ensign.debugger.recent.default', '{not json');
  expect(recentContexts('default')).toEqual([]);
  localStorage.setItem('ensign.debugger.recent.default', JSON.stringify(['{"a":1}', 42, null]));
  expect(recentContexts('default')).toEqual(['{"a":1}']);
  forgetContexts('default');
  expect(localStorage.getItem('ensign.debugger.recent.default')).toBeNull();
});
