// Saves refused as stale: the flag as read next to the flag now with who
// changed it and when, the edit reapplied to the current version, or
// discarded.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test } from 'vitest';

import { type FakeEditing, editingApi } from '../test/editing';
import { type FakeFlag, flag } from '../test/flags';
import { type Answer, FakeSocket, errorBody, mockApi, renderApp } from '../test/harness';
// The tabs are loaded on demand; loading them here first keeps their first
// render from waiting on the modules' transformation.
import '../rollout/RolloutTab';
import '../targeting/TargetingTab';

let server: FakeEditing;

const withWeights = (on: number, off: number) => ({
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
    flags: [flag('new-checkout', { version: 4, definition: withWeights(50, 50) })],
    mutations: {},
    fractional: null,
    segments: [],
    latest: { actor: 'bob', action: 'set_rollout', createdAt: '2026-12-01T09:30:00Z' },
  };
});
afterEach(() => {
  FakeSocket.reset();
});

/** Someone else changes the flag: it is now at `version` with `definition`. */
function changedBySomeoneElse(version: number, definition: unknown) {
  const current = server.flags[0];
  if (!current) throw new Error('no flag');
  server.flags = [{ ...current, version, definition }];
}

/** A write that refuses a stale version and otherwise applies `apply`. */
function versioned(name: string, apply: (flag: FakeFlag, variables: Record<string, unknown>) => unknown) {
  return (request: { variables: Record<string, unknown> }): Answer => {
    const current = server.flags[0];
    if (!current) throw new Error('no flag');
    const expected = request.variables.expectedVersion;
    if (expected !== current.version) {
      return {
        body: errorBody(
          `flag "new-checkout" is at version ${current.version}, not ${String(expected)}: reload it and retry`,
          'VERSION_CONFLICT',
        ),
      };
    }
    const next = { ...current, version: current.version + 1, definition: apply(current, request.variables) };
    server.flags = [next];
    return { body: { data: { [name]: { __typename: 'Flag', flagSet: 'default', ...next } } } };
  };
}

test('a stale rollout shows who changed the flag and how, and the edit is reapplied to the current version', async () => {
  server.mutations.SetRollout = versioned('setRollout', (_, v) => {
    const weights = v.weights as { variant: string; weight: number }[];
    return withWeights(weights[0]?.weight ?? 0, weights[1]?.weight ?? 0);
  });
  const received = mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/rollout');
  const on = await screen.findByRole('slider', { name: 'on' });
  on.focus();
  await userEvent.keyboard('{PageUp}');
  // Meanwhile, bob sets the weights to 20/80.
  changedBySomeoneElse(5, withWeights(20, 80));
  await userEvent.click(screen.getByRole('button', { name: 'Save weights' }));

  const panel = await screen.findByRole('region', { name: 'This flag changed after you read it' });
  expect(within(panel).getByRole('alert')).toHaveTextContent(
    'Not saved: flag "new-checkout" is at version 5, not 4: reload it and retry VERSION_CONFLICT',
  );
  expect(await within(panel).findByText(/You read version 4\. It is now version 5, changed by/)).toHaveTextContent(
    /changed by bob on .+ \(set_rollout\)\./,
  );
  expect(within(panel).getByText('Changed since you read it: targeting.')).toBeInTheDocument();
  expect(within(panel).getByRole('figure', { name: 'As you read it (version 4)' })).toHaveTextContent('on: 50% (weight 50)off: 50% (weight 50)');
  expect(within(panel).getByRole('figure', { name: 'Now (version 5)' })).toHaveTextContent('on: 20% (weight 20)off: 80% (weight 80)');
  expect(within(panel).getByRole('figure', { name: 'Your edit' })).toHaveTextContent('on: 60% (weight 60)off: 40% (weight 40)');

  await userEvent.click(within(panel).getByRole('button', { name: 'Reapply my edit to version 5' }));
  expect(await screen.findByText('Saved: the flag is now at version 6.')).toBeInTheDocument();
  expect(screen.queryByRole('region', { name: 'This flag changed after you read it' })).not.toBeInTheDocument();
  expect(received.filter((r) => r.operationName === 'SetRollout').map((r) => r.variables.expectedVersion)).toEqual([4, 5]);
  expect(server.flags[0]?.definition).toEqual(withWeights(60, 40));
});

