// Rolling a flag back from its history restores what evaluation serves:
// after a change of its default, OFREP serves the old value again.
import { createFlag, graphql, ofrepEvaluate, storedFlag } from '../support/api';
import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet } from '../support/seed';

test('a rollback from the history tab serves the earlier value again', async ({ page, record }) => {
  const set = await createFlagSet('e2e-rollback');
  const key = 'theme-colour';
  await createFlag(set, key, { state: 'ENABLED', variants: { blue: '#00f', red: '#f00' }, defaultVariant: 'blue' });
  await graphql(
    'mutation ($set: String!, $key: String!) { setDefaultVariant(flagSet: $set, key: $key, expectedVersion: 1, variant: "red") { version } }',
    { set, key },
  );
  await expect.poll(async () => (await ofrepEvaluate(key, { targetingKey: 'user-1' }, set)).body.value).toBe('#f00');

  await signIn(page, `/flags/${set}/${key}/history`);
  const first = page.getByRole('article', { name: /^Version 1:/ });
  await expect(page.getByRole('article', { name: /^Version 2:/ })).toBeVisible();
  await record('history-before-rollback');

  await first.getByRole('button', { name: 'Roll back to version 1' }).click();
  const dialog = page.getByRole('dialog', { name: `Roll ${key} back to version 1?` });
  const preview = dialog.getByRole('group', { name: 'Changes from version 2 to version 1' });
  await expect(preview.getByRole('deletion')).toHaveText('"red"');
  await expect(preview.getByRole('insertion')).toHaveText('"blue"');
  await record('rollback-confirmation');
  await dialog.getByRole('button', { name: 'Roll back to version 1' }).click();

  await expect(page.getByText(`Rolled ${key} back to version 1; it is now version 3`)).toBeVisible();
  await expect(page.getByRole('article', { name: /^Version 3:/ })).toBeVisible();
  await record('history-after-rollback');

  await expect
    .poll(async () => (await ofrepEvaluate(key, { targetingKey: 'user-1' }, set)).body)
    .toMatchObject({ key, value: '#00f', variant: 'blue', reason: 'STATIC' });
  expect(await storedFlag(set, key)).toMatchObject({ version: 3, defaultVariant: 'blue' });
});
