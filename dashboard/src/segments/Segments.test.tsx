// The segment screens: the list, creating a segment, editing its rule with
// the version read, deleting it, and the server's refusals (a rule that
// would break a flag, a segment still used, a stale version, a `$ref`)
// shown with their message, code, flags and findings.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test } from 'vitest';

import { type Received, FakeSocket, errorBody, mockApi, renderApp } from '../test/harness';
import { type FakeSegmentServer, segment, segmentData, segmentsApi } from '../test/segments';

let server: FakeSegmentServer;

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  server = {
    role: 'editor',
    name: 'ann',
    flags: [],
    mutations: {},
    segments: [
      segment('beta_testers', { in: [{ var: 'email' }, ['ada@example.com', 'grace@example.com']] }, { version: 3 }),
      segment('staff', { ends_with: [{ var: 'email' }, '@example.com'] }),
    ],
  };
});
afterEach(() => {
  FakeSocket.reset();
});

const sent = (received: Received[], name: string) => received.filter((r) => r.operationName === name).map((r) => r.variables);

/** A refusal carrying the compiler's findings, as the admin API sends it. */
function refusal(message: string, code: string, diagnostics: unknown[]) {
  return { errors: [{ message, extensions: { code, diagnostics } }] };
}

/** What the compiler says of a flag whose `$ref` names a segment that is gone. */
const unknownRef = (flag: string) => ({
  severity: 'error',
  flagKey: flag,
  pointer: `/flags/${flag}/targeting/if/0`,
  message: '"$ref" names unknown evaluator "staff"',
});

test('the list shows each segment’s rule, version and change, linking to its editor', async () => {
  mockApi(segmentsApi(server));
  renderApp('/segments/default');

  expect(await screen.findByRole('heading', { name: 'Segments', level: 1 })).toBeInTheDocument();
  const rows = await screen.findAllByRole('row');
  expect(rows).toHaveLength(3);
  const staff = within(rows[2] as HTMLElement);
  expect(staff.getByRole('link', { name: 'staff' })).toHaveAttribute('href', '/segments/default/staff');
  expect(staff.getByText('{"ends_with":[{"var":"email"},"@example.com"]}')).toBeInTheDocument();
  expect(within(rows[1] as HTMLElement).getByRole('cell', { name: '3' })).toBeInTheDocument();
  expect(screen.getByText('2 segments')).toBeInTheDocument();
  expect(screen.getByRole('link', { name: 'New segment' })).toHaveAttribute('href', '/new-segment/default');
  // The main navigation keeps the flag set.
  expect(within(screen.getByRole('navigation', { name: 'Main' })).getByRole('link', { name: 'Flags' })).toHaveAttribute(
    'href',
    '/flags/default',
  );
});

test('a flag set without segments says so; the section without a flag set opens on default', async () => {
  server.segments = [];
  mockApi(segmentsApi(server));
  renderApp('/segments');
  expect(await screen.findByText('Flag set default has no segments yet.')).toBeInTheDocument();
  expect(window.location.pathname).toBe('/segments/default');
});

test('a segment created in a flag set that had none shows in its list', async () => {
  server.segments = [];
  server.mutations.CreateSegment = (request) => {
    const created = segment(String(request.variables.key), request.variables.definition);
    server.segments.push(created);
    return { body: { data: { createSegment: segmentData(created) } } };
  };
  mockApi(segmentsApi(server));
  renderApp('/segments/default');
  expect(await screen.findByText('Flag set default has no segments yet.')).toBeInTheDocument();
  await userEvent.click(screen.getByRole('link', { name: 'New segment' }));
  await userEvent.type(await screen.findByLabelText('Key'), 'everyone');
  await userEvent.click(screen.getByRole('button', { name: 'Create segment' }));
  await userEvent.click(await screen.findByRole('link', { name: '← Segments of default' }));
  expect(await screen.findByRole('link', { name: 'everyone' })).toBeInTheDocument();
  expect(screen.getByText('1 segment')).toBeInTheDocument();
});

