// `/flags/:flagSet/:key/builder`: the rule builder over the targeting being
// edited. It reads the JSON editor's text (or the saved targeting), writes
// every change back to it as JSONLogic, and says plainly when a rule is too
// complex for it, which only the JSON editor then edits.
import { useState } from 'react';
import { useQuery } from 'urql';
import { Link } from 'wouter';

import { failureOf } from '../api/errors';
import { CodeBlock } from '../components/CodeBlock';
import { ErrorNotice } from '../components/ErrorNotice';
import { type ReadFlag, type TargetingDraft, prettyJson, targetingOf } from '../editing/edit';
import { SegmentsQuery } from '../editing/operations';
import type { ShownFlag } from '../flags/FlagScreen';
import { variantsOf } from '../flags/flagFields';
import { flagTabPath } from '../routing';
import { RuleBuilder } from './RuleBuilder';
import { parseText } from './json';
import { type BuiltRule, type ReadRule, fromJsonLogic, ruleProblems, toJsonLogic } from './rules';

export interface BuilderTabProps {
  flagSet: string;
  flag: ShownFlag;
  denial: string | null;
  draft: TargetingDraft | null;
  setDraft: (draft: TargetingDraft | null) => void;
}

export function BuilderTab({ flagSet, flag, denial, draft, setDraft }: BuilderTabProps) {
  const read: ReadFlag = draft?.read ?? { version: flag.version, definition: flag.definition };
  const savedText = prettyJson(targetingOf(read.definition));
  const [rule, setRule] = useState<ReadRule>(() => {
    const parsed = parseText(draft?.text ?? savedText);
    if (parsed.kind === 'invalid') return { ok: false, reason: 'the JSON editor’s text is not JSON' };
    return fromJsonLogic(parsed.kind === 'json' ? parsed.value : undefined);
  });
  const [{ data: segmentData, error: segmentError }] = useQuery({ query: SegmentsQuery, variables: { flagSet } });
  const segments = segmentData ? segmentData.segments.map((s) => s.key) : segmentError ? [] : null;
  const variants = variantsOf(read.definition).map(([name]) => name);
  const editorPath = flagTabPath(flagSet, flag.key, 'targeting');

  const change = (next: BuiltRule) => {
    setRule({ ok: true, rule: next });
    const text = prettyJson(toJsonLogic(next));
    setDraft(text === savedText ? null : { text, read });
  };

  return (
    <section className="panel" aria-labelledby="builder-heading">
      <h2 id="builder-heading">Rule builder</h2>
      <p className="help">
        Builds the flag’s targeting for the common cases: conditions tried in order, each serving a variant or
        a percentage split. What it builds goes to the <Link href={editorPath}>JSON editor</Link>, where the
        server checks it and you save it.
      </p>
      {denial && <p className="gated-reason">{denial}</p>}
      {segmentError && <ErrorNotice failure={failureOf(segmentError)} what="The segments could not be loaded" />}
      {rule.ok ? (
        <Built rule={rule.rule} variants={variants} segments={segments} denial={denial} onChange={change} editorPath={editorPath} />
      ) : (
        <div className="notice" role="note">
          <p>
            <strong>This rule is too complex for the builder:</strong> {rule.reason}. Only the JSON editor edits it.
          </p>
          <p>
            <Link href={editorPath}>Edit it as JSON</Link>{' '}
            <button
              type="button"
              disabled={denial !== null}
              onClick={() => { change({ branches: [], otherwise: { kind: 'default' } }); }}
            >
              Replace it with a new rule
            </button>
          </p>
        </div>
      )}
    </section>
  );
}

function Built(props: {
  rule: BuiltRule;
  variants: string[];
  segments: string[] | null;
  denial: string | null;
  onChange: (rule: BuiltRule) => void;
  editorPath: string;
}) {
  const { rule } = props;
  const json = toJsonLogic(rule);
  const problems = ruleProblems(rule);
  return (
    <>
      <fieldset className="plain" disabled={props.denial !== null}>
        <legend className="visually-hidden">The rule</legend>
        <RuleBuilder rule={rule} onChange={props.onChange} variants={props.variants} segments={props.segments} />
      </fieldset>
      {problems.length > 0 && (
        <ul className="diagnostics" aria-label="To complete the rule">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      <h3>As JSONLogic</h3>
      <CodeBlock className="preview" label="The rule as JSONLogic">
        {json === undefined ? '(no targeting: everyone gets the default variant)' : prettyJson(json)}
      </CodeBlock>
      <p>
        <Link href={props.editorPath}>Check and save it in the JSON editor</Link>
      </p>
    </>
  );
}
