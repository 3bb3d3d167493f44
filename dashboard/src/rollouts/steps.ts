// The schedule form as data: its steps (as typed) and its guard, and what
// they become in `scheduleRollout`: each step's time in UTC and its
// weights, which either ramp one variant (the rest shared among the others
// in proportion to their weights now, so the sum stays as it is) or are
// typed per variant. What the browser can check is checked here; whether
// a guarded rollout is a proper ramp is the server's to say.
import { fromLocalInput, toLocalInput } from '../audit/auditParams';
import type { GuardAction, GuardDirection, MetricKind, RolloutGuardInput, RolloutStepInput } from '../gql/graphql';
import { type Bucket, MAX_WEIGHT, sum } from '../rollout/overlap';
import { redistribute } from '../rollout/rule';

/** How the steps' weights are written. */
export type WeightMode = 'ramp' | 'weights';

/** One step as typed. */
export interface StepDraft {
  /** When it is due, as a `datetime-local` value (the reader's time zone). */
  at: string;
  /** In ramp mode: the ramped variant's share, in percent. */
  share: string;
  /** In weights mode: each variant's weight, in the rule's order. */
  weights: string[];
}

export interface PlanDraft {
  mode: WeightMode;
  /** The variant the ramp raises. */
  ramped: string;
  /** Whether the first step is due as soon as it is scheduled (its time is then ignored). */
  startNow: boolean;
  steps: StepDraft[];
}

export interface GuardDraft {
  enabled: boolean;
  event: string;
  kind: MetricKind;
  /** The attribution window, in hours. */
  windowHours: string;
  direction: GuardDirection;
  /** The tolerated regression, in percent. */
  tolerance: string;
  minUsers: string;
  action: GuardAction;
}

/** A step as it will be sent, with its weights as buckets (for the preview). */
export interface BuiltStep {
  at: string;
  weights: Bucket[];
}

export type Built<T> = { ok: true; value: T } | { ok: false; problems: string[] };

/** The total the ramp shares out: the weights' sum now, or 100 when they are all 0. */
export function rampTotal(current: readonly Bucket[]): number {
  const total = sum(current);
  return total > 0 ? total : 100;
}

/**
 * The weights that give `variant` `percent` of the rule, the rest shared
 * among the other variants in proportion to their weights now (equally
 * when they are all 0), keeping the sum.
 */
export function rampWeights(current: readonly Bucket[], variant: string, percent: number): Bucket[] {
  const total = rampTotal(current);
  const index = current.findIndex((b) => b.variant === variant);
  if (index < 0) return [...current];
  const next = redistribute(
    current.map((b) => b.weight),
    index,
    (Math.min(100, Math.max(0, percent)) * total) / 100,
    total,
  );
  return current.map((b, i) => ({ variant: b.variant, weight: next[i] ?? 0 }));
}

/** The variant a ramp raises by default: the one with the least weight now (the first of them). */
export function defaultRamped(current: readonly Bucket[]): string {
  let least: Bucket | undefined;
  for (const b of current) if (!least || b.weight < least.weight) least = b;
  return least?.variant ?? '';
}

/** `hoursLater` hours after `now`, as a `datetime-local` value rounded down to the minute. */
function localAt(now: Date, hoursLater: number): string {
  const t = new Date(now.getTime() + hoursLater * 3_600_000);
  t.setSeconds(0, 0);
  return toLocalInput(t.toISOString());
}

/** The steps the form starts with: now, in an hour and in a day, ramping 10% → 50% → 100%. */
export function startingPlan(current: readonly Bucket[], now: Date): PlanDraft {
  const ramped = defaultRamped(current);
  const step = (hours: number, share: number): StepDraft => ({
    at: localAt(now, hours),
    share: String(share),
    weights: rampWeights(current, ramped, share).map((b) => String(b.weight)),
  });
  return { mode: 'ramp', ramped, startNow: true, steps: [step(0, 10), step(1, 50), step(24, 100)] };
}

/** A step added after the last one: a day later, with its weights. */
export function nextStep(plan: PlanDraft, now: Date): StepDraft {
  const last = plan.steps[plan.steps.length - 1];
  const from = last ? fromLocalInput(last.at) : null;
  const base = from ? new Date(from) : now;
  return { at: localAt(base, 24), share: last?.share ?? '100', weights: last ? [...last.weights] : [] };
}

