// The flag list screen: its search and filters in the URL, the list kept
// short in the DOM while pages load, live changes by others, and archiving.
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';

import { type Answer, FakeSocket, errorBody, mockApi, renderApp } from '../test/harness';
import { type FakeServer, flag, flagsApi, manyFlags } from '../test/flags';

let server: FakeServer;

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  // jsdom lays nothing out: give the list's scroller a height, or the
  // virtualizer shows no row.
  vi.spyOn(HTMLElement.prototype, 'clientHeight', 'get').mockImplementation(function (this: HTMLElement) {
    return this.classList.contains('flag-list') ? 600 : 0;
  });
  server = { role: 'editor', name: 'ann', flags: [flag('new-checkout'), flag('dark-mode', { state: 'DISABLED' })], mutations: {} };
});
afterEach(() => {
  FakeSocket.reset();
});

const listRequests = (received: { operationName: string; variables: Record<string, unknown> }[]) =>
  received.filter((r) => r.operationName === 'FlagList').map((r) => r.variables);

test('the search and the archived switch come from the URL and go back to it', async () => {
  const received = mockApi(flagsApi(server));
  renderApp('/flags/default?q=check&archived=1');

  expect(await screen.findByRole('link', { name: 'new-checkout' })).toBeInTheDocument();
  expect(screen.queryByRole('link', { name: 'dark-mode' })).not.toBeInTheDocument();
  expect(screen.getByLabelText('Search flags')).toHaveValue('check');
  expect(screen.getByLabelText('Show archived flags')).toBeChecked();
  expect(listRequests(received)[0]).toMatchObject({ flagSet: 'default', search: 'check', includeArchived: true, after: null });

  await userEvent.clear(screen.getByLabelText('Search flags'));
  await userEvent.type(screen.getByLabelText('Search flags'), 'dark');
  await waitFor(() => { expect(window.location.search).toBe('?q=dark&archived=1'); });
  expect(await screen.findByRole('link', { name: 'dark-mode' })).toBeInTheDocument();
  expect(listRequests(received).at(-1)).toMatchObject({ search: 'dark', includeArchived: true });

  await userEvent.click(screen.getByLabelText('Show archived flags'));
  await waitFor(() => { expect(window.location.search).toBe('?q=dark'); });
  await waitFor(() => { expect(listRequests(received).at(-1)).toMatchObject({ search: 'dark', includeArchived: false }); });
});

test('state, tag and sort come from the URL, go to the server, and change from the filter bar', async () => {
  server.flags = [
    flag('alpha', { tags: ['checkout'], updatedAt: '2026-11-01T00:00:00Z' }),
    flag('beta', { tags: ['payments'], updatedAt: '2026-11-03T00:00:00Z' }),
    flag('gamma', { tags: ['checkout', 'payments'], updatedAt: '2026-11-02T00:00:00Z', state: 'DISABLED' }),
  ];
  const received = mockApi(flagsApi(server));
  renderApp('/flags/default?tag=payments&sort=UPDATED_DESC');

  expect(await screen.findByRole('link', { name: 'beta' })).toBeInTheDocument();
  expect(listRequests(received)[0]).toMatchObject({ state: null, tag: 'payments', sort: 'UPDATED_DESC' });
  const keys = () => within(screen.getByRole('region', { name: 'Flag list' })).getAllByRole('link').map((a) => a.textContent);
  expect(keys()).toEqual(['beta', 'gamma']);
  expect(screen.getByLabelText('Tag')).toHaveValue('payments');
  expect(screen.getByLabelText('Sort')).toHaveValue('UPDATED_DESC');

  await userEvent.selectOptions(screen.getByLabelText('State'), 'DISABLED');
  await waitFor(() => { expect(window.location.search).toBe('?state=DISABLED&tag=payments&sort=UPDATED_DESC'); });
  await waitFor(() => { expect(keys()).toEqual(['gamma']); });
  expect(listRequests(received).at(-1)).toMatchObject({ state: 'DISABLED', tag: 'payments', sort: 'UPDATED_DESC' });

  await userEvent.selectOptions(screen.getByLabelText('Tag'), 'Any');
  await userEvent.selectOptions(screen.getByLabelText('State'), 'Any');
  await userEvent.selectOptions(screen.getByLabelText('Sort'), 'Key, Z to A');
  await waitFor(() => { expect(window.location.search).toBe('?sort=KEY_DESC'); });
  await waitFor(() => { expect(keys()).toEqual(['gamma', 'beta', 'alpha']); });
  expect(listRequests(received).at(-1)).toMatchObject({ state: null, tag: null, sort: 'KEY_DESC' });
});

