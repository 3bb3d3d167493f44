// The experiment list: each experiment's status and health linking to its
// results, the address without a flag set, the flag-set switcher, the main
// navigation, and who may create one.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test } from 'vitest';

import { type FakeExperimentServer, experiment, experimentsApi, result, variant } from '../test/experiments';
import { FakeSocket, mockApi, renderApp } from '../test/harness';

let server: FakeExperimentServer;

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  server = {
    role: 'editor',
    flags: [],
    mutations: {},
    experiments: [
      experiment('checkout-test', { id: 3, results: [result()] }),
      experiment('banner-test', {
        id: 2,
        flag: 'banner',
        status: 'STOPPED',
        stoppedAt: '2026-12-05T12:00:00Z',
        results: [
          result({
            variants: [variant('off', 900, { purchases: [90, 90, 0.1, 0.09] }), variant('on', 1400, { purchases: [150, 150, 0.107, 0.0956] })],
            srm: { chi2: 108.7, pValue: 0.0000001, mismatch: true },
            multipleExposureShare: 0.012,
            verdict: 'Unreliable: the users per variant do not match the expected weights.',
          }),
        ],
      }),
      experiment('pricing-test', { id: 1, status: 'DRAFT', startedAt: null, version: 1 }),
    ],
  };
});
afterEach(() => {
  FakeSocket.reset();
});

test('lists each experiment with its status and health, linking to its results', async () => {
  mockApi(experimentsApi(server));
  renderApp('/experiments/default');
  expect(await screen.findByRole('heading', { name: 'Experiments', level: 1 })).toBeInTheDocument();
  const table = await screen.findByRole('table');
  const rows = within(table).getAllByRole('row').slice(1);
  expect(rows.map((r) => within(r).getByRole('rowheader').textContent)).toEqual(['checkout-test', 'banner-test', 'pricing-test']);

  const [running, stopped, draft] = rows.map((r) => within(r));
  expect(running?.getByText('Running')).toBeInTheDocument();
  expect(running?.getByRole('cell', { name: '2,000' })).toBeInTheDocument();
  expect(running?.getByText('Matches the weights')).toBeInTheDocument();
  expect(running?.getByText(/^on beats off on purchases/)).toBeInTheDocument();
  expect(running?.getByRole('link', { name: 'new-checkout' })).toHaveAttribute('href', '/flags/default/new-checkout');

  expect(stopped?.getByText('Stopped')).toBeInTheDocument();
  expect(stopped?.getByRole('cell', { name: '2,300' })).toBeInTheDocument();
  expect(stopped?.getByText('Mismatch (p < 0.0001)')).toBeInTheDocument();
  expect(stopped?.getByText('1.2% saw several variants')).toBeInTheDocument();

  expect(draft?.getByText('Draft')).toBeInTheDocument();
  expect(draft?.getByText('Not started')).toBeInTheDocument();

  await userEvent.click(within(table).getByRole('link', { name: 'banner-test' }));
  expect(window.location.pathname).toBe('/experiments/default/banner-test');
  expect(await screen.findByRole('heading', { name: 'banner-test', level: 1 })).toBeInTheDocument();
});

test('the address without a flag set opens the default one, and the switcher moves between them', async () => {
  const received = mockApi(experimentsApi(server));
  renderApp('/experiments');
  await waitFor(() => { expect(window.location.pathname).toBe('/experiments/default'); });
  await screen.findByRole('link', { name: 'checkout-test' });
  await userEvent.selectOptions(screen.getByLabelText('Flag set'), 'mobile');
  expect(window.location.pathname).toBe('/experiments/mobile');
  await waitFor(() => {
    expect(received.filter((r) => r.operationName === 'ExperimentList').map((r) => r.variables.flagSet)).toContain('mobile');
  });
});

test('the main navigation keeps the flag set between flags and experiments', async () => {
  mockApi(experimentsApi(server));
  renderApp('/experiments/mobile');
  const nav = await screen.findByRole('navigation', { name: 'Main' });
  expect(within(nav).getByRole('link', { name: 'Experiments' })).toHaveAttribute('href', '/experiments/mobile');
  expect(within(nav).getByRole('link', { name: 'Flags' })).toHaveAttribute('href', '/flags/mobile');
});

test('an empty flag set says what an experiment is', async () => {
  server.experiments = [];
  mockApi(experimentsApi(server));
  renderApp('/experiments/default');
  expect(await screen.findByText(/No experiments in default yet\./)).toBeInTheDocument();
  expect(screen.queryByRole('table')).not.toBeInTheDocument();
  expect(screen.getByRole('link', { name: 'New experiment' })).toHaveAttribute('href', '/new-experiment/default');
});

test('viewers see why they cannot create one', async () => {
  server.role = 'viewer';
  mockApi(experimentsApi(server));
  renderApp('/experiments/default');
  await screen.findByRole('link', { name: 'checkout-test' });
  const create = await screen.findByRole('button', { name: 'New experiment' });
  expect(create).toBeDisabled();
  expect(create).toHaveAccessibleDescription('Viewers cannot change flags');
  expect(screen.queryByRole('link', { name: 'New experiment' })).not.toBeInTheDocument();
});
