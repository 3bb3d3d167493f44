// The frame of every signed-in screen: the header with navigation and who
// is signed in, and the screen below it.
import type { ReactNode } from 'react';
import { Link } from 'wouter';

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
      <main className="screen">{children}</main>
    </>
  );
}