test('a stale rollout edit can be discarded: the flag as it is now shows', async () => {
  server.mutations.SetRollout = versioned('setRollout', () => {
    throw new Error('not expected');
  });
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/rollout');
  const on = await screen.findByRole('slider', { name: 'on' });
  on.focus();
  await userEvent.keyboard('{PageDown}');
  changedBySomeoneElse(5, withWeights(20, 80));
  await userEvent.click(screen.getByRole('button', { name: 'Save weights' }));
  const panel = await screen.findByRole('region', { name: 'This flag changed after you read it' });
  await userEvent.click(await within(panel).findByRole('button', { name: 'Discard my edit' }));

  expect(screen.queryByRole('region', { name: 'This flag changed after you read it' })).not.toBeInTheDocument();
  // The tab reads the flag as it is now.
  await waitFor(() => { expect(screen.getByRole('slider', { name: 'on' })).toHaveAttribute('aria-valuenow', '20'); });
  expect(server.flags[0]?.version).toBe(5);
});

test('a stale targeting edit is reapplied into the definition as it is now', async () => {
  server.mutations.UpdateFlagDefinition = versioned('updateFlag', (_, v) => v.definition);
  const received = mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/targeting');
  const area = await screen.findByRole('textbox', { name: 'Targeting (JSON)' });
  await userEvent.clear(area);
  await userEvent.click(area);
  await userEvent.paste('{"if": [{"$ref": "staff"}, "on", "off"]}');
  // Meanwhile, bob changes the default variant.
  changedBySomeoneElse(5, { ...withWeights(50, 50), defaultVariant: 'on' });
  server.latest = { actor: 'bob', action: 'set_default_variant', createdAt: '2026-12-01T09:30:00Z' };
  await waitFor(() => { expect(screen.getByRole('button', { name: 'Save targeting' })).toBeEnabled(); });
  await userEvent.click(screen.getByRole('button', { name: 'Save targeting' }));

  const panel = await screen.findByRole('region', { name: 'This flag changed after you read it' });
  expect(await within(panel).findByText('Changed since you read it: defaultVariant.')).toBeInTheDocument();
  expect(within(panel).getByRole('figure', { name: 'Your edit' })).toHaveTextContent('"$ref": "staff"');
  expect(within(panel).getByRole('figure', { name: 'Now (version 5)' })).toHaveTextContent('"fractional"');
  // Long rules scroll in their boxes, which the keyboard reaches too.
  for (const name of ['The targeting now (version 5)', 'The targeting of your edit']) {
    expect(within(panel).getByRole('region', { name })).toHaveAttribute('tabindex', '0');
  }
  await userEvent.click(within(panel).getByRole('button', { name: 'Reapply my edit to version 5' }));

  expect(await screen.findByText('Saved: the flag is now at version 6.')).toBeInTheDocument();
  const sent = received.filter((r) => r.operationName === 'UpdateFlagDefinition').map((r) => r.variables);
  expect(sent.map((v) => v.expectedVersion)).toEqual([4, 5]);
  // bob's default variant is kept; the targeting is the edit's.
  expect(sent[1]?.definition).toEqual({
    ...withWeights(50, 50),
    defaultVariant: 'on',
    targeting: { if: [{ $ref: 'staff' }, 'on', 'off'] },
  });
});

test('a reapplied edit that meets yet another change asks again, against the newest version', async () => {
  server.mutations.SetRollout = versioned('setRollout', (_, v) => {
    const weights = v.weights as { variant: string; weight: number }[];
    return withWeights(weights[0]?.weight ?? 0, weights[1]?.weight ?? 0);
  });
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/rollout');
  const on = await screen.findByRole('slider', { name: 'on' });
  on.focus();
  await userEvent.keyboard('{PageUp}');
  changedBySomeoneElse(5, withWeights(20, 80));
  await userEvent.click(screen.getByRole('button', { name: 'Save weights' }));
  const first = await screen.findByRole('region', { name: 'This flag changed after you read it' });
  const reapply = await within(first).findByRole('button', { name: 'Reapply my edit to version 5' });
  changedBySomeoneElse(6, withWeights(30, 70));
  await userEvent.click(reapply);

  expect(await screen.findByRole('button', { name: 'Reapply my edit to version 6' })).toBeInTheDocument();
  const panel = screen.getByRole('region', { name: 'This flag changed after you read it' });
  expect(within(panel).getByRole('figure', { name: 'Now (version 6)' })).toHaveTextContent('on: 30%');
});
