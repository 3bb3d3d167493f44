// The flag overview: what it shows, keys that need escaping in the URL,
// and the kill switch behind its confirmation dialog.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test } from 'vitest';

import { flagPath } from '../routing';
import { type Answer, FakeSocket, errorBody, mockApi, renderApp } from '../test/harness';
import { type FakeServer, flag, flagsApi } from '../test/flags';

let server: FakeServer;

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  server = {
    role: 'editor',
    name: 'ann',
    flags: [
      flag('new-checkout', {
        version: 4,
        definition: { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off', metadata: { owner: 'payments', tags: ['checkout'] } },
      }),
    ],
    mutations: {},
  };
});
afterEach(() => {
  FakeSocket.reset();
});

test('the overview shows variants, default, version and metadata', async () => {
  mockApi(flagsApi(server));
  renderApp('/flags/default/new-checkout');
  await screen.findByRole('region', { name: 'Details' });
  expect(screen.getByRole('heading', { name: 'new-checkout' })).toBeInTheDocument();
  const variants = screen.getByRole('region', { name: 'Variants' });
  expect(within(variants).getByRole('rowheader', { name: 'off default' })).toBeInTheDocument();
  expect(within(variants).getByRole('row', { name: 'on true' })).toBeInTheDocument();
  const details = screen.getByRole('region', { name: 'Details' });
  expect(details).toHaveTextContent('Version4');
  expect(screen.getByRole('region', { name: 'Metadata' })).toHaveTextContent('owner"payments"');
});

test('a key with a slash, a percent sign and a question mark survives the URL', async () => {
  const key = 'team/a%2F?b';
  server.flags = [flag(key)];
  const received = mockApi(flagsApi(server));
  renderApp(flagPath('default', key));
  await screen.findByRole('region', { name: 'Details' });
  expect(screen.getByRole('heading', { name: key })).toBeInTheDocument();
  expect(received.find((r) => r.operationName === 'FlagOverview')?.variables).toEqual({ flagSet: 'default', key });
});

test('an unknown flag shows the server message and code', async () => {
  mockApi(flagsApi(server));
  renderApp('/flags/default/nope');
  expect(await screen.findByRole('alert')).toHaveTextContent(
    'The flag could not be loaded: flag "nope" not found in flag set "default" FLAG_NOT_FOUND',
  );
});

test('the kill switch dialog keeps focus, and Escape cancels it', async () => {
  let calls = 0;
  server.mutations.KillSwitch = () => {
    calls++;
    return { body: errorBody('not expected', 'TEST') };
  };
  mockApi(flagsApi(server));
  renderApp('/flags/default/new-checkout');
  const open = await screen.findByRole('button', { name: 'Disable now' });
  await userEvent.click(open);

  const dialog = screen.getByRole('dialog', { name: 'Disable new-checkout?' });
  const cancel = within(dialog).getByRole('button', { name: 'Cancel' });
  const confirm = within(dialog).getByRole('button', { name: 'Disable flag' });
  expect(cancel).toHaveFocus();
  await userEvent.tab();
  expect(confirm).toHaveFocus();
  await userEvent.tab();
  expect(cancel).toHaveFocus();
  await userEvent.tab({ shift: true });
  expect(confirm).toHaveFocus();

  await userEvent.keyboard('{Escape}');
  expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  expect(open).toHaveFocus();
  expect(calls).toBe(0);
});

test('the kill switch shows its progress, then the new state', async () => {
  let release: (answer: Answer) => void = () => undefined;
  server.mutations.KillSwitch = () => {
    const target = server.flags[0];
    if (target) server.flags = [{ ...target, state: 'DISABLED', version: 5 }];
    return { body: { data: { killSwitch: { __typename: 'Flag', key: 'new-checkout', state: 'DISABLED', version: 5, updatedAt: '2026-12-01T00:00:00Z' } } } };
  };
  const answer = flagsApi(server);
  mockApi((request) =>
    request.operationName === 'KillSwitch'
      ? new Promise<Answer>((resolve) => { release = () => { resolve(answer(request)); }; })
      : answer(request),
  );
  renderApp('/flags/default/new-checkout');
  await userEvent.click(await screen.findByRole('button', { name: 'Disable now' }));
  await userEvent.click(screen.getByRole('button', { name: 'Disable flag' }));

  expect(await screen.findByRole('button', { name: 'Disabling…' })).toBeDisabled();
  release({ body: null });
  expect(await screen.findByText('Disabled new-checkout (version 5)')).toBeInTheDocument();
  expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  // The overview reads the flag again: it is disabled, so the switch is spent.
  await waitFor(() => { expect(screen.getByRole('button', { name: 'Disable now' })).toBeDisabled(); });
  expect(screen.getByRole('button', { name: 'Disable now' })).toHaveAccessibleDescription('The flag is already disabled');
});

