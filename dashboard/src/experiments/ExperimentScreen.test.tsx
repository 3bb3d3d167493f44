// The results screen: the verdict in words, users per variant, each
// metric's charts and comparison figures, the sample-ratio warning, the
// notes behind undefined figures, and start, stop and "Analyse now" with
// their pending, success and failure states.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test } from 'vitest';

import {
  type FakeExperiment,
  type FakeExperimentServer,
  comparison,
  experiment,
  experimentAnswer,
  experimentsApi,
  result,
  variant,
} from '../test/experiments';
import { type Received, FakeSocket, errorBody, mockApi, renderApp } from '../test/harness';

let server: FakeExperimentServer;
let checkout: FakeExperiment;

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  checkout = experiment('checkout-test', {
    metrics: [
      { name: 'purchases', event: 'purchase', kind: 'CONVERSION' },
      { name: 'revenue', event: 'purchase', kind: 'SUM' },
    ],
    results: [
      result({
        id: 1,
        computedAt: '2026-12-07T09:00:00Z',
        variants: [variant('off', 400, { purchases: [100, 100, 0.25, 0.1875], revenue: [100, 2000, 5, 120] }), variant('on', 410, { purchases: [160, 160, 0.39, 0.238], revenue: [160, 3400, 8.29, 150] })],
        comparisons: [comparison('on', 'purchases', { relLift: 0.56, sequentialRelCi: { low: -0.1, high: 1.3 } }), comparison('on', 'revenue')],
      }),
      result({
        id: 2,
        computedAt: '2026-12-07T10:00:00Z',
        variants: [
          variant('off', 1000, { purchases: [300, 300, 0.3, 0.21], revenue: [300, 6000, 6, 130] }),
          variant('on', 1012, { purchases: [607, 607, 0.6, 0.24], revenue: [607, 12000, 11.86, 170] }),
        ],
        comparisons: [
          comparison('on', 'purchases', {
            absLift: 0.3,
            relLift: 1,
            absCi: { low: 0.258, high: 0.342 },
            relCi: { low: 0.82, high: 1.18 },
            pValue: 0.00001,
            pValueHolm: 0.00001,
            pValueBh: 0.00001,
            sequentialPValueHolm: 0.00002,
            sequentialCi: { low: 0.22, high: 0.38 },
            sequentialRelCi: { low: 0.7, high: 1.3 },
            chanceToBeatControl: 0.99999,
            expectedLoss: 0.0000001,
            mdeAbs: 0.057,
            mdeRel: 0.19,
          }),
          comparison('on', 'revenue', { chanceToBeatControl: null, expectedLoss: null, relLift: null, relCi: null, sequentialRelCi: null }),
        ],
        notes: [
          { pointer: '/comparisons/1/rel_lift', reason: 'the control’s mean is 0, so there is no relative lift' },
          { pointer: '/comparisons/1/rel_ci', reason: 'the control’s mean is 0, so there is no relative lift' },
          { pointer: '/comparisons/1/sequential_rel_ci', reason: 'the control’s mean is 0, so there is no relative lift' },
        ],
        multipleExposureShare: 0.004,
        verdict:
          'on beats off on purchases: +30 points, +100% (95% always-valid interval +22 to +38 points), p = 2e-5 (sequential, Holm-adjusted). The sample is healthy: users per variant match the expected weights, and 0.4% of users saw more than one variant (they count in their first).',
      }),
    ],
  });
  server = { role: 'editor', flags: [], mutations: {}, experiments: [checkout] };
});
afterEach(() => {
  FakeSocket.reset();
});

const sent = (received: Received[], name: string) => received.filter((r) => r.operationName === name);

