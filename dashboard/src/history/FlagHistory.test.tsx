// A flag's history: the timeline and its diffs, out-of-band changes,
// paging, rollback with its confirmation, progress, success and refusal,
// what a viewer may not do, the flag screen's refresh, and the tabs that
// lead here.
import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test } from 'vitest';

import { type AuditServer, auditApi, created, event } from '../test/audit';
import { flag } from '../test/flags';
import { type Answer, FakeSocket, errorBody, mockApi, renderApp } from '../test/harness';
import { HISTORY_PAGE_SIZE } from './FlagHistory';
// The screens load lazily; imported here, the debugger the tabs lead to
// is loaded before the test clicks its tab.
import '../debugger/FlagDebugger';

let server: AuditServer;

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  server = {
    role: 'editor',
    name: 'ann',
    flags: [
      flag('new-checkout', {
        version: 3,
        state: 'DISABLED',
        definition: { state: 'DISABLED', variants: { on: true, off: false }, defaultVariant: 'off' },
      }),
    ],
    mutations: {},
    // Created enabled (default off), enabled with default on at version 2,
    // disabled by the kill switch at version 3.
    events: [
      created(1, { actor: 'ensign-server', createdAt: '2026-11-30T09:00:00Z' }),
      event(2, {
        actor: 'bob',
        requestId: 'req-42',
        before: created(1).after,
        after: { definition: { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' }, clientVisible: false, locked: false, archived: false },
        diff: [{ op: 'replace', path: '/definition/defaultVariant', value: 'on' }],
      }),
      event(3, { action: 'kill' }),
    ],
    segments: [],
    evaluate: () => ({ body: errorBody('not expected', 'TEST') }),
  };
});
afterEach(() => {
  FakeSocket.reset();
});

/** The timeline entry whose heading is `name`. */
async function entry(name: string | RegExp): Promise<HTMLElement> {
  return screen.findByRole('article', { name });
}

test('each change shows its actor, time, version, request id and diff, newest first', async () => {
  mockApi(auditApi(server));
  renderApp('/flags/default/new-checkout/history');
  const timeline = await screen.findByRole('list', { name: 'Changes to new-checkout, newest first' });
  await within(timeline).findAllByRole('article');
  expect(within(timeline).getAllByRole('heading', { level: 3 }).map((h) => h.textContent)).toEqual([
    'Version 3: kill switch',
    'Version 2: updated',
    'Version 1: created',
  ]);
  const second = await entry('Version 2: updated');
  expect(second).toHaveTextContent('Actorbob');
  expect(second).toHaveTextContent('Version2');
  expect(within(second).getByText('req-42')).toBeInTheDocument();
  expect(within(second).getByRole('deletion')).toHaveTextContent('"off"');
  expect(within(second).getByRole('insertion')).toHaveTextContent('"on"');
  expect(within(second).getByRole('group', { name: 'Changes in version 2' })).toBeInTheDocument();
  const first = await entry('Version 1: created');
  expect(first).toHaveTextContent('Request idnone');
  expect(within(first).queryByRole('deletion')).not.toBeInTheDocument();
  expect(within(first).getAllByText('added')).toHaveLength(4);
  expect(screen.getByText('3 changes loaded, the oldest included')).toBeInTheDocument();
});

test('an out-of-band change is labelled, and cannot be rolled back', async () => {
  server.events.push(event(4, { actor: 'postgres', outOfBand: true, diff: null }));
  server.flags = [flag('new-checkout', { version: 4 })];
  mockApi(auditApi(server));
  renderApp('/flags/default/new-checkout/history');
  const outOfBand = await entry('Version 4: updated');
  expect(outOfBand).toHaveTextContent('Out of band: changed by hand in SQL, outside Ensign');
  expect(outOfBand.closest('li')).toHaveClass('out-of-band');
  // Recorded without a patch: the two sides are compared.
  expect(within(outOfBand).getByRole('insertion')).toHaveTextContent('"DISABLED"');
  const button = within(outOfBand).getByRole('button', { name: 'Roll back to version 4' });
  expect(button).toBeDisabled();
  expect(button).toHaveAccessibleDescription(
    'Changed by hand outside Ensign: only versions written through Ensign can be restored',
  );
  expect(within(await entry('Version 3: kill switch')).queryByText(/Out of band/)).not.toBeInTheDocument();
});

// A page of entries, each with its diff, takes a while to render in jsdom.
const MANY_ENTRIES = { timeout: 30_000 };
const MANY_WAIT = { timeout: 10_000 };

