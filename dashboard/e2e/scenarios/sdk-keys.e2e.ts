// A client SDK key created in the dashboard, its secret read from the one
// time the dashboard shows it, evaluates a client-visible flag over OFREP;
// revoked in the dashboard, the same request is refused once the flag
// set's next publication reaches the evaluation node.
import { createFlag, ofrepEvaluate, storedTokens } from '../support/api';
import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet, uniqueKey } from '../support/seed';

/** How long a change may take to reach the evaluation node through a publication. */
const PUBLICATION_DEADLINE_MS = 30_000;

test('a client key shown once evaluates over OFREP until it is revoked', async ({ page, record }) => {
  const set = await createFlagSet('e2e-keys');
  const flag = 'web-banner';
  await createFlag(set, flag, { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' }, { clientVisible: true });
  await createFlag(set, 'server-only', { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' });
  const name = uniqueKey('e2e-web');
  const context = { targetingKey: 'user-1' };

  await signIn(page, '/keys');
  await expect(page.getByRole('heading', { name: 'Tokens and SDK keys', level: 1 })).toBeVisible();
  await expect(page.getByRole('table')).toBeVisible();
  await record('keys');

  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Role').selectOption('client');
  await expect(page.getByLabel('Role')).toHaveAccessibleDescription(/only the client-visible flags of one flag set/);
  await page.getByLabel('Flag set').selectOption(set);
  await page.getByRole('button', { name: 'Create SDK key' }).click();

  const shown = page.getByRole('region', { name: `Copy the secret of ${name} now` });
  await expect(shown).toContainText('It will not be shown again.');
  const secret = await shown.getByLabel('Secret').inputValue();
  expect(secret.length).toBeGreaterThan(12);
  const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });
  await expect(row).toContainText('Client SDK key');
  await expect(row).toContainText(set);
  await record('secret-shown-once');

  // The server holds a live client key of this flag set whose prefix is the secret's start.
  const stored = (await storedTokens()).find((t) => t.name === name);
  expect(stored).toMatchObject({ role: 'client', flagSet: set, revokedAt: null });
  expect(secret.startsWith(stored?.prefix ?? '?')).toBe(true);

  // The key reaches the evaluation node with the flag set's publication.
  // Until then a node that never had a key answers anyone, so what proves
  // the key arrived is its limit: a flag that is not client-visible is not
  // found for it.
  await expect
    .poll(async () => (await ofrepEvaluate('server-only', context, undefined, secret)).body.errorCode, {
      timeout: PUBLICATION_DEADLINE_MS,
    })
    .toBe('FLAG_NOT_FOUND');
  const hidden = await ofrepEvaluate('server-only', context, undefined, secret);
  expect(hidden.status).toBe(404);
  expect(hidden.body).not.toHaveProperty('value');
  const served = await ofrepEvaluate(flag, context, undefined, secret);
  expect(served).toMatchObject({ status: 200, body: { key: flag, value: true, variant: 'on' } });
  // Without a key, the flag set is now refused.
  expect(await ofrepEvaluate(flag, context, set)).toMatchObject({ status: 401, body: { errorCode: 'GENERAL' } });

  await shown.getByRole('button', { name: 'I have copied it: hide the secret' }).click();
  await expect(shown).toBeHidden();
  expect(await page.content()).not.toContain(secret);

  await row.getByRole('button', { name: `Revoke ${name}` }).click();
  const dialog = page.getByRole('dialog', { name: `Revoke ${name}?` });
  await expect(dialog).toContainText('evaluation nodes refuse it once they receive the flag set’s next publication');
  await record('revoke-confirmation');
  await dialog.getByRole('button', { name: 'Revoke' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByText(`Revoked ${name}`, { exact: true })).toBeVisible();
  await expect(row).toContainText(/Revoked \w/);
  await expect(row.getByRole('button')).toHaveCount(0);
  await record('keys-after-revoke');

  expect((await storedTokens()).find((t) => t.name === name)?.revokedAt).not.toBeNull();
  // The same request is refused once the revocation's publication arrives.
  await expect
    .poll(async () => ofrepEvaluate(flag, context, undefined, secret), { timeout: PUBLICATION_DEADLINE_MS })
    .toMatchObject({ status: 401, body: { errorCode: 'GENERAL' } });
});