/** Switches how weights are written, carrying each step's weights over. */
export function switchMode(plan: PlanDraft, current: readonly Bucket[], mode: WeightMode): PlanDraft {
  if (mode === plan.mode) return plan;
  const steps = plan.steps.map((step): StepDraft => {
    if (mode === 'weights') {
      const share = Number(step.share);
      if (step.share.trim() === '' || !Number.isFinite(share)) return step;
      return { ...step, weights: rampWeights(current, plan.ramped, share).map((b) => String(b.weight)) };
    }
    const weights = step.weights.map(Number);
    const total = weights.reduce((a, b) => a + b, 0);
    const index = current.findIndex((b) => b.variant === plan.ramped);
    const own = weights[index];
    if (!weights.every(Number.isFinite) || total <= 0 || own === undefined) return step;
    return { ...step, share: String(Number(((own * 100) / total).toFixed(2))) };
  });
  return { ...plan, mode, steps };
}

/**
 * The steps to send, or what is wrong with them: each needs a time (the
 * first one none when it starts now) and weights (a share from 0 to 100
 * in ramp mode; whole weights, not all 0, otherwise), and the times must
 * increase from step to step.
 */
export function buildSteps(plan: PlanDraft, current: readonly Bucket[], now: Date): Built<BuiltStep[]> {
  const problems: string[] = [];
  const built: BuiltStep[] = [];
  if (plan.steps.length === 0) return { ok: false, problems: ['Add at least one step'] };
  plan.steps.forEach((step, index) => {
    const name = `Step ${String(index + 1)}`;
    const at = index === 0 && plan.startNow ? now.toISOString() : fromLocalInput(step.at);
    if (!at) problems.push(`${name}: choose when it is due`);
    const weights = stepWeights(plan, step, current);
    if (typeof weights === 'string') problems.push(`${name}: ${weights}`);
    if (at && typeof weights !== 'string') {
      const previous = built[built.length - 1];
      if (previous && Date.parse(at) <= Date.parse(previous.at)) {
        problems.push(`${name} must be due after step ${String(index)}`);
      }
      built.push({ at, weights });
    }
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: built };
}

/** One step's weights, or what is wrong with them. */
export function stepWeights(plan: PlanDraft, step: StepDraft, current: readonly Bucket[]): Bucket[] | string {
  if (plan.mode === 'ramp') {
    const share = Number(step.share);
    if (step.share.trim() === '' || !Number.isFinite(share) || share < 0 || share > 100) {
      return `the share of ${plan.ramped} must be a number from 0 to 100`;
    }
    return rampWeights(current, plan.ramped, share);
  }
  const weights = current.map((b, i) => ({ variant: b.variant, text: step.weights[i] ?? '' }));
  const wrong = weights.find(({ text }) => !/^\d+$/.test(text.trim()) || Number(text) > MAX_WEIGHT);
  if (wrong) return `the weight of ${wrong.variant} must be a whole number from 0 to ${String(MAX_WEIGHT)}`;
  const buckets = weights.map(({ variant, text }) => ({ variant, weight: Number(text) }));
  if (sum(buckets) === 0) return 'at least one weight must be above 0';
  if (sum(buckets) > MAX_WEIGHT) return `the weights must sum to at most ${String(MAX_WEIGHT)}`;
  return buckets;
}

/** The steps as `scheduleRollout` takes them. */
export function stepInputs(steps: readonly BuiltStep[]): RolloutStepInput[] {
  return steps.map((step) => ({ at: step.at, weights: step.weights.map((b) => ({ variant: b.variant, weight: b.weight })) }));
}

export const STARTING_GUARD: GuardDraft = {
  enabled: false,
  event: '',
  kind: 'CONVERSION',
  windowHours: '168',
  direction: 'HIGHER_IS_BETTER',
  tolerance: '2',
  minUsers: '1000',
  action: 'PAUSE',
};

/** The guard to send (`null` without one), or what is wrong with it. */
export function buildGuard(draft: GuardDraft): Built<RolloutGuardInput | null> {
  if (!draft.enabled) return { ok: true, value: null };
  const problems: string[] = [];
  const event = draft.event.trim();
  if (event === '') problems.push('Guard: name the event its metric reads');
  const hours = Number(draft.windowHours);
  if (draft.windowHours.trim() === '' || !Number.isFinite(hours) || hours <= 0) {
    problems.push('Guard: the window must be a number of hours above 0');
  }
  const tolerance = Number(draft.tolerance);
  if (draft.tolerance.trim() === '' || !Number.isFinite(tolerance) || tolerance <= 0 || tolerance >= 100) {
    problems.push('Guard: the tolerance must be a percentage above 0 and below 100');
  }
  const minUsers = Number(draft.minUsers);
  if (!/^\d+$/.test(draft.minUsers.trim()) || minUsers < 1) {
    problems.push('Guard: the minimum users must be a whole number of at least 1');
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    value: {
      metric: { event, kind: draft.kind, windowSeconds: Math.round(hours * 3600) },
      direction: draft.direction,
      // Percent to a fraction, without binary noise (2 → 0.02, not 0.020000000000000004).
      tolerance: Number((tolerance / 100).toPrecision(12)),
      minUsers,
      action: draft.action,
    },
  };
}