test('older changes load on request, before the oldest shown', MANY_ENTRIES, async () => {
  server.events = Array.from({ length: HISTORY_PAGE_SIZE + 5 }, (_, i) => event(i + 1));
  server.flags = [flag('new-checkout', { version: HISTORY_PAGE_SIZE + 5 })];
  const received = mockApi(auditApi(server));
  renderApp('/flags/default/new-checkout/history');
  await screen.findByText(`${HISTORY_PAGE_SIZE} changes loaded`, {}, MANY_WAIT);
  await userEvent.click(screen.getByRole('button', { name: 'Load more' }));
  await screen.findByText(`${HISTORY_PAGE_SIZE + 5} changes loaded, the oldest included`, {}, MANY_WAIT);
  expect(screen.queryByRole('button', { name: 'Load more' })).not.toBeInTheDocument();
  const pages = received.filter((r) => r.operationName === 'FlagHistory').map((r) => r.variables);
  expect(pages).toEqual([
    { flagSet: 'default', key: 'new-checkout', first: HISTORY_PAGE_SIZE, beforeId: null },
    { flagSet: 'default', key: 'new-checkout', first: HISTORY_PAGE_SIZE, beforeId: 6 },
  ]);
  expect(screen.getAllByRole('article')).toHaveLength(HISTORY_PAGE_SIZE + 5);
});

test('a rollback is confirmed with the version and what changes, then shows its progress and success', async () => {
  let release: () => void = () => undefined;
  server.mutations.RollbackFlag = (request) => {
    const target = server.flags[0];
    if (target) server.flags = [{ ...target, version: 4, state: 'ENABLED' }];
    server.events.push(event(4, { action: 'rollback' }));
    return { body: { data: { rollbackFlag: { __typename: 'Flag', flagSet: 'default', key: request.variables.key, definition: {}, state: 'ENABLED', defaultVariant: 'on', version: 4, updatedAt: '2026-12-02T00:00:00Z' } } } };
  };
  const answer = auditApi(server);
  const received = mockApi((request) =>
    request.operationName === 'RollbackFlag'
      ? new Promise<Answer>((resolve) => { release = () => { resolve(answer(request)); }; })
      : answer(request),
  );
  renderApp('/flags/default/new-checkout/history');
  const second = await entry('Version 2: updated');
  await userEvent.click(within(second).getByRole('button', { name: 'Roll back to version 2' }));

  const dialog = screen.getByRole('dialog', { name: 'Roll new-checkout back to version 2?' });
  expect(dialog).toHaveTextContent('becomes the one it had at version 2, recorded as a new version after version 3');
  // From version 3 (disabled, default off) to version 2 (enabled, default on).
  const changes = within(dialog).getByRole('group', { name: 'Changes from version 3 to version 2' });
  expect(within(changes).getAllByRole('deletion').map((d) => d.textContent)).toEqual(['"DISABLED"', '"off"']);
  expect(within(changes).getAllByRole('insertion').map((d) => d.textContent)).toEqual(['"ENABLED"', '"on"']);

  await userEvent.click(within(dialog).getByRole('button', { name: 'Roll back to version 2' }));
  expect(await within(dialog).findByRole('button', { name: 'Rolling back…' })).toBeDisabled();
  const historyLoads = received.filter((r) => r.operationName === 'FlagHistory').length;
  release();
  expect(await screen.findByText('Rolled new-checkout back to version 2; it is now version 4')).toBeInTheDocument();
  expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  expect(received.find((r) => r.operationName === 'RollbackFlag')?.variables).toEqual({
    flagSet: 'default',
    key: 'new-checkout',
    expectedVersion: 3,
    toVersion: 2,
  });
  // The timeline is read again and shows the rollback.
  expect(await entry('Version 4: rolled back')).toBeInTheDocument();
  expect(received.filter((r) => r.operationName === 'FlagHistory').length).toBeGreaterThan(historyLoads);
  await waitFor(() => {
    expect(within(screen.getByRole('article', { name: 'Version 4: rolled back' })).getByText('current')).toBeInTheDocument();
  });
});

