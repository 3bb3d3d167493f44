// The schedule form: the flags it offers, the steps and guard it sends,
// what it refuses to send, the server's refusal shown inline, and who may
// use it.
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test } from 'vitest';

import { toLocalInput } from '../audit/auditParams';
import { flag } from '../test/flags';
import { type Received, FakeSocket, errorBody, mockApi, renderApp } from '../test/harness';
import { type FakeOps, opsApi, rollout, typedRollout } from '../test/ops';
import './NewRolloutScreen';

let server: FakeOps;

const split = (on: number, off: number) => ({
  state: 'ENABLED',
  variants: { on: true, off: false },
  defaultVariant: 'off',
  targeting: { fractional: [['on', on], ['off', off]] },
});

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  server = {
    role: 'editor',
    name: 'ann',
    flags: [flag('new-checkout', { version: 3, definition: split(0, 100) }), flag('plain-flag')],
    mutations: {},
    fractional: null,
    segments: [],
    rollouts: [],
  };
});
afterEach(() => {
  FakeSocket.reset();
});

/** Answers `scheduleRollout` as rollout 12. */
function accept(request: Received) {
  const scheduled = rollout(12, { status: 'SCHEDULED', nextStep: 0 });
  server.rollouts = [scheduled];
  return { body: { data: { scheduleRollout: typedRollout({ ...scheduled, flag: String(request.variables.key) }) } } };
}

const schedules = (received: Received[]) => received.filter((r) => r.operationName === 'ScheduleRollout');

test('only flags with a fractional rule are offered; choosing one puts it in the address', async () => {
  mockApi(opsApi(server));
  renderApp('/new-rollout/default');
  const choice = await screen.findByLabelText('Flag to roll out');
  await waitFor(() => { expect(within(choice).getAllByRole('option').map((o) => o.textContent)).toEqual(['Choose a flag', 'new-checkout']); });
  expect(screen.getByText(/\(1 found without one\)/)).toBeInTheDocument();
  await userEvent.selectOptions(choice, 'new-checkout');
  expect(window.location.search).toBe('?flag=new-checkout');
  expect(await screen.findByText('on 0% · off 100%')).toBeInTheDocument();
});

test('a flag without a fractional rule says why it cannot be rolled out', async () => {
  mockApi(opsApi(server));
  renderApp('/new-rollout/default?flag=plain-flag');
  expect(await screen.findByText(/plain-flag cannot be rolled out: The targeting has no fractional rule\./)).toBeInTheDocument();
  expect(screen.getByRole('link', { name: 'Edit its targeting' })).toHaveAttribute('href', '/flags/default/plain-flag/targeting');
  expect(screen.queryByRole('button', { name: 'Schedule rollout' })).not.toBeInTheDocument();
});

test('a guarded ramp is sent as steps in UTC with the guard, and opens on the rollout', async () => {
  server.mutations.ScheduleRollout = accept;
  const received = mockApi(opsApi(server));
  renderApp('/new-rollout/default?flag=new-checkout');
  expect(await screen.findByLabelText('Variant to roll out')).toHaveValue('on');
  await userEvent.clear(screen.getByLabelText('Share of on in step 1 (%)'));
  await userEvent.type(screen.getByLabelText('Share of on in step 1 (%)'), '5');
  fireEvent.change(screen.getByLabelText('Due time of step 2'), { target: { value: toLocalInput('2030-01-01T09:00:00Z') } });
  await userEvent.clear(screen.getByLabelText('Share of on in step 2 (%)'));
  await userEvent.type(screen.getByLabelText('Share of on in step 2 (%)'), '25');
  await userEvent.click(screen.getByRole('button', { name: 'Remove step 3' }));
  expect(screen.getByRole('row', { name: /^Step 2/ })).toHaveTextContent('on 25% · off 75%');
  expect(screen.getByRole('img', { name: /^The weights now and at each step/ })).toHaveAccessibleName(
    'The weights now and at each step. Now: on 0% · off 100%. Step 1 (not applied yet): on 5% · off 95%. Step 2 (not applied yet): on 25% · off 75%.',
  );

  await userEvent.click(screen.getByLabelText('Guard this rollout with a metric'));
  await userEvent.type(screen.getByLabelText('Event'), 'purchase');
  await userEvent.clear(screen.getByLabelText('Tolerance (%)'));
  await userEvent.type(screen.getByLabelText('Tolerance (%)'), '1.5');
  await userEvent.clear(screen.getByLabelText('Minimum users'));
  await userEvent.type(screen.getByLabelText('Minimum users'), '400');
  await userEvent.click(screen.getByRole('radio', { name: 'Restore the weights the rollout started from' }));
  const before = Date.now();
  await userEvent.click(screen.getByRole('button', { name: 'Schedule rollout' }));

  await waitFor(() => { expect(window.location.pathname).toBe('/rollouts/default/12'); });
  const [sent] = schedules(received);
  expect(sent?.variables).toEqual({
    flagSet: 'default',
    key: 'new-checkout',
    steps: [
      { at: expect.any(String) as string, weights: [{ variant: 'on', weight: 5 }, { variant: 'off', weight: 95 }] },
      { at: '2030-01-01T09:00:00.000Z', weights: [{ variant: 'on', weight: 25 }, { variant: 'off', weight: 75 }] },
    ],
    guard: {
      metric: { event: 'purchase', kind: 'CONVERSION', windowSeconds: 604800 },
      direction: 'HIGHER_IS_BETTER',
      tolerance: 0.015,
      minUsers: 400,
      action: 'RESTORE',
    },
  });
  // The first step is due as it is sent.
  const steps = sent?.variables.steps as { at: string }[];
  expect(Date.parse(steps[0]?.at ?? '')).toBeGreaterThanOrEqual(before - 1000);
  expect(await screen.findByText('Scheduled rollout 12 of new-checkout')).toBeInTheDocument();
});

