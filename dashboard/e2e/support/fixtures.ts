// What every scenario gets: a page watched for console errors, uncaught
// exceptions, CSP violations and requests to anything but the admin API
// (the scenario fails with them at its end),
// `record()`, which records the screen shown (a screenshot, and an axe
// check that fails on serious or critical violations), and the steps many
// scenarios share, such as signing in.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import AxeBuilder from '@axe-core/playwright';
import type { Result } from 'axe-core';
import { test as base, expect, type Page } from '@playwright/test';

import { env } from './env';

export { expect } from '@playwright/test';

type Fixtures = {
  /**
   * Records the screen the page shows now under `name`: a full-page
   * screenshot in `$ENSIGN_E2E_OUTPUT/screens/`, and an axe check that
   * fails on serious or critical violations (all of them are written
   * beside the screenshot). A screen that hosts a library's widget names
   * it in `library`: the rest of the page is checked as usual, the
   * widget against the violations it is known to have.
   */
  record: (name: string, options?: { library?: Library }) => Promise<void>;
  /**
   * Console errors the scenario provokes on purpose (set with
   * `test.use`), such as Chromium's line for an answer of 401 to a revoked
   * token: each must match one of these patterns in full.
   */
  expectedConsoleErrors: readonly RegExp[];
};

/** A library's part of a screen, and what axe is known to find in it. */
export type Library = {
  /** A CSS selector of the library's part of the page. */
  within: string;
  /**
   * Its serious or critical violations, which Ensign cannot fix: any other
   * fails the scenario, and so does a known one that none of the
   * scenario's screens shows, so the list only ever shrinks to what is
   * true.
   */
  known: readonly KnownViolation[];
};

export type KnownViolation = {
  /** The axe rule id. */
  rule: string;
  /** Why it cannot be fixed here, and where it would be. */
  reason: string;
};

export const test = base.extend<Fixtures>({
  expectedConsoleErrors: [[], { option: true }],

  page: async ({ page, expectedConsoleErrors }, provide) => {
    const problems: string[] = [];
    page.on('console', (message) => {
      const expected = expectedConsoleErrors.some((pattern) => new RegExp(`^(?:${pattern.source})$`).test(message.text()));
      if (message.type() === 'error' && !expected) {
        problems.push(`console error on ${page.url()}: ${message.text()}`);
      }
    });
    page.on('pageerror', (error) => {
      problems.push(`uncaught exception on ${page.url()}: ${error.message}`);
    });
    // The dashboard talks to the server only through the admin API: every
    // request its code makes (fetch, XHR, WebSocket, event stream) goes to
    // /graphql on the page's own origin.
    const api = new URL('/graphql', env.adminUrl);
    const toApi = (url: string) => {
      const target = new URL(url);
      return target.host === api.host && target.pathname === api.pathname;
    };
    page.on('request', (request) => {
      const kind = request.resourceType();
      if (['fetch', 'xhr', 'eventsource', 'websocket'].includes(kind) && !toApi(request.url())) {
        problems.push(`${kind} request to ${request.url()} from ${page.url()}: not the admin API`);
      }
    });
    page.on('websocket', (socket) => {
      if (!toApi(socket.url())) {
        problems.push(`WebSocket to ${socket.url()} from ${page.url()}: not the admin API`);
      }
    });
    // Chromium also logs a violation to the console; the event names the
    // directive and the source.
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        console.error(
          `CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || 'inline code'} ` +
            `(${event.sourceFile || 'page'}:${String(event.lineNumber)})`,
        );
      });
    });
    await provide(page);
    expect(problems, 'console errors, uncaught exceptions, CSP violations and requests beside the API').toEqual([]);
  },

  record: async ({ page }, provide, testInfo) => {
    const dir = path.join(env.output, 'screens');
    await mkdir(dir, { recursive: true });
    // What each library's part showed over the scenario's screens.
    const seen = new Map<Library, Set<string>>();
    await provide(async (name, options) => {
      await test.step(`screen ${name}`, async () => {
        const file = path.join(dir, `${slug(testInfo.titlePath.slice(1).join(' '))}--${slug(name)}`);
        await page.screenshot({ path: `${file}.png`, fullPage: true });
        const library = options?.library;
        const ours = new AxeBuilder({ page });
        if (library) ours.exclude(library.within);
        const { violations } = await ours.analyze();
        await writeFile(`${file}.axe.json`, JSON.stringify(violations, null, 2));
        expect(blocking(violations), `serious or critical accessibility violations on ${name}`).toEqual([]);
        if (library) {
          const theirs = await new AxeBuilder({ page }).include(library.within).analyze();
          await writeFile(`${file}.library.axe.json`, JSON.stringify(theirs.violations, null, 2));
          const known = new Set(library.known.map((k) => k.rule));
          const found = theirs.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
          expect(
            blocking(found.filter((v) => !known.has(v.id))),
            `serious or critical accessibility violations within ${library.within} on ${name} that are not known`,
          ).toEqual([]);
          const rules = seen.get(library) ?? new Set<string>();
          found.forEach((v) => rules.add(v.id));
          seen.set(library, rules);
        }
      });
    });
    for (const [library, rules] of seen) {
      expect(
        library.known.map((k) => k.rule).filter((rule) => !rules.has(rule)),
        `known violations within ${library.within} that no screen showed: remove them from the list`,
      ).toEqual([]);
    }
  },
});

/** Serious and critical violations, one line each. */
function blocking(violations: Result[]): string[] {
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact ?? ''} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

/**
 * Signs in with `token` (the admin token by default) and waits for the app
 * to leave sign-in.
 */
export async function signIn(page: Page, next = '/', token = env.token): Promise<void> {
  await page.goto(next === '/' ? '/sign-in' : `/sign-in?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).not.toHaveURL(/\/sign-in/);
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}
