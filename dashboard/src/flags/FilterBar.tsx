// The flag list's search, filters and sort, written to the URL.
import { useEffect, useState } from 'react';

import { type ListParams, SORTS, STATES, type FlagSort, type StateFilter } from './listParams';

/** How long typing pauses before the search runs, in milliseconds. */
const SEARCH_DELAY_MS = 250;

const SORT_LABELS: Record<FlagSort, string> = {
  KEY_ASC: 'Key, A to Z',
  KEY_DESC: 'Key, Z to A',
  UPDATED_DESC: 'Recently updated first',
  UPDATED_ASC: 'Least recently updated first',
};

export function FilterBar({ params, onChange }: { params: ListParams; onChange: (next: ListParams) => void }) {
  const [text, setText] = useState(params.search);
  const [shown, setShown] = useState(params.search);
  // The URL changed under the box (back, a link): show its search.
  if (params.search !== shown) {
    setShown(params.search);
    setText(params.search);
  }
  useEffect(() => {
    if (text === params.search) return;
    const timer = setTimeout(() => { onChange({ ...params, search: text }); }, SEARCH_DELAY_MS);
    return () => { clearTimeout(timer); };
  }, [text, params, onChange]);

  return (
    <form className="filters" role="search" onSubmit={(e) => { e.preventDefault(); onChange({ ...params, search: text }); }}>
      <label>
        Search flags
        <input type="search" value={text} onChange={(e) => { setText(e.target.value); }} placeholder="Key contains…" />
      </label>
      <label>
        State
        <select
          value={params.state ?? ''}
          disabled
          aria-describedby="server-filters"
          onChange={(e) => { onChange({ ...params, state: (e.target.value || null) as StateFilter | null }); }}
        >
          <option value="">Any</option>
          {STATES.map((s) => (
            <option key={s} value={s}>
              {s === 'ENABLED' ? 'Enabled' : 'Disabled'}
            </option>
          ))}
        </select>
      </label>
      <label>
        Tag
        <input type="text" value={params.tag} disabled aria-describedby="server-filters" onChange={(e) => { onChange({ ...params, tag: e.target.value }); }} />
      </label>
      <label>
        Sort
        <select value={params.sort} disabled aria-describedby="server-filters" onChange={(e) => { onChange({ ...params, sort: e.target.value as FlagSort }); }}>
          {SORTS.map((s) => (
            <option key={s} value={s}>
              {SORT_LABELS[s]}
            </option>
          ))}
        </select>
      </label>
      <label className="inline">
        <input type="checkbox" checked={params.archived} onChange={(e) => { onChange({ ...params, archived: e.target.checked }); }} />
        Show archived flags
      </label>
      <p id="server-filters" className="help">
        This server filters by key only: the state, tag and sort filters need its newer flag-list query.
      </p>
    </form>
  );
}
