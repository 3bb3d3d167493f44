// The form that creates a token: its name, its role (an admin token for
// the API, or an SDK key for evaluation) and, for an SDK key, the flag set
// it is bound to. What the store would refuse is refused before sending;
// the server's refusal is shown with its message and code.
import { type SyntheticEvent, useId, useState } from 'react';
import { useMutation, useQuery } from 'urql';

import { type ApiFailure, failureOf } from '../api/errors';
import { ErrorNotice } from '../components/ErrorNotice';
import { FlagSetsQuery } from '../flags/operations';
import { CreateTokenMutation } from './operations';
import { type NewToken, ROLES, type Role, type Token, checkNewToken, roleInfo } from './tokenText';

const BLANK: NewToken = { name: '', role: 'viewer', flagSet: '' };

export function NewTokenForm({ onCreated }: { onCreated: (token: Token, secret: string) => void }) {
  const id = useId();
  const [{ data: sets, error: setsError }] = useQuery({ query: FlagSetsQuery });
  const [, create] = useMutation(CreateTokenMutation);
  const [form, setForm] = useState<NewToken>(BLANK);
  const [tried, setTried] = useState(false);
  const [pending, setPending] = useState(false);
  const [failure, setFailure] = useState<ApiFailure | null>(null);
  const checked = checkNewToken(form);
  const problems = tried && !checked.ok ? checked.problems : {};
  const info = roleInfo(form.role);
  const liveSets = (sets?.flagSets ?? []).filter((s) => !s.archived);

  const submit = async (event: SyntheticEvent) => {
    event.preventDefault();
    setTried(true);
    if (!checked.ok || pending) return;
    setPending(true);
    setFailure(null);
    const result = await create(checked.input);
    setPending(false);
    const created = result.data?.createToken;
    if (created) {
      setForm((current) => ({ ...BLANK, role: current.role, flagSet: current.flagSet }));
      setTried(false);
      onCreated(created.token, created.secret);
    } else {
      setFailure(result.error ? failureOf(result.error) : { message: 'the server sent no answer', code: 'EMPTY_ANSWER' });
    }
  };

  return (
    <form className="new-token panel" aria-labelledby={`${id}-heading`} noValidate onSubmit={(e) => void submit(e)}>
      <h2 id={`${id}-heading`}>New token or SDK key</h2>
      <div className="token-fields">
        <div className="field">
          <label htmlFor={`${id}-name`}>Name</label>
          <input
            id={`${id}-name`}
            type="text"
            autoComplete="off"
            value={form.name}
            aria-invalid={problems.name ? true : undefined}
            aria-describedby={`${id}-name-help`}
            onChange={(e) => { setForm({ ...form, name: e.target.value }); }}
          />
          <p id={`${id}-name-help`} className="help">
            {problems.name && <span className="field-problem">{problems.name}. </span>}
            Who or what holds it; the audit log names a token’s changes by it.
          </p>
        </div>
        <div className="field">
          <label htmlFor={`${id}-role`}>Role</label>
          <select
            id={`${id}-role`}
            value={form.role}
            aria-describedby={`${id}-role-help`}
            onChange={(e) => { setForm({ ...form, role: e.target.value as Role }); }}
          >
            <optgroup label="Admin API tokens">
              {ROLES.filter((r) => !r.sdk).map((r) => (
                <option key={r.role} value={r.role}>
                  {r.label}
                </option>
              ))}
            </optgroup>
            <optgroup label="SDK keys (evaluation)">
              {ROLES.filter((r) => r.sdk).map((r) => (
                <option key={r.role} value={r.role}>
                  {r.label}
                </option>
              ))}
            </optgroup>
          </select>
          <p id={`${id}-role-help`} className="help">
            {info.help}
          </p>
        </div>
        {info.sdk && (
          <div className="field">
            <label htmlFor={`${id}-set`}>Flag set</label>
            <select
              id={`${id}-set`}
              value={form.flagSet}
              aria-invalid={problems.flagSet ? true : undefined}
              aria-describedby={`${id}-set-help`}
              disabled={!sets}
              onChange={(e) => { setForm({ ...form, flagSet: e.target.value }); }}
            >
              <option value="">Choose a flag set</option>
              {liveSets.map((s) => (
                <option key={s.key} value={s.key}>
                  {s.name && s.name !== s.key ? `${s.name} (${s.key})` : s.key}
                </option>
              ))}
            </select>
            <p id={`${id}-set-help`} className="help">
              {problems.flagSet && <span className="field-problem">{problems.flagSet}. </span>}
              The key evaluates this flag set only. Once any flag set has had an SDK key, evaluation nodes refuse
              requests that carry no key, for every flag set.
            </p>
            {setsError && <ErrorNotice failure={failureOf(setsError)} what="The flag sets could not be loaded" />}
          </div>
        )}
      </div>
      {failure && <ErrorNotice failure={failure} what="Not created" />}
      {pending && <p role="status">Creating…</p>}
      <div className="actions">
        <button type="submit" className="primary" disabled={pending}>
          {pending ? 'Creating…' : info.sdk ? 'Create SDK key' : 'Create token'}
        </button>
      </div>
    </form>
  );
}