test('a segment is created with its key and rule, and opens in its editor', async () => {
  server.mutations.CreateSegment = (request) => {
    const created = segment(String(request.variables.key), request.variables.definition);
    server.segments.push(created);
    return { body: { data: { createSegment: segmentData(created) } } };
  };
  const received = mockApi(segmentsApi(server));
  renderApp('/segments/default');
  await userEvent.click(await screen.findByRole('link', { name: 'New segment' }));
  expect(await screen.findByRole('heading', { name: 'New segment in default' })).toBeInTheDocument();

  await userEvent.click(screen.getByRole('button', { name: 'Create segment' }));
  expect(screen.getByLabelText('Key')).toBeInvalid();
  expect(screen.getByLabelText('Key')).toHaveAccessibleDescription(/^A segment needs a key\./);
  expect(sent(received, 'CreateSegment')).toEqual([]);

  await userEvent.type(screen.getByLabelText('Key'), 'pro users');
  const rule = screen.getByLabelText('Rule (JSONLogic)');
  await userEvent.clear(rule);
  await userEvent.click(rule);
  await userEvent.paste('{"==": [{"var": "plan"}, "pro"]}');
  await userEvent.click(screen.getByRole('button', { name: 'Create segment' }));

  await waitFor(() => { expect(window.location.pathname).toBe('/segments/default/pro%20users'); });
  expect(sent(received, 'CreateSegment')).toEqual([
    { flagSet: 'default', key: 'pro users', definition: { '==': [{ var: 'plan' }, 'pro'] } },
  ]);
  expect(await screen.findByRole('heading', { name: 'pro users', level: 1 })).toBeInTheDocument();
  expect(screen.getByText('Created segment pro users in default (version 1)')).toBeInTheDocument();
});

test('a rule that is not JSON is located and not sent', async () => {
  const received = mockApi(segmentsApi(server));
  renderApp('/new-segment/default');
  await userEvent.type(await screen.findByLabelText('Key'), 'broken');
  const rule = screen.getByLabelText('Rule (JSONLogic)');
  await userEvent.clear(rule);
  await userEvent.click(rule);
  await userEvent.paste('{"in": [');
  expect(screen.getByRole('list', { name: 'JSON syntax errors' })).toHaveTextContent('line 1');
  expect(screen.getByRole('button', { name: 'Create segment' })).toBeDisabled();
  expect(screen.getByRole('button', { name: 'Create segment' })).toHaveAccessibleDescription('Fix the JSON first');
  expect(sent(received, 'CreateSegment')).toEqual([]);
});

test('a segment that uses another is refused, with the finding beside its line', async () => {
  server.mutations.CreateSegment = () => ({
    body: refusal(
      'segment "admins" may not refer to another segment: error at /$evaluators/admins/and/1: a shared evaluator (segment) that refers to another ($ref) is not supported by flagd',
      'SEGMENT_REF',
      [
        {
          severity: 'error',
          flagKey: null,
          pointer: '/$evaluators/admins/and/1',
          message: 'a shared evaluator (segment) that refers to another ($ref) is not supported by flagd',
        },
      ],
    ),
  });
  mockApi(segmentsApi(server));
  renderApp('/new-segment/default');
  await userEvent.type(await screen.findByLabelText('Key'), 'admins');
  const rule = screen.getByLabelText('Rule (JSONLogic)');
  await userEvent.clear(rule);
  await userEvent.click(rule);
  await userEvent.paste('{\n  "and": [\n    {"==": [{"var": "role"}, "admin"]},\n    {"$ref": "staff"}\n  ]\n}');
  await userEvent.click(screen.getByRole('button', { name: 'Create segment' }));

  expect(await screen.findByRole('alert')).toHaveTextContent(
    'The segment was not created: segment "admins" may not refer to another segment',
  );
  expect(screen.getByRole('alert')).toHaveTextContent('SEGMENT_REF');
  expect(screen.getByText('A segment cannot use another segment ($ref): write that rule here instead.')).toBeInTheDocument();
  const findings = screen.getByRole('list', { name: 'Why the server refused it' });
  // The finding points at the `$ref` on line 4 of the text.
  expect(within(findings).getByRole('button', { name: 'line 4' })).toBeInTheDocument();
  expect(rule).toBeInvalid();
  expect(window.location.pathname).toBe('/new-segment/default');
});