test('the verdict, the users and each metric’s charts and figures', async () => {
  mockApi(experimentsApi(server));
  renderApp('/experiments/default/checkout-test');
  const verdict = await screen.findByRole('region', { name: 'Verdict' });
  expect(screen.getByRole('heading', { name: 'checkout-test', level: 1 })).toBeInTheDocument();
  expect(screen.getByText('Running')).toBeInTheDocument();

  expect(within(verdict).getByText(/^on beats off on purchases: \+30 points/)).toBeInTheDocument();
  expect(within(verdict).getByText(/over 2,012 users; intervals at 95%/)).toBeInTheDocument();
  expect(within(verdict).getByText('matches the weights (p = 1)')).toBeInTheDocument();
  expect(within(verdict).getByText(/^0\.4% \(each counts/)).toBeInTheDocument();
  expect(within(verdict).queryByRole('note', { name: 'Sample-ratio mismatch' })).not.toBeInTheDocument();

  const users = within(screen.getByRole('region', { name: 'Users by variant' }));
  expect(users.getAllByRole('row').slice(1).map((r) => r.textContent)).toEqual(['offcontrol1,00049.7%50%', 'on1,01250.3%50%']);

  // One section per metric, in the experiment's order.
  const purchases = screen.getByRole('region', { name: 'purchases conversion' });
  const revenue = screen.getByRole('region', { name: 'revenue sum' });
  expect(purchases.compareDocumentPosition(revenue) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();

  const p = within(purchases);
  expect(p.getByRole('img', { name: /^purchases: mean per user by variant/ })).toHaveAccessibleName(/off \(control\): 30% .*, 1,000 users; on: 60% .*, 1,012 users\.$/);
  expect(p.getByRole('img', { name: /^purchases: relative lift over control across 2 analyses/ })).toHaveAccessibleName(
    /Latest: on \+100% \(interval \+70% to \+130%, above zero\)\.$/,
  );
  const figures = within(p.getByRole('table', { name: 'Each treatment against off on purchases' }));
  const row = (name: RegExp) => within(figures.getByRole('row', { name })).getAllByRole('cell').map((c) => c.textContent);
  expect(row(/^Differs from off\?/)).toEqual(['Yes, better']);
  expect(row(/^Relative lift/)).toEqual(['+100%']);
  expect(row(/^Absolute lift/)).toEqual(['+30 pts']);
  expect(row(/^95% interval \(fixed horizon\)/)).toEqual(['+25.8 to +34.2 pts · +82% to +118%']);
  expect(row(/^95% always-valid interval/)).toEqual(['+22 to +38 pts · +70% to +130%']);
  expect(row(/^p-value \(fixed horizon\)/)).toEqual(['< 0.0001']);
  expect(row(/^Sequential p-value, Holm-adjusted/)).toEqual(['< 0.0001']);
  expect(row(/^Chance to beat control/)).toEqual(['> 99.99%']);
  expect(row(/^Expected loss/)).toEqual(['< 0.0001 pts']);
  expect(row(/^Minimum detectable effect/)).toEqual(['5.7 pts · 19%']);

  // A sum metric has no Bayesian figures, and its undefined ones link to their notes.
  const r = within(revenue);
  const sums = within(r.getByRole('table', { name: 'Each treatment against off on revenue' }));
  expect(sums.queryByRole('row', { name: /^Chance to beat control/ })).not.toBeInTheDocument();
  const relative = sums.getByRole('row', { name: /^Relative lift/ });
  expect(within(relative).getByRole('cell')).toHaveTextContent('—1');
  const link = within(relative).getByRole('link', { name: 'note 1' });
  const notes = within(screen.getByRole('region', { name: 'Notes' }));
  const items = notes.getAllByRole('listitem');
  expect(items.map((li) => li.textContent)).toEqual([
    'The relative lift of on on revenue: the control’s mean is 0, so there is no relative lift.',
    'The interval of the relative lift of on on revenue: the control’s mean is 0, so there is no relative lift.',
    'The confidence sequence of the relative lift of on on revenue: the control’s mean is 0, so there is no relative lift.',
  ]);
  expect(link.getAttribute('href')).toBe(`#${items[0]?.id ?? 'none'}`);

  const settings = within(screen.getByRole('region', { name: 'Settings' }));
  expect(settings.getByText('7 days')).toBeInTheDocument();
  expect(settings.getByText('off 50, on 50')).toBeInTheDocument();
});

test('a sample-ratio mismatch is a warning above everything else', async () => {
  const latest = checkout.results[1];
  if (!latest) throw new Error('no result');
  checkout.results[1] = {
    ...latest,
    srm: { chi2: 31.4, pValue: 0.00000002, mismatch: true },
    verdict: 'Unreliable: the users per variant do not match the expected weights (sample-ratio mismatch, p = 2e-8).',
  };
  mockApi(experimentsApi(server));
  renderApp('/experiments/default/checkout-test');
  const warning = await screen.findByRole('note', { name: 'Sample-ratio mismatch' });
  expect(warning).toHaveTextContent('Sample-ratio mismatch. The users per variant do not match the expected weights (χ² = 31.4, p < 0.0001)');
  expect(screen.getByText('mismatch (p < 0.0001)')).toBeInTheDocument();
});

test('“Analyse now” runs the analysis and shows the new result', async () => {
  const held: { answer?: () => void } = {};
  server.mutations.RunAnalysis = () => {
    const next = result({ id: 3, computedAt: '2026-12-07T11:00:00Z', verdict: 'No treatment differs from off on purchases yet.' });
    checkout.results.push(next);
    return { body: { data: { runAnalysis: { __typename: 'ExperimentResult', ...next } } } };
  };
  const api = experimentsApi(server);
  const received = mockApi((request) =>
    request.operationName === 'RunAnalysis' ? new Promise((resolve) => { held.answer = () => { resolve(api(request)); }; }) : api(request),
  );
  renderApp('/experiments/default/checkout-test');
  await userEvent.click(await screen.findByRole('button', { name: 'Analyse now' }));
  expect(await screen.findByRole('button', { name: 'Analysing…' })).toBeDisabled();
  await waitFor(() => { expect(held.answer).toBeDefined(); });
  held.answer?.();
  expect(await screen.findByText('Analysed checkout-test: 2,000 users')).toBeInTheDocument();
  expect(await screen.findByText('No treatment differs from off on purchases yet.')).toBeInTheDocument();
  expect(sent(received, 'RunAnalysis').map((r) => r.variables)).toEqual([{ flagSet: 'default', key: 'checkout-test' }]);
  expect(screen.getByRole('img', { name: /^purchases: relative lift over control across 3 analyses/ })).toBeInTheDocument();
});

test('a refused analysis is a notice with the server’s message and code', async () => {
  server.mutations.RunAnalysis = () => ({ body: errorBody('the analysis failed: the store is away', 'ANALYSIS_FAILED') });
  mockApi(experimentsApi(server));
  renderApp('/experiments/default/checkout-test');
  await userEvent.click(await screen.findByRole('button', { name: 'Analyse now' }));
  expect(await screen.findByText('checkout-test was not analysed: the analysis failed: the store is away (ANALYSIS_FAILED)')).toBeInTheDocument();
  expect(screen.getByRole('button', { name: 'Analyse now' })).toBeEnabled();
});

test('stopping asks first, then stops', async () => {
  server.mutations.StopExperiment = () => {
    checkout.status = 'STOPPED';
    checkout.stoppedAt = '2026-12-07T12:00:00Z';
    return { body: { data: { stopExperiment: experimentAnswer(checkout) } } };
  };
  const received = mockApi(experimentsApi(server));
  renderApp('/experiments/default/checkout-test');
  await userEvent.click(await screen.findByRole('button', { name: 'Stop experiment' }));
  const dialog = screen.getByRole('dialog', { name: 'Stop checkout-test?' });
  expect(dialog).toHaveTextContent('A stopped experiment cannot be started again.');
  await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
  expect(sent(received, 'StopExperiment')).toEqual([]);

  await userEvent.click(screen.getByRole('button', { name: 'Stop experiment' }));
  await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Stop experiment' }));
  expect(await screen.findByText('Stopped checkout-test')).toBeInTheDocument();
  expect(sent(received, 'StopExperiment').map((r) => r.variables)).toEqual([{ flagSet: 'default', key: 'checkout-test' }]);
  expect(await screen.findByText('Stopped', { selector: '.status' })).toBeInTheDocument();
  expect(screen.queryByRole('button', { name: 'Stop experiment' })).not.toBeInTheDocument();
  // A stopped experiment can still be analysed.
  expect(screen.getByRole('button', { name: 'Analyse now' })).toBeEnabled();
});

test('a draft says it records nothing yet, and starts', async () => {
  checkout.status = 'DRAFT';
  checkout.startedAt = null;
  checkout.results = [];
  server.mutations.StartExperiment = () => {
    checkout.status = 'RUNNING';
    checkout.startedAt = '2026-12-07T12:00:00Z';
    return { body: { data: { startExperiment: experimentAnswer(checkout) } } };
  };
  const received = mockApi(experimentsApi(server));
  renderApp('/experiments/default/checkout-test');
  expect(await screen.findByText('Not started: nothing is recorded until the experiment starts.')).toBeInTheDocument();
  expect(screen.queryByRole('button', { name: 'Analyse now' })).not.toBeInTheDocument();
  expect(screen.getByRole('link', { name: 'Edit draft' })).toHaveAttribute('href', '/new-experiment/default?draft=checkout-test');
  await userEvent.click(screen.getByRole('button', { name: 'Start experiment' }));
  expect(await screen.findByText('Started checkout-test: exposures of new-checkout are recorded from now on')).toBeInTheDocument();
  expect(sent(received, 'StartExperiment')).toHaveLength(1);
  expect(await screen.findByText(/^No analysis yet\./)).toBeInTheDocument();
  expect(screen.getByRole('button', { name: 'Analyse now' })).toBeInTheDocument();
});

test('a refused start is a notice that stays', async () => {
  checkout.status = 'DRAFT';
  checkout.results = [];
  server.mutations.StartExperiment = () => ({
    body: errorBody('flag "new-checkout" has no fractional split with constant weights for the experiment to read', 'INVALID_INPUT'),
  });
  mockApi(experimentsApi(server));
  renderApp('/experiments/default/checkout-test');
  await userEvent.click(await screen.findByRole('button', { name: 'Start experiment' }));
  expect(
    await screen.findByText('checkout-test was not started: flag "new-checkout" has no fractional split with constant weights for the experiment to read (INVALID_INPUT)'),
  ).toBeInTheDocument();
  expect(screen.getByText('Draft', { selector: '.status' })).toBeInTheDocument();
});

test('viewers read the results, with every action disabled and the reason', async () => {
  server.role = 'viewer';
  mockApi(experimentsApi(server));
  renderApp('/experiments/default/checkout-test');
  await screen.findByRole('region', { name: 'Verdict' });
  for (const name of ['Stop experiment', 'Analyse now']) {
    const button = await screen.findByRole('button', { name });
    await waitFor(() => { expect(button).toBeDisabled(); });
    expect(button).toHaveAccessibleDescription('Viewers cannot change flags');
  }
});

test('an unknown experiment is said so, with the server’s code', async () => {
  mockApi(experimentsApi(server));
  renderApp('/experiments/default/nope');
  expect(await screen.findByRole('alert')).toHaveTextContent('The experiment could not be loaded: experiment "nope" not found in flag set "default" EXPERIMENT_NOT_FOUND');
});
