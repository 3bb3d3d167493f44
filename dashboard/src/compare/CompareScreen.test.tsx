// The comparison of two flag sets: the pickers and filter in the address,
// what differs marked and named, the definitions and the change promoting
// would make, the promotion with both versions read (confirmed, then the
// comparison read again), its refusals, and who may promote.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test } from 'vitest';

import { flag } from '../test/flags';
import { type Received, FakeSocket, errorBody, mockApi, renderApp } from '../test/harness';
import { type FakeCompared, type FakeOps, opsApi } from '../test/ops';
import './CompareScreen';

let server: FakeOps;
let comparison: FakeCompared[];

const variants = { plain: 'Welcome', bold: 'WELCOME!' };
const side = (flagSet: string, key: string, version: number, defaultVariant: string): NonNullable<FakeCompared['from']> => ({
  flagSet,
  key,
  version,
  state: 'ENABLED',
  definition: { state: 'ENABLED', variants, defaultVariant },
  clientVisible: false,
  archived: false,
  updatedAt: '2026-12-07T10:00:00Z',
});

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  comparison = [
    { key: 'banner', differences: ['defaultVariant'], from: side('default', 'banner', 3, 'bold'), to: side('mobile', 'banner', 5, 'plain') },
    { key: 'footer', differences: [], from: side('default', 'footer', 1, 'plain'), to: side('mobile', 'footer', 1, 'plain') },
    { key: 'new-search', differences: ['state', 'variants', 'defaultVariant', 'clientVisible', 'archived'], from: side('default', 'new-search', 2, 'bold'), to: null },
    { key: 'old-promo', differences: ['state', 'variants', 'defaultVariant', 'clientVisible', 'archived'], from: null, to: side('mobile', 'old-promo', 4, 'plain') },
  ];
  server = {
    role: 'editor',
    name: 'ann',
    flags: [flag('new-checkout')],
    mutations: {},
    fractional: null,
    segments: [],
    rollouts: [],
    alerts: [],
    webhooks: [],
    compare: () => comparison,
  };
});
afterEach(() => {
  FakeSocket.reset();
});

/** The comparison's rows by flag key, as their cells' text. */
async function rows(): Promise<Record<string, string[]>> {
  const table = await screen.findByRole('table', { name: 'Flags of default and mobile, by key' });
  const result: Record<string, string[]> = {};
  for (const row of within(table).getAllByRole('row').slice(1)) {
    const header = within(row).queryByRole('rowheader');
    if (header?.textContent) result[header.textContent] = within(row).getAllByRole('cell').map((c) => c.textContent);
  }
  return result;
}

/** Answers promoteFlag: the target takes the source's definition. */
function promote(request: Received) {
  const v = request.variables;
  const found = comparison.find((c) => c.key === v.key);
  if (!found?.from) throw new Error('nothing to promote');
  const promoted = { ...found.from, flagSet: 'mobile', version: (found.to?.version ?? 0) + 1 };
  comparison = comparison.map((c) => (c.key === v.key ? { ...c, differences: [], to: promoted } : c));
  return { body: { data: { promoteFlag: { __typename: 'Flag', ...promoted } } } };
}

test('what differs is listed and named; identical flags only on request', async () => {
  const received = mockApi(opsApi(server));
  renderApp('/compare?from=default&to=mobile');
  expect(await screen.findByText('4 flags: 1 differ, 1 only in default, 1 only in mobile, 1 identical.')).toBeInTheDocument();
  expect(await rows()).toEqual({
    banner: ['version 3 ENABLED', 'version 5 ENABLED', 'default variant', 'ShowPromote'],
    'new-search': ['version 2 ENABLED', 'not in mobile', 'not in mobile', 'ShowPromote'],
    'old-promo': ['not in default', 'version 4 ENABLED', 'not in default', 'Show'],
  });
  expect(received.find((r) => r.operationName === 'CompareFlagSets')?.variables).toEqual({ from: 'default', to: 'mobile' });
  expect(screen.getByText(/1 identical flag is not listed\./)).toBeInTheDocument();

  await userEvent.click(screen.getByLabelText('Only differences'));
  expect(window.location.search).toBe('?from=default&to=mobile&all=1');
  await waitFor(async () => { expect(Object.keys(await rows())).toEqual(['banner', 'footer', 'new-search', 'old-promo']); });
  expect((await rows()).footer).toEqual(['version 1 ENABLED', 'version 1 ENABLED', 'identical', 'Show']);
});

test('a flag opens onto the change promoting it would make and both definitions', async () => {
  mockApi(opsApi(server));
  renderApp('/compare?from=default&to=mobile');
  const show = await screen.findByRole('button', { name: 'Show the definitions of banner' });
  expect(show).toHaveAttribute('aria-expanded', 'false');
  await userEvent.click(show);
  const diff = screen.getByRole('group', { name: 'Changes promoting banner would make' });
  expect(within(diff).getByRole('deletion')).toHaveTextContent('"plain"');
  expect(within(diff).getByRole('insertion')).toHaveTextContent('"bold"');
  expect(screen.getByRole('region', { name: 'banner in default' })).toHaveTextContent('"defaultVariant": "bold"');
  expect(screen.getByRole('region', { name: 'banner in mobile' })).toHaveTextContent('"defaultVariant": "plain"');
  await userEvent.click(screen.getByRole('button', { name: 'Hide the definitions of banner' }));
  expect(screen.queryByRole('group', { name: 'Changes promoting banner would make' })).not.toBeInTheDocument();
});

