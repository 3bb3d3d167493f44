// An OpenFeature hook that reports exposures of Ensign experiments, for
// providers that evaluate in process (flagd's in-process provider, say):
// each evaluation of a flag whose metadata names an experiment, for a
// context with a targeting key, is sent to POST /ensign/v1/exposures in
// batches, with its context, so the node keeps only those its split
// decided. Call flush() before the application exits.
export function ensignExposureHook({ ofrepUrl, apiKey, intervalMs = 1000 }) {
  const queue = [];
  const headers = { 'content-type': 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const send = async () => {
    while (queue.length > 0) {
      const exposures = queue.splice(0, 1000);
      const response = await fetch(`${ofrepUrl}/ensign/v1/exposures`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ exposures }),
      });
      if (!response.ok) throw new Error(`exposures refused: ${response.status}`);
    }
  };
  const timer = setInterval(() => send().catch(() => {}), intervalMs);
  timer.unref();
  return {
    after(hookContext, details) {
      const { targetingKey, ...context } = hookContext.context;
      if (!details.flagMetadata?.['ensign.experiment'] || !details.variant || !targetingKey) return;
      queue.push({
        flagKey: details.flagKey,
        variant: details.variant,
        targetingKey,
        timestamp: new Date().toISOString(),
        context,
      });
    },
    flush: send,
  };
}
