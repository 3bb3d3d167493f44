// After a reload the token is known but not whose it is: this asks the
// server before showing the signed-in screens. A refused token ends the
// session (through the client); any other failure can be retried.
import { type ReactNode, useEffect, useState } from 'react';

import type { ApiFailure } from '../api/errors';
import { ErrorNotice } from '../components/ErrorNotice';
import { useSession } from './SessionProvider';
import { loadViewer } from './viewer';

export function ViewerGate({ children }: { children: ReactNode }) {
  const { client, token, viewer, setViewer } = useSession();
  const [failure, setFailure] = useState<ApiFailure | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (viewer || !client || !token) return;
    let live = true;
    void loadViewer(client).then((result) => {
      if (!live) return;
      if (result.ok) setViewer(result.viewer);
      else setFailure(result.failure);
    });
    return () => {
      live = false;
    };
  }, [client, token, viewer, setViewer, attempt]);

  if (viewer) return children;
  if (failure) {
    return (
      <main>
        <ErrorNotice failure={failure} what="Your session could not be checked" />
        <button type="button" onClick={() => { setFailure(null); setAttempt((n) => n + 1); }}>
          Try again
        </button>
      </main>
    );
  }
  return (
    <main>
      <p role="status">Checking your session…</p>
    </main>
  );
}
