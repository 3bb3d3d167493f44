// The evaluation debugger: the context editor's syntax errors and quick
// field, an evaluation with its answer and the decision path drawn over
// the rule, recent contexts in localStorage (never the token), and the
// server's errors.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';

import { type AuditServer, auditApi } from '../test/audit';
import { flag } from '../test/flags';
import { FakeSocket, errorBody, mockApi, renderApp } from '../test/harness';
// Imported so the lazily loaded screen is ready when the app shows it.
import './FlagDebugger';

const TOKEN = 'ens_adm_secret_0123456789';
let server: AuditServer;

const rollout = {
  state: 'ENABLED',
  variants: { on: true, off: false },
  defaultVariant: 'off',
  targeting: { if: [{ $ref: 'staff' }, 'on', { fractional: [['on', 10], ['off', 90]] }] },
};

beforeEach(() => {
  sessionStorage.setItem('ensign.token', TOKEN);
  server = {
    role: 'viewer',
    name: 'vic',
    flags: [flag('new-checkout', { version: 7, definition: rollout }), flag('plain')],
    mutations: {},
    events: [],
    segments: [{ key: 'staff', definition: { ends_with: [{ var: 'email' }, '@example.com'] } }],
    evaluate: (v) => {
      const context = v.context as Record<string, unknown>;
      const staff = typeof context.email === 'string' && context.email.endsWith('@example.com');
      return {
        body: {
          data: {
            evaluate: staff
              ? { value: true, variant: 'on', reason: 'TARGETING_MATCH', errorCode: null, errorMessage: null, explain: '/targeting/if/0: $ref "staff" expanded; /if: condition 0 chose branch 1; result "on"', steps: staffSteps, omittedSteps: 0 }
              : {
                  value: false,
                  variant: 'off',
                  reason: 'TARGETING_MATCH',
                  errorCode: null,
                  errorMessage: null,
                  explain: '/targeting/if/0: $ref "staff" expanded; /if: condition 2 chose branch 2; /if/2/fractional: fractional bucket 68 (hash 2932679249) -> "off"; result "off"',
                  steps: everyoneSteps,
                  omittedSteps: 0,
                },
          },
        },
      };
    },
  };
});
afterEach(() => {
  FakeSocket.reset();
  localStorage.clear();
});

const editor = () => screen.getByRole('textbox', { name: 'Context (JSON)' });

/** Replaces the editor's text (typed as is: braces are not keys here). */
async function write(text: string) {
  await userEvent.clear(editor());
  await userEvent.click(editor());
  await userEvent.paste(text);
}

/** Waits for the result to show `variant`. */
async function answered(variant: string) {
  const result = screen.getByRole('region', { name: 'Result' });
  await waitFor(() => { expect(result).toHaveTextContent(`Variant${variant}Reason`); });
}

async function openDebugger(key = 'new-checkout') {
  renderApp(`/flags/default/${key}/debug`);
  await screen.findByRole('heading', { name: 'Evaluation debugger' });
  await screen.findByRole('list', { name: 'Targeting rule' });
}


/** A step as the API answers it: every field, null where its kind has none. */
const noFields = { segment: null, condition: null, branch: null, operator: null, clause: null, value: null, bucket: null, hash: null };

/** The steps of the rollout rule for a staff address: the segment held. */
const staffSteps = [
  { ...noFields, pointer: '/targeting/if/0', kind: 'REF', segment: 'staff' },
  { ...noFields, pointer: '/if', kind: 'IF', condition: 0, branch: 1 },
  { ...noFields, pointer: '', kind: 'RESULT', value: 'on' },
];

/** The steps for anyone else: the else branch's bucketing. */
const everyoneSteps = [
  { ...noFields, pointer: '/targeting/if/0', kind: 'REF', segment: 'staff' },
  { ...noFields, pointer: '/if', kind: 'IF', condition: 2, branch: 2 },
  { ...noFields, pointer: '/if/2/fractional', kind: 'FRACTIONAL', bucket: 68, hash: 2932679249, value: 'off' },
  { ...noFields, pointer: '', kind: 'RESULT', value: 'off' },
];
test('a syntax error is shown with its line and column, and nothing can be evaluated', async () => {
  mockApi(auditApi(server));
  await openDebugger();
  await write('{\n  "email": "a@example.com",\n}');
  expect(editor()).toHaveAttribute('aria-invalid', 'true');
  expect(editor()).toHaveAccessibleDescription(/^Line 3, column 1: a property name in double quotes is expected/);
  const evaluate = screen.getByRole('button', { name: 'Evaluate' });
  expect(evaluate).toBeDisabled();
  expect(evaluate).toHaveAccessibleDescription('Fix the context first');
  expect(screen.getByRole('textbox', { name: 'targetingKey' })).toBeDisabled();

  await write('["not", "an", "object"]');
  expect(screen.getByText('The context must be a JSON object, such as {"targetingKey": "user-1"}')).toBeInTheDocument();
  await write('{"email": "a@example.com"}');
  expect(editor()).toHaveAttribute('aria-invalid', 'false');
  expect(screen.getByRole('button', { name: 'Evaluate' })).toBeEnabled();
});

