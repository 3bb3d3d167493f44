// The secret of a token just created, shown this once: the secret to copy
// (a button puts it on the clipboard), the note that it will not be shown
// again, how to send it, and the button that drops it.
import { useId } from 'react';

import type { SecretAction, SecretState } from './secretOnce';
import { roleInfo } from './tokenText';

export function SecretOnce({ state, dispatch }: { state: SecretState; dispatch: (action: SecretAction) => void }) {
  const id = useId();
  if (state.status !== 'shown') return null;
  const { token, secret } = state;
  const sdk = roleInfo(token.role).sdk;

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      dispatch({ type: 'copied' });
    } catch {
      dispatch({ type: 'copy-failed' });
    }
  };

  return (
    <section className="secret-once panel" aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>Copy the secret of {token.name} now</h2>
      <p className="secret-warning">
        <strong>It will not be shown again.</strong> Ensign keeps only a hash of it: if it is lost, revoke{' '}
        {sdk ? 'this key' : 'this token'} and create another.
      </p>
      <div className="secret-row">
        <label htmlFor={`${id}-secret`}>Secret</label>
        <input
          id={`${id}-secret`}
          type="text"
          readOnly
          spellCheck={false}
          autoComplete="off"
          value={secret}
          className="secret-value"
          onFocus={(e) => { e.currentTarget.select(); }}
        />
        <button type="button" className="primary" onClick={() => void copy()}>
          Copy
        </button>
      </div>
      <p role="status" className="copy-status">
        {state.copy === 'copied'
          ? 'Copied to the clipboard.'
          : state.copy === 'failed'
            ? 'The browser did not allow copying: select the secret and copy it yourself.'
            : ''}
      </p>
      <p className="help">
        {sdk ? (
          <>
            Give it to the SDK of flag set <strong>{token.flagSet}</strong>: it sends it as{' '}
            <code>Authorization: Bearer …</code> or <code>X-API-Key</code> over OFREP, and as the same gRPC
            metadata. Evaluation nodes accept it once they receive the flag set’s next publication, within seconds.
          </>
        ) : (
          <>
            Sign in to the dashboard with it, or send it to the admin API as <code>Authorization: Bearer …</code>.
          </>
        )}
      </p>
      <button type="button" onClick={() => { dispatch({ type: 'dismissed' }); }}>
        I have copied it: hide the secret
      </button>
    </section>
  );
}
