// A shop's application against a running Ensign: for each of USERS users
// it evaluates FLAG with the OFREP provider, one client per node, users
// spread over the nodes, and tracks one purchase through OpenFeature's
// client.track() (worth 20 to users the flag serves true, 10 to the rest).
// Prints what it did as JSON: {evaluations, events, value, rejected}.
//
//   node purchases.mjs FLAG USERS OFREP_URL...
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature } from '@openfeature/server-sdk';

import { withEnsignTracking } from './ensign-tracking.mjs';

const [flag, count, ...addresses] = process.argv.slice(2);
const users = Number(count);
const clients = [];
const trackers = [];
for (const [i, baseUrl] of addresses.entries()) {
  const tracker = withEnsignTracking(new OFREPProvider({ baseUrl }), { ofrepUrl: baseUrl });
  await OpenFeature.setProviderAndWait(`node-${i}`, tracker.provider);
  clients.push(OpenFeature.getClient(`node-${i}`));
  trackers.push(tracker);
}
let evaluations = 0;
let value = 0;
for (let i = 0; i < users; i++) {
  const targetingKey = `user-${i}`;
  const client = clients[i % clients.length];
  const plan = i % 3 === 0 ? 'pro' : 'free';
  const details = await client.getBooleanDetails(flag, false, { targetingKey, plan });
  if (details.errorCode) throw new Error(`${targetingKey}: ${details.errorCode} ${details.errorMessage}`);
  evaluations++;
  const price = details.value ? 20 : 10;
  client.track('purchase', { targetingKey, plan }, { value: price, currency: 'EUR' });
  value += price;
}
for (const tracker of trackers) await tracker.flush();
await OpenFeature.close();
const rejected = trackers.flatMap((tracker) => tracker.stats.rejected);
const events = trackers.reduce((sum, tracker) => sum + tracker.stats.sent, 0);
process.stdout.write(`${JSON.stringify({ evaluations, events, value, rejected })}\n`);
