// Signing in with the token `ensign serve` printed, and the example flags
// of flag set `default` in the list.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { env, workspaceRoot } from '../support/env';
import { expect, test } from '../support/fixtures';

/** The keys of the bundled example flags, which the first start imports. */
const exampleFlags = Object.keys(
  (JSON.parse(readFileSync(path.join(workspaceRoot, 'examples/flags.json'), 'utf8')) as {
    flags: Record<string, unknown>;
  }).flags,
);

test('signing in with the printed token shows the example flags', async ({ page, record }) => {
  expect(exampleFlags.length).toBeGreaterThan(0);
  await page.goto('/');
  await expect(page).toHaveURL(/\/sign-in$/);
  await expect(page.getByRole('heading', { name: 'Sign in to Ensign' })).toBeVisible();
  await record('sign-in');

  await page.getByLabel('Admin token').fill(env.token);
  await page.getByRole('button', { name: 'Sign in' }).click();

  await expect(page).toHaveURL(/\/flags\/default$/);
  await expect(page.getByRole('heading', { name: 'Flags' })).toBeVisible();
  const list = page.getByRole('table');
  for (const key of exampleFlags) {
    await expect(list.getByRole('link', { name: key, exact: true })).toBeVisible();
  }
  await expect(page.getByText(`${String(exampleFlags.length)} flags loaded`)).toBeVisible();
  await record('flag-list');

  const first = exampleFlags[0] ?? '';
  await list.getByRole('link', { name: first, exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/flags/default/${first}$`));
  await expect(page.getByRole('heading', { name: first })).toBeVisible();
  await record('flag-overview');
});

test('a deep link survives signing in', async ({ page, record }) => {
  const key = exampleFlags[1] ?? '';
  await page.goto(`/flags/default/${key}`);
  await expect(page).toHaveURL(/\/sign-in\?next=/);
  await page.getByLabel('Admin token').fill(env.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(new RegExp(`/flags/default/${key}$`));
  await expect(page.getByRole('heading', { name: key })).toBeVisible();
  await record('deep-link');
});
