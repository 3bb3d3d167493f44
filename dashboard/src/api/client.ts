// The GraphQL client: urql over POST /graphql, and graphql-ws over the same
// path for subscriptions, both carrying the session's token. Any answer
// saying the token no longer works (HTTP 401, code UNAUTHENTICATED, or the
// socket closed with 4403) ends the session once, with the reason.
import { type Client as WsClient, createClient as createWsClient } from 'graphql-ws';
import {
  Client,
  cacheExchange,
  fetchExchange,
  mapExchange,
  subscriptionExchange,
} from 'urql';

import {
  type ApiFailure,
  SocketClosed,
  TOKEN_REVOKED_CLOSE_CODE,
  endsSession,
  failureOf,
} from './errors';

/** The admin API's path, on the origin that serves the dashboard. */
export const GRAPHQL_PATH = '/graphql';

/** The WebSocket URL of the admin API on this page's origin. */
export function websocketUrl(location: Location = window.location): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${GRAPHQL_PATH}`;
}

/** A client and what it holds open. */
export interface ApiClient {
  client: Client;
  /** Closes the subscription socket. */
  dispose: () => void;
}

export interface ApiClientOptions {
  token: string;
  /** Called once, the first time an answer says the token no longer works. */
  onSessionEnd: (failure: ApiFailure) => void;
  /** The WebSocket URL; this page's origin by default. */
  websocketUrl?: string;
  /** The WebSocket class; the browser's by default. */
  webSocketImpl?: unknown;
}

/** Whether graphql-ws reports a socket's close (rather than an error). */
function isClose(event: unknown): event is CloseEvent {
  return typeof event === 'object' && event !== null && 'code' in event && typeof event.code === 'number';
}

/** Whether a graphql-ws close reports a revoked or refused token. */
function isTokenClose(event: unknown): event is CloseEvent {
  return isClose(event) && event.code === TOKEN_REVOKED_CLOSE_CODE;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const authorization = `Bearer ${options.token}`;
  let ended = false;
  const end = (failure: ApiFailure) => {
    if (ended) return;
    ended = true;
    options.onSessionEnd(failure);
  };
  const ws: WsClient = createWsClient({
    url: options.websocketUrl ?? websocketUrl(),
    webSocketImpl: options.webSocketImpl,
    connectionParams: { Authorization: authorization },
    lazy: true,
    // A refused token is final; anything else (a restart) is retried.
    shouldRetry: (event) => !isTokenClose(event),
    on: {
      closed: (event) => {
        if (isTokenClose(event)) end(new SocketClosed(event.code, event.reason || 'the token was refused').failure);
      },
    },
  });
  const client = new Client({
    url: GRAPHQL_PATH,
    // The admin API answers POST only.
    preferGetMethod: false,
    fetchOptions: () => ({ headers: { Authorization: authorization } }),
    exchanges: [
      cacheExchange,
      mapExchange({
        onError(error) {
          if (endsSession(error)) end(failureOf(error));
        },
      }),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, {
                next: (value) => { sink.next(value as Parameters<typeof sink.next>[0]); },
                complete: () => { sink.complete(); },
                // A close is reported as an error with its code and reason.
                error: (error: unknown) => {
                  sink.error(isClose(error) ? new SocketClosed(error.code, error.reason) : error);
                },
              });
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  return {
    client,
    dispose: () => {
      // Disposing a socket whose connection failed rejects with that
      // failure, already handled by `closed` above; nothing is left open.
      Promise.resolve(ws.dispose()).catch(() => undefined);
    },
  };
}
