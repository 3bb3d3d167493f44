// `/new-experiment/:flagSet`: the form that creates an experiment (its key,
// the flag whose split it reads, the control variant, the metrics, the
// attribution window and, optionally, alpha and the sequential tuning), and
// with `?draft=<key>` edits that draft (with the version read). What the
// browser can check is checked before anything is sent; the server's
// refusal is shown with its message and code, and nothing changes. It can
// also start the experiment right away; a saved experiment opens on its
// results.
import { type SyntheticEvent, useId, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { Link, useLocation, useParams, useSearch } from 'wouter';

import { type ApiFailure, describe, failureOf } from '../api/errors';
import { Gated } from '../components/Denied';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { useToast } from '../components/Toasts';
import { VERSION_CONFLICT } from '../editing/diagnostics';
import { targetingOf } from '../editing/edit';
import { FlagSetSchemeQuery } from '../editing/operations';
import { variantsOf } from '../flags/flagFields';
import { useWriteDenial } from '../flags/useWriteDenial';
import type { ExperimentFieldsFragment } from '../gql/graphql';
import { readRollout, schemeOf } from '../rollout/rule';
import { decodeParam, experimentPath, experimentsPath } from '../routing';
import {
  DEFAULT_ALPHA,
  DEFAULT_SEQUENTIAL_TUNING,
  type ExperimentForm,
  type FormProblems,
  type MetricRow,
  type WindowUnit,
  blankForm,
  blankMetric,
  checkForm,
  formOf,
  withEvent,
} from './experimentForm';
import { METRIC_KINDS } from './format';
import {
  CreateExperimentMutation,
  ExperimentDraftQuery,
  ExperimentFlagChoicesQuery,
  ExperimentFlagQuery,
  StartExperimentMutation,
  UpdateExperimentMutation,
} from './operations';
import './experiments.css';
import '../flags/newFlag.css';

/** The flags the form lists at once; more are found by typing. */
const FLAG_CHOICES = 100;

export function NewExperimentScreen() {
  const flagSet = decodeParam(useParams<{ flagSet: string }>().flagSet);
  const draft = draftOf(useSearch());
  if (draft !== null) return <DraftForm key={`${flagSet}\n${draft}`} flagSet={flagSet} draftKey={draft} />;
  return <ExperimentFormView key={flagSet} flagSet={flagSet} initial={blankForm()} draft={null} />;
}

/**
 * The draft named in the query string. The router hands the query over
 * with each `%` escaped as `%25` (routing.tsx), undone first.
 */
export function draftOf(search: string): string | null {
  return new URLSearchParams(search.replace(/%25/g, '%')).get('draft');
}

/** Loads a draft, then shows it in the form. */
function DraftForm({ flagSet, draftKey }: { flagSet: string; draftKey: string }) {
  const [{ data, error }, refetch] = useQuery({
    query: ExperimentDraftQuery,
    variables: { flagSet, key: draftKey },
    requestPolicy: 'network-only',
  });
  if (error) return <ErrorNotice failure={failureOf(error)} what={`The experiment ${draftKey} could not be loaded`} />;
  if (!data) return <p role="status">Loading the experiment…</p>;
  const experiment = data.experiment;
  if (experiment.status !== 'DRAFT') {
    return (
      <>
        <h1>Edit {experiment.key}</h1>
        <p className="notice">
          {experiment.key} has started: only a draft can be edited.{' '}
          <Link href={experimentPath(flagSet, experiment.key)}>See its results</Link>.
        </p>
      </>
    );
  }
  // A newer version (read again after a conflict) starts the form afresh from it.
  return (
    <ExperimentFormView
      key={experiment.version}
      flagSet={flagSet}
      initial={formOf(experiment)}
      draft={experiment}
      onReload={() => { refetch({ requestPolicy: 'network-only' }); }}
    />
  );
}

interface FormViewProps {
  flagSet: string;
  initial: ExperimentForm;
  /** The draft being edited, or `null` for a new experiment. */
  draft: ExperimentFieldsFragment | null;
  /** Reads the draft again (after someone else changed it). */
  onReload?: () => void;
}

type Step = 'saving' | 'starting' | null;

function ExperimentFormView({ flagSet, initial, draft, onReload }: FormViewProps) {
  const id = useId();
  const denial = useWriteDenial(flagSet);
  const notify = useToast();
  const [, navigate] = useLocation();
  const [, create] = useMutation(CreateExperimentMutation);
  const [, update] = useMutation(UpdateExperimentMutation);
  const [, start] = useMutation(StartExperimentMutation);
  const [form, setForm] = useState<ExperimentForm>(initial);
  const [tried, setTried] = useState(false);
  const [step, setStep] = useState<Step>(null);
  const [failure, setFailure] = useState<ApiFailure | null>(null);
  const flag = useChosenFlag(flagSet, form.flag);
  const variants = flag.variants;
  // The control shown and sent: the one chosen, while the flag has it, or else the flag's suggestion.
  const control = variants?.includes(form.control) ? form.control : (flag.suggestedControl ?? '');
  const shown = { ...form, control };
  const checked = checkForm(shown, variants, draft !== null);
  const problems = tried && !checked.ok ? checked.problems : null;
  const change = (next: Partial<ExperimentForm>) => { setForm((current) => ({ ...current, ...next })); };
  const setMetric = (index: number, row: MetricRow) => { change({ metrics: form.metrics.map((m, i) => (i === index ? row : m)) }); };

  const submit = async (event: SyntheticEvent, andStart: boolean) => {
    event.preventDefault();
    setTried(true);
    if (!checked.ok || denial !== null || step !== null) return;
    setFailure(null);
    setStep('saving');
    const key = draft?.key ?? form.key;
    const saved = draft
      ? await update({ flagSet, key, expectedVersion: draft.version, settings: checked.settings })
      : await create({ flagSet, key, settings: checked.settings });
    const experiment = saved.data ? ('createExperiment' in saved.data ? saved.data.createExperiment : saved.data.updateExperiment) : null;
    if (!experiment) {
      setStep(null);
      setFailure(saved.error ? failureOf(saved.error) : { message: 'the server sent no answer', code: 'EMPTY_ANSWER' });
      return;
    }
    const what = draft ? `Saved draft ${experiment.key}` : `Created draft ${experiment.key}`;
    if (andStart) {
      setStep('starting');
      const started = await start({ flagSet, key: experiment.key });
      if (started.data) {
        notify('success', `${what} and started it`);
      } else {
        const why = started.error ? failureOf(started.error) : { message: 'the server sent no answer', code: 'EMPTY_ANSWER' };
        notify('error', `${what}, but it was not started: ${describe(why)}`);
      }
    } else {
      notify('success', `${what} (version ${experiment.version})`);
    }
    setStep(null);
    navigate(experimentPath(flagSet, experiment.key));
  };

  const heading = draft ? `Edit draft ${draft.key}` : `New experiment in ${flagSet}`;
  const back = draft ? experimentPath(flagSet, draft.key) : experimentsPath(flagSet);
  return (
    <>
      <p>
        <Link href={back}>{draft ? `← ${draft.key}` : `← Experiments of ${flagSet}`}</Link>
      </p>
      <h1 id={`${id}-heading`}>{heading}</h1>
      <form className="new-flag experiment-form panel" aria-labelledby={`${id}-heading`} noValidate onSubmit={(e) => void submit(e, false)}>
        {draft === null && (
          <Field id={`${id}-key`} label="Key" problem={problems?.key} help="Unique in the flag set; exposures and the results are kept under it. It cannot be changed later.">
            {(props) => (
              <input {...props} type="text" autoComplete="off" spellCheck={false} value={form.key} onChange={(e) => { change({ key: e.target.value }); }} />
            )}
          </Field>
        )}

        <FlagChoice flagSet={flagSet} value={form.flag} problem={problems?.flag} onChange={(key) => { change({ flag: key }); }} />
        <FlagSplit flag={flag} />

        <Field id={`${id}-control`} label="Control variant" problem={problems?.control} help="The variant every other one is compared with.">
          {(props) => (
            <select {...props} value={control} disabled={!variants} onChange={(e) => { change({ control: e.target.value }); }}>
              {!variants?.includes(control) && <option value="">{variants ? 'Choose a variant' : 'Choose a flag first'}</option>}
              {(variants ?? []).map((v) => (
                <option key={v} value={v}>
                  {v}
                </option>
              ))}
            </select>
          )}
        </Field>

        <MetricRows
          rows={form.metrics}
          problems={problems}
          onChange={setMetric}
          onRemove={(index) => { change({ metrics: form.metrics.filter((_, i) => i !== index) }); }}
          onAdd={() => { change({ metrics: [...form.metrics, blankMetric()] }); }}
        />

        <fieldset>
          <legend>Attribution window</legend>
          <p className="help">An event counts for a user when it comes at most this long after their first exposure.</p>
          <div className="window-row">
            <input
              type="text"
              inputMode="decimal"
              aria-label="Window length"
              aria-invalid={problems?.window ? true : undefined}
              aria-describedby={problems?.window ? `${id}-window-problem` : undefined}
              value={form.window}
              onChange={(e) => { change({ window: e.target.value }); }}
            />
            <select aria-label="Window unit" value={form.windowUnit} onChange={(e) => { change({ windowUnit: e.target.value as WindowUnit }); }}>
              <option value="hours">hours</option>
              <option value="days">days</option>
            </select>
          </div>
          {problems?.window && (
            <p id={`${id}-window-problem`} className="field-problem">
              {problems.window}.
            </p>
          )}
        </fieldset>

        <fieldset>
          <legend>Analysis (optional)</legend>
          <Field
            id={`${id}-alpha`}
            label="Alpha"
            problem={problems?.alpha}
            help={`Intervals are at level 1 − alpha; a difference counts when its p-value is below alpha. Empty: ${DEFAULT_ALPHA}.`}
          >
            {(props) => (
              <input {...props} type="text" inputMode="decimal" placeholder={String(DEFAULT_ALPHA)} value={form.alpha} onChange={(e) => { change({ alpha: e.target.value }); }} />
            )}
          </Field>
          <Field
            id={`${id}-tuning`}
            label="Sequential tuning"
            problem={problems?.sequentialTuning}
            help={`The total users at which the always-valid interval is tightest. Empty: ${DEFAULT_SEQUENTIAL_TUNING}.`}
          >
            {(props) => (
              <input
                {...props}
                type="text"
                inputMode="numeric"
                placeholder={String(DEFAULT_SEQUENTIAL_TUNING)}
                value={form.sequentialTuning}
                onChange={(e) => { change({ sequentialTuning: e.target.value }); }}
              />
            )}
          </Field>
        </fieldset>

        {problems && (
          <p className="error-notice" role="alert">
            Not sent: fix the fields marked above first.
          </p>
        )}
        {failure && <ErrorNotice failure={failure} what={draft ? 'The draft was not saved' : 'The experiment was not created'} />}
        {failure?.code === VERSION_CONFLICT && onReload && (
          <p>
            Someone changed the draft since it was read.{' '}
            <button type="button" onClick={onReload}>
              Load the draft as it is now
            </button>{' '}
            (the edits made here are lost).
          </p>
        )}
        {step && <p role="status">{step === 'saving' ? (draft ? 'Saving the draft…' : 'Creating the experiment…') : 'Starting the experiment…'}</p>}
        <div className="actions">
          <Gated reason={denial}>
            <button type="submit" className="primary" disabled={step !== null}>
              {draft ? 'Save draft' : 'Create draft'}
            </button>
          </Gated>
          <Gated reason={denial}>
            <button type="button" disabled={step !== null} onClick={(e) => void submit(e, true)}>
              {draft ? 'Save and start' : 'Create and start'}
            </button>
          </Gated>
          <Link href={back}>Cancel</Link>
        </div>
      </form>
    </>
  );
}

/** The chosen flag as the form reads it. */
interface ChosenFlag {
  loading: boolean;
  failure: ApiFailure | null;
  /** Its variants, or `null` while no flag is known. */
  variants: string[] | null;
  /** Its split, or why the experiment cannot read one. */
  split: { ok: true; buckets: { variant: string; weight: number }[] } | { ok: false; reason: string } | null;
  /** The control to offer first: the split's first variant, else the default. */
  suggestedControl: string | null;
}

function useChosenFlag(flagSet: string, key: string): ChosenFlag {
  const [{ data, error, fetching }] = useQuery({
    query: ExperimentFlagQuery,
    variables: { flagSet, key },
    pause: key === '',
  });
  const [{ data: sets }] = useQuery({ query: FlagSetSchemeQuery });
  if (key === '' || !data || data.flag.key !== key) {
    return { loading: fetching, failure: error ? failureOf(error) : null, variants: null, split: null, suggestedControl: null };
  }
  const variants = variantsOf(data.flag.definition).map(([name]) => name);
  const scheme = schemeOf(sets?.flagSets.find((s) => s.key === flagSet));
  const split = readRollout(targetingOf(data.flag.definition), scheme.version);
  const first = split.ok ? split.buckets.find((b) => variants.includes(b.variant))?.variant : undefined;
  const byDefault = data.flag.defaultVariant !== null && variants.includes(data.flag.defaultVariant) ? data.flag.defaultVariant : undefined;
  return { loading: false, failure: null, variants, split, suggestedControl: first ?? byDefault ?? variants[0] ?? null };
}

/** The flag select, with a search box when the flag set has more flags than it lists. */
function FlagChoice({ flagSet, value, problem, onChange }: { flagSet: string; value: string; problem: string | undefined; onChange: (key: string) => void }) {
  const id = useId();
  const [search, setSearch] = useState('');
  const [{ data, error }] = useQuery({
    query: ExperimentFlagChoicesQuery,
    variables: { flagSet, search: search === '' ? null : search, first: FLAG_CHOICES },
  });
  const keys = data?.flags.items.map((f) => f.key) ?? [];
  const options = value !== '' && !keys.includes(value) ? [value, ...keys] : keys;
  const total = data?.flags.totalCount ?? 0;
  const searchable = search !== '' || total > FLAG_CHOICES;
  return (
    <>
      {searchable && (
        <div className="field">
          <label htmlFor={`${id}-search`}>Find a flag</label>
          <input id={`${id}-search`} type="search" value={search} onChange={(e) => { setSearch(e.target.value); }} aria-describedby={`${id}-search-help`} />
          <p id={`${id}-search-help`} className="help">
            {total > FLAG_CHOICES ? `The first ${FLAG_CHOICES} of ${total} matching flags are listed; type part of a key to narrow them.` : `${total} matching flag${total === 1 ? '' : 's'}.`}
          </p>
        </div>
      )}
      <Field id={`${id}-flag`} label="Flag" problem={problem} help="The flag whose fractional split assigns the variants; the experiment compares its variants.">
        {(props) => (
          <select {...props} value={value} onChange={(e) => { onChange(e.target.value); }}>
            <option value="">{data ? 'Choose a flag' : 'Loading flags…'}</option>
            {options.map((key) => (
              <option key={key} value={key}>
                {key}
              </option>
            ))}
          </select>
        )}
      </Field>
      {error && <ErrorNotice failure={failureOf(error)} what="The flags could not be loaded" />}
    </>
  );
}

/** What the chosen flag offers the experiment: its variants and its split. */
function FlagSplit({ flag }: { flag: ChosenFlag }) {
  if (flag.failure) return <ErrorNotice failure={flag.failure} what="The flag could not be read" />;
  if (flag.loading) return <p role="status">Reading the flag…</p>;
  if (!flag.variants || !flag.split) return null;
  if (!flag.split.ok) {
    return (
      <p className="notice">
        The experiment reads the flag’s first <code>fractional</code> rule, and this flag has none it can read:{' '}
        {flag.split.reason} It can be saved as a draft, but it cannot start until the flag has one.
      </p>
    );
  }
  const total = flag.split.buckets.reduce((sum, b) => sum + b.weight, 0);
  return (
    <p className="split-summary">
      Its split:{' '}
      {flag.split.buckets.map((b, i) => (
        <span key={b.variant}>
          {i > 0 && ', '}
          <strong>{b.variant}</strong> {total === 0 ? '0' : String(Number(((100 * b.weight) / total).toFixed(2)))}%
        </span>
      ))}
      . When the experiment starts, these are the weights it expects.
    </p>
  );
}

interface MetricRowsProps {
  rows: MetricRow[];
  problems: FormProblems | null;
  onChange: (index: number, row: MetricRow) => void;
  onRemove: (index: number) => void;
  onAdd: () => void;
}

/** The metrics as rows of event, name and kind; the first one decides the verdict. */
function MetricRows({ rows, problems, onChange, onRemove, onAdd }: MetricRowsProps) {
  const id = useId();
  const kinds = Object.entries(METRIC_KINDS) as [MetricRow['kind'], (typeof METRIC_KINDS)[MetricRow['kind']]][];
  return (
    <fieldset className="metrics">
      <legend>Metrics</legend>
      <p className="help">
        Each reads a tracking event by name. The first metric decides the verdict. A conversion is{' '}
        {METRIC_KINDS.CONVERSION.help}; a sum is {METRIC_KINDS.SUM.help}.
      </p>
      {problems?.metrics && <p className="field-problem">{problems.metrics}.</p>}
      <table>
        <thead>
          <tr>
            <th scope="col">Event</th>
            <th scope="col">Name</th>
            <th scope="col">Kind</th>
            <th scope="col">
              <span className="visually-hidden">Remove</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, index) => {
            const n = index + 1;
            const nameProblem = problems?.names[index];
            const eventProblem = problems?.events[index];
            return (
              <tr key={index}>
                <td>
                  <input
                    type="text"
                    aria-label={`Event of metric ${n}`}
                    aria-invalid={eventProblem ? true : undefined}
                    aria-describedby={eventProblem ? `${id}-event-${index}` : undefined}
                    value={row.event}
                    onChange={(e) => { onChange(index, withEvent(row, e.target.value)); }}
                  />
                  {eventProblem && (
                    <p id={`${id}-event-${index}`} className="field-problem">
                      {eventProblem}.
                    </p>
                  )}
                </td>
                <td>
                  <input
                    type="text"
                    aria-label={`Name of metric ${n}`}
                    aria-invalid={nameProblem ? true : undefined}
                    aria-describedby={nameProblem ? `${id}-name-${index}` : undefined}
                    value={row.name}
                    onChange={(e) => { onChange(index, { ...row, name: e.target.value }); }}
                  />
                  {nameProblem && (
                    <p id={`${id}-name-${index}`} className="field-problem">
                      {nameProblem}.
                    </p>
                  )}
                </td>
                <td>
                  <select aria-label={`Kind of metric ${n}`} value={row.kind} onChange={(e) => { onChange(index, { ...row, kind: e.target.value as MetricRow['kind'] }); }}>
                    {kinds.map(([kind, { label }]) => (
                      <option key={kind} value={kind}>
                        {label}
                      </option>
                    ))}
                  </select>
                </td>
                <td>
                  <Gated reason={rows.length === 1 ? 'An experiment needs a metric' : null}>
                    <button type="button" aria-label={`Remove metric ${n}`} onClick={() => { onRemove(index); }}>
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
        Add a metric
      </button>
    </fieldset>
  );
}
