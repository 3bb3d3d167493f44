// The browser's check of a new flag's key and values, against the store's
// key rule (engine `flag_key::check_store_key`) and the variant types.
import { expect, test } from 'vitest';

import { keyProblem, parseValue, tagsText } from './newFlag';

test('keys follow the stored-key rule', () => {
  expect(keyProblem('new-checkout')).toBeNull();
  expect(keyProblem('clé à molette')).toBeNull();
  expect(keyProblem('a/b?c%d')).toBeNull();
  expect(keyProblem('é'.repeat(127))).toBeNull();
  expect(keyProblem('é'.repeat(128))).toBe('The key is 256 bytes long; at most 255 are allowed');
  expect(keyProblem('')).toBe('Enter a key');
  expect(keyProblem('admin\u202etxt')).toBe('The key holds an invisible character (U+202E)');
  expect(keyProblem('tab\there')).toBe('The key holds an invisible character (U+0009)');
  expect(keyProblem('trailing\u00a0')).toBe('The key may not start or end with white space');
});

test('values are read as their type', () => {
  expect(parseValue('number', '-1.5e3')).toEqual({ ok: true, value: -1500 });
  expect(parseValue('number', ' ')).toMatchObject({ ok: false });
  expect(parseValue('number', 'Infinity')).toMatchObject({ ok: false });
  expect(parseValue('object', '[1]')).toMatchObject({ ok: false });
  expect(parseValue('object', '{"a": [1]}')).toEqual({ ok: true, value: { a: [1] } });
  expect(parseValue('string', '')).toEqual({ ok: true, value: '' });
  expect(parseValue('boolean', 'yes')).toMatchObject({ ok: false });
});

test('tags are trimmed, without empty or repeated ones', () => {
  expect(tagsText(' web, checkout ,web,, ')).toBe('web, checkout');
  expect(tagsText('')).toBe('');
});
