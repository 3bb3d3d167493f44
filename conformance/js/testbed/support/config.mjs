// The options a `FlagdProvider` resolves from its constructor options and
// the FLAGD_* environment (config.feature's "a config was initialized").
//
// @openfeature/flagd-provider exports no accessor for them: the function
// that resolves them is internal to its bundle, and only the in-process
// service keeps the result, as `config`. So the options are read from an
// in-process provider built from the same input, and the two answers that
// depend on the resolver (which one, and the default port) from a provider
// built exactly as asked. Every provider built here is closed again; none
// connects, as gRPC channels connect lazily.

import { FlagdProvider } from '@openfeature/flagd-provider';

/** The option names config.feature uses that the provider spells otherwise. */
const NAMES = { resolver: 'resolverType' };

/** The provider's name for a config.feature option. */
export function optionName(name) {
  return NAMES[name] ?? name;
}

/**
 * The resolved options for `options`, keyed by the provider's names.
 * Throws when the provider refuses them.
 */
export async function resolvedConfig(options) {
  const asked = new FlagdProvider(options);
  const probe = new FlagdProvider({ ...options, resolverType: 'in-process' });
  try {
    const config = probe._service?.config;
    if (!config) {
      throw new Error('the in-process service keeps no config: the provider changed its internals');
    }
    const inProcess = asked._service?.constructor?.name === 'InProcessService';
    const resolved = { ...config, resolverType: inProcess ? 'in-process' : 'rpc' };
    if (!inProcess) {
      resolved.port = rpcPort(asked);
    }
    return resolved;
  } finally {
    await Promise.allSettled([asked.onClose(), probe.onClose()]);
  }
}

/**
 * The port an RPC provider's gRPC channel targets (`dns:HOST:PORT`), or
 * undefined for a unix socket (`unix://PATH`).
 */
function rpcPort(provider) {
  const target = provider._service?._client?.getChannel?.().getTarget?.();
  if (typeof target === 'string' && target.startsWith('unix:')) {
    return undefined;
  }
  const port = typeof target === 'string' ? /:(\d+)$/.exec(target)?.[1] : undefined;
  if (port === undefined) {
    throw new Error(`cannot read the RPC channel's port from ${JSON.stringify(target)}`);
  }
  return Number(port);
}