test('the tag filter offers the flag set’s tags, with archived flags’ tags when they are shown', async () => {
  server.flags = [flag('a', { tags: ['web', 'checkout'] }), flag('b', { tags: [] }), flag('old', { tags: ['legacy'], archived: true })];
  const received = mockApi(flagsApi(server));
  renderApp('/flags/default?tag=gone');
  const options = () => within(screen.getByLabelText('Tag')).getAllByRole('option').map((o) => o.textContent);
  // A tag from the address that no flag has stays chosen, and nothing matches it.
  await waitFor(() => { expect(options()).toEqual(['Any', 'gone', 'checkout', 'web']); });
  expect(screen.getByLabelText('Tag')).toHaveValue('gone');
  expect(await screen.findByText('No flags match.')).toBeInTheDocument();

  await userEvent.click(screen.getByLabelText('Show archived flags'));
  await waitFor(() => { expect(options()).toEqual(['Any', 'gone', 'checkout', 'legacy', 'web']); });
  expect(received.filter((r) => r.operationName === 'FlagTags').map((r) => r.variables)).toEqual([
    { flagSet: 'default', includeArchived: false },
    { flagSet: 'default', includeArchived: true },
  ]);
});

test('tags that cannot be loaded are reported with the server message and code', async () => {
  const answer = flagsApi(server);
  mockApi((request) =>
    request.operationName === 'FlagTags' ? { body: errorBody('the database is unavailable', 'INTERNAL') } : answer(request),
  );
  renderApp('/flags/default');
  expect(await screen.findByText(/The tags could not be loaded/)).toHaveTextContent(
    'The tags could not be loaded: the database is unavailable (INTERNAL)',
  );
  expect(screen.getByLabelText('Tag')).toHaveAccessibleDescription('The tags could not be loaded: the database is unavailable (INTERNAL)');
  expect(screen.getByRole('link', { name: 'new-checkout' })).toBeInTheDocument();
});

test('rows show the tags the server reads from each flag', async () => {
  server.flags = [flag('new-checkout', { tags: ['beta', 'payments'] }), flag('dark-mode', { tags: [] })];
  mockApi(flagsApi(server));
  renderApp('/flags/default');
  const row = (await screen.findByRole('link', { name: 'new-checkout' })).closest('tr');
  if (!row) throw new Error('no row');
  expect(within(row).getAllByRole('cell')[3]).toHaveTextContent('betapayments');
  const other = screen.getByRole('link', { name: 'dark-mode' }).closest('tr');
  if (!other) throw new Error('no row');
  expect(within(other).getAllByRole('cell')[3]).toHaveTextContent('—');
});

test('the count above the list says how many flags match of how many', async () => {
  server.flags = manyFlags(1234);
  const received = mockApi(flagsApi(server));
  renderApp('/flags/default');
  expect(await screen.findByText('1,234 flags')).toBeInTheDocument();
  expect(listRequests(received)[0]).toMatchObject({ countAll: false });

  await userEvent.type(screen.getByLabelText('Search flags'), 'flag-00');
  expect(await screen.findByText('100 of 1,234 match')).toBeInTheDocument();
  expect(listRequests(received).at(-1)).toMatchObject({ search: 'flag-00', countAll: true });
  await userEvent.type(screen.getByLabelText('Search flags'), '07');
  expect(await screen.findByText('1 of 1,234 matches')).toBeInTheDocument();
});

test('going back in history shows the earlier search', async () => {
  mockApi(flagsApi(server));
  renderApp('/flags/default');
  await screen.findByRole('link', { name: 'dark-mode' });
  act(() => {
    window.history.pushState(null, '', '/flags/default?q=new');
    window.dispatchEvent(new PopStateEvent('popstate'));
  });
  expect(await screen.findByLabelText('Search flags')).toHaveValue('new');
  await waitFor(() => { expect(screen.queryByRole('link', { name: 'dark-mode' })).not.toBeInTheDocument(); });
});

test('what the URL asks for and cannot mean is reported', async () => {
  mockApi(flagsApi(server));
  renderApp('/flags/default?state=on&sort=KEY_DESC');
  expect(await screen.findByText(/Not applied from the address/)).toHaveTextContent(
    'Not applied from the address: state “on” is not one of ENABLED, DISABLED.',
  );
  expect(screen.getByLabelText('Sort')).toHaveValue('KEY_DESC');
});

test('the flag-set switcher opens the other flag set', async () => {
  const received = mockApi(flagsApi(server));
  renderApp('/flags/default');
  await screen.findByRole('link', { name: 'new-checkout' });
  await userEvent.selectOptions(screen.getByLabelText('Flag set'), 'mobile');
  expect(window.location.pathname).toBe('/flags/mobile');
  await waitFor(() => { expect(listRequests(received).at(-1)).toMatchObject({ flagSet: 'mobile' }); });
});

