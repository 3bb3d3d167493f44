// Which scenarios a mode does not run, each with its reason, and which fail
// because of a known server bug. A scenario outside its mode's tag, or one
// the JavaScript provider cannot do, is skipped with the reason named here;
// a known server bug is run and must fail (a listed scenario that passes
// fails the run, so the list cannot outlive the bug).

/** The testbed tag that marks a scenario for each mode. */
export const MODE_TAGS = { rpc: '@rpc', 'in-process': '@in-process', file: '@file' };

/** Why config.feature's file resolver does not apply. */
const FILE_RESOLVER =
  "@openfeature/flagd-provider 0.16.1 has no file resolver: its offline mode is in-process with offlineFlagSourcePath, and a resolver of 'file' falls back to rpc without an error";

/** The bucketing scheme @openfeature/flagd-core 4.0.1 implements. */
const CORE_FRACTIONAL = '@fractional-v2';

/**
 * Scenarios and examples not run, by mode. A rule matches when every tag it
 * names is on the scenario (or its examples), its scenario name equals the
 * scenario's, and some step's text contains its step text; absent fields
 * match anything.
 */
export const SKIPS = [
  // What @openfeature/flagd-provider 0.16.1 does not do.
  {
    tags: ['@targetURI'],
    reason:
      '@openfeature/flagd-provider 0.16.1 has no targetUri option: it neither reads FLAGD_TARGET_URI nor resolves envoy:// targets (only defaultAuthority), so the envoy-proxied connections are not run either',
  },
  {
    tags: ['@providerId'],
    reason: '@openfeature/flagd-provider 0.16.1 has no providerId option: it neither reads FLAGD_PROVIDER_ID nor sends one',
  },
  {
    step: 'offlinePollIntervalMs',
    reason: '@openfeature/flagd-provider 0.16.1 has no offlinePollIntervalMs option: its file source polls at fs.watchFile\'s fixed interval',
  },
  {
    scenario: 'File Backwards compatibility',
    step: 'should have the value "file"',
    reason: FILE_RESOLVER,
  },
  { scenario: 'Default Config File', reason: FILE_RESOLVER },
  { scenario: 'Dedicated Config via Env_var special file case', reason: FILE_RESOLVER },
  {
    scenario: 'Default Config',
    step: 'the option "retryBackoffMaxMs" of type "Integer" should have the value "12000"',
    reason: '@openfeature/flagd-provider 0.16.1 defaults retryBackoffMaxMs to 5000, not 12000',
  },
  {
    scenario: 'Default Config',
    step: 'the option "retryGracePeriod" of type "Integer" should have the value "5"',
    reason: '@openfeature/flagd-provider 0.16.1 defaults retryGracePeriod to 10 s, not 5',
  },
  {
    scenario: 'Default Config',
    step: 'the option "selector" of type "String" should have the value "null"',
    reason: '@openfeature/flagd-provider 0.16.1 defaults selector to the empty string, not null',
  },
  {
    modes: ['rpc'],
    scenario: 'Stale and Error stage',
    reason:
      '@openfeature/flagd-provider 0.16.1 (RPC) clears its cache as soon as the event stream breaks, so a stale provider evaluates over the dead channel and answers ERROR, not CACHED',
  },
  // The offline file mode has no connection.
  {
    modes: ['file'],
    step: 'a ssl flagd provider',
    reason: 'the offline file mode has no connection to secure: the provider reads the flag file',
  },
  {
    modes: ['file'],
    step: 'a socket flagd provider',
    reason: 'the offline file mode has no connection to route over a unix socket: the provider reads the flag file',
  },
  {
    modes: ['file'],
    step: 'the connection is lost for',
    reason:
      "@openfeature/flagd-provider 0.16.1's file source only logs a flag file that disappears (the launchpad's lost connection) and emits no STALE or ERROR event",
  },
];

/** Scenarios that fail because of a known server bug, by mode. */
export const KNOWN_SERVER_BUGS = [];

/**
 * Why `pickle` does not run in `mode`, or undefined when it does.
 *
 * @param {string} mode rpc, in-process or file
 * @param {{name: string, tags: {name: string}[], steps: {text: string}[]}} pickle
 */
export function skipReason(mode, pickle) {
  const tags = new Set(pickle.tags.map((tag) => tag.name));
  const own = MODE_TAGS[mode];
  if (!tags.has(own)) {
    const others = Object.values(MODE_TAGS).filter((tag) => tags.has(tag));
    return others.length > 0
      ? `tagged for ${others.join(' and ')} providers, not ${own}`
      : `tagged for no provider mode (${own} runs only scenarios tagged ${own})`;
  }
  if (tags.has('@os.linux') && process.platform !== 'linux') {
    return 'tagged @os.linux: the testbed runs it on Linux only';
  }
  if (tags.has('@deprecated')) {
    return 'deprecated by the testbed in favour of @no-default-variant, whose expectations contradict it';
  }
  if (mode !== 'rpc') {
    const scheme = [...tags].find((tag) => /^@fractional-v\d+$/.test(tag));
    if (scheme && scheme !== CORE_FRACTIONAL) {
      return `@openfeature/flagd-core 4.0.1 evaluates in-process and buckets fractional with flagd's v2 scheme only, not ${scheme.slice('@fractional-'.length)}`;
    }
  }
  return find(SKIPS, mode, pickle, tags)?.reason;
}

/** The known server bug `pickle` fails by in `mode`, if any. */
export function knownServerBug(mode, pickle) {
  const tags = new Set(pickle.tags.map((tag) => tag.name));
  return find(KNOWN_SERVER_BUGS, mode, pickle, tags)?.reason;
}

function find(rules, mode, pickle, tags) {
  return rules.find(
    (rule) =>
      (!rule.modes || rule.modes.includes(mode)) &&
      (!rule.tags || rule.tags.every((tag) => tags.has(tag))) &&
      (!rule.scenario || rule.scenario === pickle.name) &&
      (!rule.step || pickle.steps.some((step) => step.text.includes(rule.step))),
  );
}
