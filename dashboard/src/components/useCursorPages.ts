// Pages of a list paged by cursor (the audit log and a flag's history:
// `beforeId` in, `next` out; the flag list: `after` in, `next` out),
// loaded one after another on request ("load more", or the end of the
// list scrolled into view) and started over when the request changes or
// on reload.
import { useCallback, useEffect, useRef, useState } from 'react';

import type { ApiFailure } from '../api/errors';

/**
 * One page: its items, the cursor of the next page (`null` after the last)
 * and what it says of the whole list (such as a count), if anything.
 */
export interface CursorPage<T, C = number, S = never> {
  items: T[];
  next: C | null;
  summary?: S;
}

/**
 * Loads the page at `cursor` (the first page for `null`); `summary` is the
 * latest page's, for a page that says less than the first one did.
 */
export type LoadPage<T, C = number, S = never> = (
  cursor: C | null,
  summary: S | null,
) => Promise<CursorPage<T, C, S> | { failure: ApiFailure }>;

export interface CursorPages<T, S = never> {
  items: T[];
  /** The latest page's summary; `null` until the first page is in. */
  summary: S | null;
  /** Whether the first page has not arrived, or another page is loading. */
  loading: boolean;
  /** Whether every page is loaded. */
  complete: boolean;
  failure: ApiFailure | null;
  /** Loads the next page, unless one is loading or none is left. */
  loadMore: () => void;
  /** Tries the failed page again. */
  retry: () => void;
  /** Loads the list again from its first page. */
  reload: () => void;
}

interface State<T, C, S> {
  /** The request these pages answer. */
  key: string;
  items: T[];
  next: C | null;
  summary: S | null;
  complete: boolean;
  loading: boolean;
  failure: ApiFailure | null;
}

/**
 * The pages of the list `key` names (any text that changes when the
 * request does); `load` fetches one page of it.
 */
export function useCursorPages<T, C = number, S = never>(key: string, load: LoadPage<T, C, S>): CursorPages<T, S> {
  const [state, setState] = useState<State<T, C, S> | null>(null);
  const [reloads, setReloads] = useState(0);
  const requestKey = `${reloads}\n${key}`;
  const latest = useRef(requestKey);
  const loader = useRef(load);
  useEffect(() => {
    loader.current = load;
  }, [load]);

  const fetchPage = useCallback((pageKey: string, cursor: C | null, prior: T[], summary: S | null) => {
    void loader.current(cursor, summary).then((page) => {
      // An answer for a request no longer shown is dropped.
      if (latest.current !== pageKey) return;
      if ('failure' in page) {
        setState({ key: pageKey, items: prior, next: cursor, summary, complete: false, loading: false, failure: page.failure });
      } else {
        setState({
          key: pageKey,
          items: [...prior, ...page.items],
          next: page.next,
          summary: page.summary ?? summary,
          complete: page.next === null,
          loading: false,
          failure: null,
        });
      }
    });
  }, []);

  useEffect(() => {
    latest.current = requestKey;
    fetchPage(requestKey, null, [], null);
  }, [requestKey, fetchPage]);

  const current = state?.key === requestKey ? state : null;
  const resume = useCallback(
    (page: State<T, C, S>) => {
      setState({ ...page, loading: true, failure: null });
      fetchPage(page.key, page.next, page.items, page.summary);
    },
    [fetchPage],
  );
  const loadMore = useCallback(() => {
    if (current && !current.loading && !current.complete && !current.failure) resume(current);
  }, [current, resume]);
  const retry = useCallback(() => {
    if (current?.failure) resume(current);
  }, [current, resume]);
  const reload = useCallback(() => { setReloads((n) => n + 1); }, []);

  return {
    items: current?.items ?? [],
    summary: current?.summary ?? null,
    loading: current === null || current.loading,
    complete: current?.complete ?? false,
    failure: current?.failure ?? null,
    loadMore,
    retry,
    reload,
  };
}
