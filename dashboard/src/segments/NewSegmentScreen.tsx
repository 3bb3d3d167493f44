// `/new-segment/:flagSet`: the form that creates a segment, its key and its
// rule as JSON. The server's refusal (an invalid key, a key taken, a rule
// that uses another segment or that its compiler refuses) is shown with
// its message, code and findings, and nothing is created. A created
// segment opens in its editor.
import { type SyntheticEvent, useId, useRef, useState } from 'react';
import { useMutation } from 'urql';
import { Link, useLocation, useParams } from 'wouter';

import { Gated } from '../components/Denied';
import { useToast } from '../components/Toasts';
import { type Diagnostic, NO_ANSWER, type SaveFailure, saveFailureOf } from '../editing/diagnostics';
import { prettyJson } from '../editing/edit';
import { useWriteDenial } from '../flags/useWriteDenial';
import { decodeParam, segmentPath, segmentsPath } from '../routing';
import type { JsonEditorHandle } from '../targeting/JsonEditor';
import { parseText } from '../targeting/json';
import { CreateSegmentMutation } from './operations';
import { RuleEditor } from './RuleEditor';
import { SegmentRefusal } from './SegmentRefusal';
import { segmentLine } from './segmentText';
import '../editing/editing.css';
import '../flags/newFlag.css';
import './segments.css';

/** The rule a new segment starts with: users whose email is at one domain. */
export const STARTING_RULE = prettyJson({ ends_with: [{ var: 'email' }, '@example.com'] });

export function NewSegmentScreen() {
  const flagSet = decodeParam(useParams<{ flagSet: string }>().flagSet);
  return <NewSegmentForm key={flagSet} flagSet={flagSet} />;
}

function NewSegmentForm({ flagSet }: { flagSet: string }) {
  const id = useId();
  const denial = useWriteDenial(flagSet);
  const notify = useToast();
  const [, navigate] = useLocation();
  const [, create] = useMutation(CreateSegmentMutation);
  const editor = useRef<JsonEditorHandle>(null);
  const [key, setKey] = useState('');
  const [text, setText] = useState(STARTING_RULE);
  const [tried, setTried] = useState(false);
  const [pending, setPending] = useState(false);
  const [failure, setFailure] = useState<{ failure: SaveFailure; key: string; text: string } | null>(null);
  const parsed = parseText(text);
  const keyProblem = key === '' ? 'A segment needs a key' : key.trim() !== key ? 'A key cannot start or end with a space' : null;
  const findings = failure && failure.text === text && failure.key === key ? failure.failure.diagnostics : [];
  const lineOf = (d: Diagnostic) => (parsed.kind === 'json' ? segmentLine(text, parsed.tree, key, d) : null);

  const submit = async (event: SyntheticEvent) => {
    event.preventDefault();
    setTried(true);
    if (keyProblem !== null || parsed.kind !== 'json' || denial !== null || pending) return;
    setPending(true);
    setFailure(null);
    const result = await create({ flagSet, key, definition: parsed.value });
    setPending(false);
    const created = result.data?.createSegment;
    if (created) {
      notify('success', `Created segment ${created.key} in ${flagSet} (version ${created.version})`);
      navigate(segmentPath(flagSet, created.key));
    } else {
      setFailure({ failure: result.error ? saveFailureOf(result.error) : NO_ANSWER, key, text });
    }
  };

  return (
    <>
      <p>
        <Link href={segmentsPath(flagSet)}>← Segments of {flagSet}</Link>
      </p>
      <h1 id={`${id}-heading`}>New segment in {flagSet}</h1>
      <form className="new-flag new-segment panel" aria-labelledby={`${id}-heading`} noValidate onSubmit={(e) => void submit(e)}>
        <div className="field">
          <label htmlFor={`${id}-key`}>Key</label>
          <input
            id={`${id}-key`}
            type="text"
            autoComplete="off"
            spellCheck={false}
            required
            value={key}
            aria-invalid={tried && keyProblem !== null ? true : undefined}
            aria-describedby={`${id}-key-help`}
            onChange={(e) => { setKey(e.target.value); }}
          />
          <p id={`${id}-key-help`} className="help">
            {tried && keyProblem && <span className="field-problem">{keyProblem}. </span>}
            What flags name in <code>{`{"$ref": ${JSON.stringify(key || 'key')}}`}</code>; it cannot be changed later.
          </p>
        </div>
        <div className="field">
          <RuleEditor
            ref={editor}
            id={`${id}-rule`}
            text={text}
            parsed={parsed}
            onChange={setText}
            denial={denial}
            findings={findings}
            lineOf={lineOf}
          />
        </div>
        {failure && (
          <SegmentRefusal
            change="create"
            failure={failure.failure}
            flagSet={flagSet}
            segmentKey={failure.key}
            lineOf={lineOf}
            onGoTo={(line) => editor.current?.goTo(line)}
          />
        )}
        {pending && <p role="status">Creating the segment…</p>}
        <div className="actions">
          <Gated reason={denial ?? (parsed.kind === 'invalid' ? 'Fix the JSON first' : null)}>
            <button type="submit" className="primary" disabled={pending}>
              {pending ? 'Creating…' : 'Create segment'}
            </button>
          </Gated>
          <Link href={segmentsPath(flagSet)}>Cancel</Link>
        </div>
      </form>
    </>
  );
}
