// A save refused because the flag changed after it was read: who changed
// it and when, the flag as read next to the flag now and the edit, and the
// choice to reapply the edit to the current version or to discard it.
import { type ReactNode, useId } from 'react';
import { useQuery } from 'urql';

import { failureOf } from '../api/errors';
import { CodeBlock } from '../components/CodeBlock';
import { ErrorNotice } from '../components/ErrorNotice';
import { formatTime } from '../flags/flagFields';
import { readRollout } from '../rollout/rule';
import type { FractionalVersion } from '../rollout/overlap';
import { DiagnosticList } from './DiagnosticList';
import { type FlagEdit, type ReadFlag, changedMembers, prettyJson, targetingOf } from './edit';
import { FlagNowQuery } from './operations';
import type { SaveFailure } from './diagnostics';

export interface ConflictPanelProps {
  flagSet: string;
  flagKey: string;
  read: ReadFlag;
  edit: FlagEdit;
  /** The refusal: the conflict, or what the server said to the edit reapplied. */
  failure: SaveFailure;
  reapplying: boolean;
  /** The scheme the rule's weights are read with. */
  version: FractionalVersion;
  onReapply: (current: ReadFlag) => void;
  onDiscard: () => void;
}

export function ConflictPanel(props: ConflictPanelProps) {
  const { flagSet, flagKey, read, edit } = props;
  const [{ data, error, fetching }, refetch] = useQuery({
    query: FlagNowQuery,
    variables: { flagSet, key: flagKey },
    requestPolicy: 'network-only',
  });
  const now = data?.flag;
  const latest = now?.history.items[0];
  const others = now ? changedMembers(read.definition, now.definition) : [];

  return (
    <section className="panel conflict" aria-labelledby="conflict-heading">
      <h2 id="conflict-heading">This flag changed after you read it</h2>
      <ErrorNotice failure={props.failure} what="Not saved" />
      <DiagnosticList diagnostics={props.failure.diagnostics} />
      {error && !now && (
        <>
          <ErrorNotice failure={failureOf(error)} what="The flag as it is now could not be loaded" />
          <button type="button" onClick={() => { refetch({ requestPolicy: 'network-only' }); }}>
            Load it again
          </button>
        </>
      )}
      {!now && !error && <p role="status">{fetching ? 'Loading the flag as it is now…' : ''}</p>}
      {now && (
        <>
          <p>
            You read version {read.version}. It is now version {now.version}
            {latest ? (
              <>
                , changed by <strong>{latest.actor}</strong> on{' '}
                <time dateTime={latest.createdAt}>{formatTime(latest.createdAt)}</time> ({latest.action})
              </>
            ) : null}
            .
          </p>
          <p>
            {others.length === 0
              ? 'Its definition is the same as you read it.'
              : `Changed since you read it: ${others.join(', ')}.`}
          </p>
          <div className="compare">
            <Side title={`As you read it (version ${read.version})`}>
              {show(edit, read.definition, props.version, `The targeting as you read it (version ${read.version})`)}
            </Side>
            <Side title={`Now (version ${now.version})`}>
              {show(edit, now.definition, props.version, `The targeting now (version ${now.version})`)}
            </Side>
            <Side title="Your edit">{showEdit(edit)}</Side>
          </div>
          <div className="actions">
            <button
              type="button"
              className="primary"
              disabled={props.reapplying}
              onClick={() => { props.onReapply({ version: now.version, definition: now.definition }); }}
            >
              {props.reapplying ? 'Reapplying…' : `Reapply my edit to version ${now.version}`}
            </button>
            <button type="button" disabled={props.reapplying} onClick={props.onDiscard}>
              Discard my edit
            </button>
          </div>
        </>
      )}
    </section>
  );
}

function Side({ title, children }: { title: string; children: ReactNode }) {
  const id = useId();
  return (
    <figure className="compare-side" aria-labelledby={id}>
      <figcaption id={id}>{title}</figcaption>
      {children}
    </figure>
  );
}

/** The part of a definition the edit changes. */
function show(edit: FlagEdit, definition: unknown, version: FractionalVersion, label: string): ReactNode {
  const targeting = targetingOf(definition);
  if (edit.kind === 'targeting') {
    return <CodeBlock label={label}>{targeting === undefined ? '(no targeting)' : prettyJson(targeting)}</CodeBlock>;
  }
  const rule = readRollout(targeting, version);
  return rule.ok ? <Weights weights={rule.buckets} /> : <p>{rule.reason}</p>;
}

function showEdit(edit: FlagEdit): ReactNode {
  if (edit.kind === 'rollout') return <Weights weights={edit.weights} />;
  return (
    <CodeBlock label="The targeting of your edit">
      {edit.targeting === undefined ? '(no targeting)' : prettyJson(edit.targeting)}
    </CodeBlock>
  );
}

function Weights({ weights }: { weights: { variant: string; weight: number }[] }) {
  const total = weights.reduce((sum, w) => sum + w.weight, 0);
  return (
    <ul className="weights">
      {weights.map((w) => (
        <li key={w.variant}>
          {w.variant}: {percent(w.weight, total)} (weight {w.weight})
        </li>
      ))}
    </ul>
  );
}

/** A weight's share of the total, as a percentage with up to 2 decimals. */
export function percent(weight: number, total: number): string {
  if (total === 0) return '0%';
  return `${Number(((weight * 100) / total).toFixed(2))}%`;
}
