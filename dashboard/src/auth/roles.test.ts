// Which role may do what, and the reason shown when it may not.
import { expect, test } from 'vitest';

import { denial } from './roles';

test('editors and admins change flags; viewers are told why not', () => {
  expect(denial({ name: 'a', role: 'viewer' }, 'changeFlags')).toBe('Viewers cannot change flags');
  expect(denial({ name: 'a', role: 'editor' }, 'changeFlags')).toBeNull();
  expect(denial({ name: 'a', role: 'admin' }, 'changeFlags')).toBeNull();
});

test('an unknown role may do nothing', () => {
  expect(denial({ name: 'a', role: 'owner' }, 'changeFlags')).toBe('The role “owner” cannot change flags');
});
