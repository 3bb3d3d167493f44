// The create-flag form: the definition it sends, what it refuses to send,
// the server's refusal, and who may use it.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';

import { type Received, FakeSocket, errorBody, mockApi, renderApp } from '../test/harness';
import { type FakeServer, flag, flagsApi } from '../test/flags';

let server: FakeServer;

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  vi.spyOn(HTMLElement.prototype, 'clientHeight', 'get').mockImplementation(function (this: HTMLElement) {
    return this.classList.contains('flag-list') ? 600 : 0;
  });
  server = { role: 'editor', name: 'ann', flags: [flag('new-checkout')], mutations: {} };
});
afterEach(() => {
  FakeSocket.reset();
});

/** Answers `createFlag` as the server does: the flag at version 1, kept for the overview. */
function createAnswer(request: Received) {
  const definition = request.variables.definition as { state: string; defaultVariant: string; metadata?: { tags?: string } };
  const created = flag(String(request.variables.key), {
    state: definition.state,
    defaultVariant: definition.defaultVariant,
    tags: definition.metadata?.tags?.split(', ') ?? [],
    definition,
  });
  server.flags.push(created);
  return { body: { data: { createFlag: { __typename: 'Flag', flagSet: 'default', ...created } } } };
}

const creates = (received: Received[]) => received.filter((r) => r.operationName === 'CreateFlag');

test('the flag list links to the form at its own address', async () => {
  mockApi(flagsApi(server));
  renderApp('/flags/default');
  await userEvent.click(await screen.findByRole('link', { name: 'New flag' }));
  expect(window.location.pathname).toBe('/new-flag/default');
  expect(await screen.findByRole('heading', { name: 'New flag in default' })).toBeInTheDocument();
});

test('a string flag is sent as the flagd definition typed, and opens on its overview', async () => {
  server.mutations.CreateFlag = createAnswer;
  const received = mockApi(flagsApi(server));
  renderApp('/new-flag/default');

  await userEvent.type(await screen.findByLabelText('Key'), 'banner-text');
  await userEvent.selectOptions(screen.getByLabelText('Variant type'), 'String');
  expect(screen.getByLabelText('Name of variant 1')).toHaveValue('control');
  expect(screen.getByLabelText('Default variant')).toHaveValue('control');

  // Renaming the default variant keeps it the default.
  await userEvent.clear(screen.getByLabelText('Name of variant 1'));
  await userEvent.type(screen.getByLabelText('Name of variant 1'), 'plain');
  await userEvent.clear(screen.getByLabelText('Value of variant 1'));
  await userEvent.type(screen.getByLabelText('Value of variant 1'), 'Welcome');
  expect(screen.getByLabelText('Default variant')).toHaveValue('plain');

  await userEvent.click(screen.getByRole('button', { name: 'Add a variant' }));
  await userEvent.type(screen.getByLabelText('Name of variant 3'), 'loud');
  await userEvent.type(screen.getByLabelText('Value of variant 3'), 'WELCOME!');
  await userEvent.click(screen.getByRole('button', { name: 'Remove variant 2' }));
  await userEvent.selectOptions(screen.getByLabelText('Default variant'), 'loud');
  await userEvent.click(screen.getByLabelText(/^Disabled/));
  await userEvent.type(screen.getByLabelText('Tags'), ' web, checkout ,web,');
  await userEvent.type(screen.getByLabelText('Description'), 'The banner’s greeting');
  await userEvent.click(screen.getByRole('button', { name: 'Create flag' }));

  await waitFor(() => { expect(window.location.pathname).toBe('/flags/default/banner-text'); });
  expect(creates(received).map((r) => r.variables)).toEqual([
    {
      flagSet: 'default',
      key: 'banner-text',
      definition: {
        state: 'DISABLED',
        variants: { plain: 'Welcome', loud: 'WELCOME!' },
        defaultVariant: 'loud',
        metadata: { tags: 'web, checkout', description: 'The banner’s greeting' },
      },
    },
  ]);
  expect(await screen.findByRole('heading', { name: 'banner-text' })).toBeInTheDocument();
  expect(screen.getByText('Created banner-text in default (version 1)')).toBeInTheDocument();
  const variants = within(screen.getByRole('region', { name: 'Variants' }));
  expect(variants.getByRole('rowheader', { name: /loud/ })).toHaveTextContent('loud default');
});

