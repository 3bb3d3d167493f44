// What flagd-testbed's launchpad does for its container, done for the real
// `ensign serve`: lay out the testbed's flag files (rawflags/ as shipped,
// flags/allFlags.json combined from them), start the server with one of the
// launchpad's configurations, stop it, restart it after a pause, and toggle
// `changing-flag` for change events. Every server gets its own directory and
// free ports (evaluation and sync below the kernel's ephemeral range, so a
// restart finds them still free), so cucumber-js workers and concurrent
// test runs never share one.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Longest a server may take to listen and load its flags. */
const START_TIMEOUT_MS = 15_000;

/**
 * Every port a server or closedPort() of this process has had. grpc-js
 * pools its connections by address across clients, and a pooled connection
 * to a server that went away waits out its reconnection backoff before it
 * tries again; a later server that the kernel happened to give the same port
 * would then not be reached within the provider's deadline. So no port
 * serves two scenarios of one worker.
 */
const claimedPorts = new Set();

/**
 * The launchpad's configurations (launchpad/configs/*.json upstream) as
 * Ensign options: flag sources by their URI relative to the server's
 * directory, so that a selector naming "rawflags/selector-flags.json" picks
 * that source as it does in flagd, and the static context the testbed's
 * context-enrichment flags look for.
 */
const CONFIGS = {
  default: { sources: ['flags/allFlags.json', 'rawflags/selector-flags.json'], context: true },
  ssl: { sources: ['flags/allFlags.json', 'rawflags/selector-flags.json'], context: true, tls: true },
  // flagd's sync-payload configuration also sets disable-sync-metadata,
  // which only turns off the deprecated GetMetadata call; Ensign has no such
  // switch, and the provider reads the sync payload's context either way.
  'sync-payload': { sources: ['flags/allFlags.json', 'rawflags/selector-flags.json'], context: true },
  metadata: { sources: ['rawflags/selector-flag-combined-metadata.json'], context: false },
  socket: { sources: ['flags/allFlags.json', 'rawflags/selector-flags.json'], context: true, socket: true },
};

/**
 * The flag files of one scenario and, unless the scenario runs in offline
 * file mode, the `ensign serve` that reads them.
 */
export class Launchpad {
  /**
   * @param {object} settings
   * @param {string} settings.binary the `ensign` executable
   * @param {string} settings.flagsDir the testbed's flags/ directory
   * @param {string} settings.scratch a directory for this launchpad's files
   * @param {{cert: string, key: string}} settings.tls the server's certificate
   */
  constructor({ binary, flagsDir, scratch, tls }) {
    this.binary = binary;
    this.flagsDir = flagsDir;
    this.dir = path.join(scratch, `flagd-${randomBytes(4).toString('hex')}`);
    this.tls = tls;
    this.child = undefined;
    this.ports = undefined;
    this.log = [];
    this.restartTimer = undefined;
    this.pendingStart = undefined;
  }

  /** The combined flag file, as the launchpad writes it for file providers. */
  get allFlags() {
    return path.join(this.dir, 'flags', 'allFlags.json');
  }

  /** A raw testbed flag file of this launchpad's copy. */
  rawFlags(name) {
    return path.join(this.dir, 'rawflags', name);
  }

  /** Copies the testbed's flag files and combines them. */
  async prepare() {
    await mkdir(path.join(this.dir, 'rawflags'), { recursive: true });
    await mkdir(path.join(this.dir, 'flags'), { recursive: true });
    for (const name of await readdir(this.flagsDir)) {
      if (name.endsWith('.json')) {
        await writeFile(this.rawFlags(name), await readFile(path.join(this.flagsDir, name)));
      }
    }
    await this.combine();
  }

  /**
   * Starts `ensign serve` with one of the launchpad's configurations and
   * waits until it has loaded its flags.
   *
   * @param {string} config a key of CONFIGS
   * @param {string | undefined} fractional the bucketing scheme, v1 to v3
   */
  async start(config, fractional) {
    const spec = CONFIGS[config];
    if (!spec) {
      throw new Error(`unknown launchpad configuration ${config}`);
    }
    this.config = config;
    this.fractional = fractional;
    await this.launch();
  }

  /** The address a provider of `resolver` connects to. */
  port(resolver) {
    return resolver === 'rpc' ? this.ports.evaluation : this.ports.sync;
  }

  /**
   * The unix socket a provider of `resolver` connects to in the socket
   * config: the evaluation service's for rpc, the sync service's otherwise.
   */
  socketPath(resolver) {
    return path.join(this.dir, resolver === 'rpc' ? 'flagd.sock' : 'flagd-sync.sock');
  }

