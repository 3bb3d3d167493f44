// The flag screen's debugger tab (`/flags/:flagSet/:key/debug`): the
// evaluation debugger. A context is written (JSON, with a quick field for
// `targetingKey`, or picked from the recent ones), the stored flag is
// evaluated for it on the server, and the answer is shown with the decision
// path drawn over the targeting rule.
import { type KeyboardEvent, type SyntheticEvent, useId, useMemo, useState } from 'react';
import { useClient, useQuery } from 'urql';

import { type ApiFailure, failureOf } from '../api/errors';
import { useSession } from '../auth/SessionProvider';
import { JsonValue } from '../components/ChangeDiff';
import { CodeBlock } from '../components/CodeBlock';
import { Gated } from '../components/Denied';
import { ErrorNotice } from '../components/ErrorNotice';
import type { EvaluateQuery as EvaluateData } from '../gql/graphql';
import { DecisionPath } from './DecisionPath';
import { RecentContexts } from './RecentContexts';
import { formatContext, readContext, targetingKeyOf, withTargetingKey } from './contextText';
import { traceOf } from './decisionPath';
import { DebuggerRuleQuery, EvaluateQuery } from './operations';
import { forgetContexts, recentContexts, rememberContext } from './recentContexts';
import './debugger.css';

/** The flag screen mounts it anew for each flag. */
export function FlagDebugger({ flagSet, flagKey }: { flagSet: string; flagKey: string }) {
  const client = useClient();
  const { token } = useSession();
  const [ruleResult] = useQuery({ query: DebuggerRuleQuery, variables: { flagSet, key: flagKey } });
  const [recent, setRecent] = useState(() => recentContexts(flagSet));
  const [text, setText] = useState(() => editorText(recent[0] ?? '{}'));
  const [storageProblem, setStorageProblem] = useState<string | null>(null);
  const [run, setRun] = useState<Run>({ pending: false, context: null, answer: null, failure: null });
  const read = useMemo(() => readContext(text), [text]);
  const keyId = useId();
  const textId = useId();
  const errorId = useId();
  const helpId = useId();

  const evaluate = async () => {
    if (!read.ok || run.pending) return;
    setRun({ ...run, pending: true, failure: null });
    const result = await client
      .query(EvaluateQuery, { flagSet, key: flagKey, context: read.context }, { requestPolicy: 'network-only' })
      .toPromise();
    if (result.data) {
      setRun({ pending: false, context: JSON.stringify(read.context), answer: result.data, failure: null });
      try {
        setRecent(rememberContext(flagSet, read.context, token));
        setStorageProblem(null);
      } catch (error) {
        // A DOMException (a full or disabled storage) is not an Error everywhere.
        setStorageProblem(error instanceof Error || error instanceof DOMException ? error.message : String(error));
      }
    } else {
      const failure = result.error
        ? failureOf(result.error)
        : { message: 'the server sent no answer', code: 'EMPTY_ANSWER' };
      setRun({ pending: false, context: null, answer: null, failure });
    }
  };
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    void evaluate();
  };
  const shortcut = (event: KeyboardEvent) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      void evaluate();
    }
  };

  const flag = run.answer?.flag ?? ruleResult.data?.flag;
  const segmentList = run.answer?.segments ?? ruleResult.data?.segments;
  const segments = useMemo(
    () => new Map((segmentList ?? []).map((s) => [s.key, s.definition] as const)),
    [segmentList],
  );
  const evaluation = run.answer?.evaluate ?? null;
  const trace = useMemo(() => (evaluation ? traceOf(evaluation.steps, evaluation.omittedSteps) : null), [evaluation]);
  const rule = targetingOf(flag?.definition);
  const invalid = read.ok ? null : 'Fix the context first';

  return (
    <>
      <h2>Evaluation debugger</h2>
      <p className="help">
        Evaluates the flag as stored now, on the server, for a context you write; nothing is changed or recorded.
      </p>
      <div className="debugger">
        <form className="panel context-editor" aria-label="Evaluation context" onSubmit={submit}>
          <h3>Context</h3>
          <label htmlFor={keyId}>targetingKey</label>
          <Gated reason={read.ok ? null : 'Fix the JSON below to edit this field'}>
            <input
              id={keyId}
              type="text"
              value={read.ok ? targetingKeyOf(read.context) : ''}
              onChange={(event) => {
                if (read.ok) setText(withTargetingKey(read.context, event.target.value));
              }}
            />
          </Gated>
          <label htmlFor={textId}>Context (JSON)</label>
          <textarea
            id={textId}
            className="json-input"
            rows={10}
            spellCheck={false}
            value={text}
            aria-invalid={!read.ok}
            aria-describedby={`${read.ok ? '' : `${errorId} `}${helpId}`}
            onChange={(event) => { setText(event.target.value); }}
            onKeyDown={shortcut}
          />
          <div aria-live="polite">
            {!read.ok && (
              <p id={errorId} className="field-error">
                {read.error}
              </p>
            )}
          </div>
          <p id={helpId} className="help">
            A JSON object; Ctrl+Enter evaluates.
          </p>
          <Gated reason={invalid}>
            <button type="submit" disabled={run.pending}>
              {run.pending ? 'Evaluating…' : 'Evaluate'}
            </button>
          </Gated>
          <RecentContexts
            flagSet={flagSet}
            contexts={recent}
            storageProblem={storageProblem}
            onUse={(context) => { setText(editorText(context)); }}
            onForget={() => {
              forgetContexts(flagSet);
              setRecent([]);
            }}
          />
        </form>
        <section className="panel" aria-labelledby="result-heading" aria-busy={run.pending}>
          <h3 id="result-heading">Result</h3>
          {ruleResult.error && !flag && <ErrorNotice failure={failureOf(ruleResult.error)} what="The flag could not be loaded" />}
          {run.failure && <ErrorNotice failure={run.failure} what="The evaluation failed" />}
          {evaluation ? (
            <dl className="details">
              <dt>Context evaluated</dt>
              <dd>
                <code>{run.context}</code>
              </dd>
              <dt>Value</dt>
              <dd>
                {evaluation.value === null && evaluation.variant === null ? 'none (the caller’s default)' : <JsonValue value={evaluation.value} />}
              </dd>
              <dt>Variant</dt>
              <dd>{evaluation.variant ?? 'none'}</dd>
              <dt>Reason</dt>
              <dd>
                <code>{evaluation.reason}</code>
              </dd>
              {evaluation.errorCode !== null && (
                <>
                  <dt>Error</dt>
                  <dd>
                    <code>{evaluation.errorCode}</code> {evaluation.errorMessage}
                  </dd>
                </>
              )}
            </dl>
          ) : (
            !run.failure && <p className="empty">Evaluate a context to see the flag’s answer and the path to it.</p>
          )}
        </section>
      </div>
      <section className="panel" aria-labelledby="path-heading">
        <h3 id="path-heading">Decision path</h3>
        {flag && rule === undefined && (
          <p>This flag has no targeting rule: it always answers its default variant (reason STATIC).</p>
        )}
        {evaluation && trace && <TraceNotes reason={evaluation.reason} omitted={trace.omitted} evaluated={trace.steps.some((s) => s.kind !== 'ref')} />}
        {rule !== undefined && <DecisionPath rule={rule} segments={segments} trace={trace} />}
        {evaluation && evaluation.explain !== '' && (
          <details>
            <summary>The engine’s trace, as text</summary>
            <CodeBlock className="json-block" label="The engine’s trace">
              <code>{evaluation.explain}</code>
            </CodeBlock>
          </details>
        )}
      </section>
    </>
  );
}

