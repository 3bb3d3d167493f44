// `/flags/:flagSet/:key/rollout`: the weights of the flag's first
// `fractional` rule, one slider and one exact field per variant, the share
// of users whose variant the edit would change, and the save (`setRollout`
// with the version read).
import { type KeyboardEvent, useCallback, useId, useState } from 'react';
import { useQuery } from 'urql';
import { Link } from 'wouter';

import { Gated } from '../components/Denied';
import { percent } from '../editing/ConflictPanel';
import { type RolloutDraft, type ReadFlag, sameJson, targetingOf } from '../editing/edit';
import { FlagSetSchemeQuery } from '../editing/operations';
import { SaveOutcome } from '../editing/SaveOutcome';
import { useFlagSave } from '../editing/useFlagSave';
import type { ShownFlag } from '../flags/FlagScreen';
import { variantsOf } from '../flags/flagFields';
import { flagTabPath, newRolloutPath, rolloutsPath } from '../routing';
import { RolloutSlider } from './RolloutSlider';
import { SplitChart } from './SplitChart';
import { type Bucket, type Overlap, changedShare, sum } from './overlap';
import { type SchemeOf, readRollout, redistribute, schemeOf } from './rule';

export interface RolloutTabProps {
  flagSet: string;
  flag: ShownFlag;
  /** Why the signed-in token may not change the flag, or `null`. */
  denial: string | null;
  draft: RolloutDraft | null;
  setDraft: (draft: RolloutDraft | null) => void;
}

export function RolloutTab({ flagSet, flag, denial, draft, setDraft }: RolloutTabProps) {
  const [{ data: sets }] = useQuery({ query: FlagSetSchemeQuery });
  const scheme = schemeOf(sets?.flagSets.find((s) => s.key === flagSet));
  const read: ReadFlag = draft?.read ?? { version: flag.version, definition: flag.definition };
  const clear = useCallback(() => { setDraft(null); }, [setDraft]);
  const save = useFlagSave(flagSet, flag.key, clear, clear);
  const rule = readRollout(targetingOf(read.definition), scheme.version);

  return (
    <section className="panel" aria-labelledby="rollout-heading">
      <h2 id="rollout-heading">Rollout</h2>
      {rule.ok ? (
        <Weights
          flagSet={flagSet}
          flag={flag}
          read={read}
          saved={rule.buckets}
          edited={draft?.weights ?? rule.buckets}
          scheme={scheme}
          denial={denial}
          onEdit={(weights) => {
            save.reset();
            setDraft(sameJson(weights, rule.buckets) ? null : { weights, read });
          }}
          onSave={(weights) => void save.save({ kind: 'rollout', weights }, read)}
          pending={save.state.status === 'pending'}
        />
      ) : (
        <p>
          The sliders edit the weights of the flag’s first <code>fractional</code> rule. {rule.reason}{' '}
          <Link href={flagTabPath(flagSet, flag.key, 'targeting')}>Edit the targeting as JSON</Link>.
        </p>
      )}
      <SaveOutcome save={save} flagSet={flagSet} flagKey={flag.key} version={scheme.version} />
      {rule.ok && (
        <p className="help">
          To change these weights step by step at set times, optionally guarded by a metric:{' '}
          <Link href={newRolloutPath(flagSet, flag.key)}>schedule a progressive rollout</Link> (
          <Link href={rolloutsPath(flagSet)}>rollouts of {flagSet}</Link>).
        </p>
      )}
    </section>
  );
}

interface WeightsProps {
  flagSet: string;
  flag: ShownFlag;
  read: ReadFlag;
  saved: Bucket[];
  edited: Bucket[];
  scheme: SchemeOf;
  denial: string | null;
  onEdit: (weights: Bucket[]) => void;
  onSave: (weights: Bucket[]) => void;
  pending: boolean;
}

