// The steps that set up a flagd provider against the launchpad's server (or
// its flag file, in the offline file mode), or against an endpoint that is
// unavailable or forbids every call, and that act on the launchpad: a lost
// connection, a modified flag.

import assert from 'node:assert/strict';
import path from 'node:path';

import { FlagdProvider } from '@openfeature/flagd-provider';
import { OpenFeature } from '@openfeature/server-sdk';

import { closedPort, forbiddenEndpoint } from './launchpad.mjs';
import { step } from './step.mjs';
import { SETTINGS } from './world.mjs';

/**
 * Provider options that make the suite fast and its timing predictable, as
 * upstream's own runner sets them: the stale-to-error grace period the
 * event scenarios are written for (2 s), and short reconnection backoffs.
 */
const TEST_OPTIONS = {
  retryGracePeriod: 2,
  deadlineMs: 10_000,
  keepAliveTime: 200,
  retryBackoffMs: 100,
  retryBackoffMaxMs: 1000,
};

/** A unique OpenFeature domain per scenario, so that no handler outlives it. */
let domains = 0;

step(/^a (\w+) flagd provider$/, async function (kind) {
  const options = { resolverType: this.resolverType, ...TEST_OPTIONS, ...this.options };
  let wait = true;
  if (kind === 'unavailable' || kind === 'forbidden') {
    wait = false;
    if (this.mode === 'file') {
      options.offlineFlagSourcePath = path.join(SETTINGS.scratch, 'no-such-dir', 'allFlags.json');
    } else if (kind === 'unavailable') {
      options.host = '127.0.0.1';
      options.port = await closedPort();
    } else {
      const endpoint = await forbiddenEndpoint();
      this.cleanups.push(endpoint.close);
      options.host = '127.0.0.1';
      options.port = endpoint.port;
    }
  } else {
    const config = { stable: 'default', ssl: 'ssl', socket: 'socket', syncpayload: 'sync-payload', metadata: 'metadata' }[kind];
    if (!config) {
      throw new Error(`unknown provider kind ${kind}`);
    }
    const launchpad = await this.startLaunchpad(config);
    if (this.mode === 'file') {
      options.offlineFlagSourcePath =
        kind === 'metadata' ? launchpad.rawFlags('selector-flag-combined-metadata.json') : launchpad.allFlags;
    } else if (kind === 'socket') {
      options.socketPath = launchpad.socketPath(this.resolverType);
    } else {
      options.host = '127.0.0.1';
      options.port = launchpad.port(this.resolverType);
      if (kind === 'ssl') {
        options.tls = true;
        options.certPath = SETTINGS.tls.cert;
      }
    }
  }
  const domain = `testbed-${++domains}`;
  const provider = new FlagdProvider(options);
  if (wait) {
    await OpenFeature.setProviderAndWait(domain, provider);
  } else {
    OpenFeature.setProvider(domain, provider);
  }
  this.client = OpenFeature.getClient(domain);
});

step(/^the connection is lost for (\d+)s$/, async function (seconds) {
  await this.launchpad.restart(Number(seconds));
});

step('the flag was modified', async function () {
  await this.launchpad.change();
});

step(/^the client should be in (\S+) state$/, function (state) {
  const expected = state.toUpperCase().replace('-', '_');
  assert.equal(this.client.providerStatus, expected);
});
