// The session for React: the provider, and hooks reading it.
import { type ReactNode, createContext, useContext, useMemo, useState, useSyncExternalStore } from 'react';
import type { Client } from 'urql';

import type { Viewer } from './roles';
import { type ClientSettings, Session } from './session';

export interface SessionValue {
  token: string | null;
  client: Client | null;
  viewer: Viewer | null;
  notice: string | null;
  settings: ClientSettings;
  signIn: (token: string, viewer: Viewer) => void;
  setViewer: (viewer: Viewer) => void;
  signOut: () => void;
}

const SessionContext = createContext<SessionValue | null>(null);

const NO_SETTINGS: ClientSettings = {};

export function SessionProvider({ children, settings = NO_SETTINGS }: { children: ReactNode; settings?: ClientSettings }) {
  const [session] = useState(() => new Session(settings));
  const state = useSyncExternalStore(session.subscribe, session.snapshot);
  const value = useMemo<SessionValue>(
    () => ({
      token: state.token,
      client: state.api?.client ?? null,
      viewer: state.viewer,
      notice: state.notice,
      settings: session.settings,
      signIn: (token, viewer) => { session.signIn(token, viewer); },
      setViewer: (viewer) => { session.setViewer(viewer); },
      signOut: () => { session.signOut(); },
    }),
    [state, session],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession needs a SessionProvider');
  return session;
}

/** The signed-in viewer (only under the signed-in screens). */
export function useViewer(): Viewer {
  const { viewer } = useSession();
  if (!viewer) throw new Error('useViewer needs a signed-in session');
  return viewer;
}
