// A save against a version someone else has since replaced is refused and
// shown beside the change it missed; reapplied, it saves on the new
// version and keeps both changes.
import { createFlag, graphql, storedFlag } from '../support/api';
import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet } from '../support/seed';

test('a stale save shows the conflict and saves when reapplied', async ({ page, record }) => {
  const set = await createFlagSet('e2e-stale');
  const key = 'plan-gate';
  const rule = (plan: string) => ({ if: [{ '==': [{ var: 'plan' }, plan] }, 'on', 'off'] });
  await createFlag(set, key, { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off', targeting: rule('pro') });

  await signIn(page, `/flags/${set}/${key}/targeting`);
  const editor = page.getByLabel('Targeting (JSON)');
  await expect(editor).toHaveValue(/"pro"/);
  await editor.fill(JSON.stringify(rule('enterprise'), null, 2));
  await expect(page.getByText('The server’s compiler finds no problem.')).toBeVisible();
  await record('targeting-edited');

  // Someone else changes the default variant while the edit is open.
  await graphql(
    'mutation ($set: String!, $key: String!, $definition: JSON!) { updateFlag(flagSet: $set, key: $key, expectedVersion: 1, flag: { definition: $definition }) { version } }',
    { set, key, definition: { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on', targeting: rule('pro') } },
  );

  await page.getByRole('button', { name: 'Save targeting' }).click();
  const conflict = page.getByRole('region', { name: 'This flag changed after you read it' });
  await expect(conflict).toContainText('VERSION_CONFLICT');
  await expect(conflict).toContainText('You read version 1. It is now version 2, changed by');
  await expect(conflict).toContainText('Changed since you read it: defaultVariant.');
  await expect(conflict.getByRole('figure', { name: 'Your edit' })).toContainText('"enterprise"');
  await record('conflict');
  expect((await storedFlag(set, key)).version).toBe(2);

  await conflict.getByRole('button', { name: 'Reapply my edit to version 2' }).click();
  await expect(page.getByText(`Saved ${key}: version 3`)).toBeVisible();
  await expect(conflict).toBeHidden();
  await record('reapplied');

  expect(await storedFlag(set, key)).toEqual({
    version: 3,
    state: 'ENABLED',
    defaultVariant: 'on',
    definition: { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on', targeting: rule('enterprise') },
  });
});
