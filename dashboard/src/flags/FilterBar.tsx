// The flag list's search, filters and sort, written to the URL.
import { useEffect, useId, useState } from 'react';

import { type ApiFailure, describe } from '../api/errors';
import { type ListParams, SORTS, STATES, type FlagSort, type StateFilter } from './listParams';

/** How long typing pauses before the search runs, in milliseconds. */
const SEARCH_DELAY_MS = 250;

const SORT_LABELS: Record<FlagSort, string> = {
  KEY_ASC: 'Key, A to Z',
  KEY_DESC: 'Key, Z to A',
  UPDATED_DESC: 'Recently updated first',
  UPDATED_ASC: 'Least recently updated first',
};

/** The tag filter's options: the flag set's tags, once loaded. */
export interface TagOptions {
  tags: string[] | null;
  failure: ApiFailure | null;
}

export function FilterBar({ params, tags, onChange }: { params: ListParams; tags: TagOptions; onChange: (next: ListParams) => void }) {
  const [text, setText] = useState(params.search);
  const [shown, setShown] = useState(params.search);
  const tagFailureId = useId();
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
        <select
          value={params.tag}
          aria-describedby={tags.failure ? tagFailureId : undefined}
          onChange={(e) => { onChange({ ...params, tag: e.target.value }); }}
        >
          <option value="">Any</option>
          {tagChoices(tags.tags, params.tag).map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </label>
      <label>
        Sort
        <select value={params.sort} onChange={(e) => { onChange({ ...params, sort: e.target.value as FlagSort }); }}>
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
      {tags.failure && (
        <p id={tagFailureId} className="help" role="alert">
          The tags could not be loaded: {describe(tags.failure)}
        </p>
      )}
    </form>
  );
}

/** The tags to choose from; a tag asked for that no flag has (from the
 * URL) is kept, so the filter shows what is applied. */
function tagChoices(tags: string[] | null, selected: string): string[] {
  const choices = tags ?? [];
  return selected === '' || choices.includes(selected) ? choices : [selected, ...choices];
}
