// The experiment form: the settings it sends, starting right away, what it
// refuses before sending, the server's refusal shown inline, a flag without
// a split, editing a draft with the version read, and who may use it.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test } from 'vitest';

import { type FakeExperimentServer, experiment, experimentAnswer, experimentsApi, splitFlag } from '../test/experiments';
import { type Received, FakeSocket, errorBody, mockApi, renderApp } from '../test/harness';
import { draftOf } from './NewExperimentScreen';

let server: FakeExperimentServer;

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  server = {
    role: 'editor',
    experiments: [],
    mutations: {},
    flags: [
      splitFlag('banner', [['plain', 20], ['bold', 30], ['loud', 50]]),
      splitFlag('new-checkout'),
      { key: 'no-split', definition: { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' } },
    ],
  };
});
afterEach(() => {
  FakeSocket.reset();
});

/** Answers createExperiment as the server does: a draft at version 1, kept for the results screen. */
function createAnswer(request: Received) {
  const settings = request.variables.settings as { flag: string; control: string; metrics: FakeExperimentServer['experiments'][number]['metrics']; windowSeconds: number };
  const created = experiment(String(request.variables.key), {
    id: server.experiments.length + 1,
    status: 'DRAFT',
    startedAt: null,
    version: 1,
    weights: null,
    flag: settings.flag,
    control: settings.control,
    metrics: settings.metrics,
    windowSeconds: settings.windowSeconds,
  });
  server.experiments.push(created);
  return { body: { data: { createExperiment: experimentAnswer(created) } } };
}

const named = (received: Received[], name: string) => received.filter((r) => r.operationName === name);

test('the list links to the form at its own address', async () => {
  server.experiments = [experiment('old-test')];
  mockApi(experimentsApi(server));
  renderApp('/experiments/default');
  await userEvent.click(await screen.findByRole('link', { name: 'New experiment' }));
  expect(window.location.pathname).toBe('/new-experiment/default');
  expect(await screen.findByRole('heading', { name: 'New experiment in default' })).toBeInTheDocument();
});

test('an experiment is sent with the flag’s variants, its metrics and the window in seconds, and opens on its results', async () => {
  server.mutations.CreateExperiment = createAnswer;
  const received = mockApi(experimentsApi(server));
  renderApp('/new-experiment/default');

  await userEvent.type(await screen.findByLabelText('Key'), 'banner-test');
  const flag = screen.getByLabelText('Flag');
  await waitFor(() => { expect(within(flag).getAllByRole('option').map((o) => o.textContent)).toEqual(['Choose a flag', 'banner', 'new-checkout', 'no-split']); });
  await userEvent.selectOptions(flag, 'banner');
  // The control offered first is the split's first variant; every variant of the flag is offered.
  const control = screen.getByLabelText('Control variant');
  await waitFor(() => { expect(control).toHaveValue('plain'); });
  expect(within(control).getAllByRole('option').map((o) => o.textContent)).toEqual(['plain', 'bold', 'loud']);
  expect(screen.getByText(/When the experiment starts, these are the weights it expects\./)).toHaveTextContent('Its split: plain 20%, bold 30%, loud 50%.');
  await userEvent.selectOptions(control, 'bold');

  // The name follows the event until it is named otherwise.
  await userEvent.type(screen.getByLabelText('Event of metric 1'), 'signup');
  expect(screen.getByLabelText('Name of metric 1')).toHaveValue('signup');
  await userEvent.click(screen.getByRole('button', { name: 'Add a metric' }));
  await userEvent.type(screen.getByLabelText('Event of metric 2'), 'purchase');
  await userEvent.clear(screen.getByLabelText('Name of metric 2'));
  await userEvent.type(screen.getByLabelText('Name of metric 2'), 'revenue');
  await userEvent.selectOptions(screen.getByLabelText('Kind of metric 2'), 'Sum');

  await userEvent.clear(screen.getByLabelText('Window length'));
  await userEvent.type(screen.getByLabelText('Window length'), '36');
  await userEvent.selectOptions(screen.getByLabelText('Window unit'), 'hours');
  await userEvent.type(screen.getByLabelText('Alpha'), '0.01');
  await userEvent.click(screen.getByRole('button', { name: 'Create draft' }));

  await waitFor(() => { expect(window.location.pathname).toBe('/experiments/default/banner-test'); });
  expect(named(received, 'CreateExperiment').map((r) => r.variables)).toEqual([
    {
      flagSet: 'default',
      key: 'banner-test',
      settings: {
        flag: 'banner',
        control: 'bold',
        metrics: [
          { name: 'signup', event: 'signup', kind: 'CONVERSION' },
          { name: 'revenue', event: 'purchase', kind: 'SUM' },
        ],
        windowSeconds: 36 * 3600,
        alpha: 0.01,
      },
    },
  ]);
  expect(named(received, 'StartExperiment')).toEqual([]);
  expect(await screen.findByText('Created draft banner-test (version 1)')).toBeInTheDocument();
  expect(await screen.findByText('Not started: nothing is recorded until the experiment starts.')).toBeInTheDocument();
});

