// Test doubles for the admin API: a stand-in for fetch that answers each
// GraphQL operation by name, a WebSocket speaking graphql-transport-ws, and
// a render of the whole app at a URL.
import { render } from '@testing-library/react';
import { vi } from 'vitest';

import { App } from '../App';
import { SessionProvider } from '../auth/SessionProvider';
import { AppRouter } from '../routing';

/** One GraphQL request as the server received it. */
export interface Received {
  operationName: string;
  variables: Record<string, unknown>;
  authorization: string | null;
}

/** An answer: a GraphQL body, with an HTTP status (200 by default). */
export interface Answer {
  status?: number;
  body: unknown;
}

/** The body of a GraphQL error answer. */
export function errorBody(message: string, code: string): unknown {
  return { errors: [{ message, extensions: { code } }] };
}

/** Replaces fetch with `answer`, and returns every request it received. */
export function mockApi(answer: (request: Received) => Answer | Promise<Answer>): Received[] {
  const received: Received[] = [];
  vi.stubGlobal('fetch', async (_url: unknown, init?: RequestInit) => {
    if (typeof init?.body !== 'string') throw new Error('a GraphQL request without a JSON body');
    const body = JSON.parse(init.body) as { operationName: string; variables?: Record<string, unknown> };
    const headers = new Headers(init.headers);
    const request = {
      operationName: body.operationName,
      variables: body.variables ?? {},
      authorization: headers.get('authorization'),
    };
    received.push(request);
    const { status = 200, body: reply } = await answer(request);
    return new Response(JSON.stringify(reply), {
      status,
      headers: { 'content-type': 'application/json' },
    });
  });
  return received;
}

type InitBehaviour = 'accept' | 'refuse';

/** A WebSocket on the server side of graphql-transport-ws, in memory. */
export class FakeSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  /** Every socket opened, newest last. */
  static opened: FakeSocket[] = [];
  /** What the server does with the next connection_init. */
  static onInit: InitBehaviour = 'accept';

  readyState = FakeSocket.CONNECTING;
  initPayload: unknown = null;
  /** The ids of the subscriptions started on this socket. */
  readonly subscriptions: string[] = [];
  onopen: (() => void) | null = null;
  onclose: ((event: { code: number; reason: string; wasClean: boolean }) => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onerror: ((error: unknown) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocol: string,
  ) {
    FakeSocket.opened.push(this);
    setTimeout(() => {
      this.readyState = FakeSocket.OPEN;
      this.onopen?.();
    }, 0);
  }

  static reset(): void {
    FakeSocket.opened = [];
    FakeSocket.onInit = 'accept';
  }

  send(data: string): void {
    const message = JSON.parse(data) as { type: string; id?: string; payload?: unknown };
    if (message.type === 'connection_init') {
      this.initPayload = message.payload;
      if (FakeSocket.onInit === 'refuse') this.serverClose(4403, 'Forbidden');
      else this.reply({ type: 'connection_ack' });
    } else if (message.type === 'subscribe' && message.id) {
      this.subscriptions.push(message.id);
    }
  }

  close(code = 1000, reason = ''): void {
    this.serverClose(code, reason);
  }

  /** Sends an event of a subscription. */
  next(id: string, data: unknown): void {
    this.reply({ type: 'next', id, payload: { data } });
  }

  /** Closes the socket from the server's side. */
  serverClose(code: number, reason: string): void {
    if (this.readyState === FakeSocket.CLOSED) return;
    this.readyState = FakeSocket.CLOSED;
    setTimeout(() => this.onclose?.({ code, reason, wasClean: true }), 0);
  }

  private reply(message: unknown): void {
    setTimeout(() => this.onmessage?.({ data: JSON.stringify(message) }), 0);
  }
}

/** Renders the app at `url`, with the fake WebSocket. */
export function renderApp(url: string) {
  window.history.replaceState(null, '', url);
  return render(
    <AppRouter>
      <SessionProvider settings={{ webSocketImpl: FakeSocket }}>
        <App />
      </SessionProvider>
    </AppRouter>,
  );
}

/** Whether the role may change flags and administer, as the server reports it. */
export interface FakeRights {
  changeFlags: boolean;
  administer: boolean;
}

/** The rights the server gives each role (viewer < editor < admin). */
export function rightsOf(role: string): FakeRights {
  return { changeFlags: role === 'editor' || role === 'admin', administer: role === 'admin' };
}

/** The server's answer to the `Viewer` query for a token. */
export function viewerAnswer(name: string, role: string, rights: FakeRights = rightsOf(role)): Answer {
  const permission = (allowed: boolean, neededRole: string) => ({ __typename: 'Permission', allowed, neededRole });
  return {
    body: {
      data: {
        viewer: {
          __typename: 'Viewer',
          name,
          role,
          can: {
            __typename: 'ViewerRights',
            changeFlags: permission(rights.changeFlags, 'editor'),
            administer: permission(rights.administer, 'admin'),
          },
        },
      },
    },
  };
}
