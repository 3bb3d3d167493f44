// The audit log's filters: actor, flag set, flag and a time range, applied
// together (they go into the URL), or cleared.
import { type SyntheticEvent, useId, useState } from 'react';
import { useQuery } from 'urql';

import { FlagSetsQuery } from '../flags/operations';
import {
  type AuditParams,
  NO_FILTERS,
  fromLocalInput,
  rangeProblem,
  toLocalInput,
} from './auditParams';

interface Draft {
  actor: string;
  flagSet: string;
  flag: string;
  /** `datetime-local` values, in local time. */
  since: string;
  until: string;
}

export function AuditFilters({ params, onApply }: { params: AuditParams; onApply: (next: AuditParams) => void }) {
  const [draft, setDraft] = useState<Draft>(() => ({
    ...params,
    since: toLocalInput(params.since),
    until: toLocalInput(params.until),
  }));
  const [problem, setProblem] = useState<string | null>(null);
  const [{ data }] = useQuery({ query: FlagSetsQuery });
  const problemId = useId();
  const flagSets = data?.flagSets.map((s) => s.key) ?? [];
  if (draft.flagSet !== '' && !flagSets.includes(draft.flagSet)) flagSets.push(draft.flagSet);

  const set = (field: keyof Draft) => (event: { target: { value: string } }) => {
    setDraft((d) => ({ ...d, [field]: event.target.value }));
  };

  const apply = (event: SyntheticEvent) => {
    event.preventDefault();
    const since = fromLocalInput(draft.since);
    const until = fromLocalInput(draft.until);
    if (since === null || until === null) {
      setProblem(`“${since === null ? 'Since' : 'Until'}” is not a complete date and time`);
      return;
    }
    const next = { actor: draft.actor.trim(), flagSet: draft.flagSet, flag: draft.flag.trim(), since, until };
    const range = rangeProblem(next);
    setProblem(range);
    if (!range) onApply(next);
  };

  const clear = () => {
    setDraft({ ...NO_FILTERS });
    setProblem(null);
    onApply(NO_FILTERS);
  };

  return (
    <form className="filters" aria-label="Audit log filters" onSubmit={apply}>
      <label>
        Actor
        <input type="text" value={draft.actor} onChange={set('actor')} placeholder="any" />
      </label>
      <label>
        Flag set
        <select value={draft.flagSet} onChange={set('flagSet')}>
          <option value="">any</option>
          {flagSets.map((key) => (
            <option key={key} value={key}>
              {key}
            </option>
          ))}
        </select>
      </label>
      <label>
        Flag
        <input type="text" value={draft.flag} onChange={set('flag')} placeholder="any" />
      </label>
      <label>
        Since
        <input
          type="datetime-local"
          step={1}
          value={draft.since}
          onChange={set('since')}
          aria-invalid={problem !== null}
          aria-describedby={problem ? problemId : undefined}
        />
      </label>
      <label>
        Until
        <input
          type="datetime-local"
          step={1}
          value={draft.until}
          onChange={set('until')}
          aria-invalid={problem !== null}
          aria-describedby={problem ? problemId : undefined}
        />
      </label>
      <button type="submit">Apply filters</button>
      <button type="button" onClick={clear}>
        Clear
      </button>
      {problem && (
        <p id={problemId} className="error-notice" role="alert">
          {problem}
        </p>
      )}
      <p className="help">
        Actor and flag match exactly. Times are in your time zone; a change at “Since” is included, one at “Until” is
        not.
      </p>
    </form>
  );
}