  /**
   * Stops the server now and starts it again on the same ports after
   * `seconds`, as the launchpad's /restart does; returns at once. The
   * combined flag file is gone meanwhile, as upstream deletes it too, which
   * is what takes an offline file provider's source away.
   */
  async restart(seconds) {
    await this.halt();
    await rm(this.allFlags, { force: true });
    this.pendingStart = sleep(seconds * 1000).then(async () => {
      await this.combine();
      if (this.config) {
        await this.launch();
      }
    });
    // A failed restart is reported by the steps that wait for the provider
    // to come back, and again by stop().
    this.pendingStart.catch(() => {});
  }

  /**
   * Toggles `changing-flag` between its variants in rawflags/ and combines
   * the flag files again, as the launchpad's /change does.
   */
  async change() {
    const file = this.rawFlags('changing-flag.json');
    const document = JSON.parse(await readFile(file, 'utf8'));
    const flag = document.flags['changing-flag'];
    flag.defaultVariant = flag.defaultVariant === 'foo' ? 'bar' : 'foo';
    await atomicWrite(file, JSON.stringify(document, null, 2));
    await this.combine();
    return flag.defaultVariant;
  }

  /** Stops the server (waiting for a pending restart) and removes the files. */
  async stop() {
    const pending = this.pendingStart;
    this.pendingStart = undefined;
    let failure;
    if (pending) {
      await pending.catch((error) => {
        failure = error;
      });
    }
    await this.halt();
    await rm(this.dir, { recursive: true, force: true });
    if (failure) {
      throw failure;
    }
  }

  /** Everything the server logged, for a failing scenario's report. */
  serverLog() {
    return this.log.join('\n');
  }

  async halt() {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // SIGKILL, as the launchpad kills flagd: connections drop at once
      // instead of draining, which is what a lost connection looks like.
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** Writes flags/allFlags.json from every rawflags/ file but the selector ones. */
  async combine() {
    const names = (await readdir(path.join(this.dir, 'rawflags')))
      .filter((name) => name.endsWith('.json') && !name.startsWith('selector-'))
      .sort();
    let combined = {};
    for (const name of names) {
      combined = deepMerge(combined, JSON.parse(await readFile(this.rawFlags(name), 'utf8')));
    }
    await atomicWrite(this.allFlags, JSON.stringify(combined, null, 2));
  }

  /**
   * Starts the server: on fresh ports, none of which an earlier server of
   * this process had, or on the ports it had before a restart.
   */
  async launch() {
    if (this.ports !== undefined) {
      await this.launchOnce();
      return;
    }
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.launchOnce();
      } catch (error) {
        // Another process may have bound a port it picked in the meantime.
        await this.halt();
        this.ports = undefined;
        if (attempt >= 5) {
          throw error;
        }
        continue;
      }
      const { evaluation, sync } = this.ports;
      const reused = [evaluation, sync].some((port) => claimedPorts.has(port));
      claimedPorts.add(evaluation).add(sync);
      if (!reused || attempt >= 10) {
        return;
      }
      await this.halt();
      this.ports = undefined;
    }
  }

  async launchOnce() {
    const spec = CONFIGS[this.config];
    const fixed = this.ports !== undefined;
    // A restart keeps the ports the provider reconnects to (evaluation and
    // sync), so those are picked below the kernel's ephemeral range, where
    // no port-0 bind or outgoing connection of another process can take
    // them during the pause; OFREP and management take fresh ones.
    const ports = fixed
      ? { ...this.ports, ofrep: 0, management: 0 }
      : await fixedPorts();
    const args = ['serve', '--bind', '127.0.0.1'];
    args.push('--port', String(ports.evaluation), '--sync-port', String(ports.sync));
    args.push('--ofrep-port', String(ports.ofrep), '--management-port', String(ports.management));
    args.push('--sources', JSON.stringify(spec.sources.map((uri) => ({ uri, provider: 'file' }))));
    if (spec.context) {
      args.push('--context-value', 'injectedmetadata=set');
    }
    if (spec.tls) {
      args.push('--server-cert-path', this.tls.cert, '--server-key-path', this.tls.key);
    }
    if (spec.socket) {
      args.push('--socket-path', this.socketPath('rpc'), '--sync-socket-path', this.socketPath('in-process'));
    }
    if (this.fractional) {
      args.push('--fractional', this.fractional);
    }
    const env = { ...process.env, NO_COLOR: '1' };
    for (const name of Object.keys(env)) {
      if (name.startsWith('ENSIGN_')) {
        delete env[name];
      }
    }
    const child = spawn(this.binary, args, { cwd: this.dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    const listeners = await this.listeners(child, spec);
    const management = listeners.management;
    this.ports = {
      evaluation: listeners.evaluation?.port ?? ports.evaluation,
      sync: listeners.sync?.port ?? ports.sync,
      ofrep: listeners.ofrep.port,
      management: management.port,
    };
    if (fixed && this.ports.sync !== ports.sync) {
      throw new Error('the restarted server did not take its former ports');
    }
    await waitReady(management, spec.tls ? await readFile(this.tls.cert) : undefined);
  }

  /** Reads the server's log until each listener has said where it listens. */
  listeners(child, spec) {
    const wanted = spec.socket ? ['ofrep', 'management'] : ['ofrep', 'evaluation', 'sync', 'management'];
    const found = {};
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the server did not start within ${START_TIMEOUT_MS} ms:\n${this.serverLog()}`)),
        START_TIMEOUT_MS,
      );
      let buffered = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop();
        for (const line of lines) {
          this.log.push(line);
          const listener = /listener="(\w+)"/.exec(line)?.[1];
          const addr = /\baddr=(\S+)/.exec(line)?.[1];
          const scheme = /\bscheme=(\w+)/.exec(line)?.[1];
          if (line.includes('Listener started.') && listener && addr) {
            const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
            found[listener] = { host: '127.0.0.1', port, scheme };
          }
          if (wanted.every((name) => found[name])) {
            clearTimeout(timer);
            resolve(found);
          }
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the server exited (${code ?? signal}) before it started:\n${this.serverLog()}`));
      });
    });
  }
}

