// The targeting editor: JSON syntax errors located as the user types, the
// server compiler's findings beside their lines and in a list, no save of
// an invalid rule, the save with the version read, and a refused save.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test } from 'vitest';

import type { Diagnostic } from '../editing/diagnostics';
import { type FakeEditing, editingApi } from '../test/editing';
import { flag } from '../test/flags';
import { FakeSocket, mockApi, renderApp } from '../test/harness';
// The tab is loaded on demand; loading it here first keeps its first
// render from waiting on the module's transformation.
import './TargetingTab';

let server: FakeEditing;

const targeting = { if: [{ in: [{ var: 'email' }, ['ann@example.com']] }, 'on', 'off'] };
const definition = { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off', targeting };

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  server = {
    role: 'editor',
    name: 'ann',
    flags: [flag('new-checkout', { version: 4, definition })],
    mutations: {},
    fractional: null,
    segments: [],
  };
});
afterEach(() => {
  FakeSocket.reset();
});

/** Replaces the editor's text. */
async function type(area: HTMLElement, text: string) {
  await userEvent.clear(area);
  await userEvent.click(area);
  await userEvent.paste(text);
}

/** The line (from 1) of the first line of `text` that contains `part`. */
function lineOf(text: string, part: string): number {
  return text.split('\n').findIndex((line) => line.includes(part)) + 1;
}

/** The line a note drawn beside the editor stands on. */
function noteLine(note: HTMLElement): number {
  const row = note.parentElement;
  return row?.parentElement ? [...row.parentElement.children].indexOf(row) + 1 : 0;
}

/** The save button, once it may be used (it is replaced when it stops being gated). */
async function enabledSave(): Promise<HTMLElement> {
  await waitFor(() => { expect(screen.getByRole('button', { name: 'Save targeting' })).toBeEnabled(); });
  return screen.getByRole('button', { name: 'Save targeting' });
}

const unknownVariant = (pointer: string): Diagnostic => ({
  severity: 'error',
  message: 'variant "maybe" is not one of the flag’s variants',
  flagKey: 'new-checkout',
  pointer,
  isNew: true,
});

test('the editor shows the saved targeting as JSON with the version read', async () => {
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/targeting');
  const area = await screen.findByRole('textbox', { name: 'Targeting (JSON)' });
  expect(area).toHaveValue(JSON.stringify(targeting, null, 2));
  expect(screen.getByText(/read at version 4/)).toBeInTheDocument();
  expect(await screen.findByText('The server’s compiler finds no problem.')).toBeInTheDocument();
  const save = screen.getByRole('button', { name: 'Save targeting' });
  expect(save).toBeDisabled();
  expect(save).toHaveAccessibleDescription('Nothing changed yet');
});

test('a JSON syntax error is shown with its line and column, and the rule cannot be saved', async () => {
  const received = mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/targeting');
  const area = await screen.findByRole('textbox', { name: 'Targeting (JSON)' });
  await type(area, '{\n  "if": [true "on"]\n}');

  const errors = screen.getByRole('list', { name: 'JSON syntax errors' });
  expect(errors).toHaveTextContent('syntax line 2, column 15: a comma is expected here');
  expect(area).toHaveAttribute('aria-invalid', 'true');
  const save = screen.getByRole('button', { name: 'Save targeting' });
  expect(save).toBeDisabled();
  expect(save).toHaveAccessibleDescription('Fix the JSON first');
  // The error's line: the button moves the caret there.
  await userEvent.click(within(errors).getByRole('button', { name: 'line 2, column 15' }));
  expect(area).toHaveFocus();
  expect((area as HTMLTextAreaElement).selectionStart).toBe(2);
  // Text that is not JSON is never sent to the server.
  expect(received.filter((r) => r.operationName === 'ValidateFlag').every((r) => r.variables.definition !== undefined)).toBe(true);
});