test('a rule is saved with the version read', async () => {
  server.mutations.UpdateSegment = (request) => {
    const [current] = server.segments;
    if (!current) throw new Error('no segment');
    const updated = { ...current, definition: request.variables.definition, version: current.version + 1 };
    server.segments[0] = updated;
    return { body: { data: { updateSegment: segmentData(updated) } } };
  };
  const received = mockApi(segmentsApi(server));
  renderApp('/segments/default/beta_testers');
  const rule = await screen.findByLabelText('Rule (JSONLogic)');
  expect(rule).toHaveValue(JSON.stringify(server.segments[0]?.definition, null, 2));
  expect(screen.getByRole('button', { name: 'Save rule' })).toHaveAccessibleDescription('Nothing changed yet');

  await userEvent.clear(rule);
  await userEvent.click(rule);
  await userEvent.paste('{"in": [{"var": "email"}, ["ada@example.com"]]}');
  await userEvent.click(screen.getByRole('button', { name: 'Save rule' }));

  expect(await screen.findByText('Saved: the segment is now at version 4.')).toBeInTheDocument();
  expect(sent(received, 'UpdateSegment')).toEqual([
    {
      flagSet: 'default',
      key: 'beta_testers',
      expectedVersion: 3,
      definition: { in: [{ var: 'email' }, ['ada@example.com']] },
    },
  ]);
});

test('a rule that would break a flag using it is refused, naming the flag', async () => {
  server.mutations.UpdateSegment = () => ({
    body: refusal(
      'invalid definition of "staff": error: flag "new-checkout": /flags/new-checkout/targeting/if/0/$ref/shout: unknown operator "shout"',
      'INVALID_DEFINITION',
      [
        {
          severity: 'error',
          flagKey: 'new-checkout',
          pointer: '/flags/new-checkout/targeting/if/0/$ref/shout',
          message: 'unknown operator "shout"',
        },
      ],
    ),
  });
  mockApi(segmentsApi(server));
  renderApp('/segments/default/staff');
  const rule = await screen.findByLabelText('Rule (JSONLogic)');
  await userEvent.clear(rule);
  await userEvent.click(rule);
  await userEvent.paste('{\n  "shout": [{"var": "email"}]\n}');
  await userEvent.click(screen.getByRole('button', { name: 'Save rule' }));

  expect(await screen.findByRole('alert')).toHaveTextContent('Not saved: invalid definition of "staff"');
  expect(screen.getByRole('alert')).toHaveTextContent('INVALID_DEFINITION');
  expect(
    screen.getByText('With this rule, flags that use the segment would no longer compile: nothing was saved.'),
  ).toBeInTheDocument();
  expect(screen.getByRole('link', { name: 'new-checkout' })).toHaveAttribute('href', '/flags/default/new-checkout/targeting');
  // The finding points through the flag's `$ref` at the rule's line 2.
  const findings = screen.getByRole('list', { name: 'Why the server refused it' });
  expect(findings).toHaveTextContent('line 2: unknown operator "shout"');
  expect(within(findings).getByRole('button', { name: 'line 2' })).toBeInTheDocument();
  // The same text cannot be sent again; a change can.
  expect(screen.getByRole('button', { name: 'Save rule' })).toHaveAccessibleDescription(
    'The server refused this rule: change it first',
  );
  await userEvent.type(rule, ' ');
  expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  expect(screen.getByRole('button', { name: 'Save rule' })).toBeEnabled();
});

