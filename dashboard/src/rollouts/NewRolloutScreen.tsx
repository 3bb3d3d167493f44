// `/new-rollout/:flagSet[?flag=key]`: schedules a progressive rollout. The
// flag is chosen among those with a `fractional` rule (its weights now read
// from its definition as the rollout tab reads them); the steps ramp one
// variant by percentage (the others share the rest as they share it now)
// or set every weight; an optional guard watches a metric. What the
// browser can check is checked before sending; the server's refusal (a
// guarded rollout that is not a ramp of one variant keeping the weights'
// sum, a time out of order) is shown inline with its message and code.
import { type ReactNode, type SyntheticEvent, useId, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { Link, useLocation, useParams, useSearch } from 'wouter';

import { failureOf } from '../api/errors';
import { Gated } from '../components/Denied';
import { ErrorNotice } from '../components/ErrorNotice';
import { useToast } from '../components/Toasts';
import { DiagnosticList } from '../editing/DiagnosticList';
import { NO_ANSWER, type SaveFailure, saveFailureOf } from '../editing/diagnostics';
import { targetingOf } from '../editing/edit';
import { FlagSetSchemeQuery } from '../editing/operations';
import { useWriteDenial } from '../flags/useWriteDenial';
import type { GuardAction, GuardDirection, MetricKind } from '../gql/graphql';
import type { Bucket } from '../rollout/overlap';
import { type RolloutRule, readRollout, schemeOf } from '../rollout/rule';
import { decodeParam, flagTabPath, newRolloutPath, rolloutPath, rolloutsPath } from '../routing';
import { StepsChart, type StepRow } from './StepsChart';
import { weightsText } from './format';
import { RolloutFlagChoicesQuery, RolloutFlagQuery, ScheduleRolloutMutation } from './operations';
import {
  type GuardDraft,
  type PlanDraft,
  type StepDraft,
  STARTING_GUARD,
  buildGuard,
  buildSteps,
  nextStep,
  rampWeights,
  startingPlan,
  stepInputs,
  stepWeights,
  switchMode,
} from './steps';
import '../editing/editing.css';
import '../flags/newFlag.css';
import './rollouts.css';

export function NewRolloutScreen() {
  const flagSet = decodeParam(useParams<{ flagSet: string }>().flagSet);
  const flag = new URLSearchParams(useSearch()).get('flag') ?? '';
  return (
    <>
      <p>
        <Link href={rolloutsPath(flagSet)}>← Rollouts of {flagSet}</Link>
      </p>
      <h1>Schedule a rollout in {flagSet}</h1>
      <FlagChoice key={flagSet} flagSet={flagSet} chosen={flag} />
      {flag !== '' && <ChosenFlag key={`${flagSet}\n${flag}`} flagSet={flagSet} flagKey={flag} />}
    </>
  );
}

/** The flag to roll out: a search over the flag set's keys, and the flags found that have a `fractional` rule. */
function FlagChoice({ flagSet, chosen }: { flagSet: string; chosen: string }) {
  const id = useId();
  const [, navigate] = useLocation();
  const [search, setSearch] = useState('');
  const [{ data: sets }] = useQuery({ query: FlagSetSchemeQuery });
  const scheme = schemeOf(sets?.flagSets.find((s) => s.key === flagSet));
  const [{ data, error }] = useQuery({
    query: RolloutFlagChoicesQuery,
    variables: { flagSet, search: search === '' ? null : search },
  });
  const items = data?.flags.items ?? [];
  const choices = items.filter((f) => readRollout(targetingOf(f.definition), scheme.version).ok).map((f) => f.key);
  const without = items.length - choices.length;
  const more = (data?.flags.totalCount ?? 0) - items.length;

  return (
    <section className="panel flag-choice" aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>Flag</h2>
      <div className="field-row">
        <label htmlFor={`${id}-search`}>Find a flag</label>
        <input id={`${id}-search`} type="search" value={search} onChange={(e) => { setSearch(e.target.value); }} />
        <label htmlFor={`${id}-flag`}>Flag to roll out</label>
        <select
          id={`${id}-flag`}
          value={chosen}
          disabled={!data}
          onChange={(e) => { navigate(newRolloutPath(flagSet, e.target.value === '' ? undefined : e.target.value), { replace: true }); }}
        >
          <option value="">Choose a flag</option>
          {chosen !== '' && !choices.includes(chosen) && <option value={chosen}>{chosen}</option>}
          {choices.map((key) => (
            <option key={key} value={key}>
              {key}
            </option>
          ))}
        </select>
      </div>
      {error && <ErrorNotice failure={failureOf(error)} what="The flags could not be loaded" />}
      <p className="help">
        Only flags whose targeting has a <code>fractional</code> rule with constant weights are listed
        {without > 0 ? ` (${String(without)} found without one)` : ''}
        {more > 0 ? `; ${String(more)} more flags match: narrow the search` : ''}. A rollout changes the weights of the
        flag’s first <code>fractional</code> rule.
      </p>
    </section>
  );
}

function ChosenFlag({ flagSet, flagKey }: { flagSet: string; flagKey: string }) {
  const [{ data, error }] = useQuery({ query: RolloutFlagQuery, variables: { flagSet, key: flagKey } });
  const [{ data: sets }] = useQuery({ query: FlagSetSchemeQuery });
  if (error && !data) return <ErrorNotice failure={failureOf(error)} what={`Flag ${flagKey} could not be loaded`} />;
  if (!data || !sets) return <p role="status">Loading {flagKey}…</p>;
  const flag = data.flag;
  const scheme = schemeOf(sets.flagSets.find((s) => s.key === flagSet));
  const rule: RolloutRule = readRollout(targetingOf(flag.definition), scheme.version);
  if (!rule.ok) {
    return (
      <p className="notice">
        {flagKey} cannot be rolled out: {rule.reason}{' '}
        <Link href={flagTabPath(flagSet, flagKey, 'targeting')}>Edit its targeting</Link>.
      </p>
    );
  }
  return (
    <PlanForm
      key={flag.version}
      flagSet={flagSet}
      flagKey={flagKey}
      version={flag.version}
      disabled={flag.state === 'DISABLED'}
      archived={flag.archived}
      current={rule.buckets}
    />
  );
}

interface PlanFormProps {
  flagSet: string;
  flagKey: string;
  version: number;
  disabled: boolean;
  archived: boolean;
  /** The rule's weights now. */
  current: Bucket[];
}

function PlanForm({ flagSet, flagKey, version, disabled, archived, current }: PlanFormProps) {
  const id = useId();
  const denial = useWriteDenial(flagSet) ?? (archived ? 'The flag is archived' : null);
  const notify = useToast();
  const [, navigate] = useLocation();
  const [, schedule] = useMutation(ScheduleRolloutMutation);
  const [plan, setPlan] = useState<PlanDraft>(() => startingPlan(current, new Date()));
  const [guard, setGuard] = useState<GuardDraft>(STARTING_GUARD);
  const [tried, setTried] = useState(false);
  const [pending, setPending] = useState(false);
  const [failure, setFailure] = useState<SaveFailure | null>(null);

  const now = new Date();
  const steps = buildSteps(plan, current, now);
  const guardInput = buildGuard(guard);
  const problems = [...(steps.ok ? [] : steps.problems), ...(guardInput.ok ? [] : guardInput.problems)];

  const submit = async (event: SyntheticEvent) => {
    event.preventDefault();
    setTried(true);
    // Built again now, so that a first step "now" is due at the moment it is sent.
    const built = buildSteps(plan, current, new Date());
    if (!built.ok || !guardInput.ok || denial !== null || pending) return;
    setPending(true);
    setFailure(null);
    const result = await schedule({ flagSet, key: flagKey, steps: stepInputs(built.value), guard: guardInput.value });
    setPending(false);
    const scheduled = result.data?.scheduleRollout;
    if (scheduled) {
      notify('success', `Scheduled rollout ${String(scheduled.id)} of ${flagKey}`);
      navigate(rolloutPath(flagSet, scheduled.id));
    } else {
      setFailure(result.error ? saveFailureOf(result.error) : NO_ANSWER);
    }
  };

  const setStep = (index: number, change: Partial<StepDraft>) => {
    setPlan((p) => ({ ...p, steps: p.steps.map((s, i) => (i === index ? { ...s, ...change } : s)) }));
  };
  const preview: StepRow[] = [
    { label: 'Now', weights: current, applied: true },
    ...plan.steps.flatMap((step, i) => {
      const weights = stepWeights(plan, step, current);
      return typeof weights === 'string' ? [] : [{ label: `Step ${String(i + 1)}`, weights, applied: false }];
    }),
  ];
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;

  return (
    <form className="new-rollout panel" aria-labelledby={`${id}-heading`} noValidate onSubmit={(e) => void submit(e)}>
      <h2 id={`${id}-heading`}>Rollout of {flagKey}</h2>
      <p>
        Weights now (version {version}): <strong>{weightsText(current)}</strong>.
      </p>
      {disabled && (
        <p className="notice">
          {flagKey} is disabled: its steps change its weights, but evaluation serves it to no one until it is enabled.
        </p>
      )}

      <fieldset className="steps">
        <legend>Steps</legend>
        <fieldset className="mode-choice">
          <legend>How the steps set the weights</legend>
          <label className="inline">
            <input
              type="radio"
              name={`${id}-mode`}
              checked={plan.mode === 'ramp'}
              onChange={() => { setPlan((p) => switchMode(p, current, 'ramp')); }}
            />{' '}
            Ramp one variant by percentage
          </label>
          <label className="inline">
            <input
              type="radio"
              name={`${id}-mode`}
              checked={plan.mode === 'weights'}
              onChange={() => { setPlan((p) => switchMode(p, current, 'weights')); }}
            />{' '}
            Set every variant’s weight
          </label>
        </fieldset>
        {plan.mode === 'ramp' && (
          <p className="field-row">
            <label htmlFor={`${id}-ramped`}>Variant to roll out</label>
            <select
              id={`${id}-ramped`}
              value={plan.ramped}
              onChange={(e) => { const ramped = e.target.value; setPlan((p) => ({ ...p, ramped })); }}
            >
              {current.map((b) => (
                <option key={b.variant} value={b.variant}>
                  {b.variant}
                </option>
              ))}
            </select>
            <span className="help">The other variants share the rest as they share it now.</span>
          </p>
        )}
        <label className="inline">
          <input
            type="checkbox"
            checked={plan.startNow}
            onChange={(e) => { const startNow = e.target.checked; setPlan((p) => ({ ...p, startNow })); }}
          />{' '}
          Apply the first step as soon as the rollout is scheduled
        </label>
        <table className="steps-table">
          <caption className="visually-hidden">Steps, in order</caption>
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">Due ({zone})</th>
              {plan.mode === 'ramp' ? (
                <th scope="col">Share of {plan.ramped} (%)</th>
              ) : (
                current.map((b) => (
                  <th key={b.variant} scope="col">
                    Weight of {b.variant}
                  </th>
                ))
              )}
              <th scope="col">Split</th>
              <th scope="col">
                <span className="visually-hidden">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {plan.steps.map((step, index) => (
              <StepRowEditor
                key={index}
                index={index}
                step={step}
                plan={plan}
                current={current}
                onChange={(change) => { setStep(index, change); }}
                onRemove={
                  plan.steps.length > 1
                    ? () => { setPlan((p) => ({ ...p, steps: p.steps.filter((_, i) => i !== index) })); }
                    : null
                }
              />
            ))}
          </tbody>
        </table>
        <button type="button" onClick={() => { setPlan((p) => ({ ...p, steps: [...p.steps, nextStep(p, new Date())] })); }}>
          Add a step
        </button>
        <StepsChart rows={preview} label="The weights now and at each step" />
      </fieldset>

      <GuardFields guard={guard} onChange={(change) => { setGuard((g) => ({ ...g, ...change })); }} />

      {tried && problems.length > 0 && (
        <div className="error-notice" role="alert">
          <strong>Not sent:</strong>
          <ul>
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      )}
      {failure && (
        <div>
          <ErrorNotice failure={failure} what="The rollout was not scheduled" />
          <DiagnosticList diagnostics={failure.diagnostics} label="Why the server refused it" />
        </div>
      )}
      {pending && <p role="status">Scheduling the rollout…</p>}
      <div className="actions">
        <Gated reason={denial}>
          <button type="submit" className="primary" disabled={pending}>
            {pending ? 'Scheduling…' : 'Schedule rollout'}
          </button>
        </Gated>
        <Link href={rolloutsPath(flagSet)}>Cancel</Link>
      </div>
    </form>
  );
}

interface StepRowEditorProps {
  index: number;
  step: StepDraft;
  plan: PlanDraft;
  current: Bucket[];
  onChange: (change: Partial<StepDraft>) => void;
  onRemove: (() => void) | null;
}

function StepRowEditor({ index, step, plan, current, onChange, onRemove }: StepRowEditorProps) {
  const n = index + 1;
  const weights = stepWeights(plan, step, current);
  const now = index === 0 && plan.startNow;
  return (
    <tr>
      <th scope="row">Step {n}</th>
      <td>
        {now ? (
          <span>As soon as scheduled</span>
        ) : (
          <input
            type="datetime-local"
            aria-label={`Due time of step ${String(n)}`}
            value={step.at}
            onChange={(e) => { onChange({ at: e.target.value }); }}
          />
        )}
      </td>
      {plan.mode === 'ramp' ? (
        <td>
          <input
            type="number"
            className="share-input"
            aria-label={`Share of ${plan.ramped} in step ${String(n)} (%)`}
            min={0}
            max={100}
            step="any"
            value={step.share}
            onChange={(e) => {
              const share = e.target.value;
              const number = Number(share);
              // The exact weights follow, for when the mode is switched.
              const exact = share.trim() !== '' && Number.isFinite(number) ? rampWeights(current, plan.ramped, number) : null;
              onChange(exact ? { share, weights: exact.map((b) => String(b.weight)) } : { share });
            }}
          />
        </td>
      ) : (
        current.map((b, i) => (
          <td key={b.variant}>
            <input
              type="number"
              className="share-input"
              aria-label={`Weight of ${b.variant} in step ${String(n)}`}
              min={0}
              step={1}
              value={step.weights[i] ?? ''}
              onChange={(e) => {
                const next = current.map((_, j) => (j === i ? e.target.value : (step.weights[j] ?? '')));
                onChange({ weights: next });
              }}
            />
          </td>
        ))
      )}
      <td className="help">{typeof weights === 'string' ? weights : weightsText(weights)}</td>
      <td>
        {onRemove && (
          <button type="button" aria-label={`Remove step ${String(n)}`} onClick={onRemove}>
            Remove
          </button>
        )}
      </td>
    </tr>
  );
}

const KINDS: { kind: MetricKind; label: string }[] = [
  { kind: 'CONVERSION', label: 'Conversion (whether a user has the event)' },
  { kind: 'SUM', label: 'Sum (of the events’ values per user)' },
];
const DIRECTIONS: { direction: GuardDirection; label: string }[] = [
  { direction: 'HIGHER_IS_BETTER', label: 'Higher is better (conversions, revenue)' },
  { direction: 'LOWER_IS_BETTER', label: 'Lower is better (errors, latency)' },
];
const ACTIONS: { action: GuardAction; label: string }[] = [
  { action: 'PAUSE', label: 'Pause: the weights stay as the current step set them' },
  { action: 'RESTORE', label: 'Restore the weights the rollout started from' },
];

function GuardFields({ guard, onChange }: { guard: GuardDraft; onChange: (change: Partial<GuardDraft>) => void }) {
  const id = useId();
  return (
    <fieldset className="guard-fields">
      <legend>Guard</legend>
      <label className="inline">
        <input type="checkbox" checked={guard.enabled} onChange={(e) => { onChange({ enabled: e.target.checked }); }} /> Guard
        this rollout with a metric
      </label>
      <p className="help">
        A guarded rollout raises one variant and keeps the weights’ sum. Each step waits until the users first exposed
        during the one before show no regression beyond the tolerance; a regression pauses the rollout or restores its
        weights, and raises an alert.
      </p>
      {guard.enabled && (
        <div className="guard-grid">
          <Field id={`${id}-event`} label="Event" help="The tracking event the metric reads, as applications send it (purchase).">
            {(props) => <input {...props} type="text" value={guard.event} onChange={(e) => { onChange({ event: e.target.value }); }} />}
          </Field>
          <Field id={`${id}-kind`} label="Metric kind" help="How the event is read for each user.">
            {(props) => (
              <select {...props} value={guard.kind} onChange={(e) => { onChange({ kind: e.target.value as MetricKind }); }}>
                {KINDS.map((k) => (
                  <option key={k.kind} value={k.kind}>
                    {k.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field id={`${id}-window`} label="Window (hours)" help="An event counts if it comes at most this long after the user’s first exposure.">
            {(props) => (
              <input {...props} type="number" min={0} step="any" value={guard.windowHours} onChange={(e) => { onChange({ windowHours: e.target.value }); }} />
            )}
          </Field>
          <Field id={`${id}-direction`} label="Direction" help="Which way the metric should move.">
            {(props) => (
              <select {...props} value={guard.direction} onChange={(e) => { onChange({ direction: e.target.value as GuardDirection }); }}>
                {DIRECTIONS.map((d) => (
                  <option key={d.direction} value={d.direction}>
                    {d.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field id={`${id}-tolerance`} label="Tolerance (%)" help="The regression it tolerates, relative to the other variants: 2 lets the new variant be 2% worse.">
            {(props) => (
              <input {...props} type="number" min={0} max={100} step="any" value={guard.tolerance} onChange={(e) => { onChange({ tolerance: e.target.value }); }} />
            )}
          </Field>
          <Field id={`${id}-min-users`} label="Minimum users" help="The users a step must hold, both sides together, before it is judged.">
            {(props) => (
              <input {...props} type="number" min={1} step={1} value={guard.minUsers} onChange={(e) => { onChange({ minUsers: e.target.value }); }} />
            )}
          </Field>
          <fieldset className="action-choice">
            <legend>On a regression</legend>
            {ACTIONS.map((a) => (
              <label key={a.action} className="inline">
                <input
                  type="radio"
                  name={`${id}-action`}
                  value={a.action}
                  checked={guard.action === a.action}
                  onChange={() => { onChange({ action: a.action }); }}
                />{' '}
                {a.label}
              </label>
            ))}
          </fieldset>
        </div>
      )}
    </fieldset>
  );
}

/** A labelled control with its help below it. */
function Field(props: { id: string; label: string; help: string; children: (control: { id: string; 'aria-describedby': string }) => ReactNode }) {
  const { id, label, help } = props;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {props.children({ id, 'aria-describedby': `${id}-help` })}
      <p id={`${id}-help`} className="help">
        {help}
      </p>
    </div>
  );
}
