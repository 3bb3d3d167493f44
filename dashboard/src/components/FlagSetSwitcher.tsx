// Chooses the flag set a screen shows: the same screen of another flag set.
import { useQuery } from 'urql';
import { useLocation } from 'wouter';

import { failureOf } from '../api/errors';
import { FlagSetsQuery } from '../flags/operations';
import { ErrorNotice } from './ErrorNotice';

export function FlagSetSwitcher({ flagSet, pathOf }: { flagSet: string; pathOf: (flagSet: string) => string }) {
  const [{ data, error }] = useQuery({ query: FlagSetsQuery });
  const [, navigate] = useLocation();
  if (error) return <ErrorNotice failure={failureOf(error)} what="The flag sets could not be loaded" />;
  const sets = data?.flagSets ?? [];
  const known = sets.some((s) => s.key === flagSet);
  return (
    <label className="flag-set-switcher">
      Flag set
      <select value={flagSet} onChange={(e) => { navigate(pathOf(e.target.value)); }} disabled={!data}>
        {!known && <option value={flagSet}>{flagSet}</option>}
        {sets.map((s) => (
          <option key={s.key} value={s.key}>
            {s.name && s.name !== s.key ? `${s.name} (${s.key})` : s.key}
            {s.archived ? ' — archived' : ''}
            {s.readOnly ? ' — read-only' : ''}
          </option>
        ))}
      </select>
    </label>
  );
}
