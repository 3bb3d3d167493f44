// The sign-in screen: paste a token, checked against the server before it
// is kept; a refused token shows the server's message and code.
import { useState } from 'react';
import { useLocation, useSearch } from 'wouter';

import { createApiClient } from '../api/client';
import type { ApiFailure } from '../api/errors';
import { ErrorNotice } from '../components/ErrorNotice';
import { afterSignIn } from '../routing';
import { useSession } from './SessionProvider';
import { loadViewer } from './viewer';

export function SignInScreen() {
  const session = useSession();
  const [, navigate] = useLocation();
  const search = useSearch();
  const [token, setToken] = useState('');
  const [pending, setPending] = useState(false);
  const [failure, setFailure] = useState<ApiFailure | null>(null);

  const submit = async () => {
    const secret = token.trim();
    if (secret === '') {
      setFailure({ message: 'paste a token first', code: 'EMPTY_TOKEN' });
      return;
    }
    setPending(true);
    setFailure(null);
    // A client of its own: a refused token here is a failed sign-in, not
    // the end of a session.
    const probe = createApiClient({ ...session.settings, token: secret, onSessionEnd: () => undefined });
    try {
      const result = await loadViewer(probe.client);
      if (result.ok) {
        session.signIn(secret, result.viewer);
        const next = afterSignIn(search);
        // GraphiQL is a page of its own, not a screen of this app.
        if (next.startsWith('/graphiql.html')) window.location.assign(next);
        else navigate(next, { replace: true });
      } else {
        setFailure(result.failure);
        setPending(false);
      }
    } finally {
      probe.dispose();
    }
  };

  return (
    <main className="sign-in">
      <h1>Sign in to Ensign</h1>
      {session.notice && (
        <p className="notice" role="status">
          {session.notice}
        </p>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
        noValidate
      >
        <label htmlFor="token">Admin token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={token}
          onChange={(e) => { setToken(e.target.value); }}
          aria-describedby="token-help"
        />
        <p id="token-help" className="help">
          A viewer, editor or admin token (<code>ensign token create</code>, or the one printed at
          the first start). It is kept in this tab only.
        </p>
        <button type="submit" disabled={pending}>
          {pending ? 'Checking…' : 'Sign in'}
        </button>
      </form>
      {failure && <ErrorNotice failure={failure} what="The token was not accepted" />}
    </main>
  );
}