test('a refused rollback shows the server message and code in the dialog', async () => {
  server.mutations.RollbackFlag = () => ({ body: errorBody('flag "new-checkout" has no version 1', 'VERSION_NOT_FOUND') });
  mockApi(auditApi(server));
  renderApp('/flags/default/new-checkout/history');
  await userEvent.click(within(await entry('Version 1: created')).getByRole('button', { name: 'Roll back to version 1' }));
  const dialog = screen.getByRole('dialog');
  await userEvent.click(within(dialog).getByRole('button', { name: 'Roll back to version 1' }));
  const alert = await within(dialog).findByRole('alert');
  expect(alert).toHaveTextContent('It failed: flag "new-checkout" has no version 1 VERSION_NOT_FOUND');
  expect(within(dialog).getByRole('button', { name: 'Roll back to version 1' })).toBeEnabled();
});

test('the current version, and every version for a viewer, cannot be rolled back to, with the reason', async () => {
  mockApi(auditApi(server));
  renderApp('/flags/default/new-checkout/history');
  const current = within(await entry('Version 3: kill switch'));
  await waitFor(() => { expect(current.getByRole('button', { name: 'Roll back to version 3' })).toBeDisabled(); });
  expect(current.getByText('current')).toBeInTheDocument();
  expect(current.getByRole('button', { name: 'Roll back to version 3' })).toHaveAccessibleDescription('This is the current version');
  expect(within(await entry('Version 2: updated')).getByRole('button', { name: 'Roll back to version 2' })).toBeEnabled();
});

test('viewers see why they cannot roll back', async () => {
  server.role = 'viewer';
  mockApi(auditApi(server));
  renderApp('/flags/default/new-checkout/history');
  const button = within(await entry('Version 2: updated')).getByRole('button', { name: 'Roll back to version 2' });
  expect(button).toBeDisabled();
  expect(button).toHaveAccessibleDescription('Viewers cannot change flags');
});

test('a history that cannot be loaded shows the server message and code, and can be retried', async () => {
  let fail = true;
  const answer = auditApi(server);
  mockApi((request) =>
    request.operationName === 'FlagHistory' && fail
      ? { body: errorBody('the store is unavailable', 'STORE_UNAVAILABLE') }
      : answer(request),
  );
  renderApp('/flags/default/new-checkout/history');
  expect(await screen.findByRole('alert')).toHaveTextContent('The changes could not be loaded: the store is unavailable STORE_UNAVAILABLE');
  fail = false;
  await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
  expect(await entry('Version 3: kill switch')).toBeInTheDocument();
});

test('a change by someone else offers a refresh that loads the flag and its history again', async () => {
  mockApi(auditApi(server));
  renderApp('/flags/default/new-checkout/history');
  expect(await entry('Version 3: kill switch')).toBeInTheDocument();
  await waitFor(() => { expect(FakeSocket.opened[0]?.subscriptions).toHaveLength(1); });
  const socket = FakeSocket.opened[0];
  const id = socket?.subscriptions[0] ?? '';
  act(() => { socket?.next(id, { flagChanges: { flagSet: 'default', flag: 'new-checkout', action: 'update', actor: 'bob' } }); });
  expect(await screen.findByText(/bob changed/)).toHaveTextContent('bob changed new-checkout (update). Refresh');

  server.events = [...server.events, event(4, { actor: 'bob' })];
  server.flags = server.flags.map((f) => ({ ...f, version: 4 }));
  await userEvent.click(screen.getByRole('button', { name: 'Refresh' }));
  const newest = await entry('Version 4: updated');
  expect(within(newest).getByRole('button', { name: 'Roll back to version 4' })).toHaveAccessibleDescription('This is the current version');
  expect(screen.getByText(/Live: changes by others/)).toBeInTheDocument();
});

test('the flag’s tabs lead from its overview to its history and its debugger', async () => {
  mockApi(auditApi(server));
  renderApp('/flags/default/new-checkout');
  const tabs = await screen.findByRole('navigation', { name: 'Flag' });
  expect(within(tabs).getByRole('link', { name: 'Overview' })).toHaveAttribute('aria-current', 'page');
  await userEvent.click(within(tabs).getByRole('link', { name: 'History' }));
  expect(await entry('Version 3: kill switch')).toBeInTheDocument();
  expect(window.location.pathname).toBe('/flags/default/new-checkout/history');
  const historyTabs = screen.getByRole('navigation', { name: 'Flag' });
  expect(within(historyTabs).getByRole('link', { name: 'History' })).toHaveAttribute('aria-current', 'page');
  await userEvent.click(within(historyTabs).getByRole('link', { name: 'Debugger' }));
  expect(await screen.findByRole('heading', { name: 'Evaluation debugger' })).toBeInTheDocument();
  expect(window.location.pathname).toBe('/flags/default/new-checkout/debug');
});
