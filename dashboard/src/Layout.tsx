// The frame of every signed-in screen: the header with navigation and who
// is signed in, and the screen below it (or its progress while it loads).
import { type ReactNode, Suspense } from 'react';
import { Link, useLocation } from 'wouter';

import { AUDIT_PATH } from './audit/path';
import { useSession, useViewer } from './auth/SessionProvider';
import {
  ALERTS_PATH,
  EXPERIMENTS_PATH,
  KEYS_PATH,
  ROLLOUTS_PATH,
  SEGMENTS_PATH,
  USAGE_PATH,
  comparePath,
  experimentsPath,
  flagSetOfPath,
  flagSetPath,
  rolloutsPath,
  segmentsPath,
  usagePath,
} from './routing';

/**
 * The main navigation, in order. A section that shows one flag set opens
 * on the flag set shown now, when the screen shows one.
 */
const SECTIONS: readonly { label: string; path: (flagSet: string | undefined) => string }[] = [
  { label: 'Flags', path: (flagSet) => (flagSet === undefined ? '/' : flagSetPath(flagSet)) },
  { label: 'Experiments', path: (flagSet) => (flagSet === undefined ? EXPERIMENTS_PATH : experimentsPath(flagSet)) },
  { label: 'Rollouts', path: (flagSet) => (flagSet === undefined ? ROLLOUTS_PATH : rolloutsPath(flagSet)) },
  { label: 'Segments', path: (flagSet) => (flagSet === undefined ? SEGMENTS_PATH : segmentsPath(flagSet)) },
  { label: 'Usage', path: (flagSet) => (flagSet === undefined ? USAGE_PATH : usagePath(flagSet)) },
  { label: 'Compare', path: (flagSet) => comparePath(flagSet) },
  { label: 'Alerts', path: () => ALERTS_PATH },
  { label: 'Audit log', path: () => AUDIT_PATH },
  { label: 'Keys', path: () => KEYS_PATH },
];

export function Layout({ children }: { children: ReactNode }) {
  const { signOut } = useSession();
  const viewer = useViewer();
  const [location] = useLocation();
  const flagSet = flagSetOfPath(location);
  return (
    <>
      <header className="app-header">
        <Link href="/" className="brand">
          Ensign
        </Link>
        <nav aria-label="Main">
          {SECTIONS.map((section) => (
            <Link key={section.label} href={section.path(flagSet)}>
              {section.label}
            </Link>
          ))}
          <a href="/graphiql.html">GraphiQL</a>
        </nav>
        <span className="who">
          {viewer.name ? `${viewer.name} · ` : ''}
          <span className="role">{viewer.role}</span>
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main className="screen">
        <Suspense fallback={<p role="status">Loading…</p>}>{children}</Suspense>
      </main>
    </>
  );
}
