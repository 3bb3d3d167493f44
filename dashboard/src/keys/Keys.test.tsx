// The tokens and SDK keys screen: the list for an admin, the reason for any
// other role, creating an admin token or an SDK key (which needs a flag
// set), the secret shown once, and revocation, confirmed.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test } from 'vitest';

import { type Answer, type Received, FakeSocket, errorBody, mockApi, renderApp } from '../test/harness';
import { type FakeServer, flagsApi } from '../test/flags';

interface FakeToken {
  id: number;
  name: string;
  role: string;
  flagSet: string | null;
  prefix: string;
  createdAt: string;
  revokedAt: string | null;
}

let server: FakeServer & { tokens: FakeToken[] };

const tokenData = (t: FakeToken) => ({ __typename: 'Token', ...t });

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  server = {
    role: 'admin',
    name: 'root',
    flags: [],
    mutations: {},
    tokens: [
      { id: 1, name: 'root', role: 'admin', flagSet: null, prefix: 'ens_adm_abcd', createdAt: '2026-11-01T09:00:00Z', revokedAt: null },
      { id: 2, name: 'old ci', role: 'editor', flagSet: null, prefix: 'ens_adm_efgh', createdAt: '2026-11-02T09:00:00Z', revokedAt: '2026-11-20T10:00:00Z' },
      { id: 3, name: 'shop web', role: 'client', flagSet: 'mobile', prefix: 'ens_cli_ijkl', createdAt: '2026-11-03T09:00:00Z', revokedAt: null },
    ],
  };
});
afterEach(() => {
  FakeSocket.reset();
});

function keysApi(request: Received): Answer {
  switch (request.operationName) {
    case 'Tokens':
      return { body: { data: { tokens: server.tokens.map(tokenData) } } };
    default:
      return flagsApi(server)(request);
  }
}

/** Answers `createToken` as the server does: the token, and its secret this once. */
function createAnswer(request: Received): Answer {
  const v = request.variables;
  const sdk = v.role === 'server' || v.role === 'client';
  const secret = `ens_${sdk ? 'cli' : 'adm'}_secret${server.tokens.length + 1}`;
  const token: FakeToken = {
    id: server.tokens.length + 1,
    name: String(v.name),
    role: String(v.role),
    flagSet: (v.flagSet as string | null) ?? null,
    prefix: secret.slice(0, 12),
    createdAt: '2026-12-01T09:00:00Z',
    revokedAt: null,
  };
  server.tokens.push(token);
  return { body: { data: { createToken: { __typename: 'CreatedToken', token: tokenData(token), secret } } } };
}

const sent = (received: Received[], name: string) => received.filter((r) => r.operationName === name).map((r) => r.variables);

test('an admin sees every token, live ones first, with its role, flag set, prefix and state', async () => {
  mockApi(keysApi);
  renderApp('/keys');
  expect(await screen.findByRole('heading', { name: 'Tokens and SDK keys', level: 1 })).toBeInTheDocument();
  const table = await screen.findByRole('table');
  const rows = within(table).getAllByRole('row').slice(1);
  expect(rows.map((r) => within(r).getByRole('rowheader').textContent)).toEqual(['shop web', 'root', 'old ci']);
  const shop = within(rows[0] as HTMLElement);
  expect(shop.getByText('Client SDK key')).toBeInTheDocument();
  expect(shop.getByRole('cell', { name: 'mobile' })).toBeInTheDocument();
  expect(shop.getByText('ens_cli_ijkl…')).toBeInTheDocument();
  expect(shop.getByRole('button', { name: 'Revoke shop web' })).toBeEnabled();
  const old = within(rows[2] as HTMLElement);
  expect(old.getByText(/^Revoked/)).toBeInTheDocument();
  expect(old.queryByRole('button')).not.toBeInTheDocument();
  expect(screen.getByText('2 live, 1 revoked')).toBeInTheDocument();
});

