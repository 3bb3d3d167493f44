// The audit log filters by actor, by flag and by time range on the server,
// and the address carries the filters: opened again, it shows the same.
import type { Locator, Page } from '@playwright/test';

import { graphql } from '../support/api';
import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet, createToken, importFlags, uniqueKey } from '../support/seed';

// Times are typed into the form in the browser's time zone: UTC, as here.
test.use({ timezoneId: 'UTC' });

test('the audit log filters by actor, flag and time, and keeps them in the address', async ({ page, record }) => {
  const flagSet = await createFlagSet('audit');
  const boolean = { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' };
  await importFlags(flagSet, { 'audit-alpha': boolean, 'audit-beta': boolean });
  const aliceName = uniqueKey('e2e-alice');
  const bobName = uniqueKey('e2e-bob');
  const alice = await createToken(aliceName, 'editor');
  const bob = await createToken(bobName, 'editor');

  await setDefault(flagSet, 'audit-alpha', 'on', alice.secret);
  // Bob's changes come in a later second than Alice's, so a range from that
  // second on (the form takes whole seconds) holds his changes only.
  const boundary = Math.floor(Date.now() / 1000) * 1000 + 1000;
  await expect.poll(() => Date.now(), { intervals: [100] }).toBeGreaterThanOrEqual(boundary);
  await setDefault(flagSet, 'audit-beta', 'on', bob.secret);
  await setDefault(flagSet, 'audit-alpha', 'off', bob.secret);

  await signIn(page, '/audit');
  await expect(page.getByRole('heading', { name: 'Audit log' })).toBeVisible();
  await record('audit-log');
  const filters = page.getByRole('form', { name: 'Audit log filters' });

  // By actor: Alice's one change.
  await filters.getByLabel('Actor').fill(aliceName);
  await filters.getByRole('button', { name: 'Apply filters' }).click();
  await expect(page).toHaveURL((url) => url.pathname === '/audit' && url.searchParams.get('actor') === aliceName);
  await expect.poll(() => changes(page)).toEqual([`${aliceName} · ${flagSet} / audit-alpha · 2`]);
  // Her change, opened: the default variant she set.
  await page.getByRole('button', { name: 'Show the change to flag audit-alpha (version 2)' }).click();
  await expect(page.getByRole('table', { name: 'Changes, newest first' })).toContainText('defaultVariant');
  await record('audit-log-by-actor');

  // By flag: what happened to audit-beta, its import and Bob's change.
  await filters.getByRole('button', { name: 'Clear' }).click();
  await filters.getByLabel('Flag set').selectOption(flagSet);
  await filters.getByLabel('Flag', { exact: true }).fill('audit-beta');
  await filters.getByRole('button', { name: 'Apply filters' }).click();
  await expect(page).toHaveURL(
    (url) => url.searchParams.get('flagSet') === flagSet && url.searchParams.get('flag') === 'audit-beta' && !url.searchParams.has('actor'),
  );
  await expect.poll(() => changes(page)).toEqual([`${bobName} · ${flagSet} / audit-beta · 2`, `admin · ${flagSet} / audit-beta · 1`]);
  await record('audit-log-by-flag');

  // By time: from Bob's second on, for an hour, in this flag set.
  const since = new Date(boundary);
  const until = new Date(boundary + 3_600_000);
  await filters.getByLabel('Flag', { exact: true }).fill('');
  await filters.getByLabel('Since').fill(localInput(since));
  await filters.getByLabel('Until').fill(localInput(until));
  await filters.getByRole('button', { name: 'Apply filters' }).click();
  await expect(page).toHaveURL(
    (url) =>
      url.searchParams.get('since') === since.toISOString() &&
      url.searchParams.get('until') === until.toISOString() &&
      url.searchParams.get('flagSet') === flagSet &&
      !url.searchParams.has('flag'),
  );
  const bobs = [`${bobName} · ${flagSet} / audit-alpha · 3`, `${bobName} · ${flagSet} / audit-beta · 2`];
  await expect.poll(() => changes(page)).toEqual(bobs);
  await record('audit-log-by-time');

  // The address is the view: opened afresh, the same filters and changes.
  const address = page.url();
  await page.goto('/flags/default');
  await page.goto(address);
  await expect(filters.getByLabel('Flag set')).toHaveValue(flagSet);
  await expect(filters.getByLabel('Since')).toHaveValue(localInput(since));
  await expect(filters.getByLabel('Until')).toHaveValue(localInput(until));
  await expect.poll(() => changes(page)).toEqual(bobs);
  await record('audit-log-deep-link');
});

/** A change to `key`'s default variant, made with `token`. */
async function setDefault(flagSet: string, key: string, variant: string, token: string): Promise<void> {
  const { flag } = await graphql<{ flag: { version: number; definition: Record<string, unknown> } }>(
    'query ($flagSet: String!, $key: String!) { flag(flagSet: $flagSet, key: $key) { version definition } }',
    { flagSet, key },
    token,
  );
  await graphql(
    'mutation ($flagSet: String!, $key: String!, $v: Int!, $flag: FlagWrite!) { updateFlag(flagSet: $flagSet, key: $key, expectedVersion: $v, flag: $flag) { version } }',
    { flagSet, key, v: flag.version, flag: { definition: { ...flag.definition, defaultVariant: variant } } },
    token,
  );
}

/** The changes listed, newest first, as "actor · subject · version". */
async function changes(page: Page): Promise<string[]> {
  const table = page.getByRole('table', { name: 'Changes, newest first' });
  if ((await table.count()) === 0) return [];
  const rows = await table.locator('tbody > tr:not([hidden])').all();
  return Promise.all(rows.map(async (row) => [await cell(row, 1), await cell(row, 3), await cell(row, 4)].join(' · ')));
}

async function cell(row: Locator, index: number): Promise<string> {
  return ((await row.locator('td').nth(index).innerText()).replace(/\s*\(history\)\s*/, '')).trim();
}

/** A time as a `datetime-local` input holds it, in UTC, to the second (left out when 0). */
function localInput(time: Date): string {
  return time.toISOString().slice(0, 19).replace(/:00$/, '');
}
