// The frame of every signed-in screen: the header with navigation and who
// is signed in, and the screen below it (or its progress while it loads).
import { type ReactNode, Suspense } from 'react';
import { Link } from 'wouter';

import { AUDIT_PATH } from './audit/path';
import { useSession, useViewer } from './auth/SessionProvider';

export function Layout({ children }: { children: ReactNode }) {
  const { signOut } = useSession();
  const viewer = useViewer();
  return (
    <>
      <header className="app-header">
        <Link href="/" className="brand">
          Ensign
        </Link>
        <nav aria-label="Main">
          <Link href="/">Flags</Link>
          <Link href={AUDIT_PATH}>Audit log</Link>
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