test('another role is told why it cannot see the tokens, and none are asked for', async () => {
  server.role = 'editor';
  const received = mockApi(keysApi);
  renderApp('/keys');
  expect(
    await screen.findByText(/Editors cannot manage tokens or flag sets: that needs the admin role\./),
  ).toBeInTheDocument();
  expect(screen.queryByRole('table')).not.toBeInTheDocument();
  expect(screen.queryByRole('button', { name: /Create/ })).not.toBeInTheDocument();
  expect(sent(received, 'Tokens')).toEqual([]);
});

test('a client key needs a flag set; its secret is shown once, and gone when hidden', async () => {
  server.mutations.CreateToken = createAnswer;
  const received = mockApi(keysApi);
  renderApp('/keys');
  await screen.findByRole('table');

  await userEvent.type(screen.getByLabelText('Name'), '  checkout web  ');
  await userEvent.selectOptions(screen.getByLabelText('Role'), 'Client SDK key');
  expect(screen.getByLabelText('Role')).toHaveAccessibleDescription(/only the client-visible flags of one flag set/);
  await userEvent.click(screen.getByRole('button', { name: 'Create SDK key' }));
  expect(screen.getByLabelText('Flag set')).toBeInvalid();
  expect(screen.getByLabelText('Flag set')).toHaveAccessibleDescription(/^An SDK key needs a flag set\./);
  expect(sent(received, 'CreateToken')).toEqual([]);

  await waitFor(() => { expect(screen.getByLabelText('Flag set')).toBeEnabled(); });
  await userEvent.selectOptions(screen.getByLabelText('Flag set'), 'Mobile (mobile)');
  await userEvent.click(screen.getByRole('button', { name: 'Create SDK key' }));

  const shown = await screen.findByRole('region', { name: 'Copy the secret of checkout web now' });
  expect(sent(received, 'CreateToken')).toEqual([{ name: 'checkout web', role: 'client', flagSet: 'mobile' }]);
  expect(within(shown).getByLabelText('Secret')).toHaveValue('ens_cli_secret4');
  expect(shown).toHaveTextContent('It will not be shown again.');
  expect(shown).toHaveTextContent('Give it to the SDK of flag set mobile');
  // The new key is in the list, read again after the mutation.
  expect(await screen.findByRole('rowheader', { name: 'checkout web' })).toBeInTheDocument();

  await userEvent.click(within(shown).getByRole('button', { name: 'I have copied it: hide the secret' }));
  expect(screen.queryByRole('region', { name: /Copy the secret/ })).not.toBeInTheDocument();
  expect(screen.queryByDisplayValue('ens_cli_secret4')).not.toBeInTheDocument();
  expect(document.body.textContent).not.toContain('ens_cli_secret4');
});

test('the secret is not shown again after leaving the screen', async () => {
  server.mutations.CreateToken = createAnswer;
  mockApi(keysApi);
  renderApp('/keys');
  await userEvent.type(await screen.findByLabelText('Name'), 'support');
  await userEvent.click(screen.getByRole('button', { name: 'Create token' }));
  expect(await screen.findByLabelText('Secret')).toHaveValue('ens_adm_secret4');

  await userEvent.click(within(screen.getByRole('navigation', { name: 'Main' })).getByRole('link', { name: 'Audit log' }));
  expect(await screen.findByRole('heading', { name: 'Audit log' })).toBeInTheDocument();
  expect(screen.queryByLabelText('Secret')).not.toBeInTheDocument();
  await userEvent.click(within(screen.getByRole('navigation', { name: 'Main' })).getByRole('link', { name: 'Keys' }));
  expect(await screen.findByRole('rowheader', { name: 'support' })).toBeInTheDocument();
  expect(screen.queryByLabelText('Secret')).not.toBeInTheDocument();
  expect(document.body.textContent).not.toContain('ens_adm_secret4');
  const stored = [sessionStorage, localStorage].flatMap((storage) =>
    Array.from({ length: storage.length }, (_, i) => storage.getItem(storage.key(i) ?? '') ?? ''),
  );
  expect(stored.join('\n')).not.toContain('ens_adm_secret4');
});

