// Playwright's settings for the dashboard's browser tests: every
// `scenarios/*.e2e.ts`, one at a time, in the machine's headless Chromium,
// against the server the Rust test started.
import path from 'node:path';

import { defineConfig } from '@playwright/test';

import { env } from './support/env';

/** The scenarios that create SDK keys. */
const SDK_KEY_SCENARIOS = '**/sdk-keys.e2e.ts';

export default defineConfig({
  testDir: 'scenarios',
  // Not `*.spec.ts`: the dashboard's Vitest would pick those up.
  testMatch: '**/*.e2e.ts',
  outputDir: path.join(env.output, 'results'),
  forbidOnly: true,
  retries: 0,
  // The scenarios share one server; one at a time keeps each one's view of
  // the flags its own and the machine's two cores free for the server.
  workers: 1,
  reporter: [['list']],
  // Generous limits for a busy CI machine: they bound a hung run, they do
  // not measure anything.
  timeout: 120_000,
  globalTimeout: 900_000,
  expect: { timeout: 20_000 },
  use: {
    baseURL: env.adminUrl,
    browserName: 'chromium',
    headless: true,
    launchOptions: { executablePath: env.chromium },
    screenshot: 'only-on-failure',
  },
  // Once any flag set has had an SDK key, an evaluation node refuses every
  // request without a key, whatever its flag set: the scenarios that create
  // SDK keys run after all the others, which evaluate without one.
  projects: [
    { name: 'scenarios', testIgnore: SDK_KEY_SCENARIOS },
    { name: 'sdk-keys', testMatch: SDK_KEY_SCENARIOS, dependencies: ['scenarios'] },
  ],
});
