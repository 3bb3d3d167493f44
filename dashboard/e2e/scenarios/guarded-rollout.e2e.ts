// A guarded rollout scheduled in the dashboard pauses itself when the new
// variant converts worse than it tolerates: users evaluated over OFREP and
// their purchases sent to the events endpoint make the regression, the
// rollout's screen shows it paused with the guard's figures as the API
// holds them, the next step is never applied, and the rollout is resumed
// and then cancelled from the dashboard.
import { type Page } from '@playwright/test';

import {
  type StoredRollout,
  type TrackingEvent,
  createFlag,
  inParallel,
  ofrepEvaluate,
  storedFlag,
  storedRollout,
  trackEvents,
} from '../support/api';
import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet } from '../support/seed';

/** Conversion rates, per thousand users: most old-variant users buy, few new-variant users do. */
const OLD_RATE = 800;
const NEW_RATE = 200;
/** Users per round of traffic, and the users a step needs before it is judged. */
const ROUND = 500;
const MIN_USERS = 400;

/**
 * Which users convert: of the users served a variant, in the order they are
 * served, the k-th converts when ⌊(k + 1)·rate⌋ > ⌊k·rate⌋ (per thousand),
 * so every run of a variant's users converts at its rate to within one user
 * and the regression is exactly the one intended.
 */
class Quota {
  private readonly served = new Map<string, number>();

  converts(variant: string, rate: number): boolean {
    const k = this.served.get(variant) ?? 0;
    this.served.set(variant, k + 1);
    return Math.floor(((k + 1) * rate) / 1000) > Math.floor((k * rate) / 1000);
  }
}

