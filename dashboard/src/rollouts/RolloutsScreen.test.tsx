// The rollout list: newest first with status, next step and guard, links
// to each rollout and to the schedule form, and an empty flag set.
import { screen, within } from '@testing-library/react';
import { afterEach, beforeEach, expect, test } from 'vitest';

import { flag } from '../test/flags';
import { FakeSocket, mockApi, renderApp } from '../test/harness';
import { type FakeOps, guard, opsApi, rollout } from '../test/ops';
import './RolloutsScreen';

let server: FakeOps;

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  server = {
    role: 'editor',
    name: 'ann',
    flags: [flag('new-checkout')],
    mutations: {},
    fractional: null,
    segments: [],
    rollouts: [
      rollout(3, { status: 'DONE', nextStep: 3, nextAt: null }),
      rollout(5, {
        status: 'PAUSED',
        guard: guard(),
        guardedVariant: 'on',
        guardCheck: {
          step: 0,
          checkedAt: '2026-12-07T09:30:00Z',
          verdict: 'REGRESSED',
          oldUsers: 900,
          newUsers: 100,
          lift: -0.4,
          interval: [-0.6, -0.2],
          reason: null,
        },
      }),
      rollout(4, { status: 'SCHEDULED', nextStep: 0, flag: 'dark-mode' }),
      rollout(6, { flagSet: 'mobile' }),
    ],
  };
});
afterEach(() => {
  FakeSocket.reset();
});

test('the flag set’s rollouts are listed newest first, with status, next step and guard', async () => {
  mockApi(opsApi(server));
  renderApp('/rollouts/default');
  const table = await screen.findByRole('table', { name: 'Rollouts of default, newest first' });
  const rows = within(table).getAllByRole('row').slice(1);
  expect(rows.map((row) => within(row).getByRole('rowheader').textContent)).toEqual(['Rollout 5', 'Rollout 4', 'Rollout 3']);
  const [paused, scheduled, done] = rows.map((row) => within(row).getAllByRole('cell').map((cell) => cell.textContent));
  expect(paused?.slice(0, 4)).toEqual([
    'new-checkout',
    'Paused',
    'Step 2 of 3: on 50% · off 50%waits while paused',
    'purchase (conversion) of on; pauses on a regressionLatest check: Regressed',
  ]);
  expect(scheduled?.slice(0, 4)).toEqual([
    'dark-mode',
    'Scheduled',
    expect.stringMatching(/^Step 1 of 3: on 10% · off 90%due /),
    'No guard',
  ]);
  expect(done?.slice(1, 3)).toEqual(['Done', 'All 3 steps applied']);
  expect(within(table).getByRole('link', { name: 'Rollout 5' })).toHaveAttribute('href', '/rollouts/default/5');
  expect(within(table).getByRole('link', { name: 'dark-mode' })).toHaveAttribute('href', '/flags/default/dark-mode');
  expect(screen.getByRole('link', { name: 'Schedule a rollout' })).toHaveAttribute('href', '/new-rollout/default');
  expect(screen.getByRole('link', { name: 'Rollouts' })).toHaveAttribute('href', '/rollouts/default');
});

test('a flag set without rollouts says so; a viewer cannot schedule one', async () => {
  server.role = 'viewer';
  server.rollouts = [];
  mockApi(opsApi(server));
  renderApp('/rollouts/default');
  expect(await screen.findByText('No rollout in flag set default yet.')).toBeInTheDocument();
  const schedule = screen.getByRole('button', { name: 'Schedule a rollout' });
  expect(schedule).toBeDisabled();
  expect(schedule).toHaveAccessibleDescription('Viewers cannot change flags');
});

test('the section without a flag set opens on the default one', async () => {
  mockApi(opsApi(server));
  renderApp('/rollouts');
  expect(await screen.findByRole('heading', { name: 'Rollouts', level: 1 })).toBeInTheDocument();
  expect(window.location.pathname).toBe('/rollouts/default');
});
