// One rollout's screen: its status, steps and guard with the latest
// figures, the actions its status allows (pending, success, the server's
// refusal), what a viewer sees, and a change of status shown without a
// reload.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test } from 'vitest';

import { flag } from '../test/flags';
import { type Answer, FakeSocket, errorBody, mockApi, renderApp } from '../test/harness';
import { type FakeOps, guard, opsApi, rollout, typedRollout } from '../test/ops';
import './RolloutScreen';

let server: FakeOps;

const paused = () =>
  rollout(7, {
    status: 'PAUSED',
    guard: guard(),
    guardedVariant: 'on',
    initialWeights: [
      { variant: 'on', weight: 0 },
      { variant: 'off', weight: 100 },
    ],
    guardCheck: {
      step: 0,
      checkedAt: '2026-12-07T09:30:00Z',
      verdict: 'REGRESSED',
      oldUsers: 4321,
      newUsers: 480,
      lift: -0.5,
      interval: [-0.7, -0.3],
      reason: null,
    },
  });

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  server = {
    role: 'editor',
    name: 'ann',
    flags: [flag('new-checkout')],
    mutations: {},
    fractional: null,
    segments: [],
    rollouts: [paused()],
  };
});
afterEach(() => {
  FakeSocket.reset();
});

/** Answers a rollout mutation by setting the rollout's status. */
function setStatus(name: string, status: FakeOps['rollouts'][number]['status']) {
  return (request: { variables: Record<string, unknown> }): Answer => {
    const current = server.rollouts.find((r) => r.id === request.variables.id);
    if (!current) throw new Error('no rollout');
    const next = { ...current, status, guardCheck: status === 'RUNNING' ? null : current.guardCheck };
    server.rollouts = [next];
    return { body: { data: { [name]: typedRollout(next) } } };
  };
}

test('a rollout its guard paused shows why, with the guard’s figures as a table and a chart', async () => {
  mockApi(opsApi(server));
  renderApp('/rollouts/default/7');
  expect(await screen.findByRole('heading', { name: 'Rollout 7 of new-checkout', level: 1 })).toBeInTheDocument();
  const status = screen.getByRole('region', { name: 'Status' });
  expect(within(status).getByText('Paused', { exact: true })).toBeInTheDocument();
  expect(status).toHaveTextContent('Its guard paused it');

  const steps = within(screen.getByRole('list', { name: 'Steps' })).getAllByRole('listitem');
  expect(steps.map((s) => s.textContent)).toEqual([
    expect.stringMatching(/^Step 1Appliedon 10% · off 90%/),
    expect.stringMatching(/^Step 2Next \(waits while paused\)on 50% · off 50%/),
    expect.stringMatching(/^Step 3To comeon 100% · off 0%/),
  ]);
  expect(screen.getByRole('img', { name: /^The weights before the rollout and at each step/ })).toHaveAccessibleName(
    'The weights before the rollout and at each step. Before: on 0% · off 100%. Step 1: on 10% · off 90%. Step 2 (not applied yet): on 50% · off 50%. Step 3 (not applied yet): on 100% · off 0%.',
  );

  const guardPanel = screen.getByRole('region', { name: 'Guard' });
  expect(guardPanel).toHaveTextContent('purchase, as a conversion, within 1 hour of a user’s first exposure');
  expect(guardPanel).toHaveTextContent('2% lower than the other variants');
  expect(guardPanel).toHaveTextContent('400 per step, both sides together');
  expect(guardPanel).toHaveTextContent('Pause the rollout');
  expect(guardPanel).toHaveTextContent('on 0% · off 100%');

  const figures = within(screen.getByRole('table', { name: 'Latest check' }));
  const row = (name: string) => figures.getByRole('row', { name: new RegExp(`^${name}`) });
  expect(row('Verdict')).toHaveTextContent('REGRESSED');
  expect(row('Users of the new variant')).toHaveTextContent('480');
  expect(row('Users of the other variants')).toHaveTextContent('4,321');
  expect(row('Relative lift')).toHaveTextContent('−50%');
  expect(row('95% interval')).toHaveTextContent('−70% to −30%');
  expect(screen.getByRole('img', { name: /^Relative lift of the new variant/ })).toHaveAccessibleName(
    'Relative lift of the new variant over the others: −50%, interval −70% to −30%. The guard tolerates 2%: it acts when the whole interval is below −2%.',
  );
});

