// A segment created in the dashboard and used by a flag (`$ref`): deleting
// it, and an edit that would break the flag, are refused with the server's
// reasons and change nothing; an edit the flag can take makes OFREP serve
// by the new rule.
import { createFlag, ofrepEvaluate, storedSegments } from '../support/api';
import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet } from '../support/seed';

test('a segment used by a flag cannot be deleted, and its edit changes what OFREP serves', async ({ page, record }) => {
  const set = await createFlagSet('e2e-segments');
  const segment = 'paying';
  const flag = 'pro-banner';
  const served = async (plan: string) => (await ofrepEvaluate(flag, { targetingKey: 'user-1', plan }, set)).body.variant;

  await signIn(page, `/segments/${set}`);
  await expect(page.getByText(`Flag set ${set} has no segments yet.`)).toBeVisible();
  await page.getByRole('link', { name: 'New segment' }).click();
  await expect(page.getByRole('heading', { name: `New segment in ${set}` })).toBeVisible();
  await page.getByLabel('Key').fill(segment);
  await page.getByLabel('Rule (JSONLogic)').fill('{\n  "==": [{ "var": "plan" }, "pro"]\n}');
  await record('new-segment');
  await page.getByRole('button', { name: 'Create segment' }).click();

  await expect(page.getByRole('heading', { name: segment, level: 1 })).toBeVisible();
  expect(new URL(page.url()).pathname).toBe(`/segments/${set}/${segment}`);
  expect(await storedSegments(set)).toEqual([{ key: segment, definition: { '==': [{ var: 'plan' }, 'pro'] }, version: 1 }]);

  // A flag uses it, through the API.
  await createFlag(set, flag, {
    state: 'ENABLED',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    targeting: { if: [{ $ref: segment }, 'on', 'off'] },
  });
  await expect.poll(() => served('pro')).toBe('on');
  expect(await served('team')).toBe('off');

  await page.getByRole('link', { name: `← Segments of ${set}` }).click();
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: segment, exact: true }) });
  await expect(row).toContainText('{"==":[{"var":"plan"},"pro"]}');
  await record('segments');
  await row.getByRole('link', { name: segment, exact: true }).click();

  // Deleting it is refused while the flag names it.
  await page.getByRole('button', { name: 'Delete segment' }).click();
  const dialog = page.getByRole('dialog', { name: `Delete segment ${segment}?` });
  await record('delete-segment-confirmation');
  await dialog.getByRole('button', { name: 'Delete segment' }).click();
  await expect(dialog).toBeHidden();
  const deletion = page.getByRole('region', { name: 'Delete' });
  const refusal = deletion.getByRole('alert');
  await expect(refusal).toContainText('Not deleted');
  await expect(refusal).toContainText('INVALID_DEFINITION');
  await expect(refusal).toContainText(segment);
  await expect(deletion.getByText('Flags still use this segment through {"$ref": "paying"}', { exact: false })).toBeVisible();
  await expect(deletion.getByRole('link', { name: flag, exact: true })).toHaveAttribute('href', `/flags/${set}/${flag}/targeting`);
  await expect(deletion.getByRole('list', { name: 'Why the server refused to delete it' })).toContainText(
    `"$ref" names unknown evaluator "${segment}"`,
  );
  await record('segment-delete-refused');
  expect(await storedSegments(set)).toHaveLength(1);

  // An edit that would break the flag is refused too, its finding beside the rule's line.
  const rule = page.getByRole('region', { name: 'Rule' });
  const editor = rule.getByLabel('Rule (JSONLogic)');
  await editor.fill('{\n  "shout": [{ "var": "plan" }]\n}');
  await rule.getByRole('button', { name: 'Save rule' }).click();
  await expect(rule.getByRole('alert')).toContainText('Not saved');
  await expect(rule.getByRole('alert')).toContainText('INVALID_DEFINITION');
  await expect(rule.getByRole('link', { name: flag, exact: true })).toBeVisible();
  const findings = rule.getByRole('list', { name: 'Why the server refused it' });
  await expect(findings).toContainText('unknown operator "shout"');
  await expect(findings.getByRole('button', { name: 'line 2' })).toBeVisible();
  await expect(editor).toHaveAttribute('aria-invalid', 'true');
  await record('segment-edit-refused');
  expect((await storedSegments(set))[0]?.version).toBe(1);
  expect(await served('pro')).toBe('on');

  // An edit the flag can take is saved, and evaluation follows it.
  await editor.fill('{\n  "in": [{ "var": "plan" }, ["pro", "team"]]\n}');
  await rule.getByRole('button', { name: 'Save rule' }).click();
  await expect(rule.getByText('Saved: the segment is now at version 2.')).toBeVisible();
  await record('segment-saved');
  expect(await storedSegments(set)).toEqual([
    { key: segment, definition: { in: [{ var: 'plan' }, ['pro', 'team']] }, version: 2 },
  ]);
  await expect.poll(() => served('team')).toBe('on');
  expect(await served('pro')).toBe('on');
  expect(await served('free')).toBe('off');
});