test('the server compiler’s findings show beside their line and in a list, and block the save', async () => {
  server.validate = (sent) => (JSON.stringify(sent).includes('maybe') ? [unknownVariant('/flags/new-checkout/targeting/if/1')] : []);
  const received = mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/targeting');
  const area = await screen.findByRole('textbox', { name: 'Targeting (JSON)' });
  const text = JSON.stringify({ if: [{ in: [{ var: 'email' }, ['ann@example.com']] }, 'maybe', 'off'] }, null, 2);
  await type(area, text);

  expect(await screen.findByText('The server’s compiler finds 1 problem this edit introduces.')).toBeInTheDocument();
  const line = lineOf(text, '"maybe"');
  const list = screen.getByRole('list', { name: 'Problems the server’s compiler finds' });
  expect(list).toHaveTextContent(`error line ${line}: variant "maybe" is not one of the flag’s variants`);
  expect(noteLine(screen.getByTitle('variant "maybe" is not one of the flag’s variants'))).toBe(line);
  const save = screen.getByRole('button', { name: 'Save targeting' });
  expect(save).toBeDisabled();
  expect(save).toHaveAccessibleDescription('The server’s compiler finds 1 problem in this rule');
  // The dry run was asked about the whole flag with the edited targeting.
  const asked = received.filter((r) => r.operationName === 'ValidateFlag').pop();
  expect(asked?.variables).toEqual({
    flagSet: 'default',
    key: 'new-checkout',
    definition: { ...definition, targeting: JSON.parse(text) as unknown },
  });

  await userEvent.click(within(list).getByRole('button', { name: `line ${line}` }));
  expect(area).toHaveFocus();
  expect((area as HTMLTextAreaElement).selectionStart).toBe(text.indexOf('    "maybe"'));
  // Fixed, the rule can be saved.
  await type(area, text.replace('maybe', 'on').replace('"off"', '"on"'));
  await waitFor(() => { expect(screen.getByRole('button', { name: 'Save targeting' })).toBeEnabled(); });
});

test('a finding the flag set already had is shown but does not block the save', async () => {
  server.validate = () => [{ ...unknownVariant('/flags/new-checkout/defaultVariant'), message: 'edited by hand', isNew: false }];
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/targeting');
  const area = await screen.findByRole('textbox', { name: 'Targeting (JSON)' });
  await type(area, '{"if": [true, "on"]}');
  expect(
    await screen.findByText('The server’s compiler finds 1 problem that this edit does not introduce; none blocks the save.'),
  ).toBeInTheDocument();
  // It points outside the targeting: the list names its pointer.
  expect(screen.getByRole('list', { name: 'Problems the server’s compiler finds' })).toHaveTextContent(
    'error /flags/new-checkout/defaultVariant: edited by hand (already there before this edit: it does not block the save)',
  );
  expect(await enabledSave()).toBeEnabled();
});

test('a finding about a member that is not there points at its parent', async () => {
  server.validate = () => [{ ...unknownVariant('/flags/new-checkout/targeting/if/7'), message: 'too short' }];
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/targeting');
  const area = await screen.findByRole('textbox', { name: 'Targeting (JSON)' });
  const text = '{"if": [\n  true,\n  "on"\n]}';
  await type(area, text);
  const list = await screen.findByRole('list', { name: 'Problems the server’s compiler finds' });
  expect(list).toHaveTextContent('error line 1: too short');
});

test('a valid edit is saved with the version read', async () => {
  server.mutations.UpdateFlagDefinition = (request) => {
    const current = server.flags[0];
    if (!current) throw new Error('no flag');
    const next = { ...current, version: 5, definition: request.variables.definition };
    server.flags = [next];
    return { body: { data: { updateFlag: { __typename: 'Flag', flagSet: 'default', ...next } } } };
  };
  const received = mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/targeting');
  const area = await screen.findByRole('textbox', { name: 'Targeting (JSON)' });
  await type(area, '{"if": [{"ends_with": [{"var": "email"}, "@example.com"]}, "on"]}');
  await userEvent.click(await enabledSave());

  expect(await screen.findByText('Saved: the flag is now at version 5.')).toBeInTheDocument();
  const sent = received.filter((r) => r.operationName === 'UpdateFlagDefinition').map((r) => r.variables);
  expect(sent).toEqual([
    {
      flagSet: 'default',
      key: 'new-checkout',
      expectedVersion: 4,
      definition: { ...definition, targeting: { if: [{ ends_with: [{ var: 'email' }, '@example.com'] }, 'on'] } },
    },
  ]);
  // The editor shows what is saved now.
  await waitFor(() => { expect(screen.getByText(/read at version 5/)).toBeInTheDocument(); });
});

