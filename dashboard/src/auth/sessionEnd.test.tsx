// The end of a session: any answer saying the token no longer works (HTTP
// 401, code UNAUTHENTICATED, the socket closed with 4403) forgets the token
// and returns to sign-in with the reason; other failures do not.
import { screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, expect, test } from 'vitest';

import { type Answer, FakeSocket, type Received, errorBody, mockApi, renderApp, viewerAnswer } from '../test/harness';

const TOKEN = 'ens_adm_live';

beforeEach(() => {
  sessionStorage.setItem('ensign.token', TOKEN);
});
afterEach(() => {
  FakeSocket.reset();
});

const FLAG_SETS: Answer = {
  body: { data: { flagSets: [{ key: 'default', name: 'Default', archived: false, readOnly: false }] } },
};

/** The server as it answers a signed-in editor, except for `flagList`. */
function serve(flagList: () => Answer) {
  return (request: Received): Answer => {
    switch (request.operationName) {
      case 'Viewer':
        return viewerAnswer('ann', 'editor');
      case 'FlagSets':
        return FLAG_SETS;
      case 'FlagTags':
        return { body: { data: { flagTags: [] } } };
      case 'FlagList':
        return flagList();
      default:
        return { status: 500, body: errorBody(`unexpected ${request.operationName}`, 'TEST') };
    }
  };
}

async function expectSessionEnded(reason: string) {
  const notice = await screen.findByText(/Your session ended/);
  expect(notice).toHaveTextContent(`Your session ended: ${reason}. Sign in again to go on.`);
  expect(screen.getByRole('heading', { name: 'Sign in to Ensign' })).toBeInTheDocument();
  expect(sessionStorage.getItem('ensign.token')).toBeNull();
  expect(window.location.pathname).toBe('/sign-in');
  expect(window.location.search).toBe('?next=%2Fflags%2Fdefault');
}

test('an HTTP 401 ends the session with the server reason', async () => {
  const received = mockApi(
    serve(() => ({ status: 401, body: errorBody('the token is unknown or revoked', 'UNAUTHENTICATED') })),
  );
  renderApp('/flags/default');
  await expectSessionEnded('the token is unknown or revoked (UNAUTHENTICATED)');
  expect(received.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
});

test('an UNAUTHENTICATED error inside a 200 answer ends the session', async () => {
  mockApi(serve(() => ({ body: errorBody('the token was revoked', 'UNAUTHENTICATED') })));
  renderApp('/flags/default');
  await expectSessionEnded('the token was revoked (UNAUTHENTICATED)');
});

test('a subscription socket closed with 4403 ends the session', async () => {
  mockApi(serve(() => ({ body: { data: { flags: { items: [], next: null, totalCount: 0 } } } })));
  renderApp('/flags/default');
  expect(await screen.findByText('No flags match.')).toBeInTheDocument();
  await waitFor(() => {
    expect(FakeSocket.opened[0]?.subscriptions).toHaveLength(1);
  });
  const socket = FakeSocket.opened[0];
  expect(socket?.initPayload).toEqual({ Authorization: `Bearer ${TOKEN}` });

  socket?.serverClose(4403, 'the token was revoked');
  await expectSessionEnded('the live connection closed: the token was revoked (CLOSED_4403)');
});

test('a socket refused at connection_init ends the session', async () => {
  FakeSocket.onInit = 'refuse';
  mockApi(serve(() => ({ body: { data: { flags: { items: [], next: null, totalCount: 0 } } } })));
  renderApp('/flags/default');
  await expectSessionEnded('the live connection closed: Forbidden (CLOSED_4403)');
});

test('other failures are shown and keep the session', async () => {
  mockApi(serve(() => ({ body: errorBody('flag set "default" not found', 'FLAG_SET_NOT_FOUND') })));
  renderApp('/flags/default');
  const alert = await screen.findByRole('alert');
  expect(alert).toHaveTextContent('The flags could not be loaded: flag set "default" not found FLAG_SET_NOT_FOUND');
  expect(sessionStorage.getItem('ensign.token')).toBe(TOKEN);
  expect(window.location.pathname).toBe('/flags/default');
});
