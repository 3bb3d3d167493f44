// What the browser tests are given by the Rust test that starts them
// (ensign/tests/it/dashboard.rs): the running server, its admin token, the
// browser to drive and where to put what the run leaves behind.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: these tests run from \`cargo test -p ensign --test it dashboard\`, ` +
        'or by hand against a running server (see dashboard/e2e/README.md)',
    );
  }
  return value;
}

export const env = {
  /** The admin listener: the dashboard, GraphiQL and the admin API. */
  adminUrl: required('ENSIGN_ADMIN_URL'),
  /** The OFREP listener, to watch what evaluation serves after a change. */
  ofrepUrl: required('ENSIGN_OFREP_URL'),
  /** An admin token, as `ensign serve` prints it on its first start. */
  token: required('ENSIGN_ADMIN_TOKEN'),
  /** The machine's Chromium (Playwright downloads no browser here). */
  chromium: process.env.ENSIGN_CHROMIUM ?? '/usr/bin/chromium',
  /** Screenshots, accessibility reports and Playwright's own output. */
  output: required('ENSIGN_E2E_OUTPUT'),
};

/** The workspace root, for the bundled example flags and the like. */
export const workspaceRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
