// An experiment created (after the server refuses a taken key), edited as
// a draft and started through the dashboard, fed the real way (OFREP
// evaluations while it runs record the exposures; tracking events posted to
// the OFREP listener), shows after "Analyse now" the users per variant that
// OFREP served and the server's verdict naming the winning variant;
// stopping it asks first.
import { type TrackingEvent, createFlag, graphql, ofrepEvaluate, trackEvents } from '../support/api';
import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet } from '../support/seed';

const FLAG = 'checkout-button';
const KEY = 'button-colour';
/** Of every ten users of a variant, how many purchase. */
const PURCHASES_IN_TEN: Record<string, number> = { blue: 3, green: 6 };
/** Users in each wave: the analysis runs after each, so the lift has a history. */
const WAVES = [400, 400];
/** Evaluations in flight at once. */
const PARALLEL = 25;

const RESULT = `
  query ($flagSet: String!, $key: String!) {
    experiment(flagSet: $flagSet, key: $key) {
      status
      latestResult {
        id
        users
        verdict
        srm { mismatch }
        variants { variant users metrics { metric count sum } }
        comparisons { variant metric sequentialPValueHolm absLift }
      }
    }
  }`;

type Result = {
  id: number;
  users: number;
  verdict: string;
  srm: { mismatch: boolean } | null;
  variants: { variant: string; users: number; metrics: { metric: string; count: number; sum: number }[] }[];
  comparisons: { variant: string; metric: string; sequentialPValueHolm: number | null; absLift: number | null }[];
};
type Stored = { experiment: { status: string; latestResult: Result | null } };

/** What the scenario has fed the experiment so far. */
type Seeded = { users: Map<string, number>; purchases: Map<string, number>; revenue: Map<string, number>; events: number };

const add = (map: Map<string, number>, key: string, n: number) => map.set(key, (map.get(key) ?? 0) + n);

