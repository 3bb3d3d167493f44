// The steps about provider events (OpenFeature spec 5): handlers for ready,
// error, stale and configuration-changed, and waits for each in turn.

import { ProviderEvents } from '@openfeature/server-sdk';

import { step } from './step.mjs';
import { EVENT_TIMEOUT_MS } from './world.mjs';

step(/^a (\w+) event handler$/, function (type) {
  this.client.addHandler(eventOf(type), (details) => {
    this.events.push({ type, details });
  });
});

// Each of these waits for an event after the one the previous such step
// waited for (see TestbedWorld.nextEvent).
step(/^the (\w+) event handler should have been executed$/, async function (type) {
  await this.nextEvent(type, EVENT_TIMEOUT_MS);
});

step(/^the (\w+) event handler should have been executed within (\d+)ms$/, async function (type, ms) {
  await this.nextEvent(type, Number(ms));
});

step(/^a (\w+) event was fired$/, async function (type) {
  await this.nextEvent(type, EVENT_TIMEOUT_MS);
});

step('the flag should be part of the event payload', function () {
  const flagsChanged = this.lastEvent?.details?.flagsChanged ?? [];
  if (!flagsChanged.includes(this.flag.key)) {
    assert.fail(`flagsChanged was ${JSON.stringify(flagsChanged)}`);
  }
});

function eventOf(type) {
  const events = {
    ready: ProviderEvents.Ready,
    error: ProviderEvents.Error,
    stale: ProviderEvents.Stale,
    change: ProviderEvents.ConfigurationChanged,
  };
  if (!events[type]) {
    throw new Error(`unknown event type ${type}`);
  }
  return events[type];
}
