// The flag usage screen: each flag's counts and times, the stale flags with
// their reasons in words, the window kept in the address, and each flag
// linking to its flag screen.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';

import { type Answer, type Received, FakeSocket, errorBody, mockApi, renderApp } from '../test/harness';
import { type FakeServer, flagsApi } from '../test/flags';

const NOW = new Date('2026-12-07T12:00:00Z');

let server: FakeServer;
let stale: unknown[];

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  server = { role: 'viewer', name: 'val', flags: [], mutations: {} };
  stale = [
    { flag: 'legacy-search', reason: 'NOT_EVALUATED', lastEvaluatedAt: null, variant: null, since: null },
    { flag: 'old-banner', reason: 'NOT_EVALUATED', lastEvaluatedAt: '2026-10-01T08:00:00Z', variant: null, since: null },
    { flag: 'payments-kill-switch', reason: 'ONE_VARIANT', lastEvaluatedAt: null, variant: 'on', since: '2026-10-15T00:00:00Z' },
  ];
});
afterEach(() => {
  vi.useRealTimers();
  FakeSocket.reset();
});

const usage = [
  {
    flag: 'new-checkout',
    lastEvaluatedAt: '2026-12-07T11:55:00Z',
    firstEvaluatedAt: '2026-11-01T10:00:00Z',
    evaluations24h: 1200,
    evaluations30d: 45210,
    variants: [
      { variant: 'off', evaluations24h: 900, lastServedAt: '2026-12-07T11:55:00Z' },
      { variant: 'on', evaluations24h: 300, lastServedAt: '2026-12-07T11:54:00Z' },
    ],
  },
  {
    flag: 'legacy-search',
    lastEvaluatedAt: null,
    firstEvaluatedAt: null,
    evaluations24h: 0,
    evaluations30d: 0,
    variants: [],
  },
  {
    flag: 'payments-kill-switch',
    lastEvaluatedAt: '2026-12-07T09:00:00Z',
    firstEvaluatedAt: '2026-09-01T00:00:00Z',
    evaluations24h: 5,
    evaluations30d: 90,
    variants: [{ variant: 'on', evaluations24h: 5, lastServedAt: '2026-12-07T09:00:00Z' }],
  },
];

function usageApi(request: Received): Answer {
  switch (request.operationName) {
    case 'FlagUsage':
      return { body: { data: { flagUsage: usage.map((u) => ({ __typename: 'FlagUsage', ...u })) } } };
    case 'StaleFlags':
      return { body: { data: { staleFlags: stale.map((s) => ({ __typename: 'StaleFlag', ...(s as object) })) } } };
    default:
      return flagsApi(server)(request);
  }
}

const staleAsked = (received: Received[]) => received.filter((r) => r.operationName === 'StaleFlags').map((r) => r.variables);

test('each flag’s counts, times and variants, linking to its flag screen', async () => {
  mockApi(usageApi);
  renderApp('/usage/default');
  const table = await screen.findByRole('table', { name: 'Evaluations of each flag of default' });
  const rows = within(table).getAllByRole('row').slice(1);
  expect(rows.map((r) => within(r).getByRole('rowheader').textContent)).toEqual([
    'legacy-search',
    'new-checkout',
    'payments-kill-switch',
  ]);
  const checkout = within(rows[1] as HTMLElement);
  expect(checkout.getByRole('link', { name: 'new-checkout' })).toHaveAttribute('href', '/flags/default/new-checkout');
  expect(checkout.getByRole('cell', { name: '1,200' })).toBeInTheDocument();
  expect(checkout.getByRole('cell', { name: '45,210' })).toBeInTheDocument();
  expect(checkout.getAllByText('5 minutes ago')[0]).toBeInTheDocument();
  expect(checkout.getByText('“off”').closest('li')).toHaveTextContent('“off” 900 (75%)');
  expect(checkout.getByText('“on”').closest('li')).toHaveTextContent('“on” 300 (25%)');
  const never = within(rows[0] as HTMLElement);
  expect(never.getAllByText('never')).toHaveLength(2);
  expect(never.getByText('none')).toBeInTheDocument();
  expect(screen.getByText('3 flags, 1 never evaluated')).toBeInTheDocument();

  await userEvent.selectOptions(screen.getByLabelText('Order'), 'Most evaluated (30 days)');
  const sorted = within(table).getAllByRole('row').slice(1);
  expect(sorted.map((r) => within(r).getByRole('rowheader').textContent)).toEqual([
    'new-checkout',
    'payments-kill-switch',
    'legacy-search',
  ]);
});

