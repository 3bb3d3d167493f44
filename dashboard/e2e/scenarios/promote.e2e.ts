// Comparing a staging-like and a production-like flag set marks the flag
// that differs with what differs, hides the identical one and names the one
// missing in production; promoting it, confirmed, makes OFREP serve the
// promoted variant in the production flag set.
import { createFlag, ofrepEvaluate, storedFlag } from '../support/api';
import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet } from '../support/seed';

test('a flag promoted from the comparison is served in the target flag set', async ({ page, record }) => {
  const staging = await createFlagSet('e2e-staging');
  const production = await createFlagSet('e2e-production');
  const variants = { plain: 'Welcome', bold: 'WELCOME!' };
  const key = 'banner';
  await createFlag(staging, key, { state: 'ENABLED', variants, defaultVariant: 'bold' });
  await createFlag(production, key, { state: 'ENABLED', variants, defaultVariant: 'plain' });
  for (const set of [staging, production]) {
    await createFlag(set, 'footer', { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' });
  }
  await createFlag(staging, 'new-search', { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' });
  await expect
    .poll(async () => (await ofrepEvaluate(key, { targetingKey: 'user-1' }, production)).body)
    .toMatchObject({ value: 'Welcome', variant: 'plain' });

  // Only what differs is listed: the banner's default variant, and a flag production lacks.
  await signIn(page, `/compare?from=${staging}&to=${production}`);
  await expect(page.getByRole('heading', { name: `${staging} → ${production}` })).toBeVisible();
  await expect(page.getByText('3 flags: 1 differ, 1 only in')).toBeVisible();
  const banner = page.getByRole('row', { name: new RegExp(`^${key} `) });
  await expect(banner.getByRole('list', { name: `What differs in ${key}` }).getByRole('listitem')).toHaveText(['default variant']);
  await expect(page.getByRole('row', { name: /^new-search / })).toContainText(`not in ${production}`);
  await expect(page.getByRole('row', { name: /^footer / })).toHaveCount(0);
  await expect(page.getByText('1 identical flag is not listed.')).toBeVisible();
  await banner.getByRole('button', { name: `Show the definitions of ${key}` }).click();
  const diff = page.getByRole('group', { name: `Changes promoting ${key} would make` });
  await expect(diff.getByRole('deletion')).toHaveText('"plain"');
  await expect(diff.getByRole('insertion')).toHaveText('"bold"');
  await record('compare-before');

  // Promoted with the versions just read, after a confirmation.
  await banner.getByRole('button', { name: `Promote ${key} to ${production}` }).click();
  const dialog = page.getByRole('dialog', { name: `Promote ${key} to ${production}?` });
  await expect(dialog).toContainText('replacing its version 1');
  await record('promote-confirmation');
  await dialog.getByRole('button', { name: 'Promote' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByText(`Promoted ${key} to ${production}: version 2`)).toBeVisible();

  // The comparison, read again, has the banner the same on both sides.
  await expect(page.getByText('3 flags: 0 differ, 1 only in')).toBeVisible();
  await expect(banner).toHaveCount(0);
  await page.getByLabel('Only differences').uncheck();
  await expect(page).toHaveURL(/[?&]all=1/);
  await expect(page.getByRole('row', { name: new RegExp(`^${key} `) })).toContainText('identical');
  await record('compare-after');

  const stored = await storedFlag(production, key);
  expect(stored.version).toBe(2);
  expect(stored.defaultVariant).toBe('bold');
  // Publication is asynchronous: OFREP serves the promoted variant in production soon after.
  await expect
    .poll(async () => (await ofrepEvaluate(key, { targetingKey: 'user-1' }, production)).body)
    .toMatchObject({ key, value: 'WELCOME!', variant: 'bold' });
});