/** A time `minutes` from now as a `datetime-local` value, in this machine's time zone (the browser's). */
function localInput(minutes: number): string {
  const t = new Date(Date.now() + minutes * 60_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${String(t.getFullYear())}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T${pad(t.getHours())}:${pad(t.getMinutes())}`;
}

/** A fraction as the dashboard writes a lift: −12.3%. */
function signedPercent(fraction: number): string {
  const value = Number((fraction * 100).toFixed(1));
  if (value === 0) return '0%';
  return `${value > 0 ? '+' : '−'}${String(Math.abs(value))}%`;
}

/** The value cell of the guard's figures row named `name`. */
function figure(page: Page, name: string) {
  return page.getByRole('table', { name: 'Latest check' }).getByRole('row', { name: new RegExp(`^${name}`) }).getByRole('cell');
}

test('a guarded rollout scheduled in the dashboard pauses on a regression, then resumes and is cancelled', async ({ page, record }) => {
  test.setTimeout(240_000);
  const set = await createFlagSet('e2e-guarded');
  const key = 'checkout';
  await createFlag(set, key, {
    state: 'ENABLED',
    variants: { new: 'B', old: 'A' },
    defaultVariant: 'old',
    targeting: { fractional: [['new', 0], ['old', 100]] },
  });

  // The schedule form: the flag, a ramp of `new` 10% now → 50% → 100% some minutes later, and a guard.
  await signIn(page, `/rollouts/${set}`);
  await expect(page.getByText(`No rollout in flag set ${set} yet.`)).toBeVisible();
  await page.getByRole('link', { name: 'Schedule a rollout' }).click();
  await page.getByLabel('Flag to roll out').selectOption(key);
  await expect(page.getByText('Weights now (version 1):')).toContainText('new 0% · old 100%');
  await expect(page.getByLabel('Variant to roll out')).toHaveValue('new');
  await expect(page.getByLabel('Apply the first step as soon as the rollout is scheduled')).toBeChecked();
  await page.getByLabel('Share of new in step 1 (%)').fill('10');
  await page.getByLabel('Due time of step 2').fill(localInput(10));
  await page.getByLabel('Share of new in step 2 (%)').fill('50');
  await page.getByLabel('Due time of step 3').fill(localInput(20));
  await page.getByLabel('Share of new in step 3 (%)').fill('100');
  await page.getByLabel('Guard this rollout with a metric').check();
  await page.getByLabel('Event').fill('purchase');
  await page.getByLabel('Window (hours)').fill('1');
  await page.getByLabel('Tolerance (%)').fill('2');
  await page.getByLabel('Minimum users').fill(String(MIN_USERS));
  await expect(page.getByRole('radio', { name: /^Pause/ })).toBeChecked();
  await expect(page.getByRole('row', { name: /^Step 1/ })).toContainText('new 10% · old 90%');
  await record('schedule-rollout');
  // After a full-page screenshot of a long page, Chromium scrolls on the
  // next focus, between a click's press and release: focused first, the
  // button stays where the click lands.
  const schedule = page.getByRole('button', { name: 'Schedule rollout' });
  await schedule.focus();
  await schedule.click();

  await expect(page).toHaveURL(new RegExp(`/rollouts/${set}/\\d+$`));
  const id = Number(new URL(page.url()).pathname.split('/').pop());
  await expect(page.getByRole('heading', { name: `Rollout ${String(id)} of ${key}`, level: 1 })).toBeVisible();
  const status = page.getByRole('region', { name: 'Status' });

  // The node tracks the flag's exposures for the rollout once it has the
  // mark, and serves the first step once it is applied.
  await expect
    .poll(async () => {
      const answer = await ofrepEvaluate(key, { targetingKey: 'probe' }, set);
      const rollout = await storedRollout(id);
      return { tracked: answer.body.metadata?.['ensign.experiment'], nextStep: rollout.nextStep };
    })
    .toEqual({ tracked: `rollout:${String(id)}`, nextStep: 1 });
  await expect(status.getByText('Running', { exact: true })).toBeVisible();

  // Rounds of new users, each evaluated once, then the purchases: until the
  // rollout's screen shows the guard's pause.
  const quota = new Quota();
  let users = 0;
  const deadline = Date.now() + 150_000;
  for (;;) {
    const round = Array.from({ length: ROUND }, (_, i) => `user-${String(users + i)}`);
    users += ROUND;
    const served = await inParallel(round, 16, async (targetingKey) => {
      const answer = await ofrepEvaluate(key, { targetingKey }, set);
      expect(answer.body.variant, JSON.stringify(answer.body)).toMatch(/^(new|old)$/);
      return { targetingKey, variant: answer.body.variant ?? '' };
    });
    const purchases: TrackingEvent[] = served
      .filter(({ variant }) => quota.converts(variant, variant === 'new' ? NEW_RATE : OLD_RATE))
      .map(({ targetingKey }) => ({ name: 'purchase', context: { targetingKey } }));
    await trackEvents(set, purchases);
    const paused = await status
      .getByText('Paused', { exact: true })
      .waitFor({ timeout: 5_000 })
      .then(
        () => true,
        () => false,
      );
    if (paused) break;
    expect(Date.now(), `the rollout was not paused after ${String(users)} users`).toBeLessThan(deadline);
  }

  // The guard's figures on the screen are the API's.
  const rollout: StoredRollout = await storedRollout(id);
  expect(rollout.status).toBe('PAUSED');
  expect(rollout.guardedVariant).toBe('new');
  const check = rollout.guardCheck;
  if (!check?.interval || check.lift === null) throw new Error(`no figures: ${JSON.stringify(rollout)}`);
  expect(check.verdict).toBe('REGRESSED');
  expect(check.step).toBe(0);
  expect(check.lift).toBeLessThan(0);
  expect(check.interval[1]).toBeLessThan(-0.02);
  expect(check.oldUsers + check.newUsers).toBeGreaterThanOrEqual(MIN_USERS);
  await expect(page.getByText('Its guard paused it')).toBeVisible();
  await expect(figure(page, 'Verdict')).toHaveText('REGRESSED');
  await expect(figure(page, 'Relative lift')).toHaveText(signedPercent(check.lift));
  await expect(figure(page, '95% interval')).toHaveText(`${signedPercent(check.interval[0])} to ${signedPercent(check.interval[1])}`);
  await expect(figure(page, 'Users of the new variant')).toHaveText(check.newUsers.toLocaleString('en'));
  await expect(figure(page, 'Users of the other variants')).toHaveText(check.oldUsers.toLocaleString('en'));
  await expect(page.getByRole('img', { name: /^Relative lift of the new variant/ })).toHaveAccessibleName(
    new RegExp(`: ${signedPercent(check.lift)}, interval .* The guard tolerates 2%`),
  );
  await expect(page.getByRole('list', { name: 'Steps' }).getByRole('listitem').first()).toContainText('Applied');
  await record('rollout-paused');

  // The next step was never applied: the flag keeps the first step's weights.
  expect(rollout.nextStep).toBe(1);
  expect((await storedFlag(set, key)).definition.targeting).toEqual({ fractional: [['new', 10], ['old', 90]] });

  // The list marks it paused, with the guard's verdict.
  await page.getByRole('link', { name: `← Rollouts of ${set}` }).click();
  const row = page.getByRole('row', { name: new RegExp(`^Rollout ${String(id)} `) });
  await expect(row).toContainText('Paused');
  await expect(row).toContainText('purchase (conversion) of new; pauses on a regression');
  await expect(row).toContainText('Regressed');
  await expect(row).toContainText('Step 2 of 3: new 50% · old 50%');
  await record('rollouts');

  // Resumed from the dashboard: running again, watching its step afresh.
  await row.getByRole('link', { name: `Rollout ${String(id)}` }).click();
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByText(`Resumed rollout ${String(id)}: running`)).toBeVisible();
  await expect(status.getByText('Running', { exact: true })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Resume' })).toBeDisabled();
  expect((await storedRollout(id)).status).toBe('RUNNING');

  // Then cancelled, confirmed.
  await page.getByRole('button', { name: 'Cancel rollout' }).click();
  const dialog = page.getByRole('dialog', { name: `Cancel rollout ${String(id)} of ${key}?` });
  await expect(dialog).toContainText('The flag keeps the weights its last applied step set (new 10% · old 90%)');
  await record('cancel-rollout-confirmation');
  await dialog.getByRole('button', { name: 'Cancel the rollout' }).click();
  await expect(dialog).toBeHidden();
  await expect(status.getByText('Cancelled', { exact: true })).toBeVisible();
  await expect(status.getByText('A cancelled rollout is over: it can no longer be paused, resumed or cancelled.')).toBeVisible();
  await expect(status.getByRole('button')).toHaveCount(0);
  expect((await storedRollout(id)).status).toBe('CANCELLED');
  expect((await storedFlag(set, key)).definition.targeting).toEqual({ fractional: [['new', 10], ['old', 90]] });
  await record('rollout-cancelled');
});
