// The rollout tab: sliders named by variant and announced by percentage,
// moved with the keyboard, the share of users the edit moves, the save
// with the version read, and what a viewer sees.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test } from 'vitest';

import { type FakeEditing, editingApi } from '../test/editing';
import { flag } from '../test/flags';
import { type Answer, FakeSocket, errorBody, mockApi, renderApp } from '../test/harness';
// The tab is loaded on demand; loading it here first keeps its first
// render from waiting on the module's transformation.
import './RolloutTab';

let server: FakeEditing;

const definition = (on: number, off: number) => ({
  state: 'ENABLED',
  variants: { on: true, off: false },
  defaultVariant: 'off',
  targeting: { fractional: [{ cat: [{ var: '$flagd.flagKey' }, { var: 'email' }] }, ['on', on], ['off', off]] },
});

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  server = {
    role: 'editor',
    name: 'ann',
    flags: [flag('new-checkout', { version: 4, definition: definition(50, 50) })],
    mutations: {},
    fractional: null,
    segments: [],
  };
});
afterEach(() => {
  FakeSocket.reset();
});

/** Answers setRollout as the server does: the weights set, the version bumped. */
function acceptRollout(request: { variables: Record<string, unknown> }): Answer {
  const weights = request.variables.weights as { variant: string; weight: number }[];
  const current = server.flags[0];
  if (!current) throw new Error('no flag');
  const next = {
    ...current,
    version: current.version + 1,
    definition: definition(weights[0]?.weight ?? 0, weights[1]?.weight ?? 0),
  };
  server.flags = [next];
  return { body: { data: { setRollout: { __typename: 'Flag', flagSet: 'default', ...next } } } };
}

test('sliders move with the arrow keys, show the share of users moved, and save with the version read', async () => {
  server.mutations.SetRollout = acceptRollout;
  const received = mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/rollout');

  const on = await screen.findByRole('slider', { name: 'on' });
  const off = screen.getByRole('slider', { name: 'off' });
  expect(on).toHaveAttribute('aria-valuetext', '50% (weight 50 of 100)');
  expect(screen.getByText('No change yet: every user keeps their variant.')).toBeInTheDocument();
  expect(screen.getByRole('button', { name: 'Save weights' })).toBeDisabled();
  expect(screen.getByRole('link', { name: 'schedule a progressive rollout' })).toHaveAttribute(
    'href',
    '/new-rollout/default?flag=new-checkout',
  );

  on.focus();
  await userEvent.keyboard('{ArrowRight}{ArrowRight}{ArrowUp}');
  expect(on).toHaveAttribute('aria-valuetext', '53% (weight 53 of 100)');
  // What on gains, off gives.
  expect(off).toHaveAttribute('aria-valuetext', '47% (weight 47 of 100)');
  await userEvent.keyboard('{PageUp}{ArrowLeft}{ArrowDown}{ArrowDown}');
  expect(on).toHaveAttribute('aria-valuenow', '60');
  expect(screen.getByText('10% of the users who reach this rule would get a different variant.')).toBeInTheDocument();

  await userEvent.click(screen.getByRole('button', { name: 'Save weights' }));
  expect(await screen.findByText('Saved: the flag is now at version 5.')).toBeInTheDocument();
  const sent = received.filter((r) => r.operationName === 'SetRollout');
  expect(sent.map((r) => r.variables)).toEqual([
    {
      flagSet: 'default',
      key: 'new-checkout',
      expectedVersion: 4,
      weights: [
        { variant: 'on', weight: 60 },
        { variant: 'off', weight: 40 },
      ],
    },
  ]);
  // The tab reads the flag again: the saved weights are the new ones.
  await waitFor(() => { expect(screen.getByRole('slider', { name: 'on' })).toHaveAttribute('aria-valuenow', '60'); });
  expect(screen.getByText('No change yet: every user keeps their variant.')).toBeInTheDocument();
});

test('Home and End move all the weight, and the exact field sets a weight', async () => {
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/rollout');
  const on = await screen.findByRole('slider', { name: 'on' });
  on.focus();
  await userEvent.keyboard('{End}');
  expect(on).toHaveAttribute('aria-valuenow', '100');
  expect(screen.getByRole('slider', { name: 'off' })).toHaveAttribute('aria-valuenow', '0');
  expect(screen.getByText('50% of the users who reach this rule would get a different variant.')).toBeInTheDocument();
  await userEvent.keyboard('{Home}');
  expect(on).toHaveAttribute('aria-valuenow', '0');
  // Only on's half of the users moves (to off).
  expect(screen.getByText('50% of the users who reach this rule would get a different variant.')).toBeInTheDocument();

  const field = screen.getByRole('spinbutton', { name: 'Weight of off' });
  await userEvent.clear(field);
  await userEvent.type(field, '25{Enter}');
  expect(screen.getByRole('slider', { name: 'off' })).toHaveAttribute('aria-valuenow', '25');
  expect(on).toHaveAttribute('aria-valuenow', '75');

  await userEvent.click(screen.getByRole('button', { name: 'Undo my changes' }));
  expect(on).toHaveAttribute('aria-valuenow', '50');
});