test('the targetingKey field writes into the context, and reads it back', async () => {
  mockApi(auditApi(server));
  await openDebugger();
  await write('{"email": "x@y.z"}');
  // The field is drawn again when the JSON becomes invalid and valid again.
  const field = () => screen.getByRole('textbox', { name: 'targetingKey' });
  await userEvent.type(field(), 'user-1');
  expect(JSON.parse((editor() as HTMLTextAreaElement).value)).toEqual({ targetingKey: 'user-1', email: 'x@y.z' });
  await write('{"targetingKey": "user-2"}');
  expect(field()).toHaveValue('user-2');
  await userEvent.clear(field());
  expect(JSON.parse((editor() as HTMLTextAreaElement).value)).toEqual({});
});

test('an evaluation shows the answer and draws the path over the rule', async () => {
  const received = mockApi(auditApi(server));
  await openDebugger();
  await write('{"targetingKey": "user-1", "email": "x@y.z"}');
  await userEvent.click(screen.getByRole('button', { name: 'Evaluate' }));

  const result = screen.getByRole('region', { name: 'Result' });
  await within(result).findByText('TARGETING_MATCH');
  expect(result).toHaveTextContent('Context evaluated{"targetingKey":"user-1","email":"x@y.z"}');
  expect(result).toHaveTextContent('Valuefalse');
  expect(result).toHaveTextContent('Variantoff');
  expect(received.find((r) => r.operationName === 'Evaluate')?.variables).toEqual({
    flagSet: 'default',
    key: 'new-checkout',
    context: { targetingKey: 'user-1', email: 'x@y.z' },
  });

  const path = screen.getByRole('list', { name: 'Targeting rule with the decision path' });
  const items = within(path).getAllByRole('listitem');
  const line = (text: string) => {
    const item = items.find((li) => li.firstElementChild?.textContent.includes(text));
    if (!item?.firstElementChild) throw new Error(`no node ${text}`);
    return item.firstElementChild.textContent;
  };
  expect(line('no condition held')).toBe('if→ "off"no condition held: the else branch was taken');
  expect(line('segment staff')).toBe('ifsegment staffends_with→ falsy (did not hold)');
  expect(line('"on"')).toBe('then"on"not evaluated');
  expect(line('bucket 68')).toBe('elsefractionaltaken→ "off"bucket 68 (hash 2932679249) → "off"');
  expect(line('["off",90]')).toBe('bucket["off",90]taken');
  const taken = items.filter((li) => li.classList.contains('taken'));
  expect(taken.map((li) => li.firstElementChild?.textContent)).toEqual([line('bucket 68'), line('["off",90]')]);
  expect(screen.getByText('The engine’s trace, as text')).toBeInTheDocument();
});

test('contexts evaluated are kept per flag set, newest first, and can be used again', async () => {
  mockApi(auditApi(server));
  await openDebugger();
  await write('{"email": "a@example.com"}');
  await userEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
  await answered('on');
  await write('{"email": "x@y.z"}');
  await userEvent.keyboard('{Control>}{Enter}{/Control}');
  await answered('off');

  const recent = screen.getByRole('region', { name: 'Recent contexts' });
  const uses = within(recent).getAllByRole('button', { name: /^Use recent context/ });
  expect(uses.map((b) => b.getAttribute('aria-label'))).toEqual([
    'Use recent context 1: {"email":"x@y.z"}',
    'Use recent context 2: {"email":"a@example.com"}',
  ]);
  expect(JSON.parse(localStorage.getItem('ensign.debugger.recent.default') ?? 'null')).toEqual([
    '{"email":"x@y.z"}',
    '{"email":"a@example.com"}',
  ]);
  await userEvent.click(uses[1] as HTMLElement);
  expect(JSON.parse((editor() as HTMLTextAreaElement).value)).toEqual({ email: 'a@example.com' });
});

