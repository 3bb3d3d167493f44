// The diff view of an audited change: the changed paths as a tree, each
// old value struck and each new value marked as added, with the unchanged
// members around them collapsed behind a button.
import { useId, useMemo, useState } from 'react';

import { type Change, type DiffNode, type Unchanged, changeTree } from './changeDiff';
import './diff.css';

export interface ChangeDiffProps {
  /** The value before the change; `null` or `undefined` when it was created. */
  before: unknown;
  /** The value after the change; `null` or `undefined` when it was deleted. */
  after: unknown;
  /** The recorded JSON Patch (RFC 6902), if any. */
  patch?: unknown;
  /** The accessible name of the view. */
  label?: string;
}

export function ChangeDiff({ before, after, patch = null, label = 'Changes' }: ChangeDiffProps) {
  const tree = useMemo(() => changeTree(before, after, patch), [before, after, patch]);
  if (tree.changes.length === 0) {
    return <p className="diff-none">No change to the recorded values.</p>;
  }
  return (
    <div className="diff" role="group" aria-label={label}>
      {tree.patchProblem && (
        <p className="notice">
          The recorded patch was not used ({tree.patchProblem}); these are the differences between the recorded
          values before and after.
        </p>
      )}
      <Branch node={tree.root} />
    </div>
  );
}

/** A node's own changes and, nested below, its changed members and collapsed context. */
function Branch({ node }: { node: DiffNode }) {
  const whole = node.changes.find((c) => c.path.length === 0 && c.kind !== 'changed');
  if (whole) return <WholeDocument change={whole} />;
  const items = [
    ...node.children.map((child) => <Member key={`c:${child.key}`} node={child} parentIndexed={node.indexed} />),
  ];
  return (
    <>
      {node.changes.map((change, i) => (
        <ChangeLine key={i} change={change} />
      ))}
      {(items.length > 0 || node.unchanged.length > 0) && (
        <ul className="diff-tree">
          {items}
          {node.unchanged.length > 0 && <UnchangedMembers members={node.unchanged} indexed={node.indexed} />}
        </ul>
      )}
    </>
  );
}

/** One changed member. A chain of members holding nothing but the next one is shown as one path. */
function Member({ node, parentIndexed }: { node: DiffNode; parentIndexed: boolean }) {
  const labels = [keyLabel(node.key, parentIndexed)];
  let shown = node;
  for (;;) {
    const [only] = shown.children;
    if (shown.changes.length > 0 || shown.unchanged.length > 0 || shown.children.length !== 1 || !only) break;
    labels.push(keyLabel(only.key, shown.indexed));
    shown = only;
  }
  const inline = shown.children.length === 0 && shown.unchanged.length === 0 && shown.changes.length === 1;
  return (
    <li>
      <span className="diff-key">{labels.join(' › ')}</span>
      {inline && shown.changes[0] ? (
        <ChangeValues change={shown.changes[0]} />
      ) : (
        <Branch node={shown} />
      )}
    </li>
  );
}

/** A document created or deleted whole: its members, each added or removed. */
function WholeDocument({ change }: { change: Change }) {
  const value = change.kind === 'added' ? change.after : change.before;
  const members =
    typeof value === 'object' && value !== null ? Object.entries(value as Record<string, unknown>) : null;
  if (!members || members.length === 0) return <ChangeLine change={change} />;
  const indexed = Array.isArray(value);
  return (
    <ul className="diff-tree">
      {members.map(([key, member]) => (
        <li key={key}>
          <span className="diff-key">{keyLabel(key, indexed)}</span>
          <ChangeValues change={change.kind === 'added' ? { kind: 'added', path: [key], after: member } : { kind: 'removed', path: [key], before: member }} />
        </li>
      ))}
    </ul>
  );
}

function ChangeLine({ change }: { change: Change }) {
  return (
    <div className="diff-line">
      <ChangeValues change={change} />
    </div>
  );
}

/** The old value struck, the new one marked as added, and what kind of change it was. */
function ChangeValues({ change }: { change: Change }) {
  const from = change.from ? ` from ${change.from.join(' › ') || 'the document'}` : '';
  return (
    <span className={`diff-change diff-${change.kind}`}>
      <span className="diff-tag">
        {change.kind}
        {from}
      </span>
      {change.kind !== 'added' && (
        <del>
          <JsonValue value={change.before} />
        </del>
      )}
      {change.kind === 'changed' && <span aria-hidden="true"> → </span>}
      {change.kind !== 'removed' && (
        <ins>
          <JsonValue value={change.after} />
        </ins>
      )}
    </span>
  );
}

/** The unchanged members of an object or array, collapsed until asked for. */
function UnchangedMembers({ members, indexed }: { members: Unchanged[]; indexed: boolean }) {
  const [open, setOpen] = useState(false);
  const listId = useId();
  const names = members.map((m) => keyLabel(m.key, indexed));
  const summary = names.length > 4 ? `${names.slice(0, 4).join(', ')}, …` : names.join(', ');
  const noun = indexed ? 'element' : 'member';
  return (
    <li className="diff-context">
      <button
        type="button"
        className="link-button"
        aria-expanded={open}
        aria-controls={listId}
        onClick={() => { setOpen((o) => !o); }}
      >
        {open ? 'Hide' : 'Show'} {members.length} unchanged {noun}
        {members.length === 1 ? '' : 's'}
      </button>{' '}
      {!open && <span className="diff-summary">{summary}</span>}
      <ul id={listId} className="diff-tree" hidden={!open}>
        {open &&
          members.map((m) => (
            <li key={m.key}>
              <span className="diff-key">{keyLabel(m.key, indexed)}</span>
              <JsonValue value={m.value} />
            </li>
          ))}
      </ul>
    </li>
  );
}

/** Values up to this many characters are shown on one line. */
const INLINE_CHARS = 60;

/** A JSON value: compact on one line when short, indented otherwise. */
export function JsonValue({ value }: { value: unknown }) {
  const compact = JSON.stringify(value) as string | undefined;
  if (compact === undefined) return <code>nothing</code>;
  if (compact.length <= INLINE_CHARS) return <code>{compact}</code>;
  return (
    <pre className="json-block">
      <code>{JSON.stringify(value, null, 2)}</code>
    </pre>
  );
}

function keyLabel(key: string, indexed: boolean): string {
  return indexed ? `[${key}]` : key;
}
