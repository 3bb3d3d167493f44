// The audit log: every change newest first, filters kept in the URL and
// sent to the server, paging, the link to a flag's history, the diff of
// a row, out-of-band changes, and the server's errors.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test } from 'vitest';

import { type AuditServer, auditApi, created, event } from '../test/audit';
import { flag } from '../test/flags';
import { FakeSocket, errorBody, mockApi, renderApp } from '../test/harness';
import { AUDIT_PAGE_SIZE } from './AuditLog';
import { toLocalInput } from './auditParams';

let server: AuditServer;

beforeEach(() => {
  sessionStorage.setItem('ensign.token', 'ens_adm_test');
  server = {
    role: 'viewer',
    name: 'vic',
    flags: [flag('new-checkout')],
    mutations: {},
    events: [
      created(1, { actor: 'ensign-server' }),
      event(2, { actor: 'ann', requestId: 'req-7' }),
      event(3, { subjectKind: 'segment', subjectKey: 'staff', actor: 'bob', before: { in: ['a'] }, after: { in: ['a', 'b'] }, diff: [{ op: 'add', path: '/in/1', value: 'b' }] }),
      event(4, { flagSet: 'mobile', subjectKey: 'dark-mode', actor: 'postgres', outOfBand: true, diff: null }),
    ],
    segments: [],
    evaluate: () => ({ body: errorBody('not expected', 'TEST') }),
  };
});
afterEach(() => {
  FakeSocket.reset();
});

/** The rows of the audit table (one per change), as their cells' text. */
async function rows(): Promise<string[][]> {
  const table = await screen.findByRole('table');
  await waitFor(() => { expect(within(table).getAllByRole('row').length).toBeGreaterThan(1); });
  return within(table)
    .getAllByRole('row')
    .slice(1)
    .filter((row) => !row.hidden)
    .map((row) => within(row).getAllByRole('cell').map((cell) => cell.textContent));
}

test('every change is listed newest first, with a link to a flag’s history', async () => {
  const received = mockApi(auditApi(server));
  renderApp('/audit');
  const listed = await rows();
  expect(listed.map((cells) => cells.slice(1, 6))).toEqual([
    ['postgres', 'updated out of band (changed by hand in SQL, outside Ensign)', 'mobile / dark-mode', '4', ''],
    ['bob', 'updated', 'segment staff in default', '3', ''],
    ['ann', 'updated', 'default / new-checkout', '2', 'req-7'],
    ['ensign-server', 'created', 'default / new-checkout', '1', ''],
  ]);
  expect(received.find((r) => r.operationName === 'AuditLog')?.variables).toEqual({
    filter: { actor: null, flagSet: null, flag: null, since: null, until: null, beforeId: null, first: AUDIT_PAGE_SIZE },
  });
  expect(screen.getAllByRole('rowgroup').filter((g) => g.classList.contains('out-of-band'))).toHaveLength(1);
  const link = screen.getByRole('link', { name: 'History of flag dark-mode in mobile' });
  expect(link).toHaveAttribute('href', '/flags/mobile/dark-mode/history');
  expect(screen.getByRole('link', { name: 'Audit log' })).toBeInTheDocument();
});

test('a row opens onto the diff of its change', async () => {
  mockApi(auditApi(server));
  renderApp('/audit');
  await rows();
  const show = screen.getByRole('button', { name: 'Show the change to segment staff (version 3)' });
  expect(show).toHaveAttribute('aria-expanded', 'false');
  await userEvent.click(show);
  const hide = screen.getByRole('button', { name: 'Hide the change to segment staff (version 3)' });
  expect(hide).toHaveAttribute('aria-expanded', 'true');
  const diff = screen.getByRole('group', { name: 'Change 3' });
  expect(within(diff).getByRole('insertion')).toHaveTextContent('"b"');
  expect(within(diff).getByText('added')).toBeInTheDocument();
  await userEvent.click(hide);
  expect(screen.queryByRole('group', { name: 'Change 3' })).not.toBeInTheDocument();
});

