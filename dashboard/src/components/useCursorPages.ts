// Pages of a list paged by id, newest first (the audit log and a flag's
// history: `beforeId` in, `next` out), loaded one after another on
// request ("load more") and started over when the request changes or on
// reload.
import { useCallback, useEffect, useRef, useState } from 'react';

import type { ApiFailure } from '../api/errors';

/** One page: its items and the `beforeId` of the next page, if any. */
export interface CursorPage<T> {
  items: T[];
  next: number | null;
}

/** Loads the page before `beforeId` (the first page for `null`). */
export type LoadPage<T> = (beforeId: number | null) => Promise<CursorPage<T> | { failure: ApiFailure }>;

export interface CursorPages<T> {
  items: T[];
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

interface State<T> {
  /** The request these pages answer. */
  key: string;
  items: T[];
  next: number | null;
  complete: boolean;
  loading: boolean;
  failure: ApiFailure | null;
}

/**
 * The pages of the list `key` names (any text that changes when the
 * request does); `load` fetches one page of it.
 */
export function useCursorPages<T>(key: string, load: LoadPage<T>): CursorPages<T> {
  const [state, setState] = useState<State<T> | null>(null);
  const [reloads, setReloads] = useState(0);
  const requestKey = `${reloads}\n${key}`;
  const latest = useRef(requestKey);
  const loader = useRef(load);
  useEffect(() => {
    loader.current = load;
  }, [load]);

  const fetchPage = useCallback((pageKey: string, beforeId: number | null, prior: T[]) => {
    void loader.current(beforeId).then((page) => {
      // An answer for a request no longer shown is dropped.
      if (latest.current !== pageKey) return;
      if ('failure' in page) {
        setState({ key: pageKey, items: prior, next: beforeId, complete: false, loading: false, failure: page.failure });
      } else {
        setState({
          key: pageKey,
          items: [...prior, ...page.items],
          next: page.next,
          complete: page.next === null,
          loading: false,
          failure: null,
        });
      }
    });
  }, []);

  useEffect(() => {
    latest.current = requestKey;
    fetchPage(requestKey, null, []);
  }, [requestKey, fetchPage]);

  const current = state?.key === requestKey ? state : null;
  const resume = useCallback(
    (page: State<T>) => {
      setState({ ...page, loading: true, failure: null });
      fetchPage(page.key, page.next, page.items);
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
    loading: current === null || current.loading,
    complete: current?.complete ?? false,
    failure: current?.failure ?? null,
    loadMore,
    retry,
    reload,
  };
}
