// The kill switch, confirmed in its dialog, disables a flag for every
// client: OFREP answers it with reason DISABLED and no value or variant, so
// each SDK falls back to its code default.
import { createFlag, ofrepEvaluate } from '../support/api';
import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet } from '../support/seed';

test('the kill switch makes OFREP answer DISABLED', async ({ page, record }) => {
  const set = await createFlagSet('e2e-kill');
  const key = 'checkout';
  await createFlag(set, key, { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' });
  await expect
    .poll(async () => (await ofrepEvaluate(key, { targetingKey: 'user-1' }, set)).body)
    .toMatchObject({ key, value: true, variant: 'on', reason: 'STATIC' });

  await signIn(page, `/flags/${set}/${key}`);
  await expect(page.getByRole('heading', { name: key, level: 1 })).toBeVisible();
  await record('overview-enabled');

  await page.getByRole('button', { name: 'Disable now' }).click();
  const dialog = page.getByRole('dialog', { name: `Disable ${key}?` });
  await expect(dialog).toBeVisible();
  await record('kill-switch-confirmation');
  await dialog.getByRole('button', { name: 'Disable flag' }).click();

  await expect(dialog).toBeHidden();
  await expect(page.getByText(`Disabled ${key} (version 2)`)).toBeVisible();
  await expect(page.getByRole('region', { name: 'Details' }).getByRole('definition').first()).toHaveText('DISABLED');
  await expect(page.getByRole('button', { name: 'Disable now' })).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Disable now' })).toHaveAccessibleDescription('The flag is already disabled');
  await record('overview-disabled');

  await expect.poll(async () => (await ofrepEvaluate(key, { targetingKey: 'user-1' }, set)).body.reason).toBe('DISABLED');
  const answer = await ofrepEvaluate(key, { targetingKey: 'user-1' }, set);
  expect(answer.status).toBe(200);
  expect(answer.body).toMatchObject({ key, reason: 'DISABLED' });
  expect(answer.body).not.toHaveProperty('value');
  expect(answer.body).not.toHaveProperty('variant');
  expect(answer.body).not.toHaveProperty('errorCode');
});
