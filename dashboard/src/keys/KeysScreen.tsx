// `/keys`: every token of the admin API and every SDK key (admin role
// only; another role is told why it cannot see them), the form that
// creates one and shows its secret once, and revocation, confirmed.
import { useReducer } from 'react';
import { useMutation, useQuery } from 'urql';

import { failureOf } from '../api/errors';
import { useViewer } from '../auth/SessionProvider';
import { denial } from '../auth/roles';
import { ConfirmAction } from '../components/ConfirmAction';
import { ErrorNotice } from '../components/ErrorNotice';
import { formatTime } from '../flags/flagFields';
import { NewTokenForm } from './NewTokenForm';
import { RevokeTokenMutation, TokensQuery } from './operations';
import { SecretOnce } from './SecretOnce';
import { NO_SECRET, secretReducer } from './secretOnce';
import { type Token, roleInfo, sortTokens } from './tokenText';
import '../editing/editing.css';
import './keys.css';

export function KeysScreen() {
  const viewer = useViewer();
  const refused = denial(viewer, 'administer');
  return (
    <>
      <h1>Tokens and SDK keys</h1>
      {refused ? (
        <p className="notice">
          {refused}. Tokens and SDK keys are listed, created and revoked by an admin; ask one for the key your
          application needs.
        </p>
      ) : (
        <Keys />
      )}
    </>
  );
}

function Keys() {
  const [{ data, error, fetching }, refetch] = useQuery({ query: TokensQuery });
  const [secret, dispatch] = useReducer(secretReducer, NO_SECRET);
  const tokens = data ? sortTokens(data.tokens) : [];
  const justCreated = secret.status === 'shown' ? secret.token.id : null;

  return (
    <>
      <p className="help">
        Admin tokens (viewer, editor, admin) sign in here and call the admin API. SDK keys (server, client) let
        applications evaluate the flags of one flag set over OFREP and gRPC. A secret is shown only when it is
        created.
      </p>
      <SecretOnce state={secret} dispatch={dispatch} />
      {/* The answer holds a Token, so urql reads the list again. */}
      <NewTokenForm onCreated={(token, value) => { dispatch({ type: 'created', token, secret: value }); }} />
      <section aria-labelledby="tokens-heading">
        <h2 id="tokens-heading">Every token</h2>
        {error && !data ? (
          <>
            <ErrorNotice failure={failureOf(error)} what="The tokens could not be loaded" />
            <button type="button" onClick={() => { refetch({ requestPolicy: 'network-only' }); }}>
              Try again
            </button>
          </>
        ) : !data ? (
          <p role="status">{fetching ? 'Loading tokens…' : ''}</p>
        ) : (
          <TokenTable tokens={tokens} highlighted={justCreated} />
        )}
      </section>
    </>
  );
}

function TokenTable({ tokens, highlighted }: { tokens: Token[]; highlighted: number | null }) {
  const live = tokens.filter((t) => t.revokedAt === null).length;
  return (
    <>
      <p className="count">
        {live} live, {tokens.length - live} revoked
      </p>
      <table className="token-table">
        <caption className="visually-hidden">Tokens and SDK keys, live ones first, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            <th scope="col">Flag set</th>
            <th scope="col">Prefix</th>
            <th scope="col">Created</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((token) => (
            <TokenRow key={token.id} token={token} highlighted={token.id === highlighted} />
          ))}
        </tbody>
      </table>
    </>
  );
}

function TokenRow({ token, highlighted }: { token: Token; highlighted: boolean }) {
  const [, revoke] = useMutation(RevokeTokenMutation);
  const info = roleInfo(token.role);
  const classes = [token.revokedAt ? 'revoked' : '', highlighted ? 'just-created' : ''].filter(Boolean).join(' ');
  return (
    <tr className={classes || undefined}>
      <th scope="row">{token.name}</th>
      <td>
        {info.label}
        {!info.sdk && <span className="kind">admin API</span>}
      </td>
      <td>{token.flagSet ?? <span className="help">all (admin API)</span>}</td>
      <td>
        <code>{token.prefix}…</code>
      </td>
      <td>
        <time dateTime={token.createdAt}>{formatTime(token.createdAt)}</time>
      </td>
      <td>
        {token.revokedAt ? (
          <>
            Revoked <time dateTime={token.revokedAt}>{formatTime(token.revokedAt)}</time>
          </>
        ) : (
          <span className="token-live">
            <span>Live</span>
            <ConfirmAction
              label="Revoke"
              ariaLabel={`Revoke ${token.name}`}
              title={`Revoke ${token.name}?`}
              confirmLabel="Revoke"
              pendingLabel="Revoking…"
              denial={null}
              run={() => revoke({ id: token.id })}
              success={(result) => `Revoked ${result.revokeToken.name}`}
            >
              {info.sdk ? (
                <p>
                  The {token.role} key <strong>{token.name}</strong> (<code>{token.prefix}…</code>) stops
                  working for flag set <strong>{token.flagSet}</strong>: evaluation nodes refuse it once they receive
                  the flag set’s next publication, within seconds. This cannot be undone.
                </p>
              ) : (
                <p>
                  The {token.role} token <strong>{token.name}</strong> (<code>{token.prefix}…</code>) is
                  refused from its next request, and its open live connections are closed. This cannot be undone.
                </p>
              )}
            </ConfirmAction>
          </span>
        )}
      </td>
    </tr>
  );
}
