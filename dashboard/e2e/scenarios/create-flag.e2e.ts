// Creating a flag through the form: what the browser and the server refuse
// is shown and nothing is created; the created flag opens on its overview,
// with the variants, default and state typed, and is in the list.
import { createFlag, storedFlag } from '../support/api';
import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet } from '../support/seed';

test('a flag created through the form is stored, listed and shown', async ({ page, record }) => {
  const set = await createFlagSet('e2e-create');
  await createFlag(set, 'taken', { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' });
  const key = 'greeting';
  await signIn(page, `/flags/${set}`);
  await expect(page.getByRole('link', { name: 'taken', exact: true })).toBeVisible();
  await page.getByRole('link', { name: 'New flag' }).click();
  await expect(page).toHaveURL(new RegExp(`/new-flag/${set}$`));
  await expect(page.getByRole('heading', { name: `New flag in ${set}` })).toBeVisible();
  await record('new-flag-form');

  // Nothing is sent while the browser can tell what is wrong.
  await page.getByRole('button', { name: 'Create flag' }).click();
  await expect(page.getByRole('alert')).toHaveText('Not sent: fix the fields marked above first.');
  await expect(page.getByLabel('Key')).toHaveAccessibleDescription(/^Enter a key\./);
  await record('new-flag-problems');

  // A key the flag set already has: the server refuses it, with its code.
  await page.getByLabel('Key').fill('taken');
  await page.getByRole('button', { name: 'Create flag' }).click();
  await expect(page.getByRole('alert')).toContainText('The flag was not created: flag "taken" already exists');
  await expect(page.getByRole('alert')).toContainText('ALREADY_EXISTS');
  await expect(page).toHaveURL(new RegExp(`/new-flag/${set}$`));
  await record('new-flag-refused');

  await page.getByLabel('Key').fill(key);
  await page.getByLabel('Variant type').selectOption('String');
  await page.getByLabel('Name of variant 1').fill('calm');
  await page.getByLabel('Value of variant 1').fill('Welcome back');
  await page.getByLabel('Name of variant 2').fill('loud');
  await page.getByLabel('Value of variant 2').fill('WELCOME BACK!');
  await page.getByRole('button', { name: 'Add a variant' }).click();
  await page.getByLabel('Name of variant 3').fill('quiet');
  await page.getByLabel('Value of variant 3').fill('hi');
  await page.getByLabel('Default variant').selectOption('loud');
  await page.getByLabel('Tags').fill('e2e, greeting');
  await page.getByLabel('Description').fill('The greeting on the home page');
  await record('new-flag-filled');
  await page.getByRole('button', { name: 'Create flag' }).click();

  await expect(page).toHaveURL(new RegExp(`/flags/${set}/${key}$`));
  await expect(page.getByRole('heading', { name: key, level: 1 })).toBeVisible();
  await expect(page.getByText(`Created ${key} in ${set} (version 1)`)).toBeVisible();
  const details = page.getByRole('region', { name: 'Details' });
  await expect(details.getByRole('definition').first()).toHaveText('ENABLED');
  await expect(details).toContainText('Default variantloud');
  const variants = page.getByRole('region', { name: 'Variants' });
  await expect(variants.getByRole('row')).toHaveText([
    'VariantValue',
    'calm"Welcome back"',
    'loud default"WELCOME BACK!"',
    'quiet"hi"',
  ]);
  await record('created-overview');

  expect(await storedFlag(set, key)).toEqual({
    version: 1,
    state: 'ENABLED',
    defaultVariant: 'loud',
    definition: {
      state: 'ENABLED',
      variants: { calm: 'Welcome back', loud: 'WELCOME BACK!', quiet: 'hi' },
      defaultVariant: 'loud',
      metadata: { tags: 'e2e, greeting', description: 'The greeting on the home page' },
    },
  });

  await page.getByRole('link', { name: `← Flags of ${set}` }).click();
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: key, exact: true }) });
  await expect(row).toContainText('ENABLED');
  await expect(row).toContainText('loud');
  await expect(row).toContainText('e2egreeting');
  // The tag filter offers the new flag's tags.
  await expect(page.getByLabel('Tag').getByRole('option', { name: 'greeting', exact: true })).toBeAttached();
  await record('list-with-created-flag');
});