test('the editor starts from the newest recent context, and they can be forgotten', async () => {
  localStorage.setItem('ensign.debugger.recent.default', JSON.stringify(['{"plan":"pro"}']));
  localStorage.setItem('ensign.debugger.recent.mobile', JSON.stringify(['{"platform":"ios"}']));
  mockApi(auditApi(server));
  await openDebugger();
  expect(JSON.parse((editor() as HTMLTextAreaElement).value)).toEqual({ plan: 'pro' });
  await userEvent.click(screen.getByRole('button', { name: 'Forget recent contexts' }));
  expect(localStorage.getItem('ensign.debugger.recent.default')).toBeNull();
  expect(localStorage.getItem('ensign.debugger.recent.mobile')).not.toBeNull();
  expect(screen.getByText('The contexts you evaluate for flag set default are kept here, in this browser.')).toBeInTheDocument();
});

test('the token is never kept in localStorage, even pasted into a context', async () => {
  mockApi(auditApi(server));
  await openDebugger();
  await write(JSON.stringify({ note: TOKEN }));
  await userEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
  await answered('off');
  await write('{"email": "x@y.z"}');
  await userEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
  await waitFor(() => { expect(localStorage.getItem('ensign.debugger.recent.default')).not.toBeNull(); });
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i) ?? '';
    expect(key).not.toContain(TOKEN);
    expect(localStorage.getItem(key)).not.toContain(TOKEN);
  }
  expect(JSON.parse(localStorage.getItem('ensign.debugger.recent.default') ?? 'null')).toEqual(['{"email":"x@y.z"}']);
});

test('a context the browser will not store is said so, and the answer still shows', async () => {
  mockApi(auditApi(server));
  await openDebugger();
  vi.spyOn(Storage.prototype, 'setItem').mockImplementation(() => {
    throw new DOMException('the quota has been exceeded', 'QuotaExceededError');
  });
  await userEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
  await answered('off');
  expect(screen.getByText('This context could not be kept in the browser: the quota has been exceeded')).toBeInTheDocument();
});

test('a refused evaluation shows the server message and code', async () => {
  server.evaluate = () => ({ body: errorBody('flag set "default" is not in the store', 'FLAG_SET_NOT_FOUND') });
  mockApi(auditApi(server));
  await openDebugger();
  await userEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
  expect(await screen.findByRole('alert')).toHaveTextContent(
    'The evaluation failed: flag set "default" is not in the store FLAG_SET_NOT_FOUND',
  );
  expect(localStorage.getItem('ensign.debugger.recent.default')).toBeNull();
});

test('an evaluation that ends in an error shows its code and message', async () => {
  server.evaluate = () => ({
    body: { data: { evaluate: { value: null, variant: null, reason: 'ERROR', errorCode: 'GENERAL', errorMessage: 'division by zero', explain: '/if: condition 0 chose branch 1', steps: [{ ...noFields, pointer: '/if', kind: 'IF', condition: 0, branch: 1 }], omittedSteps: 0 } } },
  });
  mockApi(auditApi(server));
  await openDebugger();
  await userEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
  const result = screen.getByRole('region', { name: 'Result' });
  expect(await within(result).findByText('GENERAL')).toBeInTheDocument();
  expect(result).toHaveTextContent('ErrorGENERAL division by zero');
  expect(result).toHaveTextContent('Valuenone (the caller’s default)');
  expect(screen.getByText('The evaluation failed; the path shows the decisions made before it stopped.')).toBeInTheDocument();
});

test('a disabled flag’s rule is shown as not evaluated', async () => {
  server.flags = [flag('new-checkout', { state: 'DISABLED', definition: { ...rollout, state: 'DISABLED' } })];
  server.evaluate = () => ({
    body: { data: { evaluate: { value: null, variant: null, reason: 'DISABLED', errorCode: null, errorMessage: null, explain: '', steps: [], omittedSteps: 0 } } },
  });
  mockApi(auditApi(server));
  await openDebugger();
  await userEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
  expect(await screen.findByText('The flag is disabled: its rule was not evaluated, and every client gets its own default.')).toBeInTheDocument();
  const path = screen.getByRole('list', { name: 'Targeting rule with the decision path' });
  expect(within(path).getAllByText('not evaluated').length).toBeGreaterThan(0);
  expect(within(path).queryByText('taken')).not.toBeInTheDocument();
});

test('a flag without targeting says so', async () => {
  mockApi(auditApi(server));
  renderApp('/flags/default/plain/debug');
  expect(await screen.findByText('This flag has no targeting rule: it always answers its default variant (reason STATIC).')).toBeInTheDocument();
});
