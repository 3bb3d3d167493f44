// The evaluation debugger evaluates a stored flag for a written context,
// shows its value, variant and reason with the decision path drawn over the
// rule, and keeps the context among the recent ones for the next run.
import type { Locator } from '@playwright/test';

import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet, importFlags } from '../support/seed';

test('the debugger explains an evaluation and keeps its context', async ({ page, record }) => {
  const flagSet = await createFlagSet('debugger');
  const key = 'staff-banner';
  await importFlags(flagSet, {
    [key]: {
      state: 'ENABLED',
      variants: { shown: 'staff banner', hidden: 'no banner' },
      defaultVariant: 'hidden',
      targeting: { if: [{ ends_with: [{ var: 'email' }, '@example.com'] }, 'shown', 'hidden'] },
    },
  });

  await signIn(page, `/flags/${flagSet}/${key}`);
  await page.getByRole('navigation', { name: 'Flag' }).getByRole('link', { name: 'Debugger' }).click();
  await expect(page).toHaveURL(new RegExp(`/flags/${flagSet}/${key}/debug$`));
  await expect(page.getByRole('heading', { name: 'Evaluation debugger' })).toBeVisible();
  // Before any evaluation the rule is drawn without a path.
  await expect(page.getByRole('list', { name: 'Targeting rule', exact: true })).toBeVisible();
  await expect(page.getByText('The contexts you evaluate for flag set')).toBeVisible();
  await record('debugger');

  const context = page.getByLabel('Context (JSON)');
  await context.fill('{"targetingKey": "user-1", "email": "ada@example.com"}');
  await page.getByRole('button', { name: 'Evaluate' }).click();

  const result = page.getByRole('region', { name: 'Result' });
  await expect(result.getByRole('definition').filter({ hasText: 'staff banner' })).toBeVisible();
  await expect(detail(result, 'Variant')).toHaveText('shown');
  await expect(detail(result, 'Reason')).toHaveText('TARGETING_MATCH');
  await expect(detail(result, 'Context evaluated')).toHaveText('{"targetingKey":"user-1","email":"ada@example.com"}');

  // The path over the rule: the condition held, and its "then" branch taken.
  const path = page.getByRole('list', { name: 'Targeting rule with the decision path' });
  await expect(path).toBeVisible();
  const taken = path.getByRole('listitem').filter({ has: page.getByText('taken', { exact: true }) });
  await expect(taken.last()).toContainText('"shown"');
  await expect(path).toContainText('→ truthy (held)');
  await expect(path).toContainText('condition 1 held: its “then” branch was taken');
  await page.getByText('The engine’s trace, as text').click();
  await expect(page.getByRole('region', { name: 'The engine’s trace' })).toBeVisible();
  await record('debugger-evaluated');

  // The context is kept, and survives leaving the screen.
  const recent = page.getByRole('region', { name: 'Recent contexts' });
  await expect(recent.getByRole('button', { name: /^Use recent context 1: .*ada@example\.com/ })).toBeVisible();
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Evaluation debugger' })).toBeVisible();

  // Another context answers the default; then the kept one is used again.
  await context.fill('{"targetingKey": "user-2", "email": "someone@elsewhere.org"}');
  await page.getByRole('button', { name: 'Evaluate' }).click();
  await expect(detail(result, 'Variant')).toHaveText('hidden');
  await expect(path).toContainText('→ falsy');
  await expect(taken.last()).toContainText('"hidden"');
  await expect(recent.getByRole('button', { name: /^Use recent context/ })).toHaveCount(2);

  await recent.getByRole('button', { name: /^Use recent context 2: .*ada@example\.com/ }).click();
  await expect(context).toHaveValue(/ada@example\.com/);
  await page.getByRole('button', { name: 'Evaluate' }).click();
  await expect(detail(result, 'Variant')).toHaveText('shown');
  await expect(detail(result, 'Reason')).toHaveText('TARGETING_MATCH');
  await record('debugger-recent-context');
});

/** The value beside `term` in a description list. */
function detail(within: Locator, term: string): Locator {
  return within.locator('dt', { hasText: new RegExp(`^${term}$`) }).locator('xpath=following-sibling::dd[1]');
}
