// `/flags/:flagSet/:key/targeting`: the flag's targeting as JSON, with
// syntax errors located as the user types and the server compiler's
// findings beside the lines they point at. A rule that is not JSON, or
// that the compiler finds a problem in, cannot be saved; the save sends
// the version read.
import { useCallback, useId, useRef } from 'react';
import { Link } from 'wouter';

import { Gated } from '../components/Denied';
import { ErrorNotice } from '../components/ErrorNotice';
import { DiagnosticList } from '../editing/DiagnosticList';
import type { Diagnostic } from '../editing/diagnostics';
import { type ReadFlag, type TargetingDraft, prettyJson, sameJson, targetingOf, withTargeting } from '../editing/edit';
import { SaveOutcome } from '../editing/SaveOutcome';
import { useFlagSave } from '../editing/useFlagSave';
import type { ShownFlag } from '../flags/FlagScreen';
import { SERVER_DEFAULT } from '../rollout/rule';
import { flagTabPath } from '../routing';
import { JsonEditor, type JsonEditorHandle, type LineNote } from './JsonEditor';
import { lineOfTokens, parseText, targetingTokens } from './json';
import { type Validation, useValidation } from './useValidation';

export interface TargetingTabProps {
  flagSet: string;
  flag: ShownFlag;
  denial: string | null;
  draft: TargetingDraft | null;
  setDraft: (draft: TargetingDraft | null) => void;
}

export function TargetingTab({ flagSet, flag, denial, draft, setDraft }: TargetingTabProps) {
  const id = useId();
  const editor = useRef<JsonEditorHandle>(null);
  const read: ReadFlag = draft?.read ?? { version: flag.version, definition: flag.definition };
  const saved = targetingOf(read.definition);
  const savedText = prettyJson(saved);
  const text = draft?.text ?? savedText;
  const parsed = parseText(text);
  const targeting = parsed.kind === 'json' ? parsed.value : undefined;
  const definition = parsed.kind === 'invalid' ? undefined : withTargeting(read.definition, targeting);
  const validation = useValidation(flagSet, flag.key, text, definition);
  const clear = useCallback(() => { setDraft(null); }, [setDraft]);
  const save = useFlagSave(flagSet, flag.key, clear, clear);
  const changed = parsed.kind !== 'invalid' && !sameJson(targeting, saved);

  const lineOf = (d: Diagnostic): number | null => {
    if (parsed.kind !== 'json' || (d.flagKey !== null && d.flagKey !== flag.key)) return null;
    const tokens = targetingTokens(d.pointer, flag.key);
    return tokens ? lineOfTokens(text, parsed.tree, tokens) : null;
  };
  const found = validation.status === 'done' ? validation.diagnostics : [];
  // The server refuses a write for the findings it introduces only.
  const blocking = found.filter((d) => d.isNew);
  // A refusal of this very text (the server may know more than the dry run).
  const refused =
    save.state.status === 'failed' && save.state.edit.kind === 'targeting' && sameJson(save.state.edit.targeting, targeting)
      ? save.state.failure.diagnostics
      : [];
  const notes: LineNote[] = [
    ...(parsed.kind === 'invalid' ? parsed.problems.map((p) => ({ line: p.line, severity: 'error', message: `column ${p.column}: ${p.message}` })) : []),
    ...[...found, ...refused].flatMap((d) => {
      const line = lineOf(d);
      return line === null ? [] : [{ line, severity: d.severity, message: d.message }];
    }),
  ];

  const edit = (next: string) => {
    save.reset();
    setDraft(next === savedText ? null : { text: next, read });
  };

  const saveDenial =
    denial ??
    (parsed.kind === 'invalid'
      ? 'Fix the JSON first'
      : !changed
        ? 'Nothing changed yet'
        : validation.status === 'pending'
          ? 'The server is checking the rule'
          : blocking.length > 0
            ? `The server’s compiler finds ${count(blocking.length, 'problem')} in this rule`
            : null);

  return (
    <section className="panel" aria-labelledby="targeting-heading">
      <h2 id="targeting-heading">Targeting</h2>
      <p className="help">
        The flag’s <code>targeting</code> as flagd JSONLogic, read at version {read.version}
        {read.version !== flag.version ? ` (the flag is now at version ${flag.version})` : ''}. Empty
        text removes it: every evaluation then gets the default variant.{' '}
        <Link href={flagTabPath(flagSet, flag.key, 'builder')}>Build a rule</Link> for the common cases.
      </p>
      <label htmlFor={`${id}-editor`} className="editor-label">
        Targeting (JSON)
      </label>
      <JsonEditor
        ref={editor}
        id={`${id}-editor`}
        value={text}
        onChange={edit}
        notes={notes}
        readOnly={denial !== null}
        invalid={parsed.kind === 'invalid' || blocking.length > 0}
        describedBy={`${id}-checks`}
      />
      <div id={`${id}-checks`}>
        {denial && <p className="gated-reason">{denial}</p>}
        {parsed.kind === 'invalid' ? (
          <ul className="diagnostics" aria-label="JSON syntax errors">
            {parsed.problems.map((p, i) => (
              <li key={i} className="diagnostic diagnostic-error">
                <span className="severity">syntax</span>{' '}
                <button type="button" className="link" onClick={() => editor.current?.goTo(p.line)}>
                  line {p.line}, column {p.column}
                </button>
                : {p.message}
              </li>
            ))}
          </ul>
        ) : (
          <CheckStatus validation={validation} />
        )}
        <DiagnosticList
          diagnostics={found}
          lineOf={lineOf}
          onGoTo={(line) => editor.current?.goTo(line)}
          label="Problems the server’s compiler finds"
        />
      </div>
      <div className="actions">
        <Gated reason={saveDenial}>
          <button
            type="button"
            className="primary"
            disabled={save.state.status === 'pending'}
            onClick={() => void save.save({ kind: 'targeting', targeting }, read)}
          >
            {save.state.status === 'pending' ? 'Saving…' : 'Save targeting'}
          </button>
        </Gated>
        <button
          type="button"
          disabled={parsed.kind !== 'json' || prettyJson(targeting) === text || denial !== null}
          onClick={() => { edit(prettyJson(targeting)); }}
        >
          Format JSON
        </button>
        <button type="button" disabled={draft === null || save.state.status === 'pending'} onClick={clear}>
          Undo my changes
        </button>
      </div>
      <SaveOutcome
        save={save}
        flagSet={flagSet}
        flagKey={flag.key}
        version={SERVER_DEFAULT}
        lineOf={lineOf}
        onGoTo={(line) => editor.current?.goTo(line)}
      />
    </section>
  );
}

function CheckStatus({ validation }: { validation: Validation }) {
  switch (validation.status) {
    case 'idle':
      return null;
    case 'pending':
      return <p role="status">Checking the rule with the server…</p>;
    case 'done': {
      const all = validation.diagnostics.length;
      const fresh = validation.diagnostics.filter((d) => d.isNew).length;
      return (
        <p role="status">
          {all === 0
            ? 'The server’s compiler finds no problem.'
            : fresh === 0
              ? `The server’s compiler finds ${count(all, 'problem')} that this edit does not introduce; none blocks the save.`
              : `The server’s compiler finds ${count(fresh, 'problem')} this edit introduces.`}
        </p>
      );
    }
    case 'unavailable':
      return (
        <>
          <ErrorNotice failure={validation.failure} what="The server could not check the rule as you type" />
          <p className="help">It checks it again when you save, and refuses it if it is invalid.</p>
        </>
      );
  }
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
