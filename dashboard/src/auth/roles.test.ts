// The reason a control is disabled, from what the server says the role may do.
import { expect, test } from 'vitest';

import { type Viewer, denial } from './roles';

function viewer(role: string, changeFlags: boolean, administer: boolean): Viewer {
  return {
    name: 'a',
    role,
    can: {
      changeFlags: { allowed: changeFlags, neededRole: 'editor' },
      administer: { allowed: administer, neededRole: 'admin' },
    },
  };
}

test('what the server allows is not denied', () => {
  expect(denial(viewer('editor', true, false), 'changeFlags')).toBeNull();
  expect(denial(viewer('admin', true, true), 'administer')).toBeNull();
});

test('what the server refuses is denied with the role in the reason', () => {
  expect(denial(viewer('viewer', false, false), 'changeFlags')).toBe('Viewers cannot change flags');
  expect(denial(viewer('editor', true, false), 'administer')).toBe(
    'Editors cannot manage tokens or flag sets: that needs the admin role',
  );
  expect(denial(viewer('', false, false), 'changeFlags')).toBe('This role cannot change flags');
});

test('the server decides, whatever the role is called', () => {
  // A role the dashboard has never heard of gets exactly what the server reports.
  expect(denial(viewer('owner', true, true), 'changeFlags')).toBeNull();
  expect(denial(viewer('auditor', false, false), 'changeFlags')).toBe('Auditors cannot change flags');
  // Even a familiar name is judged by the server's answer, not by a table here.
  expect(denial(viewer('editor', false, false), 'changeFlags')).toBe('Editors cannot change flags');
  expect(denial(viewer('viewer', true, false), 'changeFlags')).toBeNull();
});