test('number and object values are sent as numbers and objects, a boolean flag as true and false', async () => {
  server.mutations.CreateFlag = createAnswer;
  const received = mockApi(flagsApi(server));
  const { unmount } = renderApp('/new-flag/default');

  await userEvent.type(await screen.findByLabelText('Key'), 'plain-switch');
  await userEvent.click(screen.getByRole('button', { name: 'Create flag' }));
  await waitFor(() => { expect(creates(received)).toHaveLength(1); });
  expect(creates(received)[0]?.variables.definition).toEqual({
    state: 'ENABLED',
    variants: { on: true, off: false },
    defaultVariant: 'off',
  });
  unmount();

  renderApp('/new-flag/default');
  await userEvent.type(await screen.findByLabelText('Key'), 'limits');
  await userEvent.selectOptions(screen.getByLabelText('Variant type'), 'Object (JSON)');
  await userEvent.clear(screen.getByLabelText('Value of variant 2'));
  await userEvent.click(screen.getByLabelText('Value of variant 2'));
  await userEvent.paste('{"max": 10, "tiers": ["a"]}');
  await userEvent.click(screen.getByRole('button', { name: 'Create flag' }));
  await waitFor(() => { expect(creates(received)).toHaveLength(2); });
  expect(creates(received)[1]?.variables.definition).toEqual({
    state: 'ENABLED',
    variants: { off: {}, on: { max: 10, tiers: ['a'] } },
    defaultVariant: 'off',
  });
});

test('what the browser can check is refused before anything is sent', async () => {
  const received = mockApi(flagsApi(server));
  renderApp('/new-flag/default');

  await userEvent.selectOptions(await screen.findByLabelText('Variant type'), 'Number');
  await userEvent.clear(screen.getByLabelText('Value of variant 2'));
  await userEvent.type(screen.getByLabelText('Value of variant 2'), 'ten');
  await userEvent.clear(screen.getByLabelText('Name of variant 2'));
  await userEvent.type(screen.getByLabelText('Name of variant 2'), 'off');
  await userEvent.click(screen.getByRole('button', { name: 'Create flag' }));

  expect(await screen.findByRole('alert')).toHaveTextContent('Not sent: fix the fields marked above first.');
  expect(screen.getByLabelText('Key')).toHaveAccessibleDescription(/^Enter a key\./);
  expect(screen.getByLabelText('Key')).toBeInvalid();
  expect(screen.getByLabelText('Value of variant 2')).toHaveAccessibleDescription('Enter a number, such as 42 or 0.5.');
  expect(screen.getByLabelText('Name of variant 2')).toHaveAccessibleDescription('Another variant is named “off”.');

  await userEvent.type(screen.getByLabelText('Key'), ' padded');
  expect(screen.getByLabelText('Key')).toHaveAccessibleDescription(/^The key may not start or end with white space\./);
  expect(creates(received)).toEqual([]);

  // Fixed, the problems go and the flag is sent.
  server.mutations.CreateFlag = createAnswer;
  await userEvent.clear(screen.getByLabelText('Key'));
  await userEvent.type(screen.getByLabelText('Key'), 'ratio');
  await userEvent.clear(screen.getByLabelText('Value of variant 2'));
  await userEvent.type(screen.getByLabelText('Value of variant 2'), '0.25');
  await userEvent.clear(screen.getByLabelText('Name of variant 2'));
  await userEvent.type(screen.getByLabelText('Name of variant 2'), 'quarter');
  expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  await userEvent.click(screen.getByRole('button', { name: 'Create flag' }));
  await waitFor(() => { expect(creates(received)).toHaveLength(1); });
  expect(creates(received)[0]?.variables.definition).toEqual({
    state: 'ENABLED',
    variants: { off: 0, quarter: 0.25 },
    defaultVariant: 'off',
  });
});

