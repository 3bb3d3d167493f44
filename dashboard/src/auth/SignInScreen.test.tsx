// Signing in: a token is checked against the server before it is kept,
// and a refused one shows the server's message and code.
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, expect, test } from 'vitest';

import { FakeSocket, errorBody, mockApi, renderApp, viewerAnswer } from '../test/harness';

afterEach(() => {
  FakeSocket.reset();
});

const emptyFlagSet = (request: { operationName: string }) => {
  if (request.operationName === 'FlagSets') {
    return { body: { data: { flagSets: [{ key: 'default', name: 'Default', archived: false, readOnly: false }] } } };
  }
  if (request.operationName === 'FlagTags') return { body: { data: { flagTags: [] } } };
  if (request.operationName === 'FlagList') return { body: { data: { flags: { items: [], next: null, totalCount: 0 } } } };
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
    request.operationName === 'Viewer' ? viewerAnswer('ci "bot"', 'editor') : emptyFlagSet(request),
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

test('the token is checked by asking the server who it is', async () => {
  const received = mockApi((request) =>
    request.operationName === 'Viewer' ? viewerAnswer('ops', 'admin') : emptyFlagSet(request),
  );
  renderApp('/sign-in');
  await userEvent.type(screen.getByLabelText('Admin token'), 'ens_adm_1234abcd{Enter}');
  expect(await screen.findByRole('banner')).toHaveTextContent('ops · admin');
  expect(received[0]).toEqual({ operationName: 'Viewer', variables: {}, authorization: 'Bearer ens_adm_1234abcd' });
});

test('a session kept from before asks the server who it is again', async () => {
  sessionStorage.setItem('ensign.token', 'ens_adm_kept');
  const received = mockApi((request) =>
    request.operationName === 'Viewer' ? viewerAnswer('kept-token', 'viewer') : emptyFlagSet(request),
  );
  renderApp('/flags/default');
  expect(await screen.findByRole('banner')).toHaveTextContent('kept-token · viewer');
  expect(received[0]).toMatchObject({ operationName: 'Viewer', authorization: 'Bearer ens_adm_kept' });
});
