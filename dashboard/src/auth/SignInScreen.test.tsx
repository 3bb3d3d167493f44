// Signing in: a token is checked against the server before it is kept,
// and a refused one shows the server's message and code.
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, expect, test } from 'vitest';

import { FakeSocket, errorBody, mockApi, renderApp, roleAnswer } from '../test/harness';

afterEach(() => {
  FakeSocket.reset();
});

const emptyFlagSet = (request: { operationName: string }) => {
  if (request.operationName === 'FlagSets') {
    return { body: { data: { flagSets: [{ key: 'default', name: 'Default', archived: false, readOnly: false }] } } };
  }
  if (request.operationName === 'FlagList') return { body: { data: { flags: { items: [], next: null } } } };
  return { status: 500, body: errorBody(`unexpected ${request.operationName}`, 'TEST') };
};

test('a refused token shows the server message and code, and is not kept', async () => {
  const received = mockApi(() => ({
    status: 401,
    body: errorBody('the token is unknown or revoked', 'UNAUTHENTICATED'),
  }));
  renderApp('/sign-in');
  await userEvent.type(screen.getByLabelText('Admin token'), 'ens_adm_wrong');
  await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));

  const alert = await screen.findByRole('alert');
  expect(alert).toHaveTextContent('the token is unknown or revoked');
  expect(alert).toHaveTextContent('UNAUTHENTICATED');
  expect(received[0]?.authorization).toBe('Bearer ens_adm_wrong');
  expect(sessionStorage.length).toBe(0);
  expect(window.location.pathname).toBe('/sign-in');
});

test('an SDK key is refused with the server message', async () => {
  mockApi(() => ({
    status: 403,
    body: errorBody('SDK keys evaluate flags; the admin API needs an admin token', 'FORBIDDEN'),
  }));
  renderApp('/sign-in');
  await userEvent.type(screen.getByLabelText('Admin token'), 'ens_sdk_1');
  await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));

  expect(await screen.findByRole('alert')).toHaveTextContent(
    'SDK keys evaluate flags; the admin API needs an admin token FORBIDDEN',
  );
  expect(sessionStorage.length).toBe(0);
});

test('an empty token is refused without asking the server', async () => {
  const received = mockApi(() => ({ body: {} }));
  renderApp('/sign-in');
  await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));

  expect(await screen.findByRole('alert')).toHaveTextContent('paste a token first');
  expect(received).toHaveLength(0);
});

test('an editor token signs in, is kept for the tab, and returns to the page asked for', async () => {
  mockApi((request) =>
    request.operationName === 'ViewerProbe' ? roleAnswer('ci "bot"', 'editor') : emptyFlagSet(request),
  );
  renderApp('/flags/default');
  // Without a session, any page leads to sign-in and back.
  expect(await screen.findByRole('heading', { name: 'Sign in to Ensign' })).toBeInTheDocument();
  expect(window.location.search).toBe('?next=%2Fflags%2Fdefault');

  await userEvent.type(screen.getByLabelText('Admin token'), '  ens_adm_editor {Enter}');
  expect(await screen.findByRole('heading', { name: 'Flags' })).toBeInTheDocument();
  expect(window.location.pathname).toBe('/flags/default');
  expect(sessionStorage.getItem('ensign.token')).toBe('ens_adm_editor');
  expect(screen.getByRole('banner')).toHaveTextContent('ci "bot" · editor');
  // The token never appears in the URL.
  expect(window.location.href).not.toContain('ens_adm_editor');
});

test('an admin token finds its own name among the tokens', async () => {
  mockApi((request) =>
    request.operationName === 'ViewerProbe'
      ? {
          body: {
            data: {
              tokens: [
                { name: 'old', role: 'admin', prefix: 'ens_adm_1234', revokedAt: '2026-01-01T00:00:00Z' },
                { name: 'ops', role: 'admin', prefix: 'ens_adm_1234', revokedAt: null },
                { name: 'other', role: 'viewer', prefix: 'ens_adm_9999', revokedAt: null },
              ],
            },
          },
        }
      : emptyFlagSet(request),
  );
  renderApp('/sign-in');
  await userEvent.type(screen.getByLabelText('Admin token'), 'ens_adm_1234abcd{Enter}');
  expect(await screen.findByRole('banner')).toHaveTextContent('ops · admin');
});