test('the server’s refusal is shown with its code and findings, and the form stays', async () => {
  let answer = errorBody('flag "new-checkout" already exists', 'ALREADY_EXISTS');
  server.mutations.CreateFlag = () => ({ body: answer });
  const received = mockApi(flagsApi(server));
  renderApp('/new-flag/default');

  await userEvent.type(await screen.findByLabelText('Key'), 'new-checkout');
  await userEvent.click(screen.getByRole('button', { name: 'Create flag' }));
  expect(await screen.findByRole('alert')).toHaveTextContent(
    'The flag was not created: flag "new-checkout" already exists ALREADY_EXISTS',
  );
  expect(window.location.pathname).toBe('/new-flag/default');

  answer = {
    errors: [
      {
        message: 'invalid definition of "odd": error: flag "odd": /flags/odd/defaultVariant: default variant "x" is not one of the flag\'s variants',
        extensions: {
          code: 'INVALID_DEFINITION',
          diagnostics: [
            { flagKey: 'odd', message: 'default variant "x" is not one of the flag\'s variants', pointer: '/flags/odd/defaultVariant', severity: 'error' },
          ],
        },
      },
    ],
  };
  await userEvent.clear(screen.getByLabelText('Key'));
  await userEvent.type(screen.getByLabelText('Key'), 'odd');
  await userEvent.click(screen.getByRole('button', { name: 'Create flag' }));
  await waitFor(() => { expect(screen.getByRole('alert')).toHaveTextContent('INVALID_DEFINITION'); });
  expect(screen.getByRole('list', { name: 'Why the server refused it' })).toHaveTextContent(
    'error /flags/odd/defaultVariant: default variant "x" is not one of the flag\'s variants',
  );
  expect(creates(received).map((r) => r.variables.key)).toEqual(['new-checkout', 'odd']);
  expect(window.location.pathname).toBe('/new-flag/default');
});

test('a role that cannot change flags sees the controls disabled, with the reason', async () => {
  server.role = 'viewer';
  const received = mockApi(flagsApi(server));
  const { unmount } = renderApp('/flags/default');
  const button = await screen.findByRole('button', { name: 'New flag' });
  await waitFor(() => { expect(button).toBeDisabled(); });
  expect(button).toHaveAccessibleDescription('Viewers cannot change flags');
  expect(screen.queryByRole('link', { name: 'New flag' })).not.toBeInTheDocument();
  unmount();

  // The address itself opens the form, which cannot be sent.
  renderApp('/new-flag/default');
  await userEvent.type(await screen.findByLabelText('Key'), 'sneaky');
  const create = screen.getByRole('button', { name: 'Create flag' });
  expect(create).toBeDisabled();
  expect(create).toHaveAccessibleDescription('Viewers cannot change flags');
  expect(creates(received)).toEqual([]);
});

test('back on the list, the created flag is listed and its tags are offered', async () => {
  server.mutations.CreateFlag = createAnswer;
  mockApi(flagsApi(server));
  renderApp('/flags/default');
  const options = () => within(screen.getByLabelText('Tag')).getAllByRole('option').map((o) => o.textContent);
  await waitFor(() => { expect(options()).toEqual(['Any', 'checkout']); });

  await userEvent.click(screen.getByRole('link', { name: 'New flag' }));
  await userEvent.type(await screen.findByLabelText('Key'), 'launch-banner');
  await userEvent.type(screen.getByLabelText('Tags'), 'launch');
  await userEvent.click(screen.getByRole('button', { name: 'Create flag' }));
  await userEvent.click(await screen.findByRole('link', { name: '← Flags of default' }));

  expect(await screen.findByRole('link', { name: 'launch-banner' })).toBeInTheDocument();
  await waitFor(() => { expect(options()).toEqual(['Any', 'checkout', 'launch']); });
});
