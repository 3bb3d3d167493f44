// The rule builder as a person uses it: each kind of condition built from
// the form into JSONLogic that the JSON editor then shows, rules read back
// into the form, and rules too complex for it.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test } from 'vitest';

import { type FakeEditing, editingApi } from '../test/editing';
import { flag } from '../test/flags';
import { FakeSocket, mockApi, renderApp } from '../test/harness';
// The tabs are loaded on demand; loading them here first keeps their first
// render from waiting on the modules' transformation.
import './BuilderTab';
import './TargetingTab';

let server: FakeEditing;
// Typing without a pause between keys: the builder's forms are long.
const user = userEvent.setup({ delay: null });

/** Every kind of condition, as the builder writes them. */
const built = {
  if: [
    { in: [{ var: 'email' }, ['ann@example.com', 'bob@example.com']] },
    'on',
    { starts_with: [{ var: 'email' }, 'admin@'] },
    'on',
    { ends_with: [{ var: 'email' }, '@example.com'] },
    'off',
    { sem_ver: [{ var: 'appVersion' }, '>=', '2.1.0'] },
    'on',
    { $ref: 'beta-testers' },
    { fractional: [{ cat: [{ var: '$flagd.flagKey' }, { var: 'userId' }] }, ['on', 10], ['off', 90]] },
    { fractional: [['on', 50], ['off', 50]] },
  ],
};

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  server = {
    role: 'editor',
    name: 'ann',
    flags: [flag('new-checkout', { version: 4 })],
    mutations: {},
    fractional: null,
    segments: ['beta-testers', 'staff'],
  };
});
afterEach(() => {
  FakeSocket.reset();
});