test('an admin token is sent without a flag set; copying says whether it worked', async () => {
  server.mutations.CreateToken = createAnswer;
  const received = mockApi(keysApi);
  const copied: string[] = [];
  Object.defineProperty(navigator, 'clipboard', {
    configurable: true,
    value: { writeText: (text: string) => { copied.push(text); return Promise.resolve(); } },
  });
  renderApp('/keys');
  await userEvent.type(await screen.findByLabelText('Name'), 'ops');
  await userEvent.selectOptions(screen.getByLabelText('Role'), 'Editor');
  expect(screen.queryByLabelText('Flag set')).not.toBeInTheDocument();
  await userEvent.click(screen.getByRole('button', { name: 'Create token' }));
  await screen.findByLabelText('Secret');
  expect(sent(received, 'CreateToken')).toEqual([{ name: 'ops', role: 'editor', flagSet: null }]);

  await userEvent.click(screen.getByRole('button', { name: 'Copy' }));
  expect(await screen.findByText('Copied to the clipboard.')).toBeInTheDocument();
  expect(copied).toEqual(['ens_adm_secret4']);

  Object.defineProperty(navigator, 'clipboard', {
    configurable: true,
    value: { writeText: () => Promise.reject(new Error('denied')) },
  });
  await userEvent.click(screen.getByRole('button', { name: 'Copy' }));
  expect(await screen.findByText(/The browser did not allow copying/)).toBeInTheDocument();
});

test('the server’s refusal of a new token is shown with its code', async () => {
  server.mutations.CreateToken = () => ({ body: errorBody('flag set "mobile" is archived', 'INVALID_INPUT') });
  mockApi(keysApi);
  renderApp('/keys');
  await userEvent.type(await screen.findByLabelText('Name'), 'late');
  await userEvent.click(screen.getByRole('button', { name: 'Create token' }));
  expect(await screen.findByRole('alert')).toHaveTextContent('Not created: flag set "mobile" is archived INVALID_INPUT');
  expect(screen.queryByLabelText('Secret')).not.toBeInTheDocument();
});

test('revoking asks first, then shows the token revoked', async () => {
  server.mutations.RevokeToken = (request) => {
    const token = server.tokens.find((t) => t.id === request.variables.id);
    if (!token) return { body: errorBody('no token', 'INVALID_INPUT') };
    token.revokedAt = '2026-12-01T10:00:00Z';
    return { body: { data: { revokeToken: tokenData(token) } } };
  };
  const received = mockApi(keysApi);
  renderApp('/keys');
  await userEvent.click(await screen.findByRole('button', { name: 'Revoke shop web' }));
  const dialog = screen.getByRole('dialog', { name: 'Revoke shop web?' });
  expect(dialog).toHaveTextContent('evaluation nodes refuse it once they receive the flag set’s next publication');
  await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
  expect(sent(received, 'RevokeToken')).toEqual([]);

  await userEvent.click(screen.getByRole('button', { name: 'Revoke shop web' }));
  await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Revoke' }));
  expect(await screen.findByText('Revoked shop web')).toBeInTheDocument();
  expect(sent(received, 'RevokeToken')).toEqual([{ id: 3 }]);
  await waitFor(() => { expect(screen.queryByRole('button', { name: 'Revoke shop web' })).not.toBeInTheDocument(); });
  expect(screen.getByText('1 live, 2 revoked')).toBeInTheDocument();
});

test('a refused revocation stays in the dialog with the server’s message', async () => {
  server.mutations.RevokeToken = () => ({ body: errorBody('the store is unavailable', 'STORE_UNAVAILABLE') });
  mockApi(keysApi);
  renderApp('/keys');
  await userEvent.click(await screen.findByRole('button', { name: 'Revoke root' }));
  await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Revoke' }));
  expect(await within(screen.getByRole('dialog')).findByRole('alert')).toHaveTextContent(
    'It failed: the store is unavailable STORE_UNAVAILABLE',
  );
});
