// Sends a tracking event to Ensign over plain HTTP (Node.js 18+, Deno, or a
// browser with the URL and key filled in): node send-event.mjs [OFREP_URL] [SDK_KEY]
const [ofrepUrl = 'http://localhost:8016', sdkKey] = process.argv.slice(2);
const headers = { 'content-type': 'application/json' };
if (sdkKey) headers.authorization = `Bearer ${sdkKey}`;
const response = await fetch(`${ofrepUrl}/ensign/v1/events`, {
  method: 'POST',
  headers,
  body: JSON.stringify({
    events: [
      {
        name: 'purchase',
        context: { targetingKey: 'user-42', plan: 'pro' },
        details: { value: 12.5, currency: 'EUR' },
        timestamp: new Date().toISOString(),
      },
    ],
  }),
});
const answer = await response.json();
console.log(response.status, JSON.stringify(answer));
if (response.status !== 202) process.exit(1);
