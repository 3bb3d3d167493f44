// The diff view: changed, added and removed values at nested paths and in
// arrays, a creation, an edit recorded without a patch, a patch that does
// not apply, and the unchanged context collapsed behind a button.
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { expect, test } from 'vitest';

import { ChangeDiff } from './ChangeDiff';

/** The list item of the `nth` path written `text`. */
function member(text: string, nth = 0): HTMLElement {
  const key = screen.getAllByText(text, { selector: '.diff-key' })[nth];
  const item = key?.closest('li');
  if (!item) throw new Error(`no member ${text}`);
  return item;
}

const flag = (definition: unknown) => ({ definition, clientVisible: false, locked: false, archived: false });

test('a changed value is struck and its new value added, at its nested path', () => {
  const before = flag({ state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' });
  const after = flag({ state: 'DISABLED', variants: { on: true, off: false }, defaultVariant: 'off' });
  render(<ChangeDiff before={before} after={after} patch={[{ op: 'replace', path: '/definition/state', value: 'DISABLED' }]} />);

  const state = member('state');
  expect(within(state).getByText('changed')).toBeInTheDocument();
  expect(within(state).getByRole('deletion')).toHaveTextContent('"ENABLED"');
  expect(within(state).getByRole('insertion')).toHaveTextContent('"DISABLED"');
  // The path: `state` is shown inside `definition`.
  expect(member('definition')).toContainElement(state);
  expect(screen.getAllByRole('deletion')).toHaveLength(1);
  expect(screen.getAllByRole('insertion')).toHaveLength(1);
});

test('the unchanged members around a change are collapsed, and shown on request', async () => {
  const before = flag({ state: 'ENABLED', variants: { on: true }, defaultVariant: 'on' });
  const after = flag({ state: 'DISABLED', variants: { on: true }, defaultVariant: 'on' });
  render(<ChangeDiff before={before} after={after} patch={[{ op: 'replace', path: '/definition/state', value: 'DISABLED' }]} />);

  const inDefinition = screen.getByRole('button', { name: 'Show 2 unchanged members' });
  expect(inDefinition).toHaveAttribute('aria-expanded', 'false');
  expect(screen.getByText('variants, defaultVariant')).toBeInTheDocument();
  expect(screen.getByRole('button', { name: 'Show 3 unchanged members' })).toBeInTheDocument();
  expect(screen.queryByText('{"on":true}')).not.toBeInTheDocument();

  await userEvent.click(inDefinition);
  expect(screen.getByRole('button', { name: 'Hide 2 unchanged members' })).toHaveAttribute('aria-expanded', 'true');
  expect(within(member('variants')).getByText('{"on":true}')).toBeInTheDocument();
  expect(within(member('defaultVariant')).getByText('"on"')).toBeInTheDocument();
});

test('added and removed members are marked as such', () => {
  const before = { metadata: { owner: 'payments', team: 'checkout' } };
  const after = { metadata: { owner: 'payments', tags: ['beta'] } };
  render(
    <ChangeDiff
      before={before}
      after={after}
      patch={[
        { op: 'remove', path: '/metadata/team' },
        { op: 'add', path: '/metadata/tags', value: ['beta'] },
      ]}
    />,
  );
  const team = member('team');
  expect(within(team).getByText('removed')).toBeInTheDocument();
  expect(within(team).getByRole('deletion')).toHaveTextContent('"checkout"');
  expect(within(team).queryByRole('insertion')).not.toBeInTheDocument();
  const tags = member('tags');
  expect(within(tags).getByText('added')).toBeInTheDocument();
  expect(within(tags).getByRole('insertion')).toHaveTextContent('["beta"]');
  expect(within(tags).queryByRole('deletion')).not.toBeInTheDocument();
  expect(screen.getByRole('button', { name: 'Show 1 unchanged member' })).toBeInTheDocument();
});

test('array elements are shown by index, each with the value it replaced', () => {
  const before = { fractional: [['on', 10], ['off', 90]] };
  const after = { fractional: [['on', 25], ['off', 75]] };
  render(
    <ChangeDiff
      before={before}
      after={after}
      patch={[
        { op: 'replace', path: '/fractional/0/1', value: 25 },
        { op: 'replace', path: '/fractional/1/1', value: 75 },
      ]}
    />,
  );
  const first = member('[0]');
  const weight = within(first).getByText('[1]').closest('li');
  expect(weight).not.toBeNull();
  expect(within(weight as HTMLElement).getByRole('deletion')).toHaveTextContent('10');
  expect(within(weight as HTMLElement).getByRole('insertion')).toHaveTextContent('25');
  expect(within(first).getByRole('button', { name: 'Show 1 unchanged element' })).toBeInTheDocument();
  // The second bucket, after the first one's weight (also `[1]`).
  const second = member('[1]', 1);
  expect(within(second).getByRole('deletion')).toHaveTextContent('90');
  expect(within(second).getByRole('insertion')).toHaveTextContent('75');
});

test('removals from an array show the elements as they were when each was made', () => {
  const before = { in: ['ada', 'grace', 'linus'] };
  const after = { in: ['grace'] };
  // As the server's diff writes it: from the end, indices of the array at that step.
  render(
    <ChangeDiff
      before={before}
      after={after}
      patch={[
        { op: 'remove', path: '/in/2' },
        { op: 'replace', path: '/in/0', value: 'grace' },
        { op: 'remove', path: '/in/1' },
      ]}
    />,
  );
  const deleted = screen.getAllByRole('deletion').map((d) => d.textContent);
  expect(deleted).toEqual(['"ada"', '"grace"', '"linus"']);
  expect(screen.getAllByRole('insertion').map((i) => i.textContent)).toEqual(['"grace"']);
});

test('a chain of members with nothing else in them is shown as one path', () => {
  const rule = (weight: number) => ({ targeting: { if: [{ var: 'beta' }, 'on', { fractional: [['on', weight]] }] } });
  render(
    <ChangeDiff before={rule(10)} after={rule(20)} patch={[{ op: 'replace', path: '/targeting/if/2/fractional/0/1', value: 20 }]} />,
  );
  expect(screen.getByText('targeting › if')).toBeInTheDocument();
  expect(screen.getByText('[2] › fractional › [0]')).toBeInTheDocument();
  expect(screen.getByRole('button', { name: 'Show 2 unchanged elements' })).toBeInTheDocument();
});

test('an entry with no before (a creation) shows every member as added', () => {
  render(<ChangeDiff before={null} after={flag({ state: 'ENABLED' })} patch={null} />);
  expect(screen.queryByRole('deletion')).not.toBeInTheDocument();
  const added = screen.getAllByRole('insertion');
  expect(added).toHaveLength(4);
  expect(within(member('definition')).getByRole('insertion')).toHaveTextContent('{"state":"ENABLED"}');
  expect(within(member('locked')).getByText('added')).toBeInTheDocument();
  expect(screen.queryByRole('button', { name: /unchanged/ })).not.toBeInTheDocument();
});

test('an entry with no after (a deletion) shows every member as removed', () => {
  render(<ChangeDiff before={{ in: [{ var: 'email' }, ['a']] }} after={null} />);
  expect(screen.queryByRole('insertion')).not.toBeInTheDocument();
  expect(within(member('in')).getByText('removed')).toBeInTheDocument();
  expect(within(member('in')).getByRole('deletion')).toHaveTextContent('[{"var":"email"},["a"]]');
});

test('an edit recorded without a patch (made by hand in SQL) is compared side by side', () => {
  const before = flag({ state: 'ENABLED', variants: { on: true, off: false } });
  const after = flag({ state: 'ENABLED', variants: { on: 'yes', off: false } });
  render(<ChangeDiff before={before} after={after} patch={null} />);
  const on = member('on');
  expect(within(on).getByRole('deletion')).toHaveTextContent('true');
  expect(within(on).getByRole('insertion')).toHaveTextContent('"yes"');
  expect(screen.queryByText(/recorded patch was not used/)).not.toBeInTheDocument();
});

test('a recorded patch that does not apply is said so, and both sides are compared instead', () => {
  render(
    <ChangeDiff
      before={{ state: 'ENABLED' }}
      after={{ state: 'DISABLED' }}
      patch={[{ op: 'replace', path: '/nothing/here', value: 1 }]}
    />,
  );
  expect(screen.getByText(/recorded patch was not used \(operation 1 \(replace \/nothing\/here\) does not apply/)).toBeInTheDocument();
  expect(within(member('state')).getByRole('insertion')).toHaveTextContent('"DISABLED"');
});

test('a moved value says where it came from', () => {
  render(
    <ChangeDiff
      before={{ metadata: { owner: 'a' } }}
      after={{ metadata: { team: 'a' } }}
      patch={[{ op: 'move', from: '/metadata/owner', path: '/metadata/team' }]}
    />,
  );
  expect(within(member('team')).getByText('added from metadata › owner')).toBeInTheDocument();
  expect(within(member('owner')).getByText('removed')).toBeInTheDocument();
});

test('no difference is said in words', () => {
  render(<ChangeDiff before={{ a: 1 }} after={{ a: 1 }} patch={[]} />);
  expect(screen.getByText('No change to the recorded values.')).toBeInTheDocument();
});

test('a long value is shown indented on several lines', () => {
  const long = { description: 'x'.repeat(80) };
  render(<ChangeDiff before={null} after={{ metadata: long }} />);
  const block = within(member('metadata')).getByRole('insertion').querySelector('pre');
  expect(block?.textContent).toBe(JSON.stringify(long, null, 2));
});
