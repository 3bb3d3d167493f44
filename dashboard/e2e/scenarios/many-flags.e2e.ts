// A flag set of 5,000 flags: the server's search finds the right ones, and
// the list scrolls through every page to the last flag while the DOM holds
// at most 200 rows, with the total count shown.
import type { Locator } from '@playwright/test';

import { expect, signIn, test } from '../support/fixtures';
import { type FlagDefinition, createFlagSet, importFlags } from '../support/seed';

const TOTAL = 5000;
/** Most rows (spacers included) the list's table body may hold at once. */
const MOST_ROWS = 200;

test('5,000 flags: searched on the server, scrolled to the end with few rows in the DOM', async ({ page, record }) => {
  test.setTimeout(300_000);
  const flagSet = await createFlagSet('many');
  const flags: Record<string, FlagDefinition> = {};
  const needles = ['bulk-needle-east', 'bulk-needle-west'];
  for (const key of needles) flags[key] = flag();
  for (let i = 0; Object.keys(flags).length < TOTAL; i++) flags[`bulk-${String(i).padStart(5, '0')}`] = flag();
  const keys = Object.keys(flags).sort();
  const commits = await importFlags(flagSet, flags);
  expect(commits).toBeLessThanOrEqual(3);

  await signIn(page, `/flags/${flagSet}`);
  const list = page.getByRole('region', { name: 'Flag list' });
  await expect(page.getByText('5,000 flags', { exact: true })).toBeVisible();
  await expect(list.getByRole('link', { name: keys[0], exact: true })).toBeVisible();
  await expect(page.getByText('100 flags loaded, more below')).toBeVisible();
  await record('many-flags-list');

  // The search runs on the server, over all 5,000, not over the page loaded.
  const searched = page.waitForRequest((request) => {
    const body = request.method() === 'POST' ? (request.postDataJSON() as { variables?: { search?: unknown } }) : null;
    return new URL(request.url()).pathname === '/graphql' && body?.variables?.search === 'needle';
  });
  await page.getByRole('searchbox', { name: 'Search flags' }).fill('needle');
  await searched;
  await expect(page).toHaveURL(/[?&]q=needle/);
  await expect(page.getByText('2 of 5,000 match', { exact: true })).toBeVisible();
  await expect(list.getByRole('link')).toHaveText(needles);
  await expect(page.getByText('2 flags loaded', { exact: true })).toBeVisible();
  await record('many-flags-search');

  await page.getByRole('searchbox', { name: 'Search flags' }).fill('');
  await expect(page.getByText('5,000 flags', { exact: true })).toBeVisible();

  // Scrolling to the end loads page after page; the DOM keeps only the rows in view.
  const counts: number[] = [];
  let loaded = 0;
  while (loaded < TOTAL) {
    await list.evaluate((element) => { element.scrollTop = element.scrollHeight; });
    await expect
      .poll(async () => loadedCount(page.getByRole('status').filter({ hasText: /flags? loaded/ })))
      .toBeGreaterThan(loaded);
    loaded = await loadedCount(page.getByRole('status').filter({ hasText: /flags? loaded/ }));
    counts.push(await rowsInDom(list));
  }
  expect(loaded).toBe(TOTAL);
  await expect(page.getByText('5,000 flags loaded', { exact: true })).toBeVisible();
  // The last page came in below the view: down to it, the list ends with the last key.
  await list.evaluate((element) => { element.scrollTop = element.scrollHeight; });
  await expect(list.getByRole('link', { name: keys[TOTAL - 1], exact: true })).toBeVisible();
  await expect(list.getByRole('row').last()).toHaveAttribute('aria-rowindex', String(TOTAL + 1));
  counts.push(await rowsInDom(list));
  await record('many-flags-end');
  // And back up through the middle, where rows above and below are left out.
  for (const share of [0.75, 0.5, 0.25, 0]) {
    await list.evaluate((element, s) => { element.scrollTop = element.scrollHeight * s; }, share);
    const shown = keys[Math.min(TOTAL - 1, Math.floor(TOTAL * share) + 2)] ?? '';
    await expect(list.getByRole('link', { name: shown, exact: true })).toBeAttached();
    counts.push(await rowsInDom(list));
  }
  expect(counts.length).toBeGreaterThanOrEqual(TOTAL / 100);
  expect(Math.max(...counts), `rows in the DOM at each position: ${counts.join(', ')}`).toBeLessThanOrEqual(MOST_ROWS);
  expect(Math.min(...counts)).toBeGreaterThan(0);
  await expect(page.getByText('5,000 flags', { exact: true })).toBeVisible();
  await record('many-flags-top-again');
});

function flag(): FlagDefinition {
  return { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' };
}

/** The number in "1,234 flags loaded". */
async function loadedCount(status: Locator): Promise<number> {
  const text = (await status.textContent()) ?? '';
  return Number(/^([\d,]+) flags? loaded/.exec(text)?.[1]?.replace(/,/g, '') ?? 0);
}

/** Rows in the list's table body, as the DOM holds them (spacers too). */
async function rowsInDom(list: Locator): Promise<number> {
  return list.locator('tbody tr').count();
}