test('“Create and start” starts it right away', async () => {
  server.mutations.CreateExperiment = createAnswer;
  server.mutations.StartExperiment = (request) => {
    const found = server.experiments.find((e) => e.key === request.variables.key);
    if (!found) throw new Error('not created');
    found.status = 'RUNNING';
    return { body: { data: { startExperiment: experimentAnswer(found) } } };
  };
  const received = mockApi(experimentsApi(server));
  renderApp('/new-experiment/default');
  await userEvent.type(await screen.findByLabelText('Key'), 'checkout-test');
  await waitFor(() => { expect(screen.getByRole('option', { name: 'new-checkout' })).toBeInTheDocument(); });
  await userEvent.selectOptions(screen.getByLabelText('Flag'), 'new-checkout');
  await waitFor(() => { expect(screen.getByLabelText('Control variant')).toHaveValue('off'); });
  await userEvent.type(screen.getByLabelText('Event of metric 1'), 'purchase');
  await userEvent.click(screen.getByRole('button', { name: 'Create and start' }));

  await waitFor(() => { expect(window.location.pathname).toBe('/experiments/default/checkout-test'); });
  expect(named(received, 'CreateExperiment')[0]?.variables.settings).toEqual({
    flag: 'new-checkout',
    control: 'off',
    metrics: [{ name: 'purchase', event: 'purchase', kind: 'CONVERSION' }],
    windowSeconds: 7 * 86_400,
  });
  expect(named(received, 'StartExperiment').map((r) => r.variables)).toEqual([{ flagSet: 'default', key: 'checkout-test' }]);
  expect(await screen.findByText('Created draft checkout-test and started it')).toBeInTheDocument();
  expect(await screen.findByText(/^No analysis yet\./)).toBeInTheDocument();
});

test('what the browser can check is refused before anything is sent', async () => {
  const received = mockApi(experimentsApi(server));
  renderApp('/new-experiment/default');
  await userEvent.click(await screen.findByRole('button', { name: 'Create draft' }));
  expect(await screen.findByRole('alert')).toHaveTextContent('Not sent: fix the fields marked above first.');
  expect(screen.getByLabelText('Key')).toHaveAccessibleDescription(/^Enter a key\./);
  expect(screen.getByLabelText('Flag')).toHaveAccessibleDescription(/^Choose a flag\./);
  expect(screen.getByLabelText('Event of metric 1')).toHaveAccessibleDescription('Enter the metric’s event.');
  expect(screen.getByLabelText('Name of metric 1')).toHaveAccessibleDescription('Enter the metric’s name.');

  await userEvent.clear(screen.getByLabelText('Window length'));
  await userEvent.type(screen.getByLabelText('Alpha'), '1');
  expect(screen.getByLabelText('Window length')).toHaveAccessibleDescription('Enter a number of days.');
  expect(screen.getByLabelText('Alpha')).toHaveAccessibleDescription(/^Alpha must be above 0 and below 0\.5/);
  expect(named(received, 'CreateExperiment')).toEqual([]);
});

test('the server’s refusal is shown inline and nothing moves', async () => {
  server.mutations.CreateExperiment = () => ({ body: errorBody('experiment "taken" already exists', 'ALREADY_EXISTS') });
  mockApi(experimentsApi(server));
  renderApp('/new-experiment/default');
  await userEvent.type(await screen.findByLabelText('Key'), 'taken');
  await waitFor(() => { expect(screen.getByRole('option', { name: 'new-checkout' })).toBeInTheDocument(); });
  await userEvent.selectOptions(screen.getByLabelText('Flag'), 'new-checkout');
  await userEvent.type(screen.getByLabelText('Event of metric 1'), 'purchase');
  await waitFor(() => { expect(screen.getByLabelText('Control variant')).toHaveValue('off'); });
  await userEvent.click(screen.getByRole('button', { name: 'Create draft' }));
  expect(await screen.findByRole('alert')).toHaveTextContent('The experiment was not created: experiment "taken" already exists ALREADY_EXISTS');
  expect(window.location.pathname).toBe('/new-experiment/default');
});

