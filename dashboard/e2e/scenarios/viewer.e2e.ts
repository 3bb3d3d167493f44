// A viewer's token reads every screen, and every control that would change
// a flag is disabled there with the reason beside it.
import type { Locator, Page } from '@playwright/test';

import { graphql } from '../support/api';
import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet, createToken, importFlags, uniqueKey } from '../support/seed';

/** What the dashboard says beside a control a viewer may not use. */
const REASON = 'Viewers cannot change flags';

test('a viewer reads everything and changes nothing', async ({ page, record }) => {
  const flagSet = await createFlagSet('viewer');
  const split = { fractional: [['on', 20], ['off', 80]] };
  await importFlags(flagSet, {
    'gradual-search': {
      state: 'ENABLED',
      variants: { on: true, off: false },
      defaultVariant: 'off',
      targeting: { if: [{ ends_with: [{ var: 'email' }, '@example.com'] }, 'on', split] },
      metadata: { tags: 'search' },
    },
    'retired-banner': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' },
  });
  // A second version of the rolled-out flag, so its history has one to roll back to.
  const { flag } = await graphql<{ flag: { version: number; definition: Record<string, unknown> } }>(
    'query ($flagSet: String!) { flag(flagSet: $flagSet, key: "gradual-search") { version definition } }',
    { flagSet },
  );
  await graphql(
    'mutation ($flagSet: String!, $v: Int!, $flag: FlagWrite!) { updateFlag(flagSet: $flagSet, key: "gradual-search", expectedVersion: $v, flag: $flag) { version } }',
    { flagSet, v: flag.version, flag: { definition: { ...flag.definition, defaultVariant: 'on' } } },
  );
  await graphql(
    'mutation ($flagSet: String!) { archiveFlag(flagSet: $flagSet, key: "retired-banner", expectedVersion: 1) { version } }',
    { flagSet },
  );
  const viewer = await createToken(uniqueKey('e2e-viewer'), 'viewer');

  await signIn(page, `/flags/${flagSet}`, viewer.secret);

  // The list: archiving is denied; with archived flags shown, so is restoring.
  const list = page.getByRole('region', { name: 'Flag list' });
  await expect(list.getByRole('link', { name: 'gradual-search', exact: true })).toBeVisible();
  await expectDenied(list.getByRole('button', { name: 'Archive gradual-search' }));
  await record('viewer-flag-list');
  await page.goto(`/flags/${flagSet}?archived=1`);
  await expect(list.getByRole('link', { name: 'retired-banner', exact: true })).toBeVisible();
  await expectDenied(list.getByRole('button', { name: /^Restore/ }));
  await record('viewer-flag-list-archived');

  // An archived flag's overview: Restore and the kill switch are denied.
  await list.getByRole('link', { name: 'retired-banner', exact: true }).click();
  await expect(page.getByText('This flag is archived')).toBeVisible();
  await expectDenied(page.getByRole('button', { name: /^Restore/ }));
  await expectDenied(page.getByRole('button', { name: 'Disable now' }));
  await record('viewer-archived-overview');

  // The overview: the kill switch is denied; the details are there.
  await page.goto(`/flags/${flagSet}/gradual-search`);
  await expect(page.getByRole('heading', { name: 'gradual-search' })).toBeVisible();
  await expectDenied(page.getByRole('button', { name: 'Disable now' }));
  const details = page.getByRole('region', { name: 'Details' });
  await expect(details).toContainText('Version');
  await expect(page.getByRole('region', { name: 'Variants' }).getByRole('rowheader', { name: /^on/ })).toBeVisible();
  await record('viewer-overview');

  // Rollout: the sliders show the weights but do not move; saving is denied.
  await tab(page, 'Rollout');
  const sliders = page.getByRole('slider');
  await expect(sliders).toHaveCount(2);
  for (const slider of await sliders.all()) await expect(slider).toBeDisabled();
  await expect(page.getByRole('region', { name: 'Rollout' })).toContainText('20%');
  await expectDenied(page.getByRole('button', { name: 'Save weights' }));
  await record('viewer-rollout');

  // Targeting: the rule is shown, read-only; saving is denied.
  await tab(page, 'Targeting');
  const editor = page.getByLabel('Targeting (JSON)');
  await expect(editor).toHaveValue(/"@example\.com"/);
  await expect(editor).not.toBeEditable();
  await expectDenied(page.getByRole('button', { name: 'Save targeting' }));
  await record('viewer-targeting');

  // The rule builder: every field is disabled, with the reason.
  await tab(page, 'Rule builder');
  const builder = page.getByRole('region', { name: 'Rule builder' });
  await expect(builder.getByText(REASON)).toBeVisible();
  const rule = builder.getByRole('group', { name: 'The rule' });
  await expect(rule.getByRole('group', { name: 'Condition 1' })).toBeVisible();
  const controls = rule.locator('input, select, textarea, button');
  expect(await controls.count()).toBeGreaterThan(0);
  for (const control of await controls.all()) await expect(control).toBeDisabled();
  await record('viewer-builder');

  // History: both versions are listed; rolling back is denied.
  await tab(page, 'History');
  await expectDenied(page.getByRole('button', { name: /^Roll back to version/ }).first());
  await record('viewer-history');

  // The debugger changes nothing, so a viewer may use it.
  await tab(page, 'Debugger');
  await page.getByLabel('Context (JSON)').fill('{"targetingKey": "v-1", "email": "ada@example.com"}');
  await page.getByRole('button', { name: 'Evaluate' }).click();
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('TARGETING_MATCH');
  await record('viewer-debugger');

  // And the audit log of the flag set.
  await page.getByRole('link', { name: 'Audit log' }).click();
  await expect(page.getByRole('heading', { name: 'Audit log' })).toBeVisible();
  await expect(page.getByText('gradual-search').first()).toBeVisible();
  await record('viewer-audit-log');
});

/** Opens the flag screen's tab `label`. */
async function tab(page: Page, label: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Flag' }).getByRole('link', { name: label }).click();
  await expect(page.getByRole('navigation', { name: 'Flag' }).getByRole('link', { name: label })).toHaveAttribute(
    'aria-current',
    'page',
  );
}

/** The control is disabled and described by the viewer's reason. */
async function expectDenied(control: Locator): Promise<void> {
  await expect(control).toBeVisible();
  await expect(control).toBeDisabled();
  await expect(control).toHaveAccessibleDescription(REASON);
}