test('filters in the address are shown and sent', async () => {
  const received = mockApi(auditApi(server));
  renderApp('/audit?actor=ann&flagSet=default&since=2026-11-01T00:00:00Z&until=2026-12-31T00:00:00Z');
  expect(await rows()).toHaveLength(1);
  expect(received.find((r) => r.operationName === 'AuditLog')?.variables).toEqual({
    filter: {
      actor: 'ann',
      flagSet: 'default',
      flag: null,
      since: '2026-11-01T00:00:00Z',
      until: '2026-12-31T00:00:00Z',
      beforeId: null,
      first: AUDIT_PAGE_SIZE,
    },
  });
  const form = screen.getByRole('form', { name: 'Audit log filters' });
  expect(within(form).getByRole('textbox', { name: 'Actor' })).toHaveValue('ann');
  await waitFor(() => { expect(within(form).getByRole('combobox', { name: 'Flag set' })).toHaveValue('default'); });
  expect(within(form).getByLabelText('Since')).toHaveValue(toLocalInput('2026-11-01T00:00:00Z'));
});

test('applying filters puts them in the address and reloads; clearing removes them', async () => {
  const received = mockApi(auditApi(server));
  renderApp('/audit');
  await rows();
  const form = screen.getByRole('form', { name: 'Audit log filters' });
  await userEvent.type(within(form).getByRole('textbox', { name: 'Flag' }), 'new-checkout');
  await userEvent.type(within(form).getByRole('textbox', { name: 'Actor' }), 'ensign-server');
  await userEvent.click(within(form).getByRole('button', { name: 'Apply filters' }));
  await waitFor(() => { expect(window.location.search).toBe('?actor=ensign-server&flag=new-checkout'); });
  await waitFor(async () => { expect(await rows()).toHaveLength(1); });
  expect(received.filter((r) => r.operationName === 'AuditLog').at(-1)?.variables).toMatchObject({
    filter: { actor: 'ensign-server', flag: 'new-checkout', flagSet: null },
  });

  await userEvent.click(screen.getByRole('button', { name: 'Clear' }));
  await waitFor(() => { expect(window.location.search).toBe(''); });
  await waitFor(async () => { expect(await rows()).toHaveLength(4); });
  expect(screen.getByRole('textbox', { name: 'Actor' })).toHaveValue('');
});

test('a time range that cannot match is refused before anything is sent', async () => {
  const received = mockApi(auditApi(server));
  renderApp('/audit');
  await rows();
  const loads = received.length;
  const form = screen.getByRole('form', { name: 'Audit log filters' });
  await userEvent.type(within(form).getByLabelText('Since'), '2026-12-02T10:00:00');
  await userEvent.type(within(form).getByLabelText('Until'), '2026-12-01T10:00:00');
  await userEvent.click(within(form).getByRole('button', { name: 'Apply filters' }));
  expect(within(form).getByRole('alert')).toHaveTextContent('“Since” must be earlier than “Until”: no change could match');
  expect(within(form).getByLabelText('Since')).toHaveAttribute('aria-invalid', 'true');
  expect(window.location.search).toBe('');
  expect(received.length).toBe(loads);
});

test('a time in the address that is not RFC 3339 is reported and not applied', async () => {
  const received = mockApi(auditApi(server));
  renderApp('/audit?since=yesterday');
  expect(await screen.findByText('Not applied from the address: since “yesterday” is not an RFC 3339 time.')).toBeInTheDocument();
  await rows();
  expect(received.find((r) => r.operationName === 'AuditLog')?.variables).toMatchObject({ filter: { since: null } });
});

test('older changes load on request', async () => {
  server.events = Array.from({ length: AUDIT_PAGE_SIZE + 2 }, (_, i) => event(i + 1));
  const received = mockApi(auditApi(server));
  renderApp('/audit');
  await screen.findByText(`${AUDIT_PAGE_SIZE} changes loaded`);
  await userEvent.click(screen.getByRole('button', { name: 'Load more' }));
  await screen.findByText(`${AUDIT_PAGE_SIZE + 2} changes loaded, the oldest included`);
  expect(received.filter((r) => r.operationName === 'AuditLog').map((r) => (r.variables.filter as { beforeId: unknown }).beforeId)).toEqual([null, 3]);
});

test('a refused filter shows the server message and code', async () => {
  const answer = auditApi(server);
  mockApi((request) =>
    request.operationName === 'AuditLog'
      ? { body: errorBody('flag set "nope" not found', 'FLAG_SET_NOT_FOUND') }
      : answer(request),
  );
  renderApp('/audit?flagSet=nope');
  expect(await screen.findByRole('alert')).toHaveTextContent('The changes could not be loaded: flag set "nope" not found FLAG_SET_NOT_FOUND');
});
