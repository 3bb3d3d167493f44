// The rule builder's form: conditions tried in order, each serving a
// variant or a percentage split, and what to serve otherwise. Controlled:
// every change hands the whole rule to `onChange`.
import { type ReactNode, useId } from 'react';

import type { Bucket } from '../rollout/overlap';
import {
  type Branch,
  type BuiltRule,
  type Condition,
  type ConditionKind,
  type Outcome,
  SEM_VER_OPERATORS,
  type SemVerOperator,
} from './rules';

export interface RuleBuilderProps {
  rule: BuiltRule;
  onChange: (rule: BuiltRule) => void;
  /** The flag's variants, in order. */
  variants: string[];
  /** The flag set's segments; `null` while they load. */
  segments: string[] | null;
}

const KINDS: { kind: ConditionKind; label: string }[] = [
  { kind: 'in', label: 'is one of' },
  { kind: 'starts_with', label: 'starts with' },
  { kind: 'ends_with', label: 'ends with' },
  { kind: 'sem_ver', label: 'is a version (sem_ver)' },
  { kind: 'segment', label: 'is in a segment' },
];

export function RuleBuilder({ rule, onChange, variants, segments }: RuleBuilderProps) {
  const setBranch = (index: number, branch: Branch) => {
    onChange({ ...rule, branches: rule.branches.map((b, i) => (i === index ? branch : b)) });
  };
  const move = (from: number, to: number) => {
    const branches = [...rule.branches];
    const [moved] = branches.splice(from, 1);
    if (moved) branches.splice(to, 0, moved);
    onChange({ ...rule, branches });
  };
  const firstVariant = variants[0] ?? '';

  return (
    <div className="rule-builder">
      {rule.branches.map((branch, index) => (
        <fieldset key={index} className="rule-branch">
          <legend>Condition {index + 1}</legend>
          <ConditionEditor
            condition={branch.condition}
            segments={segments}
            onChange={(condition) => { setBranch(index, { ...branch, condition }); }}
          />
          <OutcomeEditor
            outcome={branch.outcome}
            variants={variants}
            allowDefault={false}
            onChange={(outcome) => { setBranch(index, { ...branch, outcome }); }}
          />
          <div className="actions">
            <button type="button" disabled={index === 0} onClick={() => { move(index, index - 1); }}>
              Move up
            </button>
            <button type="button" disabled={index === rule.branches.length - 1} onClick={() => { move(index, index + 1); }}>
              Move down
            </button>
            <button
              type="button"
              onClick={() => { onChange({ ...rule, branches: rule.branches.filter((_, i) => i !== index) }); }}
            >
              Remove condition {index + 1}
            </button>
          </div>
        </fieldset>
      ))}
      <p>
        <button
          type="button"
          onClick={() => {
            const branch: Branch = {
              condition: { kind: 'in', attribute: '', values: [] },
              outcome: { kind: 'variant', variant: firstVariant },
            };
            onChange({ ...rule, branches: [...rule.branches, branch] });
          }}
        >
          Add a condition
        </button>
      </p>
      <fieldset className="rule-branch">
        <legend>{rule.branches.length === 0 ? 'Everyone' : 'Otherwise'}</legend>
        <OutcomeEditor
          outcome={rule.otherwise}
          variants={variants}
          allowDefault
          onChange={(otherwise) => { onChange({ ...rule, otherwise }); }}
        />
      </fieldset>
    </div>
  );
}

