// `/new-flag/:flagSet`: the form that creates a flag (its key, the type and
// values of its variants, the default variant, its state, tags and
// description). What the browser can check is checked before anything is
// sent; the server's refusal (an invalid key, a key taken, a definition its
// compiler refuses) is shown with its message, code and findings, and
// nothing is created. A created flag opens on its overview.
import { type SyntheticEvent, useId, useState } from 'react';
import { useMutation } from 'urql';
import { Link, useLocation, useParams } from 'wouter';

import { Gated } from '../components/Denied';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { useToast } from '../components/Toasts';
import { DiagnosticList } from '../editing/DiagnosticList';
import { NO_ANSWER, type SaveFailure, saveFailureOf } from '../editing/diagnostics';
import { decodeParam, flagPath, flagSetPath } from '../routing';
import {
  type NewFlag,
  type Problems,
  type VariantRow,
  type VariantType,
  VARIANT_TYPES,
  blankFlag,
  checkNewFlag,
  startingVariants,
} from './newFlag';
import { CreateFlagMutation } from './operations';
import { useWriteDenial } from './useWriteDenial';
import '../editing/editing.css';
import './newFlag.css';

export function NewFlagScreen() {
  const flagSet = decodeParam(useParams<{ flagSet: string }>().flagSet);
  return <NewFlagForm key={flagSet} flagSet={flagSet} />;
}

/** The value a variant added to a flag of `type` starts with. */
const ADDED_VALUE: Record<VariantType, string> = { boolean: 'false', string: '', number: '0', object: '{}' };