test('a paused rollout resumes; the actions follow its status', async () => {
  server.mutations.ResumeRollout = setStatus('resumeRollout', 'RUNNING');
  const received = mockApi(opsApi(server));
  renderApp('/rollouts/default/7');
  const pause = await screen.findByRole('button', { name: 'Pause' });
  expect(pause).toBeDisabled();
  expect(pause).toHaveAccessibleDescription('Only a scheduled or running rollout can be paused');
  await userEvent.click(screen.getByRole('button', { name: 'Resume' }));
  expect(await screen.findByText('Resumed rollout 7: running')).toBeInTheDocument();
  expect(received.filter((r) => r.operationName === 'ResumeRollout').map((r) => r.variables)).toEqual([{ id: 7 }]);
  const status = screen.getByRole('region', { name: 'Status' });
  await waitFor(() => { expect(within(status).getByText('Running', { exact: true })).toBeInTheDocument(); });
  expect(screen.getByRole('button', { name: 'Pause' })).toBeEnabled();
  expect(screen.getByRole('button', { name: 'Resume' })).toBeDisabled();
  expect(screen.getByText('No check of the current step yet.')).toBeInTheDocument();
});

test('a refused action says why, and cancelling asks first', async () => {
  server.rollouts = [rollout(7)];
  server.mutations.PauseRollout = () => ({ body: errorBody('rollout 7 is done, not active', 'INVALID_INPUT') });
  server.mutations.CancelRollout = setStatus('cancelRollout', 'CANCELLED');
  const received = mockApi(opsApi(server));
  renderApp('/rollouts/default/7');
  await userEvent.click(await screen.findByRole('button', { name: 'Pause' }));
  expect(await screen.findByText('Rollout 7 was not paused: rollout 7 is done, not active (INVALID_INPUT)')).toBeInTheDocument();

  await userEvent.click(screen.getByRole('button', { name: 'Cancel rollout' }));
  const dialog = screen.getByRole('dialog', { name: 'Cancel rollout 7 of new-checkout?' });
  expect(dialog).toHaveTextContent('The flag keeps the weights its last applied step set (on 10% · off 90%)');
  await userEvent.click(within(dialog).getByRole('button', { name: 'Keep it' }));
  expect(received.some((r) => r.operationName === 'CancelRollout')).toBe(false);

  await userEvent.click(screen.getByRole('button', { name: 'Cancel rollout' }));
  await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Cancel the rollout' }));
  expect(await screen.findByText('Cancelled rollout 7')).toBeInTheDocument();
  expect(received.filter((r) => r.operationName === 'CancelRollout').map((r) => r.variables)).toEqual([{ id: 7 }]);
  expect(
    await screen.findByText('A cancelled rollout is over: it can no longer be paused, resumed or cancelled.'),
  ).toBeInTheDocument();
  expect(within(screen.getByRole('region', { name: 'Status' })).queryAllByRole('button')).toEqual([]);
});

test('viewers see why they cannot change a rollout', async () => {
  server.role = 'viewer';
  mockApi(opsApi(server));
  renderApp('/rollouts/default/7');
  for (const name of ['Pause', 'Resume', 'Cancel rollout']) {
    const button = await screen.findByRole('button', { name });
    expect(button).toBeDisabled();
    expect(button).toHaveAccessibleDescription('Viewers cannot change flags');
  }
});

test('a running rollout is read again until a change shows, such as its guard’s pause', async () => {
  server.rollouts = [rollout(7, { guard: guard(), guardedVariant: 'on' })];
  mockApi(opsApi(server));
  renderApp('/rollouts/default/7');
  const status = await screen.findByRole('region', { name: 'Status' });
  expect(within(status).getByText('Running', { exact: true })).toBeInTheDocument();
  server.rollouts = [paused()];
  expect(await within(status).findByText('Paused', { exact: true })).toBeInTheDocument();
  expect(screen.getByRole('table', { name: 'Latest check' })).toHaveTextContent('REGRESSED');
});

test('a failed step shows the server’s reason', async () => {
  server.rollouts = [rollout(7, { status: 'FAILED', lastError: 'the flag has no fractional rule' })];
  mockApi(opsApi(server));
  renderApp('/rollouts/default/7');
  expect(await screen.findByRole('alert')).toHaveTextContent('Step 2 failed: the flag has no fractional rule');
  expect(screen.getByRole('list', { name: 'Steps' })).toHaveTextContent('Failed');
});

test('a rollout of another flag set is shown under its own', async () => {
  mockApi(opsApi(server));
  renderApp('/rollouts/mobile/7');
  await waitFor(() => { expect(window.location.pathname).toBe('/rollouts/default/7'); });
  expect(await screen.findByRole('heading', { name: 'Rollout 7 of new-checkout', level: 1 })).toBeInTheDocument();
});

test('an unknown rollout says so', async () => {
  mockApi(opsApi(server));
  renderApp('/rollouts/default/99');
  expect(await screen.findByRole('alert')).toHaveTextContent('rollout 99 not found ROLLOUT_NOT_FOUND');
});
