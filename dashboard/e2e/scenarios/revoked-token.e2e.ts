// A token revoked while it is signed in ends the session: at once when the
// server closes the live subscription's socket (4403), else at the next
// request; sign-in then says why and returns to the same screen.
import type { Page } from '@playwright/test';

import { env } from '../support/env';
import { expect, signIn, test } from '../support/fixtures';
import { createFlagSet, createToken, importFlags, revokeToken, uniqueKey } from '../support/seed';

test('revoking the token closes the live socket and returns to sign-in', async ({ page, record }) => {
  const flagSet = await createFlagSet('revoked');
  await importFlags(flagSet, { 'night-mode': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' } });
  const token = await createToken(uniqueKey('e2e-revoked'), 'admin');
  const screen = `/flags/${flagSet}/night-mode/history`;

  await signIn(page, screen, token.secret);
  await expect(page.getByRole('heading', { name: 'History' })).toBeVisible();
  // The flag screen follows changes live, over the socket.
  await expect(page.getByText('Live: changes by others to this flag show here')).toBeVisible();
  const socketClosed = page.waitForEvent('websocket').then((socket) => socket.waitForEvent('close'));
  await page.reload();
  await expect(page.getByText('Live: changes by others to this flag show here')).toBeVisible();

  // No click, no request of the page's own: the server's close ends the session.
  await revokeToken(token.id);
  await socketClosed;
  await expectSessionEnded(page, screen, 'the live connection closed: the token was revoked (CLOSED_4403)');
  await record('sign-in-after-revocation');

  // The kept deep link brings a new token back to the same screen.
  await page.getByLabel('Admin token').fill(env.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(new RegExp(`${screen}$`));
  await expect(page.getByRole('heading', { name: 'History' })).toBeVisible();
});

test.describe('without a socket', () => {
  // Chromium logs the refused request itself as a console error.
  test.use({ expectedConsoleErrors: [/Failed to load resource: the server responded with a status of 401 \(Unauthorized\)/] });

  test('the first request with a revoked token returns to sign-in', async ({ page, record }) => {
    const token = await createToken(uniqueKey('e2e-revoked'), 'admin');
    const screen = '/audit?actor=nobody-in-particular';

    await signIn(page, screen, token.secret);
    const filters = page.getByRole('form', { name: 'Audit log filters' });
    await expect(filters.getByLabel('Actor')).toHaveValue('nobody-in-particular');

    await revokeToken(token.id);
    // The audit log holds no socket open: its next request is what is refused.
    await filters.getByLabel('Flag', { exact: true }).fill('night-mode');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    const next = '/audit?actor=nobody-in-particular&flag=night-mode';
    await expectSessionEnded(page, next, 'the token is unknown or revoked (UNAUTHENTICATED)');
    await record('sign-in-after-refused-request');

    // The revoked token cannot sign in again; the filters stay to return to.
    await page.getByLabel('Admin token').fill(token.secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toContainText('UNAUTHENTICATED');
    await expect(page).toHaveURL((url) => url.pathname === '/sign-in' && url.searchParams.get('next') === next);
    await record('sign-in-refused');
  });
});

/** Sign-in shows why the session ended and keeps `screen` to return to. */
async function expectSessionEnded(page: Page, screen: string, why: string): Promise<void> {
  await expect(page).toHaveURL((url) => url.pathname === '/sign-in' && url.searchParams.get('next') === screen);
  await expect(page.getByRole('heading', { name: 'Sign in to Ensign' })).toBeVisible();
  const notice = page.getByRole('status').filter({ hasText: 'Your session ended' });
  await expect(notice).toHaveText(`Your session ended: ${why}. Sign in again to go on.`);
}