test('a flag without a split can be a draft, and says it cannot start', async () => {
  mockApi(experimentsApi(server));
  renderApp('/new-experiment/default');
  await waitFor(() => { expect(screen.getByRole('option', { name: 'no-split' })).toBeInTheDocument(); });
  await userEvent.selectOptions(screen.getByLabelText('Flag'), 'no-split');
  expect(await screen.findByText(/this flag has none it can read/)).toHaveTextContent(
    'The targeting has no fractional rule. It can be saved as a draft, but it cannot start until the flag has one.',
  );
  // The default variant is offered as the control.
  expect(screen.getByLabelText('Control variant')).toHaveValue('off');
});

test('a draft is edited with the version read; a stale edit is refused inline and the draft can be read again', async () => {
  const draft = experiment('checkout-test', { status: 'DRAFT', startedAt: null, version: 4, windowSeconds: 2 * 3600 });
  server.experiments = [draft];
  server.mutations.UpdateExperiment = (request) => {
    if (request.variables.expectedVersion !== draft.version) {
      return { body: errorBody(`experiment "checkout-test" is at version ${draft.version}, not ${String(request.variables.expectedVersion)}`, 'VERSION_CONFLICT') };
    }
    const settings = request.variables.settings as { control: string };
    draft.version += 1;
    draft.control = settings.control;
    return { body: { data: { updateExperiment: experimentAnswer(draft) } } };
  };
  const received = mockApi(experimentsApi(server));
  renderApp('/new-experiment/default?draft=checkout-test');
  expect(await screen.findByRole('heading', { name: 'Edit draft checkout-test' })).toBeInTheDocument();
  expect(screen.queryByLabelText('Key')).not.toBeInTheDocument();
  expect(screen.getByLabelText('Window length')).toHaveValue('2');
  expect(screen.getByLabelText('Window unit')).toHaveValue('hours');
  expect(screen.getByLabelText('Event of metric 1')).toHaveValue('purchase');
  await waitFor(() => { expect(screen.getByLabelText('Control variant')).toHaveValue('off'); });

  // Someone else saves the draft meanwhile: a 36-hour window.
  draft.version = 5;
  draft.windowSeconds = 36 * 3600;
  await userEvent.selectOptions(screen.getByLabelText('Control variant'), 'on');
  await userEvent.click(screen.getByRole('button', { name: 'Save draft' }));
  expect(await screen.findByRole('alert')).toHaveTextContent('The draft was not saved: experiment "checkout-test" is at version 5, not 4 VERSION_CONFLICT');
  expect(window.location.pathname).toBe('/new-experiment/default');

  await userEvent.click(screen.getByRole('button', { name: 'Load the draft as it is now' }));
  await waitFor(() => { expect(screen.getByLabelText('Window length')).toHaveValue('36'); });
  expect(screen.getByLabelText('Control variant')).toHaveValue('off');
  await userEvent.selectOptions(screen.getByLabelText('Control variant'), 'on');
  await userEvent.click(screen.getByRole('button', { name: 'Save draft' }));
  await waitFor(() => { expect(window.location.pathname).toBe('/experiments/default/checkout-test'); });
  expect(named(received, 'UpdateExperiment').map((r) => [r.variables.expectedVersion, (r.variables.settings as { windowSeconds: number }).windowSeconds])).toEqual([
    [4, 2 * 3600],
    [5, 36 * 3600],
  ]);
  expect(await screen.findByText('Saved draft checkout-test (version 6)')).toBeInTheDocument();
});

test('a started experiment cannot be edited', async () => {
  server.experiments = [experiment('checkout-test')];
  mockApi(experimentsApi(server));
  renderApp('/new-experiment/default?draft=checkout-test');
  expect(await screen.findByText(/has started: only a draft can be edited\./)).toBeInTheDocument();
  expect(screen.queryByRole('button', { name: 'Save draft' })).not.toBeInTheDocument();
});

test('viewers see the form’s buttons disabled, with the reason', async () => {
  server.role = 'viewer';
  mockApi(experimentsApi(server));
  renderApp('/new-experiment/default');
  for (const name of ['Create draft', 'Create and start']) {
    const button = await screen.findByRole('button', { name });
    await waitFor(() => { expect(button).toBeDisabled(); });
    expect(button).toHaveAccessibleDescription('Viewers cannot change flags');
  }
});

test('the draft named in the address survives its escaping', () => {
  expect(draftOf('draft=a%2525b')).toBe('a%b');
  expect(draftOf('draft=price%2526test')).toBe('price&test');
  expect(draftOf('other=1')).toBeNull();
});
