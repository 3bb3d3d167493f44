// Moving a rollout slider shows the share of users whose variant would
// change; the saved weights are a new version, shown as a diff of the
// weight in the flag's history and in the audit log.
import { createFlag, storedFlag } from '../support/api';
import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet } from '../support/seed';

test('a rollout moved with the slider is saved and shows in history and the audit log', async ({ page, record }) => {
  const set = await createFlagSet('e2e-rollout');
  const key = 'new-search';
  await createFlag(set, key, {
    state: 'ENABLED',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    targeting: { fractional: [['on', 10], ['off', 90]] },
  });

  await signIn(page, `/flags/${set}/${key}/rollout`);
  const slider = page.getByRole('slider', { name: 'on' });
  await expect(slider).toHaveAttribute('aria-valuenow', '10');
  await expect(page.getByText('No change yet: every user keeps their variant.')).toBeVisible();
  await record('rollout');

  // Page Up moves ten points; off gives what on gains.
  await slider.focus();
  await page.keyboard.press('PageUp');
  await expect(slider).toHaveAttribute('aria-valuetext', '20% (weight 20 of 100)');
  await expect(page.getByRole('slider', { name: 'off' })).toHaveAttribute('aria-valuenow', '80');
  // The users in the hash range from 10% to 20% move from off to on.
  await expect(page.getByText('10% of the users who reach this rule would get a different variant.')).toBeVisible();
  await record('rollout-moved');

  await page.getByRole('button', { name: 'Save weights' }).click();
  await expect(page.getByText(`Saved ${key}: version 2`)).toBeVisible();
  expect((await storedFlag(set, key)).definition.targeting).toEqual({ fractional: [['on', 20], ['off', 80]] });
  await record('rollout-saved');

  await page.getByRole('link', { name: 'History' }).click();
  const entry = page.getByRole('article', { name: /^Version 2:/ });
  const diff = entry.getByRole('group', { name: 'Changes in version 2' });
  await expect(diff.getByRole('deletion')).toHaveText(['10', '90']);
  await expect(diff.getByRole('insertion')).toHaveText(['20', '80']);
  await record('history');

  await page.goto(`/audit?flagSet=${set}&flag=${key}`);
  await expect(page.getByRole('row').filter({ hasText: 'rollout weights set' })).toContainText(`${set} / ${key}`);
  const show = page.getByRole('button', { name: `Show the change to flag ${key} (version 2)` });
  await show.click();
  const change = page.getByRole('group', { name: /^Change \d+$/ });
  await expect(change.getByRole('deletion')).toHaveText(['10', '90']);
  await expect(change.getByRole('insertion')).toHaveText(['20', '80']);
  await record('audit-log');
});