test('every weight can be set by hand', async () => {
  server.mutations.ScheduleRollout = accept;
  const received = mockApi(opsApi(server));
  renderApp('/new-rollout/default?flag=new-checkout');
  await userEvent.click(await screen.findByRole('radio', { name: 'Set every variant’s weight' }));
  expect(screen.getByLabelText('Weight of on in step 2')).toHaveValue(50);
  await userEvent.click(screen.getByLabelText('Apply the first step as soon as the rollout is scheduled'));
  fireEvent.change(screen.getByLabelText('Due time of step 1'), { target: { value: toLocalInput('2030-01-01T08:00:00Z') } });
  fireEvent.change(screen.getByLabelText('Due time of step 2'), { target: { value: toLocalInput('2030-01-01T09:00:00Z') } });
  fireEvent.change(screen.getByLabelText('Due time of step 3'), { target: { value: toLocalInput('2030-01-01T10:00:00Z') } });
  await userEvent.clear(screen.getByLabelText('Weight of off in step 3'));
  await userEvent.type(screen.getByLabelText('Weight of off in step 3'), '20');
  await userEvent.click(screen.getByRole('button', { name: 'Schedule rollout' }));
  await waitFor(() => { expect(schedules(received)).toHaveLength(1); });
  expect(schedules(received)[0]?.variables.steps).toEqual([
    { at: '2030-01-01T08:00:00.000Z', weights: [{ variant: 'on', weight: 10 }, { variant: 'off', weight: 90 }] },
    { at: '2030-01-01T09:00:00.000Z', weights: [{ variant: 'on', weight: 50 }, { variant: 'off', weight: 50 }] },
    { at: '2030-01-01T10:00:00.000Z', weights: [{ variant: 'on', weight: 100 }, { variant: 'off', weight: 20 }] },
  ]);
  expect(schedules(received)[0]?.variables.guard).toBeNull();
});

test('what the browser can check is refused before sending; the server’s refusal is shown inline', async () => {
  server.mutations.ScheduleRollout = () => ({
    body: errorBody(
      'invalid guarded rollout: step 2 lowers variant "on": a guarded rollout raises one variant only',
      'INVALID_INPUT',
    ),
  });
  const received = mockApi(opsApi(server));
  renderApp('/new-rollout/default?flag=new-checkout');
  await userEvent.click(await screen.findByLabelText('Guard this rollout with a metric'));
  await userEvent.click(screen.getByRole('button', { name: 'Schedule rollout' }));
  expect(await screen.findByRole('alert')).toHaveTextContent('Not sent:Guard: name the event its metric reads');
  expect(schedules(received)).toHaveLength(0);

  await userEvent.type(screen.getByLabelText('Event'), 'purchase');
  expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  await userEvent.click(screen.getByRole('button', { name: 'Schedule rollout' }));
  expect(await screen.findByRole('alert')).toHaveTextContent(
    'The rollout was not scheduled: invalid guarded rollout: step 2 lowers variant "on": a guarded rollout raises one variant only INVALID_INPUT',
  );
  expect(window.location.pathname).toBe('/new-rollout/default');
  expect(screen.getByRole('button', { name: 'Schedule rollout' })).toBeEnabled();
});

test('viewers see why they cannot schedule a rollout', async () => {
  server.role = 'viewer';
  mockApi(opsApi(server));
  renderApp('/new-rollout/default?flag=new-checkout');
  const button = await screen.findByRole('button', { name: 'Schedule rollout' });
  expect(button).toBeDisabled();
  expect(button).toHaveAccessibleDescription('Viewers cannot change flags');
});