test('the save shows its progress, then the server message and code', async () => {
  let release: () => void = () => undefined;
  mockApi((request) =>
    request.operationName === 'SetRollout'
      ? new Promise<Answer>((resolve) => {
          release = () => {
            resolve({ body: errorBody('invalid rollout: the flag has no variant "on"', 'INVALID_INPUT') });
          };
        })
      : editingApi(server)(request),
  );
  renderApp('/flags/default/new-checkout/rollout');
  const on = await screen.findByRole('slider', { name: 'on' });
  on.focus();
  await userEvent.keyboard('{ArrowRight}');
  await userEvent.click(screen.getByRole('button', { name: 'Save weights' }));
  expect(await screen.findByRole('button', { name: 'Saving…' })).toBeDisabled();
  release();
  expect(await screen.findByRole('alert')).toHaveTextContent('Not saved: invalid rollout: the flag has no variant "on" INVALID_INPUT');
  // The edit stays, to be fixed or saved again.
  expect(on).toHaveAttribute('aria-valuenow', '51');
  expect(screen.getByRole('button', { name: 'Save weights' })).toBeEnabled();
});

test('a v1 flag set buckets as v1, and the scheme is named', async () => {
  server.fractional = 'v1';
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/rollout');
  expect(await screen.findByText(/Bucketing scheme v1\./)).toBeInTheDocument();
  server.fractional = null;
});

test('the server’s default scheme is said to be assumed', async () => {
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/rollout');
  expect(await screen.findByText(/Bucketing scheme v2 \(the server’s default: this flag set names none\)/)).toBeInTheDocument();
});

test('a variant of the flag can be added to the rule', async () => {
  server.flags = [
    flag('new-checkout', {
      version: 4,
      definition: { ...definition(100, 0), variants: { on: true, off: false, beta: true }, targeting: { fractional: [['on', 100]] } },
    }),
  ];
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/rollout');
  await screen.findByRole('slider', { name: 'on' });
  await userEvent.selectOptions(screen.getByRole('combobox', { name: 'Add a variant to the rule' }), 'beta');
  await userEvent.click(screen.getByRole('button', { name: 'Add at 0%' }));
  const beta = screen.getByRole('slider', { name: 'beta' });
  beta.focus();
  await userEvent.keyboard('{PageUp}');
  expect(beta).toHaveAttribute('aria-valuenow', '10');
  expect(screen.getByText('10% of the users who reach this rule would get a different variant.')).toBeInTheDocument();
});

test('a flag without a fractional rule says so and points to the JSON editor', async () => {
  server.flags = [flag('new-checkout', { version: 4 })];
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/rollout');
  expect(await screen.findByText(/The targeting has no fractional rule\./)).toBeInTheDocument();
  expect(screen.getByRole('link', { name: 'Edit the targeting as JSON' })).toHaveAttribute(
    'href',
    '/flags/default/new-checkout/targeting',
  );
  expect(screen.queryByRole('slider')).not.toBeInTheDocument();
});

test('viewers see the weights but cannot move them or save, and are told why', async () => {
  server.role = 'viewer';
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/rollout');
  const on = await screen.findByRole('slider', { name: 'on' });
  expect(on).toHaveAttribute('aria-disabled', 'true');
  expect(on).toHaveAccessibleDescription('Viewers cannot change flags');
  on.focus();
  await userEvent.keyboard('{ArrowRight}');
  expect(on).toHaveAttribute('aria-valuenow', '50');
  const save = screen.getByRole('button', { name: 'Save weights' });
  expect(save).toBeDisabled();
  expect(save).toHaveAccessibleDescription('Viewers cannot change flags');
});

test('the tabs are links with their own paths, the current one marked', async () => {
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/rollout');
  const tabs = await screen.findByRole('navigation', { name: 'Flag' });
  expect(within(tabs).getByRole('link', { name: 'Rollout' })).toHaveAttribute('aria-current', 'page');
  expect(within(tabs).getByRole('link', { name: 'Targeting' })).toHaveAttribute('href', '/flags/default/new-checkout/targeting');
  await userEvent.click(within(tabs).getByRole('link', { name: 'Overview' }));
  expect(await screen.findByRole('region', { name: 'Kill switch' })).toBeInTheDocument();
  expect(window.location.pathname).toBe('/flags/default/new-checkout');
});
