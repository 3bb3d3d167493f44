// A targeting rule the server's compiler refuses is shown with the
// compiler's message beside the editor and cannot be saved: the flag keeps
// its version and definition.
import { createFlag, storedFlag } from '../support/api';
import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet } from '../support/seed';

test('a rule the compiler refuses is explained and not saved', async ({ page, record }) => {
  const set = await createFlagSet('e2e-invalid');
  const key = 'pro-banner';
  const created = await createFlag(set, key, {
    state: 'ENABLED',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    targeting: { if: [{ '==': [{ var: 'plan' }, 'pro'] }, 'on', 'off'] },
  });

  await signIn(page, `/flags/${set}/${key}/targeting`);
  const editor = page.getByLabel('Targeting (JSON)');
  await expect(editor).toHaveValue(/"pro"/);
  await record('targeting');

  await editor.fill('{\n  "if": [{ "shout": [{ "var": "plan" }] }, "on", "off"]\n}');
  await expect(page.getByText('The server’s compiler finds 1 problem this edit introduces.')).toBeVisible();
  const problems = page.getByRole('list', { name: 'Problems the server’s compiler finds' });
  await expect(problems).toContainText('unknown operator "shout"');
  await expect(problems.getByRole('button', { name: 'line 2' })).toBeVisible();
  await expect(editor).toHaveAttribute('aria-invalid', 'true');
  const save = page.getByRole('button', { name: 'Save targeting' });
  await expect(save).toBeDisabled();
  await expect(save).toHaveAccessibleDescription('The server’s compiler finds 1 problem in this rule');
  await record('targeting-refused');

  // Enter in the editor is a new line, never a save.
  await editor.press('End');
  await editor.press('Enter');
  await expect(save).toBeDisabled();
  expect(await storedFlag(set, key)).toEqual(created);
});