interface Run {
  pending: boolean;
  /** The context of the answer shown, as compact JSON. */
  context: string | null;
  answer: EvaluateData | null;
  failure: ApiFailure | null;
}

/** What the reader should know about the path drawn. */
function TraceNotes({ reason, omitted, evaluated }: { reason: string; omitted: number; evaluated: boolean }) {
  return (
    <>
      {!evaluated && (
        <p className="notice">
          {reason === 'DISABLED'
            ? 'The flag is disabled: its rule was not evaluated, and every client gets its own default.'
            : `The rule was not evaluated (reason ${reason}).`}
        </p>
      )}
      {reason === 'ERROR' && evaluated && (
        <p className="notice">The evaluation failed; the path shows the decisions made before it stopped.</p>
      )}
      {omitted > 0 && (
        <p className="notice">
          The trace is full: {omitted} later decision{omitted === 1 ? ' is' : 's are'} not recorded, so the marks may be
          incomplete.
        </p>
      )}
    </>
  );
}

/** A stored context as the editor shows it (as stored, if it is not JSON). */
function editorText(stored: string): string {
  try {
    return formatContext(JSON.parse(stored));
  } catch {
    return stored;
  }
}

/** The definition's `targeting` rule, if it has one. */
function targetingOf(definition: unknown): unknown {
  if (typeof definition === 'object' && definition !== null && 'targeting' in definition) {
    const { targeting } = definition;
    const empty = typeof targeting === 'object' && targeting !== null && Object.keys(targeting).length === 0;
    return targeting === null || empty ? undefined : targeting;
  }
  return undefined;
}