/**
 * An endpoint that answers every HTTP/2 request with status 403, standing in
 * for the testbed's envoy listener that forbids everything: gRPC clients
 * read it as PERMISSION_DENIED.
 */
export async function forbiddenEndpoint() {
  const server = http2.createServer();
  const open = new Set();
  server.on('session', (session) => {
    open.add(session);
    session.on('close', () => open.delete(session));
  });
  server.on('stream', (stream) => {
    stream.respond({ ':status': 403, 'content-type': 'text/plain' });
    stream.end('PERMISSION_DENIED');
  });
  server.on('sessionError', () => {});
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  claimedPorts.add(server.address().port);
  return {
    port: server.address().port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // Open sessions would keep close() waiting.
        for (const session of open) {
          session.destroy();
        }
      }),
  };
}

/**
 * Evaluation and sync ports for a new server: free now, below the kernel's
 * ephemeral range (which the kernel never hands out for a port-0 bind or an
 * outgoing connection), and never had by a server of this process.
 */
async function fixedPorts() {
  const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768');
  const ephemeral = Number(range.trim().split(/\s+/)[0]) || 32768;
  const floor = 10_000;
  const ceiling = Math.max(ephemeral, floor + 1_000);
  const picked = [];
  while (picked.length < 2) {
    const port = floor + Math.floor(Math.random() * (ceiling - floor));
    if (!claimedPorts.has(port) && !picked.includes(port) && (await isFree(port))) {
      picked.push(port);
    }
  }
  const [evaluation, sync] = picked;
  return { evaluation, sync, ofrep: 0, management: 0 };
}

/** Whether nothing listens on `port` of 127.0.0.1 now. */
function isFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A local port that nothing listens on, and no server of this process had. */
export async function closedPort() {
  for (;;) {
    const server = net.createServer();
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();
    await new Promise((resolve) => server.close(resolve));
    if (!claimedPorts.has(port)) {
      claimedPorts.add(port);
      return port;
    }
  }
}

/** Polls /readyz until every source has loaded. */
async function waitReady(management, ca) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if ((await status(management, '/readyz', ca)) === 200) {
      return;
    }
    await sleep(20);
  }
  throw new Error(`the server was not ready within ${START_TIMEOUT_MS} ms`);
}

function status({ host, port, scheme }, pathname, ca) {
  const client = scheme === 'https' ? https : http;
  return new Promise((resolve) => {
    const request = client.get({ host, port, path: pathname, ca, timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('error', () => resolve(undefined));
    request.on('timeout', () => request.destroy());
  });
}

/** The launchpad's merge: objects merge key by key, anything else replaces. */
function deepMerge(into, from) {
  for (const [key, value] of Object.entries(from)) {
    if (isObject(into[key]) && isObject(value)) {
      into[key] = deepMerge(into[key], value);
    } else {
      into[key] = value;
    }
  }
  return into;
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Writes through a temporary file and a rename, as the launchpad does. */
async function atomicWrite(file, text) {
  const temporary = path.join(path.dirname(file), `.tmp-${randomBytes(4).toString('hex')}`);
  await writeFile(temporary, text);
  await rename(temporary, file);
}