test('5,000 flags load page by page while at most 200 rows are in the DOM', async () => {
  server.flags = manyFlags(5000);
  const received = mockApi(flagsApi(server));
  renderApp('/flags/default');
  await screen.findByRole('link', { name: 'flag-0000' });
  expect(screen.getByText('5,000 flags')).toBeInTheDocument();
  const rows = () => document.querySelectorAll('tr.flag-row').length;
  expect(rows()).toBeGreaterThan(10);
  expect(rows()).toBeLessThanOrEqual(200);

  const scroller = document.querySelector<HTMLElement>('.flag-list');
  if (!scroller) throw new Error('no list');
  // Scroll to the end again and again: each time the next page loads.
  for (let page = 1; page < 50; page++) {
    await waitFor(() => { expect(screen.getByText(/flags loaded/)).toHaveTextContent(`${(page * 100).toLocaleString('en')} flags loaded, more below`); });
    scroller.scrollTop = page * 100 * 44;
    fireEvent.scroll(scroller);
    expect(rows()).toBeLessThanOrEqual(200);
  }
  await waitFor(() => { expect(screen.getByText(/flags loaded/)).toHaveTextContent('5,000 flags loaded'); });
  scroller.scrollTop = 5000 * 44;
  fireEvent.scroll(scroller);
  expect(await screen.findByRole('link', { name: 'flag-4999' })).toBeInTheDocument();
  expect(rows()).toBeLessThanOrEqual(200);
  expect(listRequests(received)).toHaveLength(50);
}, 60_000);

test('a change by someone else offers a refresh; the viewer’s own changes do not', async () => {
  const received = mockApi(flagsApi(server));
  renderApp('/flags/default');
  await screen.findByRole('link', { name: 'new-checkout' });
  await waitFor(() => { expect(FakeSocket.opened[0]?.subscriptions).toHaveLength(1); });
  const socket = FakeSocket.opened[0];
  const id = socket?.subscriptions[0] ?? '';

  act(() => { socket?.next(id, { flagChanges: { flagSet: 'default', flag: 'new-checkout', action: 'update', actor: 'ann' } }); });
  act(() => { socket?.next(id, { flagChanges: { flagSet: 'default', flag: 'dark-mode', action: 'kill', actor: 'bob' } }); });
  expect(await screen.findByText(/bob changed/)).toHaveTextContent('bob changed dark-mode (kill). Refresh');
  act(() => { socket?.next(id, { flagChanges: { flagSet: 'default', flag: null, action: 'import', actor: 'ci' } }); });
  expect(await screen.findByText(/ci changed/)).toHaveTextContent('ci changed flag set default (import) and 1 more change. Refresh');

  const before = listRequests(received).length;
  server.flags = [...server.flags, flag('imported')];
  await userEvent.click(screen.getByRole('button', { name: 'Refresh' }));
  expect(await screen.findByRole('link', { name: 'imported' })).toBeInTheDocument();
  expect(listRequests(received).length).toBe(before + 1);
  expect(screen.getByText(/Live: changes by others/)).toBeInTheDocument();
});

test('viewers see why they cannot archive', async () => {
  server.role = 'viewer';
  mockApi(flagsApi(server));
  renderApp('/flags/default');
  const archive = await screen.findByRole('button', { name: 'Archive new-checkout' });
  expect(archive).toBeDisabled();
  expect(archive).toHaveAccessibleDescription('Viewers cannot change flags');
});

test('the archive button follows what the server says the role may do', async () => {
  server.role = 'editor';
  server.rights = { changeFlags: false, administer: false };
  mockApi(flagsApi(server));
  renderApp('/flags/default');
  const archive = await screen.findByRole('button', { name: 'Archive new-checkout' });
  expect(archive).toBeDisabled();
  expect(archive).toHaveAccessibleDescription('Editors cannot change flags');
});

test('archiving asks first, sends the version read, and reloads the list', async () => {
  let archived: Record<string, unknown> | null = null;
  server.flags = [flag('new-checkout', { version: 7 })];
  server.mutations.ArchiveFlag = (request) => {
    archived = request.variables;
    server.flags = [];
    return { body: { data: { archiveFlag: { key: 'new-checkout', archived: true, version: 8 } } } };
  };
  mockApi(flagsApi(server));
  renderApp('/flags/default');
  await userEvent.click(await screen.findByRole('button', { name: 'Archive new-checkout' }));
  const dialog = screen.getByRole('dialog', { name: 'Archive new-checkout?' });
  await userEvent.click(within(dialog).getByRole('button', { name: 'Archive flag' }));

  expect(await screen.findByText('Archived new-checkout (version 8)')).toBeInTheDocument();
  expect(archived).toEqual({ flagSet: 'default', key: 'new-checkout', expectedVersion: 7 });
  expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  expect(await screen.findByText('No flags match.')).toBeInTheDocument();
  // The archived flag's tag is no longer offered.
  await waitFor(() => { expect(within(screen.getByLabelText('Tag')).queryByRole('option', { name: 'checkout' })).not.toBeInTheDocument(); });
  expect(screen.getByText('0 flags')).toBeInTheDocument();
});