function NewFlagForm({ flagSet }: { flagSet: string }) {
  const id = useId();
  const denial = useWriteDenial(flagSet);
  const notify = useToast();
  const [, navigate] = useLocation();
  const [, create] = useMutation(CreateFlagMutation);
  const [flag, setFlag] = useState<NewFlag>(blankFlag);
  // Problems show once the user has tried to create the flag, and then as they are fixed.
  const [tried, setTried] = useState(false);
  const [pending, setPending] = useState(false);
  const [failure, setFailure] = useState<SaveFailure | null>(null);
  const checked = checkNewFlag(flag);
  const problems = tried && !checked.ok ? checked.problems : null;

  const change = (next: Partial<NewFlag>) => { setFlag((current) => ({ ...current, ...next })); };
  const setRows = (variants: VariantRow[], defaultVariant = flag.defaultVariant) => { change({ variants, defaultVariant }); };

  const submit = async (event: SyntheticEvent) => {
    event.preventDefault();
    setTried(true);
    if (!checked.ok || denial !== null || pending) return;
    setPending(true);
    setFailure(null);
    const result = await create({ flagSet, key: flag.key, definition: checked.definition });
    setPending(false);
    const created = result.data?.createFlag;
    if (created) {
      notify('success', `Created ${created.key} in ${flagSet} (version ${created.version})`);
      navigate(flagPath(flagSet, created.key));
    } else {
      setFailure(result.error ? saveFailureOf(result.error) : NO_ANSWER);
    }
  };

  const names = [...new Set(flag.variants.map((v) => v.name).filter((n) => n !== ''))];

  return (
    <>
      <p>
        <Link href={flagSetPath(flagSet)}>← Flags of {flagSet}</Link>
      </p>
      <h1 id={`${id}-heading`}>New flag in {flagSet}</h1>
      <form className="new-flag panel" aria-labelledby={`${id}-heading`} noValidate onSubmit={(e) => void submit(e)}>
        <Field id={`${id}-key`} label="Key" problem={problems?.key} help="Up to 255 bytes, without invisible characters or surrounding spaces; it cannot be changed later.">
          {(props) => (
            <input
              {...props}
              type="text"
              autoComplete="off"
              spellCheck={false}
              required
              value={flag.key}
              onChange={(e) => { change({ key: e.target.value }); }}
            />
          )}
        </Field>

        <Field id={`${id}-type`} label="Variant type" help="Changing the type starts the variants over with its usual ones.">
          {(props) => (
            <select
              {...props}
              value={flag.type}
              onChange={(e) => {
                const type = e.target.value as VariantType;
                change({ type, ...startingVariants(type) });
              }}
            >
              {VARIANT_TYPES.map((t) => (
                <option key={t.type} value={t.type}>
                  {t.label}
                </option>
              ))}
            </select>
          )}
        </Field>

        <VariantRows
          type={flag.type}
          rows={flag.variants}
          problems={problems}
          onRename={(index, name) => {
            const old = flag.variants[index]?.name;
            // The default follows its variant's new name, unless another row still has the old one.
            const follows = old === flag.defaultVariant && !flag.variants.some((row, i) => i !== index && row.name === old);
            setRows(
              flag.variants.map((row, i) => (i === index ? { ...row, name } : row)),
              follows ? name : flag.defaultVariant,
            );
          }}
          onValue={(index, value) => { setRows(flag.variants.map((row, i) => (i === index ? { ...row, value } : row))); }}
          onRemove={(index) => {
            const rest = flag.variants.filter((_, i) => i !== index);
            const kept = rest.some((row) => row.name === flag.defaultVariant);
            setRows(rest, kept ? flag.defaultVariant : (rest[0]?.name ?? ''));
          }}
          onAdd={() => { setRows([...flag.variants, { name: '', value: ADDED_VALUE[flag.type] }]); }}
        />

        <Field id={`${id}-default`} label="Default variant" problem={problems?.defaultVariant} help="What evaluation serves when no rule picks a variant.">
          {(props) => (
            <select {...props} value={names.includes(flag.defaultVariant) ? flag.defaultVariant : ''} onChange={(e) => { change({ defaultVariant: e.target.value }); }}>
              {!names.includes(flag.defaultVariant) && <option value="">Choose a variant</option>}
              {names.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          )}
        </Field>

        <fieldset className="state-choice">
          <legend>State</legend>
          {(['ENABLED', 'DISABLED'] as const).map((state) => (
            <label key={state} className="inline">
              <input
                type="radio"
                name={`${id}-state`}
                value={state}
                checked={flag.state === state}
                onChange={() => { change({ state }); }}
              />{' '}
              {state === 'ENABLED' ? 'Enabled' : 'Disabled (every evaluation gets the caller’s default)'}
            </label>
          ))}
        </fieldset>

        <Field id={`${id}-tags`} label="Tags" help="Optional, separated by commas, such as checkout, web.">
          {(props) => <input {...props} type="text" value={flag.tags} onChange={(e) => { change({ tags: e.target.value }); }} />}
        </Field>

        <Field id={`${id}-description`} label="Description" help="Optional; kept in the flag’s metadata.">
          {(props) => <textarea {...props} rows={2} value={flag.description} onChange={(e) => { change({ description: e.target.value }); }} />}
        </Field>

        {problems && (
          <p className="error-notice" role="alert">
            Not sent: fix the fields marked above first.
          </p>
        )}
        {failure && (
          <div>
            <ErrorNotice failure={failure} what="The flag was not created" />
            <DiagnosticList diagnostics={failure.diagnostics} label="Why the server refused it" />
          </div>
        )}
        {pending && <p role="status">Creating the flag…</p>}
        <div className="actions">
          <Gated reason={denial}>
            <button type="submit" className="primary" disabled={pending}>
              {pending ? 'Creating…' : 'Create flag'}
            </button>
          </Gated>
          <Link href={flagSetPath(flagSet)}>Cancel</Link>
        </div>
        {checked.ok && (
          <details>
            <summary>The definition it creates</summary>
            <pre>{JSON.stringify(checked.definition, null, 2)}</pre>
          </details>
        )}
      </form>
    </>
  );
}

interface VariantRowsProps {
  type: VariantType;
  rows: VariantRow[];
  problems: Problems | null;
  onRename: (index: number, name: string) => void;
  onValue: (index: number, value: string) => void;
  onRemove: (index: number) => void;
  onAdd: () => void;
}

/** The variants as rows of name and value, added and removed. */
function VariantRows({ type, rows, problems, onRename, onValue, onRemove, onAdd }: VariantRowsProps) {
  const id = useId();
  return (
    <fieldset className="variants">
      <legend>Variants</legend>
      {problems?.variants && <p className="field-problem">{problems.variants}.</p>}
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Value</th>
            <th scope="col">
              <span className="visually-hidden">Remove</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, index) => {
            const n = index + 1;
            const nameProblem = problems?.names[index];
            const valueProblem = problems?.values[index];
            const valueProps = {
              'aria-label': `Value of variant ${n}`,
              'aria-invalid': valueProblem ? true : undefined,
              'aria-describedby': valueProblem ? `${id}-value-${index}` : undefined,
              value: row.value,
            };
            return (
              <tr key={index}>
                <td>
                  <input
                    type="text"
                    aria-label={`Name of variant ${n}`}
                    aria-invalid={nameProblem ? true : undefined}
                    aria-describedby={nameProblem ? `${id}-name-${index}` : undefined}
                    value={row.name}
                    onChange={(e) => { onRename(index, e.target.value); }}
                  />
                  {nameProblem && (
                    <p id={`${id}-name-${index}`} className="field-problem">
                      {nameProblem}.
                    </p>
                  )}
                </td>
                <td>
                  {type === 'boolean' ? (
                    <select {...valueProps} onChange={(e) => { onValue(index, e.target.value); }}>
                      <option value="true">true</option>
                      <option value="false">false</option>
                    </select>
                  ) : type === 'object' ? (
                    <textarea {...valueProps} rows={2} spellCheck={false} className="json-value" onChange={(e) => { onValue(index, e.target.value); }} />
                  ) : (
                    <input
                      {...valueProps}
                      type="text"
                      inputMode={type === 'number' ? 'decimal' : undefined}
                      onChange={(e) => { onValue(index, e.target.value); }}
                    />
                  )}
                  {valueProblem && (
                    <p id={`${id}-value-${index}`} className="field-problem">
                      {valueProblem}.
                    </p>
                  )}
                </td>
                <td>
                  <Gated reason={rows.length === 1 ? 'A flag needs at least one variant' : null}>
                    <button type="button" aria-label={`Remove variant ${n}`} onClick={() => { onRemove(index); }}>
                      Remove
                    </button>
                  </Gated>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <button type="button" onClick={onAdd}>
        Add a variant
      </button>
    </fieldset>
  );
}