test('promoting, confirmed, sends both versions read and reads the comparison again', async () => {
  server.mutations.PromoteFlag = promote;
  const received = mockApi(opsApi(server));
  renderApp('/compare?from=default&to=mobile');
  await userEvent.click(await screen.findByRole('button', { name: 'Promote banner to mobile' }));
  const dialog = screen.getByRole('dialog', { name: 'Promote banner to mobile?' });
  expect(dialog).toHaveTextContent('from default (version 3) into mobile, replacing its version 5');
  expect(dialog).toHaveTextContent('Changes: default variant.');
  await userEvent.click(within(dialog).getByRole('button', { name: 'Promote' }));
  expect(await screen.findByText('Promoted banner to mobile: version 6')).toBeInTheDocument();
  expect(received.filter((r) => r.operationName === 'PromoteFlag').map((r) => r.variables)).toEqual([
    { from: 'default', to: 'mobile', key: 'banner', fromVersion: 3, expectedVersion: 5 },
  ]);
  await waitFor(() => { expect(screen.getByText('4 flags: 0 differ, 1 only in default, 1 only in mobile, 2 identical.')).toBeInTheDocument(); });
  expect(received.filter((r) => r.operationName === 'CompareFlagSets').length).toBeGreaterThan(1);
});

test('a flag the target lacks is created: no version is expected', async () => {
  server.mutations.PromoteFlag = promote;
  const received = mockApi(opsApi(server));
  renderApp('/compare?from=default&to=mobile');
  await userEvent.click(await screen.findByRole('button', { name: 'Promote new-search to mobile' }));
  expect(screen.getByRole('dialog')).toHaveTextContent('into mobile, where it is created');
  await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Promote' }));
  await screen.findByText('Promoted new-search to mobile: version 1');
  expect(received.filter((r) => r.operationName === 'PromoteFlag').map((r) => r.variables.expectedVersion)).toEqual([null]);
});

test('a conflict or a definition the target refuses is shown in the dialog with the server’s message', async () => {
  server.mutations.PromoteFlag = (request) =>
    request.variables.key === 'banner'
      ? { body: errorBody('flag "banner" is at version 6, not 5: reload it and retry', 'VERSION_CONFLICT') }
      : {
          body: {
            errors: [
              {
                message: 'invalid definition of "new-search"',
                extensions: {
                  code: 'INVALID_DEFINITION',
                  diagnostics: [{ severity: 'error', flagKey: 'new-search', pointer: '/flags/new-search/targeting/if/0/$ref', message: '"$ref" names unknown evaluator "staff"' }],
                },
              },
            ],
          },
        };
  const received = mockApi(opsApi(server));
  renderApp('/compare?from=default&to=mobile');
  await userEvent.click(await screen.findByRole('button', { name: 'Promote banner to mobile' }));
  await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Promote' }));
  const dialog = screen.getByRole('dialog');
  expect(await within(dialog).findByRole('alert')).toHaveTextContent(
    'It failed: flag "banner" is at version 6, not 5: reload it and retry VERSION_CONFLICT',
  );
  expect(dialog).toHaveTextContent('The comparison has been read again');
  await waitFor(() => { expect(received.filter((r) => r.operationName === 'CompareFlagSets').length).toBeGreaterThan(1); });
  await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));

  await userEvent.click(screen.getByRole('button', { name: 'Promote new-search to mobile' }));
  await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Promote' }));
  expect(await within(screen.getByRole('dialog')).findByRole('alert')).toHaveTextContent('invalid definition of "new-search" INVALID_DEFINITION');
  expect(within(screen.getByRole('dialog')).getByRole('list', { name: 'Why mobile refused it' })).toHaveTextContent(
    'error /flags/new-search/targeting/if/0/$ref: "$ref" names unknown evaluator "staff"',
  );
});

test('the pickers put the flag sets in the address; one flag set against itself is refused', async () => {
  mockApi(opsApi(server));
  renderApp('/compare');
  expect(await screen.findByText('Choose the flag set to promote from and the one to promote to.')).toBeInTheDocument();
  await userEvent.selectOptions(await screen.findByLabelText('From'), 'default');
  await userEvent.selectOptions(screen.getByLabelText('To'), 'default');
  expect(window.location.search).toBe('?from=default&to=default');
  expect(screen.getByText('Choose two different flag sets.')).toBeInTheDocument();
  await userEvent.selectOptions(screen.getByLabelText('To'), 'mobile');
  await userEvent.click(screen.getByRole('button', { name: 'Swap' }));
  expect(window.location.search).toBe('?from=mobile&to=default');
});

test('viewers see why they cannot promote', async () => {
  server.role = 'viewer';
  mockApi(opsApi(server));
  renderApp('/compare?from=default&to=mobile');
  const button = await screen.findByRole('button', { name: 'Promote banner to mobile' });
  expect(button).toBeDisabled();
  expect(button).toHaveAccessibleDescription('Viewers cannot change flags');
});