test('a refused archive shows the server message and code in the dialog', async () => {
  server.mutations.ArchiveFlag = () => ({
    body: errorBody('flag "new-checkout" is at version 2, not 1: reload it and retry', 'VERSION_CONFLICT'),
  });
  mockApi(flagsApi(server));
  renderApp('/flags/default');
  await userEvent.click(await screen.findByRole('button', { name: 'Archive new-checkout' }));
  await userEvent.click(screen.getByRole('button', { name: 'Archive flag' }));
  const alert = await within(screen.getByRole('dialog')).findByRole('alert');
  expect(alert).toHaveTextContent('flag "new-checkout" is at version 2, not 1: reload it and retry VERSION_CONFLICT');
});

test('archived rows offer Restore, which shows its progress, sends the version read, and reloads the list', async () => {
  let restored: Record<string, unknown> | null = null;
  let release: () => void = () => undefined;
  server.flags = [flag('old', { archived: true, version: 3, tags: ['legacy'] }), flag('live')];
  server.mutations.RestoreFlag = (request) => {
    restored = request.variables;
    server.flags = [flag('old', { version: 4, tags: ['legacy'] }), flag('live')];
    return { body: { data: { restoreFlag: { __typename: 'Flag', key: 'old', archived: false, state: 'ENABLED', version: 4, updatedAt: '2026-12-01T00:00:00Z' } } } };
  };
  const answer = flagsApi(server);
  mockApi((request) =>
    request.operationName === 'RestoreFlag'
      ? new Promise<Answer>((resolve) => { release = () => { resolve(answer(request)); }; })
      : answer(request),
  );
  renderApp('/flags/default?archived=1');
  const restore = await screen.findByRole('button', { name: 'Restore old' });
  expect(screen.queryByRole('button', { name: 'Archive old' })).not.toBeInTheDocument();
  expect(screen.queryByRole('button', { name: 'Restore live' })).not.toBeInTheDocument();

  await userEvent.click(restore);
  expect(restore).toBeDisabled();
  expect(restore).toHaveTextContent('Restoring…');
  expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  release();
  expect(await screen.findByText('Restored old (version 4)')).toBeInTheDocument();
  expect(restored).toEqual({ flagSet: 'default', key: 'old', expectedVersion: 3 });
  // The list is read again: the flag is live, so it can be archived again.
  expect(await screen.findByRole('button', { name: 'Archive old' })).toBeEnabled();
  expect(screen.queryByRole('button', { name: 'Restore old' })).not.toBeInTheDocument();
});

test('a refused restore shows the server message and code, and can be tried again', async () => {
  let calls = 0;
  server.flags = [flag('old', { archived: true })];
  server.mutations.RestoreFlag = () => {
    calls++;
    return { body: errorBody('flag "old" is not archived', 'NOT_ARCHIVED') };
  };
  mockApi(flagsApi(server));
  renderApp('/flags/default?archived=1');
  await userEvent.click(await screen.findByRole('button', { name: 'Restore old' }));
  expect(await screen.findByText(/was not restored/)).toHaveTextContent('old was not restored: flag "old" is not archived (NOT_ARCHIVED)');
  const restore = screen.getByRole('button', { name: 'Restore old' });
  expect(restore).toBeEnabled();
  await userEvent.click(restore);
  await waitFor(() => { expect(calls).toBe(2); });
});

test('viewers see why they cannot restore', async () => {
  server.role = 'viewer';
  server.flags = [flag('old', { archived: true })];
  mockApi(flagsApi(server));
  renderApp('/flags/default?archived=1');
  const restore = await screen.findByRole('button', { name: 'Restore old' });
  expect(restore).toBeDisabled();
  expect(restore).toHaveAccessibleDescription('Viewers cannot change flags');
});

test('live updates that stop for good say why, and the session goes on', async () => {
  mockApi(flagsApi(server));
  renderApp('/flags/default');
  await screen.findByRole('link', { name: 'new-checkout' });
  await waitFor(() => { expect(FakeSocket.opened[0]?.subscriptions).toHaveLength(1); });
  // 4500 is final for graphql-ws: it does not reconnect.
  act(() => { FakeSocket.opened[0]?.serverClose(4500, 'internal error'); });
  expect(await screen.findByText(/Live updates stopped/)).toHaveTextContent(
    'Live updates stopped: the live connection closed: internal error CLOSED_4500',
  );
  expect(sessionStorage.getItem('ensign.token')).toBe('ens_adm_test');
});