test('the stale flags over 30 days by default, each reason in words', async () => {
  const received = mockApi(usageApi);
  renderApp('/usage/default');
  const list = await screen.findByRole('list', { name: 'Stale flags over the last 30 days' });
  const items = within(list).getAllByRole('listitem');
  expect(items).toHaveLength(3);
  expect(within(items[0] as HTMLElement).getByRole('link', { name: 'legacy-search' })).toHaveAttribute(
    'href',
    '/flags/default/legacy-search',
  );
  expect(items[0]).toHaveTextContent('Never evaluated.');
  expect(items[0]).toHaveTextContent('No code asks for it');
  expect(items[1]).toHaveTextContent(/Not evaluated since Oct 1, 2026/);
  expect(items[2]).toHaveTextContent(/Served only variant “on” to everyone since Oct 1[45], 2026/);
  expect(items[2]).toHaveTextContent('The code can use variant “on” directly, and the flag can go.');
  expect(screen.getByText('3 stale flags over the last 30 days')).toBeInTheDocument();
  expect(staleAsked(received)).toEqual([{ flagSet: 'default', unusedForHours: 720 }]);
});

test('the window is set in days or hours, kept in the address, and checked', async () => {
  const received = mockApi(usageApi);
  renderApp('/usage/default');
  const amount = await screen.findByLabelText('Unused for at least');
  expect(amount).toHaveValue(30);

  await userEvent.clear(amount);
  await userEvent.type(amount, '7');
  await userEvent.click(screen.getByRole('button', { name: 'Show stale flags' }));
  await waitFor(() => { expect(window.location.search).toBe('?unused=7d'); });
  expect(await screen.findByRole('list', { name: 'Stale flags over the last 7 days' })).toBeInTheDocument();

  await userEvent.clear(screen.getByLabelText('Unused for at least'));
  await userEvent.type(screen.getByLabelText('Unused for at least'), '12');
  await userEvent.selectOptions(screen.getByLabelText('Unit'), 'hours');
  await userEvent.click(screen.getByRole('button', { name: 'Show stale flags' }));
  await waitFor(() => { expect(window.location.search).toBe('?unused=12h'); });
  await waitFor(() => {
    expect(staleAsked(received).map((v) => v.unusedForHours)).toEqual([720, 168, 12]);
  });

  await userEvent.clear(screen.getByLabelText('Unused for at least'));
  await userEvent.type(screen.getByLabelText('Unused for at least'), '0');
  await userEvent.click(screen.getByRole('button', { name: 'Show stale flags' }));
  expect(screen.getByLabelText('Unused for at least')).toBeInvalid();
  expect(screen.getByLabelText('Unused for at least')).toHaveAccessibleDescription(
    'The window is a whole number of hours, at least 1',
  );
  expect(window.location.search).toBe('?unused=12h');
});

test('a window the address cannot give is said, and 30 days shown', async () => {
  const received = mockApi(usageApi);
  renderApp('/usage/default?unused=forever');
  expect(await screen.findByText(/Not applied from the address: the window “forever”/)).toBeInTheDocument();
  await waitFor(() => { expect(staleAsked(received)).toEqual([{ flagSet: 'default', unusedForHours: 720 }]); });
});

test('no stale flag is said so; refreshing asks the server again', async () => {
  stale = [];
  const received = mockApi(usageApi);
  renderApp('/usage/default');
  expect(await screen.findByText('No flag of default looks stale over the last 30 days.')).toBeInTheDocument();
  await userEvent.click(screen.getByRole('button', { name: 'Refresh' }));
  await waitFor(() => { expect(staleAsked(received)).toHaveLength(2); });
  expect(received.filter((r) => r.operationName === 'FlagUsage')).toHaveLength(2);
});

test('a failure to load is shown with the server’s message', async () => {
  mockApi((request) =>
    request.operationName === 'FlagUsage' || request.operationName === 'StaleFlags'
      ? { body: errorBody('flag set "nope" not found', 'FLAG_SET_NOT_FOUND') }
      : usageApi(request),
  );
  renderApp('/usage/nope');
  await waitFor(() => { expect(screen.getAllByRole('alert')).toHaveLength(2); });
  expect(screen.getAllByRole('alert')[0]).toHaveTextContent('The stale flags could not be loaded: flag set "nope" not found FLAG_SET_NOT_FOUND');
});