function withTargeting(targeting: unknown) {
  return flag('new-checkout', {
    version: 4,
    definition: { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off', targeting },
  });
}

/** The rule the builder shows, read from its JSONLogic preview. */
function preview(): unknown {
  const text = screen.getByRole('region', { name: 'The rule as JSONLogic' }).textContent;
  return text.startsWith('(') ? undefined : JSON.parse(text);
}

const group = (name: string) => screen.getByRole('group', { name });

async function fill(field: HTMLElement, text: string) {
  await user.clear(field);
  await user.type(field, text);
}

test('each kind of condition is built into JSONLogic, which the JSON editor then shows', async () => {
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/builder');
  await screen.findByRole('heading', { name: 'Rule builder' });
  expect(preview()).toBeUndefined();
  const add = screen.getByRole('button', { name: 'Add a condition' });

  // Attribute is one of a list.
  await user.click(add);
  let condition = group('Condition 1');
  await fill(within(condition).getByLabelText('Attribute'), 'email');
  await fill(within(condition).getByLabelText('Values, one per line'), 'ann@example.com{Enter}bob@example.com');
  await user.selectOptions(within(condition).getByLabelText('Serve'), 'the variant on');
  expect(preview()).toEqual({ if: [built.if[0], 'on', null] });

  // Starts with, ends with.
  await user.click(add);
  condition = group('Condition 2');
  await fill(within(condition).getByLabelText('Attribute'), 'email');
  await user.selectOptions(within(condition).getByLabelText('Test'), 'starts with');
  await fill(within(condition).getByLabelText('Text'), 'admin@');
  await user.click(add);
  condition = group('Condition 3');
  await fill(within(condition).getByLabelText('Attribute'), 'email');
  await user.selectOptions(within(condition).getByLabelText('Test'), 'ends with');
  await fill(within(condition).getByLabelText('Text'), '@example.com');
  await user.selectOptions(within(condition).getByLabelText('Serve'), 'the variant off');

  // A sem_ver comparison.
  await user.click(add);
  condition = group('Condition 4');
  await user.selectOptions(within(condition).getByLabelText('Test'), 'is a version (sem_ver)');
  await fill(within(condition).getByLabelText('Attribute'), 'appVersion');
  await user.selectOptions(within(condition).getByLabelText('Comparison'), '>=');
  await fill(within(condition).getByLabelText('Version'), '2.1.0');

  // A segment, serving a percentage split by an attribute.
  await user.click(add);
  condition = group('Condition 5');
  await user.selectOptions(within(condition).getByLabelText('Test'), 'is in a segment');
  await user.selectOptions(within(condition).getByLabelText('Segment'), 'beta-testers');
  await user.selectOptions(within(condition).getByLabelText('Serve'), 'a percentage split');
  await fill(within(condition).getByLabelText('Weight of on'), '10');
  await fill(within(condition).getByLabelText('Weight of off'), '90');
  await fill(within(condition).getByLabelText('Bucket by attribute (empty: the targeting key)'), 'userId');

  // Everyone else: a 50/50 split by the targeting key.
  await user.selectOptions(within(group('Otherwise')).getByLabelText('Serve'), 'a percentage split');

  expect(preview()).toEqual(built);
  expect(screen.queryByRole('list', { name: 'To complete the rule' })).not.toBeInTheDocument();

  await user.click(screen.getByRole('link', { name: 'Check and save it in the JSON editor' }));
  const area = await screen.findByRole('textbox', { name: 'Targeting (JSON)' });
  expect(JSON.parse((area as HTMLTextAreaElement).value)).toEqual(built);
  await waitFor(() => { expect(screen.getByRole('button', { name: 'Save targeting' })).toBeEnabled(); });
}, 30_000);

test('a rule the builder wrote is read back into the form, and edits go to the editor', async () => {
  server.flags = [withTargeting(built)];
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/builder');
  await screen.findByRole('heading', { name: 'Rule builder' });

  expect(preview()).toEqual(built);
  // A long rule scrolls in its box, so the keyboard reaches the box too.
  expect(screen.getByRole('region', { name: 'The rule as JSONLogic' })).toHaveAttribute('tabindex', '0');
  expect(within(group('Condition 1')).getByLabelText('Values, one per line')).toHaveValue('ann@example.com\nbob@example.com');
  expect(within(group('Condition 2')).getByLabelText('Test')).toHaveValue('starts_with');
  expect(within(group('Condition 3')).getByLabelText('Serve')).toHaveValue('variant:off');
  expect(within(group('Condition 4')).getByLabelText('Comparison')).toHaveValue('>=');
  expect(within(group('Condition 5')).getByLabelText('Segment')).toHaveValue('beta-testers');
  expect(within(group('Condition 5')).getByLabelText('Weight of off')).toHaveValue(90);
  expect(within(group('Condition 5')).getByLabelText('Bucket by attribute (empty: the targeting key)')).toHaveValue('userId');
  expect(within(group('Otherwise')).getByLabelText('Serve')).toHaveValue('split');

  // Reading it changed nothing: the editor has nothing to save.
  await user.click(screen.getByRole('link', { name: 'Targeting' }));
  expect(await screen.findByRole('button', { name: 'Save targeting' })).toHaveAccessibleDescription('Nothing changed yet');

  // An edit in the builder is what the editor shows.
  await user.click(screen.getByRole('link', { name: 'Rule builder' }));
  await user.click(await within(group('Condition 2')).findByRole('button', { name: 'Remove condition 2' }));
  await fill(within(group('Condition 3')).getByLabelText('Version'), '3.0.0');
  await user.click(screen.getByRole('link', { name: 'Targeting' }));
  const area = await screen.findByRole('textbox', { name: 'Targeting (JSON)' });
  const expected = { if: [...built.if.slice(0, 2), ...built.if.slice(4)] };
  expected.if[4] = { sem_ver: [{ var: 'appVersion' }, '>=', '3.0.0'] };
  expect(JSON.parse((area as HTMLTextAreaElement).value)).toEqual(expected);

  // And what is typed in the editor, the builder reads.
  await user.clear(area);
  await user.click(area);
  await user.paste('{"if": [{"$ref": "staff"}, "on"]}');
  await user.click(screen.getByRole('link', { name: 'Rule builder' }));
  expect(await within(await screen.findByRole('group', { name: 'Condition 1' })).findByLabelText('Segment')).toHaveValue('staff');
  expect(screen.queryByRole('group', { name: 'Condition 2' })).not.toBeInTheDocument();
}, 30_000);

test('a rule too complex for the builder is said to be so, and left to the JSON editor', async () => {
  server.flags = [withTargeting({ if: [{ and: [{ '==': [{ var: 'tier' }, 'gold'] }, { '>': [{ var: 'age' }, 18] }] }, 'on', 'off'] })];
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/builder');
  const note = await screen.findByRole('note');
  expect(note).toHaveTextContent(
    'This rule is too complex for the builder: a condition is the operator “and”, which the builder does not write. Only the JSON editor edits it.',
  );
  expect(within(note).getByRole('link', { name: 'Edit it as JSON' })).toHaveAttribute('href', '/flags/default/new-checkout/targeting');
  expect(screen.queryByRole('button', { name: 'Add a condition' })).not.toBeInTheDocument();

  // Replacing it is a choice, and the editor then holds the new rule.
  await user.click(within(note).getByRole('button', { name: 'Replace it with a new rule' }));
  expect(screen.getByRole('button', { name: 'Add a condition' })).toBeInTheDocument();
  await user.click(screen.getByRole('link', { name: 'Targeting' }));
  expect(await screen.findByRole('textbox', { name: 'Targeting (JSON)' })).toHaveValue('');
});

test('an unfinished rule says what it lacks', async () => {
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/builder');
  await user.click(await screen.findByRole('button', { name: 'Add a condition' }));
  expect(screen.getByRole('list', { name: 'To complete the rule' })).toHaveTextContent(
    'Condition 1: name the attribute.Condition 1: list at least one value.',
  );
});

test('viewers see the rule in the builder but cannot change it', async () => {
  server.role = 'viewer';
  server.flags = [withTargeting(built)];
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/builder');
  await screen.findByRole('heading', { name: 'Rule builder' });
  expect(screen.getByText('Viewers cannot change flags')).toBeInTheDocument();
  expect(within(group('Condition 1')).getByLabelText('Attribute')).toBeDisabled();
  expect(screen.getByRole('button', { name: 'Add a condition' })).toBeDisabled();
});
