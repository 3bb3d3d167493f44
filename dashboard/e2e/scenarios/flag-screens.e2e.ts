// Every screen of a flag as an admin sees it, its confirmations and the
// conflict of a stale edit included, holds what it is for and passes axe.
import type { Page } from '@playwright/test';

import { graphql } from '../support/api';
import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet, importFlags } from '../support/seed';

test('an admin sees every flag screen, each accessible', async ({ page, record }) => {
  const flagSet = await createFlagSet('screens');
  const key = 'gradual-export';
  await importFlags(flagSet, {
    [key]: {
      state: 'ENABLED',
      variants: { on: true, off: false },
      defaultVariant: 'off',
      targeting: { if: [{ ends_with: [{ var: 'email' }, '@example.com'] }, 'on', { fractional: [['on', 25], ['off', 75]] }] },
      metadata: { owner: 'exports', tags: 'exports' },
    },
  });
  await setDefault(flagSet, key, 'on');

  await signIn(page, `/flags/${flagSet}`);
  const list = page.getByRole('region', { name: 'Flag list' });
  await list.getByRole('button', { name: `Archive ${key}` }).click();
  const archive = page.getByRole('dialog', { name: `Archive ${key}?` });
  await expect(archive).toBeVisible();
  await record('flag-list-archive-confirmation');
  await archive.getByRole('button', { name: 'Cancel' }).click();
  await expect(archive).toBeHidden();

  await list.getByRole('link', { name: key, exact: true }).click();
  await page.getByRole('button', { name: 'Disable now' }).click();
  const kill = page.getByRole('dialog', { name: `Disable ${key}?` });
  await expect(kill).toBeVisible();
  await record('flag-overview-kill-switch-confirmation');
  await kill.getByRole('button', { name: 'Cancel' }).click();
  await expect(kill).toBeHidden();

  // Rollout: a weight moved by keyboard, with the share of users it moves.
  await tab(page, 'Rollout');
  const onWeight = page.getByRole('slider').first();
  await onWeight.focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByRole('button', { name: 'Save weights' })).toBeEnabled();
  await expect(page.getByRole('region', { name: 'Rollout' })).toContainText('1% of the users who reach this rule would get a different variant.');
  await record('rollout-edited');
  await page.getByRole('button', { name: 'Undo my changes' }).click();

  // Targeting: a rule the server's compiler refuses, its finding beside it.
  await tab(page, 'Targeting');
  const editor = page.getByLabel('Targeting (JSON)');
  await editor.fill('{"if": [{"no_such_op": [{"var": "email"}]}, "on", "off"]}');
  await expect(page.getByRole('list', { name: 'Problems the server’s compiler finds' })).toContainText('no_such_op');
  await record('targeting-refused-rule');
  await editor.fill('{"if": [{"ends_with": [{"var": "email"}, "@example.org"]}, "on", "off"]}');
  await expect(page.getByRole('button', { name: 'Save targeting' })).toBeEnabled();
  await record('targeting-edited');

  // Builder: it reads the edit in progress.
  await tab(page, 'Rule builder');
  await expect(page.getByRole('group', { name: 'Condition 1' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'The rule as JSONLogic' })).toContainText('@example.org');
  await record('builder');

  // The same flag changed behind this edit: saving it shows the conflict.
  await tab(page, 'Targeting');
  await setDefault(flagSet, key, 'off');
  await page.getByRole('button', { name: 'Save targeting' }).click();
  const conflict = page.getByRole('region', { name: 'This flag changed after you read it' });
  await expect(conflict).toBeVisible();
  await expect(conflict.getByRole('button', { name: /^Reapply my edit to version 3$/ })).toBeVisible();
  await record('conflict-panel');
  await conflict.getByRole('button', { name: 'Discard my edit' }).click();
  await expect(conflict).toBeHidden();

  // History: a rollback's confirmation, with the change it would make.
  await tab(page, 'History');
  await page.getByRole('button', { name: 'Roll back to version 1' }).click();
  const rollback = page.getByRole('dialog', { name: `Roll ${key} back to version 1?` });
  await expect(rollback).toBeVisible();
  await record('history-rollback-confirmation');
  await rollback.getByRole('button', { name: 'Cancel' }).click();
  await record('history');
});

/** Sets `key`'s default variant through the admin API, at its current version. */
async function setDefault(flagSet: string, key: string, variant: string): Promise<void> {
  const { flag } = await graphql<{ flag: { version: number; definition: Record<string, unknown> } }>(
    'query ($flagSet: String!, $key: String!) { flag(flagSet: $flagSet, key: $key) { version definition } }',
    { flagSet, key },
  );
  await graphql(
    'mutation ($flagSet: String!, $key: String!, $v: Int!, $flag: FlagWrite!) { updateFlag(flagSet: $flagSet, key: $key, expectedVersion: $v, flag: $flag) { version } }',
    { flagSet, key, v: flag.version, flag: { definition: { ...flag.definition, defaultVariant: variant } } },
  );
}

/** Opens the flag screen's tab `label`. */
async function tab(page: Page, label: string): Promise<void> {
  const link = page.getByRole('navigation', { name: 'Flag' }).getByRole('link', { name: label });
  await link.click();
  await expect(link).toHaveAttribute('aria-current', 'page');
}
