// The schedule form's steps and guard as they are sent: ramps that keep
// the weights' sum, times in UTC in order, and what is refused before
// sending.
import { describe, expect, it } from 'vitest';

import { toLocalInput } from '../audit/auditParams';
import {
  type GuardDraft,
  type PlanDraft,
  STARTING_GUARD,
  buildGuard,
  buildSteps,
  defaultRamped,
  nextStep,
  rampWeights,
  startingPlan,
  switchMode,
} from './steps';

const current = [
  { variant: 'on', weight: 0 },
  { variant: 'off', weight: 100 },
];
const three = [
  { variant: 'a', weight: 10 },
  { variant: 'b', weight: 60 },
  { variant: 'c', weight: 30 },
];
const now = new Date('2026-12-07T10:00:30Z');
const local = (iso: string) => toLocalInput(iso);

describe('rampWeights', () => {
  it('gives the ramped variant its share and the rest to the others, keeping the sum', () => {
    expect(rampWeights(current, 'on', 10)).toEqual([
      { variant: 'on', weight: 10 },
      { variant: 'off', weight: 90 },
    ]);
    // b and c keep their 2:1 ratio, as far as whole weights allow.
    expect(rampWeights(three, 'a', 40)).toEqual([
      { variant: 'a', weight: 40 },
      { variant: 'b', weight: 40 },
      { variant: 'c', weight: 20 },
    ]);
  });

  it('works in the rule’s own total, and from 100 when every weight is 0', () => {
    expect(rampWeights([{ variant: 'x', weight: 1 }, { variant: 'y', weight: 999 }], 'x', 12.5)).toEqual([
      { variant: 'x', weight: 125 },
      { variant: 'y', weight: 875 },
    ]);
    expect(rampWeights([{ variant: 'x', weight: 0 }, { variant: 'y', weight: 0 }], 'x', 30)).toEqual([
      { variant: 'x', weight: 30 },
      { variant: 'y', weight: 70 },
    ]);
  });

  it('ramps the variant with the least weight by default', () => {
    expect(defaultRamped(current)).toBe('on');
    expect(defaultRamped(three)).toBe('a');
  });
});

describe('buildSteps', () => {
  const plan = (extra: Partial<PlanDraft> = {}): PlanDraft => ({
    mode: 'ramp',
    ramped: 'on',
    startNow: true,
    steps: [
      { at: '', share: '10', weights: [] },
      { at: local('2026-12-07T11:00:00Z'), share: '50', weights: [] },
    ],
    ...extra,
  });

  it('sends the first step now and the others at their times in UTC', () => {
    expect(buildSteps(plan(), current, now)).toEqual({
      ok: true,
      value: [
        { at: '2026-12-07T10:00:30.000Z', weights: [{ variant: 'on', weight: 10 }, { variant: 'off', weight: 90 }] },
        { at: '2026-12-07T11:00:00.000Z', weights: [{ variant: 'on', weight: 50 }, { variant: 'off', weight: 50 }] },
      ],
    });
  });

  it('sends every weight as typed in weights mode', () => {
    const typed = plan({
      mode: 'weights',
      startNow: false,
      steps: [{ at: local('2026-12-07T12:00:00Z'), share: '', weights: ['3', '7'] }],
    });
    expect(buildSteps(typed, current, now)).toEqual({
      ok: true,
      value: [{ at: '2026-12-07T12:00:00.000Z', weights: [{ variant: 'on', weight: 3 }, { variant: 'off', weight: 7 }] }],
    });
  });

  it('refuses missing times, times out of order, shares and weights out of range', () => {
    const wrong = plan({
      startNow: false,
      steps: [
        { at: '', share: '120', weights: [] },
        { at: local('2026-12-07T11:00:00Z'), share: '50', weights: [] },
        { at: local('2026-12-07T10:30:00Z'), share: '60', weights: [] },
      ],
    });
    expect(buildSteps(wrong, current, now)).toEqual({
      ok: false,
      problems: [
        'Step 1: choose when it is due',
        'Step 1: the share of on must be a number from 0 to 100',
        'Step 3 must be due after step 2',
      ],
    });
    const weights = plan({ mode: 'weights', steps: [{ at: '', share: '', weights: ['0', '0'] }, { at: '', share: '', weights: ['1.5', '2'] }] });
    expect(buildSteps(weights, current, now)).toEqual({
      ok: false,
      problems: [
        'Step 1: at least one weight must be above 0',
        'Step 2: choose when it is due',
        'Step 2: the weight of on must be a whole number from 0 to 2147483647',
      ],
    });
    expect(buildSteps(plan({ steps: [] }), current, now)).toEqual({ ok: false, problems: ['Add at least one step'] });
  });
});

describe('the plan as it starts and changes', () => {
  it('starts with a ramp of the least-weighted variant: now, in an hour and in a day', () => {
    const start = startingPlan(current, now);
    expect(start.mode).toBe('ramp');
    expect(start.ramped).toBe('on');
    expect(start.startNow).toBe(true);
    expect(start.steps.map((s) => s.share)).toEqual(['10', '50', '100']);
    expect(start.steps.map((s) => s.at)).toEqual([
      local('2026-12-07T10:00:00Z'),
      local('2026-12-07T11:00:00Z'),
      local('2026-12-08T10:00:00Z'),
    ]);
    expect(nextStep(start, now)).toMatchObject({ at: local('2026-12-09T10:00:00Z'), share: '100' });
  });

  it('carries each step’s weights over when the mode changes', () => {
    const ramp = startingPlan(three, now);
    const weights = switchMode(ramp, three, 'weights');
    expect(weights.steps.map((s) => s.weights)).toEqual([
      ['10', '60', '30'],
      ['50', '33', '17'],
      ['100', '0', '0'],
    ]);
    const edited = { ...weights, steps: weights.steps.map((s, i) => (i === 0 ? { ...s, weights: ['25', '50', '25'] } : s)) };
    expect(switchMode(edited, three, 'ramp').steps.map((s) => s.share)).toEqual(['25', '50', '100']);
  });
});

describe('buildGuard', () => {
  const draft = (extra: Partial<GuardDraft> = {}): GuardDraft => ({ ...STARTING_GUARD, enabled: true, event: 'purchase', ...extra });

  it('sends none unless asked for', () => {
    expect(buildGuard(STARTING_GUARD)).toEqual({ ok: true, value: null });
  });

  it('sends the tolerance as a fraction and the window in seconds', () => {
    expect(buildGuard(draft({ tolerance: '2', windowHours: '1.5', minUsers: '400', action: 'RESTORE', direction: 'LOWER_IS_BETTER', kind: 'SUM' }))).toEqual({
      ok: true,
      value: {
        metric: { event: 'purchase', kind: 'SUM', windowSeconds: 5400 },
        direction: 'LOWER_IS_BETTER',
        tolerance: 0.02,
        minUsers: 400,
        action: 'RESTORE',
      },
    });
  });

  it('refuses what the server would', () => {
    expect(buildGuard(draft({ event: ' ', tolerance: '100', windowHours: '0', minUsers: '2.5' }))).toEqual({
      ok: false,
      problems: [
        'Guard: name the event its metric reads',
        'Guard: the window must be a number of hours above 0',
        'Guard: the tolerance must be a percentage above 0 and below 100',
        'Guard: the minimum users must be a whole number of at least 1',
      ],
    });
  });
});