function ConditionEditor({
  condition,
  segments,
  onChange,
}: {
  condition: Condition;
  segments: string[] | null;
  onChange: (condition: Condition) => void;
}) {
  const attribute = condition.kind === 'segment' ? '' : condition.attribute;
  return (
    <div className="rule-row">
      {condition.kind !== 'segment' && (
        <Field label="Attribute">
          {(id) => (
            <input
              id={id}
              value={attribute}
              placeholder="email"
              onChange={(event) => { onChange({ ...condition, attribute: event.target.value }); }}
            />
          )}
        </Field>
      )}
      <Field label="Test">
        {(id) => (
          <select
            id={id}
            value={condition.kind}
            onChange={(event) => { onChange(convert(condition, event.target.value as ConditionKind)); }}
          >
            {KINDS.map((k) => (
              <option key={k.kind} value={k.kind}>
                {k.label}
              </option>
            ))}
          </select>
        )}
      </Field>
      {condition.kind === 'in' && (
        <Field label="Values, one per line">
          {(id) => (
            <textarea
              id={id}
              rows={Math.max(2, condition.values.length)}
              value={condition.values.join('\n')}
              onChange={(event) => {
                const text = event.target.value;
                onChange({ ...condition, values: text === '' ? [] : text.split('\n') });
              }}
            />
          )}
        </Field>
      )}
      {(condition.kind === 'starts_with' || condition.kind === 'ends_with') && (
        <Field label="Text">
          {(id) => (
            <input id={id} value={condition.value} onChange={(event) => { onChange({ ...condition, value: event.target.value }); }} />
          )}
        </Field>
      )}
      {condition.kind === 'sem_ver' && (
        <>
          <Field label="Comparison">
            {(id) => (
              <select
                id={id}
                value={condition.operator}
                onChange={(event) => { onChange({ ...condition, operator: event.target.value as SemVerOperator }); }}
              >
                {SEM_VER_OPERATORS.map((op) => (
                  <option key={op} value={op}>
                    {op}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Version">
            {(id) => (
              <input
                id={id}
                value={condition.version}
                placeholder="1.2.0"
                onChange={(event) => { onChange({ ...condition, version: event.target.value }); }}
              />
            )}
          </Field>
        </>
      )}
      {condition.kind === 'segment' && (
        <Field label="Segment">
          {(id) => (
            <select id={id} value={condition.segment} onChange={(event) => { onChange({ ...condition, segment: event.target.value }); }}>
              <option value="">{segments === null ? 'Loading the segments…' : 'Choose a segment'}</option>
              {condition.segment !== '' && !segments?.includes(condition.segment) && (
                <option value={condition.segment}>
                  {segments === null ? condition.segment : `${condition.segment} (not a segment of this flag set)`}
                </option>
              )}
              {(segments ?? []).map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          )}
        </Field>
      )}
    </div>
  );
}

/** The condition of another kind, keeping the attribute and what else carries over. */
function convert(from: Condition, kind: ConditionKind): Condition {
  const attribute = from.kind === 'segment' ? '' : from.attribute;
  const text = from.kind === 'starts_with' || from.kind === 'ends_with' ? from.value : from.kind === 'in' ? (from.values[0] ?? '') : '';
  switch (kind) {
    case 'in':
      return { kind, attribute, values: text === '' ? [] : [text] };
    case 'starts_with':
    case 'ends_with':
      return { kind, attribute, value: text };
    case 'sem_ver':
      return { kind, attribute, operator: '>=', version: '' };
    case 'segment':
      return { kind, segment: '' };
  }
}

function OutcomeEditor({
  outcome,
  variants,
  allowDefault,
  onChange,
}: {
  outcome: Outcome;
  variants: string[];
  allowDefault: boolean;
  onChange: (outcome: Outcome) => void;
}) {
  const choice = outcome.kind === 'variant' ? `variant:${outcome.variant}` : outcome.kind;
  const known = outcome.kind !== 'variant' || variants.includes(outcome.variant);
  const choose = (value: string) => {
    if (value === 'default') onChange({ kind: 'default' });
    else if (value === 'split') onChange({ kind: 'split', bucketBy: '', buckets: evenSplit(variants) });
    else onChange({ kind: 'variant', variant: value.slice('variant:'.length) });
  };
  return (
    <div className="rule-row">
      <Field label="Serve">
        {(id) => (
          <select id={id} value={choice} onChange={(event) => { choose(event.target.value); }}>
            {variants.map((v) => (
              <option key={v} value={`variant:${v}`}>
                the variant {v}
              </option>
            ))}
            {!known && (
              <option value={choice}>{outcome.variant} (not a variant of this flag)</option>
            )}
            <option value="split">a percentage split</option>
            {allowDefault && <option value="default">the flag’s default variant</option>}
          </select>
        )}
      </Field>
      {outcome.kind === 'split' && <SplitEditor split={outcome} variants={variants} onChange={onChange} />}
    </div>
  );
}

function SplitEditor({
  split,
  variants,
  onChange,
}: {
  split: Extract<Outcome, { kind: 'split' }>;
  variants: string[];
  onChange: (outcome: Outcome) => void;
}) {
  const total = split.buckets.reduce((sum, b) => sum + b.weight, 0);
  // The split's buckets in its own order, then any variant it lacks.
  const names = [...split.buckets.map((b) => b.variant), ...variants.filter((v) => !split.buckets.some((b) => b.variant === v))];
  const weightOf = (name: string) => split.buckets.find((b) => b.variant === name)?.weight ?? 0;
  const setWeight = (name: string, weight: number) => {
    const buckets = names.map((n) => ({ variant: n, weight: n === name ? weight : weightOf(n) }));
    // A variant left out at 0 stays out, so that reading the rule back gives the same split.
    onChange({ ...split, buckets: buckets.filter((b) => b.weight > 0 || split.buckets.some((s) => s.variant === b.variant) || b.variant === name) });
  };
  return (
    <div className="split">
      {names.map((name) => (
        <Field key={name} label={`Weight of ${name}`}>
          {(id) => (
            <>
              <input
                id={id}
                type="number"
                min={0}
                step={1}
                value={weightOf(name)}
                onChange={(event) => {
                  const value = Math.max(0, Math.floor(Number(event.target.value) || 0));
                  setWeight(name, value);
                }}
              />{' '}
              <span className="share">{total === 0 ? '0%' : `${Number(((weightOf(name) * 100) / total).toFixed(2))}%`}</span>
            </>
          )}
        </Field>
      ))}
      <Field label="Bucket by attribute (empty: the targeting key)">
        {(id) => (
          <input id={id} value={split.bucketBy} placeholder="targetingKey" onChange={(event) => { onChange({ ...split, bucketBy: event.target.value }); }} />
        )}
      </Field>
    </div>
  );
}

/** Weights summing to 100 spread over the variants (the remainder to the first). */
function evenSplit(variants: string[]): Bucket[] {
  if (variants.length === 0) return [];
  const share = Math.floor(100 / variants.length);
  return variants.map((variant, i) => ({ variant, weight: share + (i === 0 ? 100 - share * variants.length : 0) }));
}

function Field({ label, children }: { label: string; children: (id: string) => ReactNode }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id)}
    </div>
  );
}
