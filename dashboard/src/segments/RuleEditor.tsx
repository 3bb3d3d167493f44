// A segment's rule as JSON: the targeting tab's editor, with syntax errors
// located as the user types and the findings of the server's last refusal
// beside the lines of the rule they point at. There is no dry run for a
// segment: the server's compiler checks the rule, against every flag that
// uses it, when it is saved.
import type { Ref } from 'react';

import { JsonEditor, type JsonEditorHandle, type LineNote } from '../targeting/JsonEditor';
import type { ParsedText } from '../targeting/json';
import type { Diagnostic } from '../editing/diagnostics';

export interface RuleEditorProps {
  id: string;
  text: string;
  parsed: ParsedText;
  onChange: (text: string) => void;
  /** Why the rule cannot be changed here, or `null`. */
  denial: string | null;
  /** The findings of the server's refusal of this very text. */
  findings: readonly Diagnostic[];
  /** The editor's line of a finding, when it points into the rule. */
  lineOf: (d: Diagnostic) => number | null;
  ref?: Ref<JsonEditorHandle>;
}

export function RuleEditor({ id, text, parsed, onChange, denial, findings, lineOf, ref }: RuleEditorProps) {
  const notes: LineNote[] = [
    ...(parsed.kind === 'invalid'
      ? parsed.problems.map((p) => ({ line: p.line, severity: 'error', message: `column ${p.column}: ${p.message}` }))
      : []),
    ...findings.flatMap((d) => {
      const line = lineOf(d);
      return line === null ? [] : [{ line, severity: d.severity, message: d.message }];
    }),
  ];
  return (
    <>
      <label htmlFor={id} className="editor-label">
        Rule (JSONLogic)
      </label>
      <JsonEditor
        ref={ref}
        id={id}
        value={text}
        onChange={onChange}
        notes={notes}
        readOnly={denial !== null}
        invalid={parsed.kind !== 'json' || findings.length > 0}
        describedBy={`${id}-checks`}
      />
      <div id={`${id}-checks`}>
        {denial && <p className="gated-reason">{denial}</p>}
        <RuleCheck parsed={parsed} onGoTo={(line) => { goTo(ref, line); }} />
      </div>
    </>
  );
}

function goTo(ref: Ref<JsonEditorHandle> | undefined, line: number) {
  if (ref && typeof ref === 'object') ref.current?.goTo(line);
}

/** What the browser can say of the text: empty, not JSON (where), or JSON. */
function RuleCheck({ parsed, onGoTo }: { parsed: ParsedText; onGoTo: (line: number) => void }) {
  switch (parsed.kind) {
    case 'empty':
      return <p className="field-problem">A segment needs a rule: write one as JSON.</p>;
    case 'invalid':
      return (
        <ul className="diagnostics" aria-label="JSON syntax errors">
          {parsed.problems.map((p, i) => (
            <li key={i} className="diagnostic diagnostic-error">
              <span className="severity">syntax</span>{' '}
              <button type="button" className="link" onClick={() => { onGoTo(p.line); }}>
                line {p.line}, column {p.column}
              </button>
              : {p.message}
            </li>
          ))}
        </ul>
      );
    case 'json':
      return (
        <p className="help">
          The server’s compiler checks the rule when it is saved, with every flag that uses the segment.
        </p>
      );
  }
}