test('a refused kill switch shows the server message and code', async () => {
  server.mutations.KillSwitch = () => ({
    body: errorBody('flag set "default" is served from file:flags.json and is read-only here', 'READ_ONLY'),
  });
  mockApi(flagsApi(server));
  renderApp('/flags/default/new-checkout');
  await userEvent.click(await screen.findByRole('button', { name: 'Disable now' }));
  await userEvent.click(screen.getByRole('button', { name: 'Disable flag' }));
  const alert = await within(screen.getByRole('dialog')).findByRole('alert');
  expect(alert).toHaveTextContent('is read-only here READ_ONLY');
  expect(within(screen.getByRole('dialog')).getByRole('button', { name: 'Disable flag' })).toBeEnabled();
});

test('viewers see why they cannot use the kill switch', async () => {
  server.role = 'viewer';
  mockApi(flagsApi(server));
  renderApp('/flags/default/new-checkout');
  const button = await screen.findByRole('button', { name: 'Disable now' });
  expect(button).toBeDisabled();
  expect(button).toHaveAccessibleDescription('Viewers cannot change flags');
});

test('an archived flag says so, and Restore brings it back', async () => {
  let restored: Record<string, unknown> | null = null;
  server.flags = [flag('new-checkout', { archived: true, version: 6 })];
  server.mutations.RestoreFlag = (request) => {
    restored = request.variables;
    server.flags = [flag('new-checkout', { version: 7 })];
    return { body: { data: { restoreFlag: { __typename: 'Flag', key: 'new-checkout', archived: false, state: 'ENABLED', version: 7, updatedAt: '2026-12-01T00:00:00Z' } } } };
  };
  mockApi(flagsApi(server));
  renderApp('/flags/default/new-checkout');
  expect(await screen.findByText(/This flag is archived/)).toHaveTextContent('This flag is archived: evaluation no longer serves it. Restore');
  await userEvent.click(screen.getByRole('button', { name: 'Restore' }));

  expect(await screen.findByText('Restored new-checkout (version 7)')).toBeInTheDocument();
  expect(restored).toEqual({ flagSet: 'default', key: 'new-checkout', expectedVersion: 6 });
  // The overview reads the flag again: it is served, so the notice is gone.
  await waitFor(() => { expect(screen.queryByText(/This flag is archived/)).not.toBeInTheDocument(); });
  expect(screen.getByRole('region', { name: 'Details' })).toHaveTextContent('Version7');
  expect(screen.getByRole('button', { name: 'Disable now' })).toBeEnabled();
});

test('a refused restore on the overview shows the server message and code', async () => {
  server.flags = [flag('new-checkout', { archived: true, version: 6 })];
  server.mutations.RestoreFlag = () => ({
    body: errorBody('flag "new-checkout" is at version 8, not 6: reload it and retry', 'VERSION_CONFLICT'),
  });
  mockApi(flagsApi(server));
  renderApp('/flags/default/new-checkout');
  await userEvent.click(await screen.findByRole('button', { name: 'Restore' }));
  expect(await screen.findByText(/was not restored/)).toHaveTextContent(
    'new-checkout was not restored: flag "new-checkout" is at version 8, not 6: reload it and retry (VERSION_CONFLICT)',
  );
  expect(screen.getByText(/This flag is archived/)).toBeInTheDocument();
});

test('viewers see why they cannot restore an archived flag', async () => {
  server.role = 'viewer';
  server.flags = [flag('new-checkout', { archived: true })];
  mockApi(flagsApi(server));
  renderApp('/flags/default/new-checkout');
  const button = await screen.findByRole('button', { name: 'Restore' });
  expect(button).toBeDisabled();
  expect(button).toHaveAccessibleDescription('Viewers cannot change flags');
});