test('a save over a newer version keeps the edit beside the segment as it is now', async () => {
  let calls = 0;
  server.mutations.UpdateSegment = (request) => {
    calls += 1;
    if (calls === 1) {
      // Someone else saved version 2 first.
      server.segments[1] = segment('staff', { ends_with: [{ var: 'email' }, '@example.org'] }, { version: 2 });
      return { body: errorBody('segment "staff" is at version 2, not 1: reload it and retry', 'VERSION_CONFLICT') };
    }
    const updated = segment('staff', request.variables.definition, { version: 3 });
    server.segments[1] = updated;
    return { body: { data: { updateSegment: segmentData(updated) } } };
  };
  const received = mockApi(segmentsApi(server));
  renderApp('/segments/default/staff');
  const rule = await screen.findByLabelText('Rule (JSONLogic)');
  await userEvent.clear(rule);
  await userEvent.click(rule);
  await userEvent.paste('{"ends_with": [{"var": "email"}, "@example.net"]}');
  await userEvent.click(screen.getByRole('button', { name: 'Save rule' }));

  expect(await screen.findByRole('alert')).toHaveTextContent('VERSION_CONFLICT');
  expect(await screen.findByText(/Now \(version 2/)).toBeInTheDocument();
  expect(screen.getByText(/@example\.org/, { selector: 'pre' })).toBeInTheDocument();
  expect(screen.getByText(/@example\.net/, { selector: 'pre' })).toBeInTheDocument();
  expect(rule).toHaveValue('{"ends_with": [{"var": "email"}, "@example.net"]}');

  await userEvent.click(screen.getByRole('button', { name: 'Save my edit over version 2' }));
  expect(await screen.findByText('Saved: the segment is now at version 3.')).toBeInTheDocument();
  expect(sent(received, 'UpdateSegment').map((v) => v.expectedVersion)).toEqual([1, 2]);
});

test('deleting a segment a flag still uses is refused, naming the flags', async () => {
  server.mutations.DeleteSegment = () => ({
    body: refusal(
      'invalid definition of "staff": error: flag "new-checkout": /flags/new-checkout/targeting/if/0: "$ref" names unknown evaluator "staff" (and 1 more)',
      'INVALID_DEFINITION',
      [unknownRef('new-checkout'), unknownRef('beta-dashboard')],
    ),
  });
  const received = mockApi(segmentsApi(server));
  renderApp('/segments/default/staff');
  await userEvent.click(await screen.findByRole('button', { name: 'Delete segment' }));
  const dialog = screen.getByRole('dialog', { name: 'Delete segment staff?' });
  await userEvent.click(within(dialog).getByRole('button', { name: 'Delete segment' }));

  expect(await screen.findByRole('alert')).toHaveTextContent('Not deleted: invalid definition of "staff"');
  expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  expect(
    screen.getByText(/Flags still use this segment through \{"\$ref": "staff"\}: take it out of their targeting first/),
  ).toBeInTheDocument();
  const flags = screen.getByRole('heading', { name: 'Flags that use it' }).nextElementSibling as HTMLElement;
  expect(within(flags).getAllByRole('link').map((a) => a.textContent)).toEqual(['new-checkout', 'beta-dashboard']);
  expect(screen.getByRole('list', { name: 'Why the server refused to delete it' })).toHaveTextContent(
    '/flags/beta-dashboard/targeting/if/0: "$ref" names unknown evaluator "staff"',
  );
  expect(sent(received, 'DeleteSegment')).toEqual([{ flagSet: 'default', key: 'staff', expectedVersion: 1 }]);
  expect(window.location.pathname).toBe('/segments/default/staff');
});

test('a segment no flag uses is deleted, confirmed, and the list shows without it', async () => {
  server.mutations.DeleteSegment = (request) => {
    const gone = server.segments.find((s) => s.key === request.variables.key);
    server.segments = server.segments.filter((s) => s !== gone);
    if (!gone) throw new Error('no segment');
    return { body: { data: { deleteSegment: segmentData(gone) } } };
  };
  mockApi(segmentsApi(server));
  renderApp('/segments/default/staff');
  await userEvent.click(await screen.findByRole('button', { name: 'Delete segment' }));
  const dialog = screen.getByRole('dialog', { name: 'Delete segment staff?' });
  expect(dialog).toHaveTextContent('Segment staff (version 1) is removed from flag set default.');
  await userEvent.click(within(dialog).getByRole('button', { name: 'Delete segment' }));

  await waitFor(() => { expect(window.location.pathname).toBe('/segments/default'); });
  expect(await screen.findByText('Deleted segment staff from default')).toBeInTheDocument();
  await waitFor(() => { expect(screen.queryByRole('link', { name: 'staff' })).not.toBeInTheDocument(); });
  expect(screen.getByRole('link', { name: 'beta_testers' })).toBeInTheDocument();
});

test('a viewer reads segments, and every control that changes one is disabled with the reason', async () => {
  server.role = 'viewer';
  mockApi(segmentsApi(server));
  renderApp('/segments/default');
  const create = await screen.findByRole('button', { name: 'New segment' });
  expect(create).toBeDisabled();
  expect(create).toHaveAccessibleDescription('Viewers cannot change flags');

  await userEvent.click(await screen.findByRole('link', { name: 'staff' }));
  const rule = await screen.findByLabelText('Rule (JSONLogic)');
  expect(rule).toHaveAttribute('readonly');
  expect(screen.getByRole('button', { name: 'Save rule' })).toBeDisabled();
  expect(screen.getByRole('button', { name: 'Delete segment' })).toBeDisabled();
  expect(screen.getByRole('button', { name: 'Delete segment' })).toHaveAccessibleDescription('Viewers cannot change flags');
});

test('an unknown segment says so', async () => {
  mockApi(segmentsApi(server));
  renderApp('/segments/default/nobody');
  expect(await screen.findByText('Flag set default has no segment nobody. It may have been deleted.')).toBeInTheDocument();
});
