// An example flag evaluated over OFREP shows on the usage screen once the
// evaluation node has written its counts, and leaves the stale list (30
// days), which still names an example flag never evaluated as such.
//
// The example flags must be older than the window: the run that starts the
// scenarios sets their `created_at` 60 days back in the store first, and
// names their flag set in ENSIGN_E2E_AGED_FLAG_SET.
import { flagUsage, ofrepEvaluate, staleFlags, storedFlag } from '../support/api';
import { expect, signIn, test } from '../support/fixtures';

/**
 * The embedded server writes each minute's evaluation counts by the end of
 * the minute (`--evaluation-count-interval`, 60 seconds by default): the
 * usage screen may take that long, and some, to show an evaluation.
 */
const COUNTS_DEADLINE_MS = 150_000;

const WINDOW_HOURS = 30 * 24;

test('an evaluated flag leaves the stale list; one never evaluated stays on it', async ({ page, record }) => {
  test.setTimeout(COUNTS_DEADLINE_MS + 90_000);
  const set = process.env.ENSIGN_E2E_AGED_FLAG_SET;
  if (!set) {
    throw new Error(
      'ENSIGN_E2E_AGED_FLAG_SET is not set: this scenario needs the example flags aged by the run that starts ' +
        'it (their created_at set 60 days back in the store) and their flag set named in that variable ' +
        '(see dashboard/e2e/README.md)',
    );
  }

  // Two example flags nothing has evaluated yet: one to evaluate, one to stay unevaluated.
  const never = (await flagUsage(set)).filter((u) => u.lastEvaluatedAt === null).map((u) => u.flag).sort();
  const enabled: string[] = [];
  for (const key of never) if ((await storedFlag(set, key)).state === 'ENABLED') enabled.push(key);
  const evaluated = enabled[0];
  const untouched = never.find((key) => key !== evaluated);
  if (evaluated === undefined || untouched === undefined) {
    throw new Error(`flag set ${set} needs two never-evaluated flags, one of them enabled; it has ${JSON.stringify(never)}`);
  }
  const staleBefore = (await staleFlags(set, WINDOW_HOURS)).map((s) => s.flag);
  expect(
    staleBefore,
    `the never-evaluated flags of ${set} are stale over 30 days only if they are older than that: are they aged?`,
  ).toEqual(expect.arrayContaining([evaluated, untouched]));

  const answer = await ofrepEvaluate(evaluated, { targetingKey: 'e2e-usage' }, set);
  expect(answer.status).toBe(200);
  expect(answer.body).toMatchObject({ key: evaluated });

  await signIn(page, `/usage/${set}`);
  await expect(page.getByRole('heading', { name: 'Flag usage', level: 1 })).toBeVisible();
  const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: evaluated, exact: true }) });
  const refresh = page.getByRole('button', { name: 'Refresh' });
  // The columns after the flag: 24 hours, 30 days, last evaluated, first evaluated, variants.
  await expect(async () => {
    await refresh.click();
    await expect(refresh).toBeEnabled();
    await expect(row.getByRole('cell').nth(2)).not.toHaveText('never', { timeout: 1_000 });
  }).toPass({ timeout: COUNTS_DEADLINE_MS, intervals: [2_000, 5_000] });
  await expect(row.getByRole('cell').nth(0)).toHaveText(/^[1-9][\d,]*$/);
  await expect(row.getByRole('cell').nth(2)).toContainText(/ago|now/);

  // Both lists as of the same moment.
  await refresh.click();
  await expect(refresh).toBeEnabled();
  const list = page.getByRole('list', { name: 'Stale flags over the last 30 days' });
  const item = list.getByRole('listitem').filter({ has: page.getByRole('link', { name: untouched, exact: true }) });
  await expect(item).toContainText('Never evaluated.');
  await expect(item.getByRole('link', { name: untouched, exact: true })).toHaveAttribute('href', `/flags/${set}/${untouched}`);
  await expect(list.getByRole('link', { name: evaluated, exact: true })).toHaveCount(0);
  await record('usage-stale-flags');

  const staleAfter = await staleFlags(set, WINDOW_HOURS);
  expect(staleAfter.map((s) => s.flag)).not.toContain(evaluated);
  expect(staleAfter.find((s) => s.flag === untouched)).toMatchObject({ reason: 'NOT_EVALUATED', lastEvaluatedAt: null });
});
