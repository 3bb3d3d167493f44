// GraphiQL's fetcher: the admin API on this origin, over HTTP and the
// WebSocket, with the dashboard's token when this tab is signed in.
import { createGraphiQLFetcher } from '@graphiql/toolkit';

import { GRAPHQL_PATH, websocketUrl } from '../api/client';

export function createFetcher(token: string | null): ReturnType<typeof createGraphiQLFetcher> {
  const authorization = token ? { Authorization: `Bearer ${token}` } : undefined;
  return createGraphiQLFetcher({
    url: GRAPHQL_PATH,
    subscriptionUrl: websocketUrl(),
    headers: authorization,
    wsConnectionParams: authorization,
  });
}