function Weights({ flag, read, saved, edited, scheme, denial, onEdit, onSave, pending }: WeightsProps) {
  const id = useId();
  const denialId = `${id}-denial`;
  // The slider is a fixed total: what one bucket gains, the others give in
  // proportion to their weights when that bucket's edit began.
  const savedTotal = sum(saved);
  const total = savedTotal > 0 ? savedTotal : 100;
  const [anchor, setAnchor] = useState<{ index: number; weights: number[] } | null>(null);
  const overlap = changedShare(scheme.version, saved, edited);
  const changed = !sameJson(saved, edited);
  const editedTotal = sum(edited);
  const missing = variantsOf(read.definition)
    .map(([name]) => name)
    .filter((name) => !edited.some((b) => b.variant === name));

  const setWeight = (index: number, value: number) => {
    const base = anchor?.index === index ? anchor.weights : edited.map((b) => b.weight);
    if (anchor?.index !== index) setAnchor({ index, weights: base });
    const next = redistribute(base, index, value, total);
    onEdit(edited.map((b, i) => ({ variant: b.variant, weight: next[i] ?? 0 })));
  };

  const saveDenial =
    denial ?? (!changed ? 'Nothing changed yet' : editedTotal === 0 ? 'At least one weight must be above 0' : null);

  return (
    <>
      <p className="help">
        Weights of the first <code>fractional</code> rule, read at version {read.version}
        {read.version !== flag.version ? ` (the flag is now at version ${flag.version})` : ''}. Users are
        bucketed by a hash laid out over the variants in this order. Bucketing scheme {scheme.version}
        {scheme.known ? '' : ' (the server’s default: this flag set names none)'}.
      </p>
      {denial && (
        <p id={denialId} className="gated-reason">
          {denial}
        </p>
      )}
      <table className="weights-table">
        <thead>
          <tr>
            <th scope="col">Variant</th>
            <th scope="col">Share</th>
            <th scope="col">Weight</th>
            <th scope="col">Saved</th>
          </tr>
        </thead>
        <tbody>
          {edited.map((bucket, index) => {
            const labelId = `${id}-variant-${index}`;
            const before = saved.find((b) => b.variant === bucket.variant);
            return (
              <tr key={bucket.variant}>
                <th scope="row" id={labelId}>
                  {bucket.variant}
                </th>
                <td>
                  <div className="slider-cell">
                    <RolloutSlider
                      labelledBy={labelId}
                      value={bucket.weight}
                      max={total}
                      disabled={denial !== null}
                      aria-describedby={denial ? denialId : undefined}
                      onChange={(value) => { setWeight(index, value); }}
                    />
                    <span className="share">{percent(bucket.weight, editedTotal)}</span>
                  </div>
                </td>
                <td>
                  <WeightInput
                    label={`Weight of ${bucket.variant}`}
                    value={bucket.weight}
                    max={total}
                    disabled={denial !== null}
                    onCommit={(value) => { setAnchor(null); setWeight(index, value); }}
                  />
                </td>
                <td>{before ? percent(before.weight, savedTotal) : 'not in the rule'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <SplitChart saved={saved} edited={edited} />
      {missing.length > 0 && denial === null && (
        <AddVariant
          variants={missing}
          onAdd={(variant) => { setAnchor(null); onEdit([...edited, { variant, weight: 0 }]); }}
        />
      )}
      <ChangedShare overlap={overlap} changed={changed} />
      <div className="actions">
        <Gated reason={saveDenial}>
          <button type="button" className="primary" disabled={pending} onClick={() => { onSave(edited); }}>
            {pending ? 'Saving…' : 'Save weights'}
          </button>
        </Gated>
        <button
          type="button"
          disabled={!changed || pending}
          onClick={() => { setAnchor(null); onEdit(saved); }}
        >
          Undo my changes
        </button>
      </div>
    </>
  );
}

/** The share of users whose variant the edit changes. */
function ChangedShare({ overlap, changed }: { overlap: Overlap; changed: boolean }) {
  return (
    <output className="changed-share" aria-live="polite">
      {changed
        ? `${formatShare(overlap)} of the users who reach this rule would get a different variant.`
        : 'No change yet: every user keeps their variant.'}
    </output>
  );
}

/** A share of the hash space as a percentage, never rounded to 0 or 100 when it is not. */
export function formatShare(overlap: Overlap): string {
  if (overlap.changed === 0n) return '0%';
  if (overlap.changed === overlap.space) return '100%';
  const percentage = overlap.share * 100;
  if (percentage < 0.01) return 'under 0.01%';
  if (percentage > 99.99) return 'over 99.99%';
  return `${Number(percentage.toFixed(2))}%`;
}

/** An exact weight, applied when the field is left or Enter is pressed. */
function WeightInput(props: { label: string; value: number; max: number; disabled: boolean; onCommit: (value: number) => void }) {
  const [text, setText] = useState<string | null>(null);
  const commit = () => {
    if (text === null) return;
    const value = Number(text);
    setText(null);
    if (text.trim() !== '' && Number.isFinite(value)) props.onCommit(value);
  };
  return (
    <input
      type="number"
      aria-label={props.label}
      min={0}
      max={props.max}
      step={1}
      value={text ?? String(props.value)}
      disabled={props.disabled}
      onChange={(event) => { setText(event.target.value); }}
      onBlur={commit}
      onKeyDown={(event: KeyboardEvent) => {
        if (event.key === 'Enter') commit();
      }}
    />
  );
}

function AddVariant({ variants, onAdd }: { variants: string[]; onAdd: (variant: string) => void }) {
  const id = useId();
  const [choice, setChoice] = useState(variants[0] ?? '');
  const chosen = variants.includes(choice) ? choice : (variants[0] ?? '');
  return (
    <p className="add-variant">
      <label htmlFor={id}>Add a variant to the rule</label>{' '}
      <select id={id} value={chosen} onChange={(event) => { setChoice(event.target.value); }}>
        {variants.map((v) => (
          <option key={v} value={v}>
            {v}
          </option>
        ))}
      </select>{' '}
      <button type="button" onClick={() => { onAdd(chosen); }}>
        Add at 0%
      </button>
    </p>
  );
}

