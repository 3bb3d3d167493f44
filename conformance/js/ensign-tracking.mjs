// OpenFeature tracking for Ensign: gives a provider (the OFREP provider,
// say) the track() method the OpenFeature SDK calls for client.track(),
// sending each event (name, the merged evaluation context, the details,
// the time it was tracked) to the node's POST /ensign/v1/events in batches
// of up to 1,000. track() never waits; call flush() before the application
// exits. Events the node refuses as invalid are reported, not retried; a
// node that is busy (429, 503) or unreachable is asked again.
export function withEnsignTracking(provider, { ofrepUrl, apiKey, intervalMs = 500 }) {
  const queue = [];
  const headers = { 'content-type': 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  let sending = Promise.resolve();
  const stats = { sent: 0, rejected: [] };
  const post = async (events) => {
    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = await fetch(`${ofrepUrl}/ensign/v1/events`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ events }),
        });
      } catch (error) {
        if (attempt >= 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
        continue;
      }
      const answer = await response.json().catch(() => ({}));
      if (response.status === 202 || response.status === 400) {
        stats.sent += answer.accepted ?? 0;
        stats.rejected.push(...(answer.rejected ?? []));
        return;
      }
      if ((response.status === 429 || response.status === 503) && attempt < 5) {
        const retry = Number(response.headers.get('retry-after') ?? 1);
        await new Promise((resolve) => setTimeout(resolve, retry * 1000));
        continue;
      }
      throw new Error(`events refused: ${response.status} ${JSON.stringify(answer)}`);
    }
  };
  const send = () => {
    sending = sending.then(async () => {
      while (queue.length > 0) await post(queue.splice(0, 1000));
    });
    return sending;
  };
  const timer = setInterval(() => send().catch(() => {}), intervalMs);
  timer.unref();
  provider.track = (name, context, details) => {
    const { value, ...rest } = details ?? {};
    queue.push({
      name,
      context,
      details: value === undefined ? rest : { value, ...rest },
      timestamp: new Date().toISOString(),
    });
    if (queue.length >= 1000) send().catch(() => {});
  };
  return {
    provider,
    stats,
    flush: async () => {
      clearInterval(timer);
      await send();
    },
  };
}