test('empty text removes the targeting', async () => {
  server.mutations.UpdateFlagDefinition = () => ({ body: { data: null, errors: [{ message: 'stop', extensions: { code: 'TEST' } }] } });
  const received = mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/targeting');
  const area = await screen.findByRole('textbox', { name: 'Targeting (JSON)' });
  await userEvent.clear(area);
  await userEvent.click(await enabledSave());
  await screen.findByRole('alert');
  const sent = received.find((r) => r.operationName === 'UpdateFlagDefinition');
  expect(sent?.variables.definition).toEqual({ state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' });
});

test('a save the server refuses shows its message, code and findings, and nothing is saved', async () => {
  server.mutations.UpdateFlagDefinition = () => ({
    body: {
      errors: [
        {
          message: 'invalid definition of "new-checkout": error: flag "new-checkout": /flags/new-checkout/targeting/if/0: unknown operator',
          extensions: {
            code: 'INVALID_DEFINITION',
            diagnostics: [
              { severity: 'error', flagKey: 'new-checkout', pointer: '/flags/new-checkout/targeting/if/0', message: 'unknown operator "nope"' },
            ],
          },
        },
      ],
    },
  });
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/targeting');
  const area = await screen.findByRole('textbox', { name: 'Targeting (JSON)' });
  const text = '{"if": [\n  {"nope": []},\n  "on"\n]}';
  await type(area, text);
  await userEvent.click(await enabledSave());

  expect(await screen.findByRole('alert')).toHaveTextContent('Not saved: invalid definition of "new-checkout"');
  expect(screen.getByRole('alert')).toHaveTextContent('INVALID_DEFINITION');
  expect(screen.getByRole('list', { name: 'Why the server refused it' })).toHaveTextContent('error line 2: unknown operator "nope"');
  expect(noteLine(screen.getByTitle('unknown operator "nope"'))).toBe(2);
  // The edit stays; the flag is as it was.
  expect(area).toHaveValue(text);
  expect(server.flags[0]?.version).toBe(4);
  expect(screen.queryByText(/Saved:/)).not.toBeInTheDocument();
});

test('when the server cannot check as the user types, it says so and the save stays possible', async () => {
  server.validate = () => ({ body: { errors: [{ message: 'Unknown field "validateFlag" on type "Query".', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] } });
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/targeting');
  const area = await screen.findByRole('textbox', { name: 'Targeting (JSON)' });
  await type(area, '{"if": [true, "on"]}');
  expect(await screen.findByRole('alert')).toHaveTextContent(
    'The server could not check the rule as you type: Unknown field "validateFlag" on type "Query". GRAPHQL_VALIDATION_FAILED',
  );
  expect(screen.getByRole('button', { name: 'Save targeting' })).toBeEnabled();
});

test('viewers read the targeting but cannot edit or save it', async () => {
  server.role = 'viewer';
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/targeting');
  const area = await screen.findByRole('textbox', { name: 'Targeting (JSON)' });
  expect(area).toHaveAttribute('readonly');
  const save = screen.getByRole('button', { name: 'Save targeting' });
  expect(save).toBeDisabled();
  expect(save).toHaveAccessibleDescription('Viewers cannot change flags');
});

test('an archived flag cannot be edited, so that saving does not restore it', async () => {
  server.flags = [flag('new-checkout', { version: 4, definition, archived: true })];
  mockApi(editingApi(server));
  renderApp('/flags/default/new-checkout/targeting');
  const save = await screen.findByRole('button', { name: 'Save targeting' });
  expect(save).toHaveAccessibleDescription('The flag is archived');
});
