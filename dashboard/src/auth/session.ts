// The session's state outside React: the token (kept in sessionStorage),
// the client that carries it, who the token belongs to, and why the last
// session ended. A client reporting that its token no longer works ends
// its own session only, once.
import { type ApiClient, type ApiClientOptions, createApiClient } from '../api/client';
import { type ApiFailure, describe } from '../api/errors';
import type { Viewer } from './roles';
import { forgetToken, storeToken, storedToken } from './storage';

/** Options for every client the session makes (tests pass a fake WebSocket). */
export type ClientSettings = Omit<ApiClientOptions, 'token' | 'onSessionEnd'>;

export interface SessionState {
  token: string | null;
  api: ApiClient | null;
  viewer: Viewer | null;
  /** Why the last session ended, shown on the sign-in screen. */
  notice: string | null;
}

export class Session {
  private state: SessionState;
  private readonly listeners = new Set<() => void>();

  constructor(readonly settings: ClientSettings) {
    const token = storedToken();
    this.state = { token, api: token ? this.open(token) : null, viewer: null, notice: null };
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly snapshot = (): SessionState => this.state;

  /** Starts a session with a checked token. */
  signIn(token: string, viewer: Viewer): void {
    storeToken(token);
    this.state.api?.dispose();
    this.set({ token, api: this.open(token), viewer, notice: null });
  }

  setViewer(viewer: Viewer): void {
    this.set({ ...this.state, viewer });
  }

  signOut(): void {
    this.close(null);
  }

  /** Ends the session because the server refused its token. */
  end(failure: ApiFailure): void {
    this.close(`Your session ended: ${describe(failure)}. Sign in again to go on.`);
  }

  private open(token: string): ApiClient {
    const api = createApiClient({
      ...this.settings,
      token,
      onSessionEnd: (failure) => {
        if (this.state.api === api) this.end(failure);
      },
    });
    return api;
  }

  private close(notice: string | null): void {
    forgetToken();
    this.state.api?.dispose();
    this.set({ token: null, api: null, viewer: null, notice });
  }

  private set(state: SessionState): void {
    this.state = state;
    for (const listener of this.listeners) listener();
  }
}