test('an experiment created, started and analysed in the dashboard shows what was seeded', async ({ page, record }) => {
  test.setTimeout(240_000);
  const set = await createFlagSet('e2e-experiment');
  await createFlag(set, FLAG, {
    state: 'ENABLED',
    variants: { blue: '#2456c7', green: '#1e7a3a' },
    defaultVariant: 'blue',
    targeting: { fractional: [['blue', 50], ['green', 50]] },
  });

  // A draft made through the API holds a key the form will try first.
  await graphql(
    'mutation ($flagSet: String!, $settings: ExperimentSettings!) { createExperiment(flagSet: $flagSet, key: "button-copy", settings: $settings) { key } }',
    { flagSet: set, settings: { flag: FLAG, control: 'green', metrics: [{ name: 'signups', event: 'signup', kind: 'CONVERSION' }] } },
  );

  await signIn(page, `/experiments/${set}`);
  const draftRow = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'button-copy', exact: true }) });
  await expect(draftRow).toContainText('Draft');
  await expect(draftRow).toContainText('Not started');
  await record('experiments-draft');

  // Created through the form.
  await page.getByRole('link', { name: 'New experiment' }).click();
  await expect(page).toHaveURL(new RegExp(`/new-experiment/${set}$`));
  await expect(page.getByRole('heading', { name: `New experiment in ${set}` })).toBeVisible();
  await record('new-experiment-form');
  await page.getByRole('button', { name: 'Create draft' }).click();
  await expect(page.getByRole('alert')).toHaveText('Not sent: fix the fields marked above first.');
  await expect(page.getByLabel('Key')).toHaveAccessibleDescription(/^Enter a key\./);

  await page.getByLabel('Key').fill('button-copy');
  await page.getByLabel('Flag', { exact: true }).selectOption(FLAG);
  await expect(page.getByText(/^Its split:/)).toContainText('blue 50%, green 50%');
  await expect(page.getByLabel('Control variant')).toHaveValue('blue');
  await page.getByLabel('Event of metric 1').fill('purchase');
  await page.getByLabel('Name of metric 1').fill('purchases');
  await page.getByRole('button', { name: 'Add a metric' }).click();
  await page.getByLabel('Event of metric 2').fill('purchase');
  await page.getByLabel('Name of metric 2').fill('revenue');
  await page.getByLabel('Kind of metric 2').selectOption('Sum');
  await page.getByLabel('Window length').fill('1');
  await page.getByLabel('Window unit').selectOption('days');
  await record('new-experiment-filled');
  // The server refuses a key the flag set has: its message, inline, and nothing moves.
  await page.getByRole('button', { name: 'Create draft' }).click();
  await expect(page.getByRole('alert')).toContainText('The experiment was not created:');
  await expect(page.getByRole('alert')).toContainText('ALREADY_EXISTS');
  await expect(page).toHaveURL(new RegExp(`/new-experiment/${set}$`));
  await record('new-experiment-refused');
  await page.getByLabel('Key').fill(KEY);
  await page.getByRole('button', { name: 'Create draft' }).click();

  await expect(page).toHaveURL(new RegExp(`/experiments/${set}/${KEY}$`));
  await expect(page.getByText(`Created draft ${KEY} (version 1)`)).toBeVisible();
  await expect(page.getByText('Not started: nothing is recorded until the experiment starts.')).toBeVisible();
  const draft = await graphql<{ experiment: Record<string, unknown> }>(
    'query ($flagSet: String!, $key: String!) { experiment(flagSet: $flagSet, key: $key) { status flag control windowSeconds alpha weights { variant } metrics { name event kind } } }',
    { flagSet: set, key: KEY },
  );
  expect(draft.experiment).toEqual({
    status: 'DRAFT',
    flag: FLAG,
    control: 'blue',
    windowSeconds: 86_400,
    alpha: 0.05,
    weights: null,
    metrics: [
      { name: 'purchases', event: 'purchase', kind: 'CONVERSION' },
      { name: 'revenue', event: 'purchase', kind: 'SUM' },
    ],
  });
  await record('experiment-draft');

  // The draft edited: a two-day window, saved over the version read.
  await page.getByRole('link', { name: 'Edit draft' }).click();
  await expect(page.getByRole('heading', { name: `Edit draft ${KEY}` })).toBeVisible();
  await expect(page.getByLabel('Window length')).toHaveValue('1');
  await page.getByLabel('Window length').fill('2');
  await record('edit-draft');
  await page.getByRole('button', { name: 'Save draft' }).click();
  await expect(page).toHaveURL(new RegExp(`/experiments/${set}/${KEY}$`));
  await expect(page.getByText(`Saved draft ${KEY} (version 2)`)).toBeVisible();
  await expect(page.getByText('events counted for 2 days after a user’s first exposure')).toBeVisible();
  const edited = await graphql<{ experiment: { version: number; windowSeconds: number } }>(
    'query ($flagSet: String!, $key: String!) { experiment(flagSet: $flagSet, key: $key) { version windowSeconds } }',
    { flagSet: set, key: KEY },
  );
  expect(edited.experiment).toEqual({ version: 2, windowSeconds: 2 * 86_400 });

  // Started in the dashboard.
  await page.getByRole('button', { name: 'Start experiment' }).click();
  await expect(page.getByText(`Started ${KEY}: exposures of ${FLAG} are recorded from now on`)).toBeVisible();
  await expect(page.getByText('Running', { exact: true })).toBeVisible();
  await expect(page.getByText(/^No analysis yet\./)).toBeVisible();
  await record('experiment-started');

  // The evaluation node records exposures once its feed delivers the
  // experiment's mark on the flag (OFREP answers it in the flag's metadata).
  await expect
    .poll(async () => (await ofrepEvaluate(FLAG, { targetingKey: 'user-0' }, set)).body.metadata?.['ensign.experiment'], {
      message: 'the experiment’s mark reaches the evaluation node',
      timeout: 30_000,
    })
    .toBe(KEY);

  const seeded: Seeded = { users: new Map(), purchases: new Map(), revenue: new Map(), events: 0 };
  let next = 0;
  for (const [wave, size] of WAVES.entries()) {
    const users = Array.from({ length: size }, (_, i) => `user-${next + i}`);
    next += size;
    // Each user evaluated over OFREP in the experiment's flag set: an exposure.
    const served: [string, string][] = [];
    for (let start = 0; start < users.length; start += PARALLEL) {
      const answers = await Promise.all(
        users.slice(start, start + PARALLEL).map(async (user) => [user, await ofrepEvaluate(FLAG, { targetingKey: user }, set)] as const),
      );
      for (const [user, answer] of answers) {
        expect(answer.status, JSON.stringify(answer.body)).toBe(200);
        expect(answer.body.reason).toBe('TARGETING_MATCH');
        expect(answer.body.metadata?.['ensign.experiment']).toBe(KEY);
        served.push([user, String(answer.body.variant)]);
      }
    }
    // Then their purchases: 3 in 10 of blue's users, 6 in 10 of green's.
    const events: TrackingEvent[] = [];
    for (const [user, variant] of served) {
      // The user's place among the variant's users, over every wave.
      const k = seeded.users.get(variant) ?? 0;
      add(seeded.users, variant, 1);
      if (k % 10 < (PURCHASES_IN_TEN[variant] ?? 0)) {
        const value = 10 + (k % 5) * 5;
        events.push({ name: 'purchase', context: { targetingKey: user }, details: { value, currency: 'EUR' } });
        add(seeded.purchases, variant, 1);
        add(seeded.revenue, variant, value);
      }
    }
    expect(await trackEvents(set, events)).toBe(events.length);
    seeded.events += events.length;

    // Exposures and events are buffered and written in batches (within a
    // linger of 200 ms on the embedded node): the analysis is run through
    // the API until it counts every user and every purchase seeded so far.
    const total = next;
    await expect
      .poll(
        async () => {
          const data = await graphql<{ runAnalysis: Result }>(
            'mutation ($flagSet: String!, $key: String!) { runAnalysis(flagSet: $flagSet, key: $key) { users variants { metrics { count } } } }',
            { flagSet: set, key: KEY },
          );
          const purchases = data.runAnalysis.variants.reduce((sum, v) => sum + (v.metrics[0]?.count ?? 0), 0);
          return { users: data.runAnalysis.users, purchases };
        },
        { message: `wave ${wave + 1}: the store holds every exposure and event`, timeout: 60_000, intervals: [300, 500, 1000] },
      )
      .toEqual({ users: total, purchases: seeded.events });
  }

  // "Analyse now" in the dashboard.
  const before = await graphql<Stored>(RESULT, { flagSet: set, key: KEY });
  await page.reload();
  await expect(page.getByRole('region', { name: 'Verdict' })).toBeVisible();
  await page.getByRole('button', { name: 'Analyse now' }).click();
  await expect(page.getByText(`Analysed ${KEY}: ${next.toLocaleString('en')} users`)).toBeVisible();

  const after = await graphql<Stored>(RESULT, { flagSet: set, key: KEY });
  const latest = after.experiment.latestResult;
  if (!latest) throw new Error('no result after the analysis');
  // The dashboard's analysis is a new result, over exactly what was seeded
  // (the server's periodic analysis may add others beside it, over the same).
  expect(latest.id).toBeGreaterThan(before.experiment.latestResult?.id ?? 0);
  expect(latest.users).toBe(next);
  expect(latest.srm?.mismatch).toBe(false);
  expect(
    Object.fromEntries(latest.variants.map((v) => [v.variant, [v.users, v.metrics.map((m) => [m.metric, m.count, m.sum])]])),
  ).toEqual(
    Object.fromEntries(
      ['blue', 'green'].map((v) => [
        v,
        [
          seeded.users.get(v),
          [
            ['purchases', seeded.purchases.get(v), seeded.purchases.get(v)],
            ['revenue', seeded.purchases.get(v), seeded.revenue.get(v)],
          ],
        ],
      ]),
    ),
  );
  // Green converts twice as often: the server's verdict names it as winning.
  const purchases = latest.comparisons.find((c) => c.metric === 'purchases' && c.variant === 'green');
  expect(purchases?.sequentialPValueHolm).toBeLessThan(0.05);
  expect(purchases?.absLift).toBeGreaterThan(0);
  expect(latest.verdict).toMatch(/^green beats blue on purchases: \+/);

  // What the dashboard shows is that result.
  const verdict = page.getByRole('region', { name: 'Verdict' });
  await expect(verdict.getByText(latest.verdict, { exact: true })).toBeVisible();
  await expect(verdict).toContainText(`over ${next.toLocaleString('en')} users`);
  const users = page.getByRole('region', { name: 'Users by variant' });
  for (const v of ['blue', 'green']) {
    await expect(users.getByRole('row', { name: new RegExp(`^${v}`) }).getByRole('cell').first()).toHaveText(
      (seeded.users.get(v) ?? 0).toLocaleString('en'),
    );
  }
  const conversions = page.getByRole('region', { name: 'purchases conversion' });
  for (const v of ['blue', 'green']) {
    const cells = conversions.getByRole('table', { name: /^Mean of purchases per variant/ }).getByRole('row', { name: new RegExp(`^${v}`) }).getByRole('cell');
    await expect(cells.nth(0)).toHaveText((seeded.users.get(v) ?? 0).toLocaleString('en'));
    await expect(cells.nth(1)).toHaveText((seeded.purchases.get(v) ?? 0).toLocaleString('en'));
  }
  await expect(conversions.getByRole('img', { name: /^purchases: mean per user by variant/ })).toBeVisible();
  await expect(
    conversions.getByRole('img', { name: /^purchases: relative lift over control across \d+ analyses/ }),
  ).toHaveAccessibleName(/Latest: green \+\d+(\.\d+)?% \(interval \+[\d.]+% to \+[\d.]+%, above zero\)\.$/);
  await expect(conversions.getByRole('table', { name: 'Each treatment against blue on purchases' }).getByRole('row', { name: /^Differs from blue\?/ })).toContainText(
    'Yes, better',
  );
  await expect(page.getByRole('region', { name: 'revenue sum' }).getByRole('img', { name: /^revenue: mean per user by variant/ })).toBeVisible();
  await record('experiment-results');

  // Stopping asks first.
  await page.getByRole('button', { name: 'Stop experiment' }).click();
  const dialog = page.getByRole('dialog', { name: `Stop ${KEY}?` });
  await expect(dialog).toContainText('A stopped experiment cannot be started again.');
  await record('stop-experiment');
  await dialog.getByRole('button', { name: 'Stop experiment' }).click();
  await expect(page.getByText(`Stopped ${KEY}`, { exact: true })).toBeVisible();
  await expect(page.getByText('Stopped', { exact: true }).first()).toBeVisible();
  expect((await graphql<Stored>(RESULT, { flagSet: set, key: KEY })).experiment.status).toBe('STOPPED');

  // The list shows it with its health, beside the draft.
  await page.getByRole('link', { name: `← Experiments of ${set}` }).click();
  await expect(draftRow).toContainText('Not started');
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: KEY, exact: true }) });
  await expect(row).toContainText('Stopped');
  await expect(row.getByRole('cell', { name: next.toLocaleString('en'), exact: true })).toBeVisible();
  await expect(row).toContainText('Matches the weights');
  await expect(row).toContainText(latest.verdict);
  await record('experiments-list');
});
