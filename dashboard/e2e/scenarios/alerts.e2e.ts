// A kill switch raises an alert: the alerts screen, filtered to its flag
// set, shows it with the server's message, who did it and a link to the
// flag, and where it stands with the configured webhook, which points at a
// closed port and so is shown failing, with its last error.
import { createFlag, graphql } from '../support/api';
import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet } from '../support/seed';

type Alerts = {
  alerts: { items: { id: number; message: string; event: { actor: string }; deliveries: { webhook: string }[] }[] };
  webhooks: { target: string }[];
};

test('a kill switch shows as an alert with its delivery to a failing webhook', async ({ page, record }) => {
  const set = await createFlagSet('e2e-alerts');
  const key = 'payments';
  await createFlag(set, key, { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' });
  await graphql('mutation ($flagSet: String!, $key: String!) { killSwitch(flagSet: $flagSet, key: $key) { version } }', {
    flagSet: set,
    key,
  });
  const data = await graphql<Alerts>(
    'query ($flagSet: String) { alerts(first: 10, flagSet: $flagSet) { items { id message event { actor } deliveries { webhook } } } webhooks { target } }',
    { flagSet: set },
  );
  expect(data.alerts.items).toHaveLength(1);
  const [alert] = data.alerts.items;
  if (!alert) throw new Error('no alert');
  expect(alert.message).toContain(`"${key}"`);
  // The server runs with one webhook, at a port where nothing listens.
  const [webhook] = data.webhooks;
  if (!webhook) throw new Error('these scenarios need the server started with a webhook (see dashboard/e2e/README.md)');
  expect(alert.deliveries.map((d) => d.webhook)).toContain(webhook.target);

  await signIn(page, `/alerts?flagSet=${set}`);
  await expect(page.getByRole('heading', { name: `Recent alerts in ${set}` })).toBeVisible();
  const item = page.getByRole('article', { name: 'Kill switch' });
  await expect(item).toHaveCount(1);
  await expect(item).toContainText('Warning');
  await expect(item).toContainText(alert.message);
  await expect(item).toContainText(`by ${alert.event.actor} in ${set}`);
  await expect(item.getByRole('link', { name: `Flag ${key}` })).toHaveAttribute('href', `/flags/${set}/${key}`);

  // Delivery to the closed port fails and is retried: both the webhook and
  // the alert say so once the first attempt has failed.
  const webhookRow = page.getByRole('row', { name: new RegExp(`^${webhook.target.replace(/[.]/g, '\\.')} `) });
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(webhookRow).toContainText('Failing', { timeout: 2_000 });
    await expect(item.getByRole('list', { name: `Delivery of event ${String(alert.id)}` })).toHaveText(
      `Failing to ${webhook.target}`,
      { timeout: 2_000 },
    );
  }).toPass({ timeout: 60_000 });
  await expect(page.getByText('Failing since')).toBeVisible();
  await expect(page.getByText(/failed attempts? \(retried with backoff\)\. Last error:/)).toBeVisible();
  await record('alerts');

  // The flag-set filter is in the address; all flag sets list this alert too.
  await expect(page.getByLabel('Flag set')).toHaveValue(set);
  await page.getByLabel('Flag set').selectOption('');
  await expect(page).toHaveURL(/\/alerts$/);
  await expect(page.getByRole('heading', { name: 'Recent alerts', exact: true })).toBeVisible();
});
