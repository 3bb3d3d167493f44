// One scenario's state and its lifecycle: which mode it runs in, the
// provider options and environment it set, the launchpad it started, the
// events its handlers saw, and the hooks that decide whether it runs at all
// and clean up after it.

import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { After, Before, setDefaultTimeout, setWorldConstructor, Status, World } from '@cucumber/cucumber';
import { OpenFeature } from '@openfeature/server-sdk';

import { Launchpad } from './launchpad.mjs';
import { MODE_TAGS, knownServerBug, skipReason } from './skips.mjs';

/** Generous for the scenarios that wait out a lost connection of 6 s. */
setDefaultTimeout(40_000);

/** How long a step waits for an event before it fails. */
export const EVENT_TIMEOUT_MS = 20_000;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WORKSPACE = path.resolve(HERE, '../../../..');

/** Where the runner's inputs are, from the environment the Rust test sets. */
export const SETTINGS = {
  binary: process.env.ENSIGN_BIN,
  conformance: process.env.ENSIGN_CONFORMANCE_DIR ?? path.resolve(WORKSPACE, '../shared/conformance'),
  scratch: process.env.ENSIGN_TESTBED_SCRATCH ?? path.join(os.tmpdir(), `ensign-testbed-${process.pid}`),
  tls: {
    cert: path.join(WORKSPACE, 'provider/tests/data/localhost.cert.pem'),
    key: path.join(WORKSPACE, 'provider/tests/data/localhost.key.pem'),
  },
};

/** The state of one scenario. */
class TestbedWorld extends World {
  constructor(options) {
    super(options);
    /** rpc, in-process or file. */
    this.mode = options.parameters.mode;
    if (!MODE_TAGS[this.mode]) {
      throw new Error(`unknown mode ${JSON.stringify(this.mode)}: run a profile (rpc, in-process, file)`);
    }
    /** Provider options the scenario's steps set. */
    this.options = {};
    /** FLAGD_* variables the scenario set, with the values they had. */
    this.savedEnv = new Map();
    /** The evaluation context the scenario built. */
    this.context = undefined;
    /** The flag it evaluates: `{ type, key, defaultValue }`. */
    this.flag = undefined;
    /** The last evaluation's details. */
    this.details = undefined;
    /** Events in the order the handlers saw them: `{ type, details }`. */
    this.events = [];
    /** The index of the last event a step has waited for, and that event. */
    this.cursor = -1;
    this.lastEvent = undefined;
    /** The bucketing scheme the scenario's tags ask for. */
    this.fractional = undefined;
    /** Resources to release after the scenario, last first. */
    this.cleanups = [];
    /** A known server bug the scenario is listed for, and what it failed with. */
    this.knownBug = undefined;
    this.knownBugFailure = undefined;
  }

  /** The resolver a provider of this mode uses. */
  get resolverType() {
    return this.mode === 'rpc' ? 'rpc' : 'in-process';
  }

  /** Sets an environment variable until the scenario ends. */
  setEnv(name, value) {
    if (!this.savedEnv.has(name)) {
      this.savedEnv.set(name, process.env[name]);
    }
    process.env[name] = value;
  }

  /**
   * Lays out a launchpad's flag files and, unless the mode reads them
   * offline, starts `ensign serve` with the launchpad configuration `config`.
   */
  async startLaunchpad(config) {
    if (!SETTINGS.binary && this.mode !== 'file') {
      throw new Error('ENSIGN_BIN names no ensign binary: build one with `cargo build -p ensign`');
    }
    const launchpad = new Launchpad({
      binary: SETTINGS.binary,
      flagsDir: path.join(SETTINGS.conformance, 'flagd-testbed', 'flags'),
      scratch: SETTINGS.scratch,
      tls: SETTINGS.tls,
    });
    this.launchpad = launchpad;
    this.cleanups.push(() => launchpad.stop());
    await launchpad.prepare();
    if (this.mode !== 'file') {
      await launchpad.start(config, this.fractional);
    }
    return launchpad;
  }

  /**
   * Waits for an event of `type` that came after the one the previous call
   * waited for, so that a chain ready, error, ready needs a second ready
   * (OpenFeature spec 5.3.3 runs a handler added in its state at once).
   */
  async nextEvent(type, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.events.findIndex((event, i) => i > this.cursor && event.type === type);
      if (index >= 0) {
        this.cursor = index;
        this.lastEvent = this.events[index];
        return;
      }
      if (Date.now() > deadline) {
        const seen = this.events.map((event) => event.type).join(', ') || 'none';
        throw new Error(`no ${type} event within ${timeoutMs} ms after the last awaited one (events so far: ${seen})`);
      }
      await sleep(20);
    }
  }
}

setWorldConstructor(TestbedWorld);

Before(function ({ pickle }) {
  const reason = skipReason(this.mode, pickle);
  if (reason) {
    this.attach(`skipped: ${reason}`);
    return 'skipped';
  }
  this.knownBug = knownServerBug(this.mode, pickle);
  if (this.knownBug) {
    this.attach(`known server bug: ${this.knownBug}`);
  }
  const scheme = pickle.tags.map((tag) => /^@fractional-(v\d+)$/.exec(tag.name)?.[1]).find(Boolean);
  this.fractional = scheme;
  return undefined;
});

After(async function ({ result }) {
  const failures = [];
  try {
    await OpenFeature.clearProviders();
  } catch (error) {
    failures.push(error);
  }
  for (const cleanup of this.cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      failures.push(error);
    }
  }
  for (const [name, value] of this.savedEnv) {
    if (value === undefined) {
      delete process.env[name];
    } else {
      process.env[name] = value;
    }
  }
  if (result?.status === Status.FAILED && this.launchpad) {
    this.attach(`server log:\n${this.launchpad.serverLog().split('\n').slice(-40).join('\n')}`);
  }
  if (this.knownBug && !this.knownBugFailure && result?.status === Status.PASSED) {
    failures.push(new Error(`listed as a known server bug (${this.knownBug}) but passed: remove it from KNOWN_SERVER_BUGS`));
  }
  if (this.knownBugFailure) {
    this.attach(`failed as the known server bug says: ${this.knownBugFailure}`);
  }
  if (failures.length > 0) {
    throw failures[0];
  }
});
