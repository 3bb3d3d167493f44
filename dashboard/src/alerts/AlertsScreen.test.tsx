// The alerts screen: the webhooks' delivery state (a failing one marked,
// none configured said plainly), the alerts newest first with their
// message, links and delivery, paging, and the flag-set filter.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test } from 'vitest';

import { flag } from '../test/flags';
import { FakeSocket, mockApi, renderApp } from '../test/harness';
import { type FakeOps, alert, opsApi } from '../test/ops';
import { ALERTS_PAGE_SIZE } from './AlertsScreen';

let server: FakeOps;

const failing = {
  target: 'https://hooks.example',
  deliveredThrough: 40,
  pending: 3,
  updatedAt: '2026-12-07T09:00:00Z',
  deliveredAt: '2026-12-07T09:00:00Z',
  attemptedAt: '2026-12-07T10:05:00Z',
  failingSince: '2026-12-07T10:00:00Z',
  failedAttempts: 4,
  lastError: 'request to https://hooks.example failed: connection refused',
};

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  server = {
    role: 'viewer',
    name: 'vic',
    flags: [flag('new-checkout')],
    mutations: {},
    fractional: null,
    segments: [],
    rollouts: [],
    alerts: [
      alert(41),
      alert(
        42,
        {
          severity: 'CRITICAL',
          kind: 'OUT_OF_BAND',
          kinds: ['OUT_OF_BAND', 'KILL_SWITCH'],
          message: 'Flag "dark-mode" of flag set "mobile" was changed by hand in SQL.',
          publication: { version: 9, published: false, errors: ['flag "dark-mode": no variant "x"'] },
        },
        'mobile',
        'dark-mode',
      ),
      alert(43, {
        kind: 'GUARD_STOP',
        kinds: ['GUARD_STOP'],
        message: 'Rollout 7 of flag "new-checkout" in flag set "default" was paused by its guard.',
        event: {
          id: 43,
          flagSet: 'default',
          subjectKind: 'rollout',
          subjectKey: 'new-checkout',
          action: 'guard_stop',
          actor: 'rollout:7',
          after: { id: 7, status: 'paused' },
          createdAt: '2026-12-07T11:00:00Z',
        },
        deliveries: [{ webhook: 'https://hooks.example', status: 'PENDING' }],
      }),
    ],
    webhooks: [failing],
  };
});
afterEach(() => {
  FakeSocket.reset();
});

test('a failing webhook is marked with since when, the attempts and the last error', async () => {
  mockApi(opsApi(server));
  renderApp('/alerts');
  const table = await screen.findByRole('table', { name: 'Delivery to each webhook' });
  const [, row, failure] = within(table).getAllByRole('row');
  expect(row).toHaveTextContent(/^https:\/\/hooks\.exampleFailingevent 403/);
  expect(failure).toHaveTextContent(
    /^Failing since .*, after 4 failed attempts \(retried with backoff\)\. Last error: request to https:\/\/hooks\.example failed: connection refused$/,
  );
});

test('without webhooks the screen says so', async () => {
  server.webhooks = [];
  server.alerts = [alert(41, { deliveries: [] })];
  mockApi(opsApi(server));
  renderApp('/alerts');
  expect(await screen.findByText(/^No webhook is configured: alerts are listed here only\./)).toBeInTheDocument();
  expect(await screen.findByText('Not sent: no webhook is configured.')).toBeInTheDocument();
});

test('alerts are listed newest first with their message, links and delivery', async () => {
  const received = mockApi(opsApi(server));
  renderApp('/alerts');
  const list = await screen.findByRole('list', { name: 'Alerts, newest first' });
  await waitFor(() => { expect(within(list).getAllByRole('article')).toHaveLength(3); });
  const [stop, outOfBand, kill] = within(list).getAllByRole('article');
  expect(stop).toHaveAccessibleName('Guard stopped a rollout');
  expect(within(stop as HTMLElement).getByRole('link', { name: 'Rollout 7' })).toHaveAttribute('href', '/rollouts/default/7');
  expect(within(stop as HTMLElement).getByRole('link', { name: 'Flag new-checkout' })).toHaveAttribute('href', '/flags/default/new-checkout');
  expect(within(stop as HTMLElement).getByRole('list', { name: 'Delivery of event 43' })).toHaveTextContent('Pending to https://hooks.example');

  expect(outOfBand).toHaveAccessibleName('Out-of-band edit, Kill switch');
  expect(outOfBand).toHaveTextContent('Critical');
  expect(outOfBand).toHaveTextContent('Flag set version 9 does not compile, so it is not published: flag "dark-mode": no variant "x"');
  expect(within(outOfBand as HTMLElement).getByRole('link', { name: 'Flag dark-mode' })).toHaveAttribute('href', '/flags/mobile/dark-mode');

  expect(kill).toHaveAccessibleName('Kill switch');
  expect(kill).toHaveTextContent('Warning');
  expect(kill).toHaveTextContent('Flag "new-checkout" of flag set "default" was disabled by "ann" (kill switch).');
  expect(kill).toHaveTextContent(/by ann in default · event 41/);
  expect(within(kill as HTMLElement).getByRole('list', { name: 'Delivery of event 41' })).toHaveTextContent('Failing to https://hooks.example');
  expect(received.find((r) => r.operationName === 'Alerts')?.variables).toEqual({ first: ALERTS_PAGE_SIZE, beforeId: null, flagSet: null });
});

test('more alerts load page by page', async () => {
  server.alerts = Array.from({ length: ALERTS_PAGE_SIZE + 5 }, (_, i) => alert(i + 1));
  const received = mockApi(opsApi(server));
  renderApp('/alerts');
  const list = await screen.findByRole('list', { name: 'Alerts, newest first' });
  await waitFor(() => { expect(within(list).getAllByRole('article')).toHaveLength(ALERTS_PAGE_SIZE); });
  await userEvent.click(screen.getByRole('button', { name: 'Load more' }));
  await waitFor(() => { expect(within(list).getAllByRole('article')).toHaveLength(ALERTS_PAGE_SIZE + 5); });
  expect(received.filter((r) => r.operationName === 'Alerts').map((r) => r.variables.beforeId)).toEqual([null, 6]);
  expect(screen.getByText(`${String(ALERTS_PAGE_SIZE + 5)} alerts loaded, the oldest included`)).toBeInTheDocument();
});

test('the flag-set filter is kept in the address and sent', async () => {
  const received = mockApi(opsApi(server));
  renderApp('/alerts');
  await screen.findByRole('list', { name: 'Alerts, newest first' });
  await userEvent.selectOptions(await screen.findByLabelText('Flag set'), 'mobile');
  expect(window.location.search).toBe('?flagSet=mobile');
  expect(await screen.findByRole('heading', { name: 'Recent alerts in mobile' })).toBeInTheDocument();
  await waitFor(() => { expect(screen.getAllByRole('article')).toHaveLength(1); });
  expect(received.filter((r) => r.operationName === 'Alerts').at(-1)?.variables).toMatchObject({ flagSet: 'mobile' });

  server.alerts = [];
  await userEvent.click(screen.getByRole('button', { name: 'Refresh' }));
  expect(await screen.findByText('No alerts in flag set mobile.')).toBeInTheDocument();
});
