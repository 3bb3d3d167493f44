// Evaluates an experiment flag for many users with JavaScript OpenFeature
// clients against a running Ensign, and prints {user: variant} as JSON:
//
//   node exposures.mjs ofrep FLAG USERS OFREP_URL...   one OFREP client per
//       node, users spread over them (the nodes record the exposures);
//   node exposures.mjs hook FLAG USERS SYNC_HOST:PORT OFREP_URL
//       flagd's in-process provider with ensign-exposure-hook.mjs reporting
//       to the node (staff users, whom another branch serves, are also
//       evaluated and must not count).
import { FlagdProvider } from '@openfeature/flagd-provider';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature } from '@openfeature/server-sdk';

import { ensignExposureHook } from './exposure-hook.mjs';

const [mode, flag, count, ...addresses] = process.argv.slice(2);
const users = Number(count);
const served = {};

if (mode === 'ofrep') {
  const clients = [];
  for (const [i, baseUrl] of addresses.entries()) {
    await OpenFeature.setProviderAndWait(`node-${i}`, new OFREPProvider({ baseUrl }));
    clients.push(OpenFeature.getClient(`node-${i}`));
  }
  for (let i = 0; i < users; i++) {
    const targetingKey = `user-${i}`;
    const details = await clients[i % clients.length].getStringDetails(flag, '', { targetingKey });
    if (details.errorCode) throw new Error(`${targetingKey}: ${details.errorCode} ${details.errorMessage}`);
    served[targetingKey] = details.variant;
  }
} else if (mode === 'hook') {
  const [sync, ofrepUrl] = addresses;
  const [host, port] = sync.split(/:(?=\d+$)/);
  await OpenFeature.setProviderAndWait(
    new FlagdProvider({ resolverType: 'in-process', host, port: Number(port), tls: false }),
  );
  const hook = ensignExposureHook({ ofrepUrl });
  OpenFeature.addHooks(hook);
  const client = OpenFeature.getClient();
  for (let i = 0; i < users; i++) {
    const targetingKey = `user-${i}`;
    const details = await client.getStringDetails(flag, '', { targetingKey });
    if (details.errorCode) throw new Error(`${targetingKey}: ${details.errorCode} ${details.errorMessage}`);
    served[targetingKey] = details.variant;
    await client.getStringDetails(flag, '', { targetingKey: `staff-${i}`, staff: true });
  }
  await hook.flush();
} else {
  throw new Error(`unknown mode ${mode}`);
}
await OpenFeature.close();
process.stdout.write(`${JSON.stringify(served)}\n`);
