// The experiment form's state, what the browser checks before sending it
// (the server checks it all again, against the flag as it is then), and
// the `ExperimentSettings` it sends: the attribution window typed in hours
// or days is sent in seconds; alpha and the sequential tuning are sent only
// when given (the server's defaults otherwise).
import { keyProblem } from '../flags/newFlag';
import type { ExperimentFieldsFragment, ExperimentSettings, MetricKind } from '../gql/graphql';

/** One metric as typed. */
export interface MetricRow {
  name: string;
  event: string;
  kind: MetricKind;
}

export type WindowUnit = 'hours' | 'days';

/** The form as typed. */
export interface ExperimentForm {
  key: string;
  flag: string;
  control: string;
  metrics: MetricRow[];
  window: string;
  windowUnit: WindowUnit;
  alpha: string;
  sequentialTuning: string;
}

/** What is wrong with each field, once checked. */
export interface FormProblems {
  key?: string;
  flag?: string;
  control?: string;
  metrics?: string;
  /** Per metric row. */
  names: (string | undefined)[];
  events: (string | undefined)[];
  window?: string;
  alpha?: string;
  sequentialTuning?: string;
}

export const UNIT_SECONDS: Record<WindowUnit, number> = { hours: 3600, days: 86_400 };

/** The longest window the server accepts: 365 days. */
export const MAX_WINDOW_SECONDS = 365 * 86_400;

/** The most bytes a metric's name or event may have. */
export const MAX_NAME_BYTES = 255;

/** The server's defaults, shown as placeholders. */
export const DEFAULT_ALPHA = 0.05;
export const DEFAULT_SEQUENTIAL_TUNING = 5000;

/** A new metric row. */
export function blankMetric(): MetricRow {
  return { name: '', event: '', kind: 'CONVERSION' };
}

/** The form of a new experiment: one metric, a 7-day window, the defaults. */
export function blankForm(): ExperimentForm {
  return {
    key: '',
    flag: '',
    control: '',
    metrics: [blankMetric()],
    window: '7',
    windowUnit: 'days',
    alpha: '',
    sequentialTuning: '',
  };
}

/** The form holding a draft's settings (for editing it). */
export function formOf(experiment: ExperimentFieldsFragment): ExperimentForm {
  const { windowSeconds } = experiment;
  const days = windowSeconds % UNIT_SECONDS.days === 0;
  return {
    key: experiment.key,
    flag: experiment.flag,
    control: experiment.control,
    metrics: experiment.metrics.map((m) => ({ name: m.name, event: m.event, kind: m.kind })),
    window: String(windowSeconds / UNIT_SECONDS[days ? 'days' : 'hours']),
    windowUnit: days ? 'days' : 'hours',
    alpha: experiment.alpha === DEFAULT_ALPHA ? '' : String(experiment.alpha),
    sequentialTuning: experiment.sequentialTuning === DEFAULT_SEQUENTIAL_TUNING ? '' : String(experiment.sequentialTuning),
  };
}

/** The window in whole seconds, or why it cannot be sent. */
export function windowSeconds(text: string, unit: WindowUnit): { ok: true; seconds: number } | { ok: false; reason: string } {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) return { ok: false, reason: `Enter a number of ${unit}` };
  const seconds = Math.round(value * UNIT_SECONDS[unit]);
  if (seconds < 1) return { ok: false, reason: 'The window must be longer than 0' };
  if (seconds > MAX_WINDOW_SECONDS) return { ok: false, reason: 'The window can be at most 365 days' };
  return { ok: true, seconds };
}

function bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

function nameProblem(text: string, what: string): string | undefined {
  if (text.trim() === '') return `Enter the metric’s ${what}`;
  if (bytes(text) > MAX_NAME_BYTES) return `The ${what} can be at most ${MAX_NAME_BYTES} bytes`;
  return undefined;
}

/**
 * The settings to send, or what is wrong. `variants` are the chosen
 * flag's (null while it is not known); `editing` skips the key, which a
 * draft keeps.
 */
export function checkForm(
  form: ExperimentForm,
  variants: readonly string[] | null,
  editing = false,
): { ok: true; settings: ExperimentSettings } | { ok: false; problems: FormProblems } {
  const problems: FormProblems = { names: [], events: [] };
  const flag = (field: keyof Omit<FormProblems, 'names' | 'events'>, problem: string | null | undefined) => {
    if (problem) problems[field] = problem;
  };
  if (!editing) flag('key', keyProblem(form.key));
  if (form.flag === '') flag('flag', 'Choose a flag');
  else if (variants === null) flag('flag', 'The flag’s variants are not known yet');
  if (variants !== null && !variants.includes(form.control)) flag('control', 'Choose the control variant among the flag’s');
  if (variants !== null && variants.length < 2) flag('flag', 'The flag needs at least two variants to compare');
  if (form.metrics.length === 0) flag('metrics', 'Add at least one metric');
  form.metrics.forEach((m, i) => {
    const name = nameProblem(m.name, 'name') ?? (form.metrics.slice(0, i).some((o) => o.name === m.name) ? 'Another metric has this name' : undefined);
    const event = nameProblem(m.event, 'event');
    problems.names[i] = name;
    problems.events[i] = event;
  });
  const window = windowSeconds(form.window, form.windowUnit);
  if (!window.ok) flag('window', window.reason);
  let alpha: number | undefined;
  if (form.alpha.trim() !== '') {
    alpha = Number(form.alpha);
    if (!(alpha > 0 && alpha < 0.5)) flag('alpha', 'Alpha must be above 0 and below 0.5, such as 0.05');
  }
  let tuning: number | undefined;
  if (form.sequentialTuning.trim() !== '') {
    tuning = Number(form.sequentialTuning);
    if (!(tuning > 0 && Number.isFinite(tuning))) flag('sequentialTuning', 'The tuning must be a positive number of users, such as 5000');
  }
  const { names, events, ...fields } = problems;
  const wrong = Object.values(fields).some(Boolean) || names.some(Boolean) || events.some(Boolean);
  if (wrong || !window.ok) return { ok: false, problems };
  return {
    ok: true,
    settings: {
      flag: form.flag,
      control: form.control,
      metrics: form.metrics.map((m) => ({ name: m.name, event: m.event, kind: m.kind })),
      windowSeconds: window.seconds,
      ...(alpha === undefined ? {} : { alpha }),
      ...(tuning === undefined ? {} : { sequentialTuning: tuning }),
    },
  };
}

/**
 * A metric's name follows its event while the user has not named it
 * otherwise: typing `purchase` as the event names the metric `purchase`.
 */
export function withEvent(row: MetricRow, event: string): MetricRow {
  return { ...row, event, name: row.name === '' || row.name === row.event ? event : row.name };
}
