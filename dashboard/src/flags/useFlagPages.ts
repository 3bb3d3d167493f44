// The flag list's data: pages of flags loaded one after another as the
// list is scrolled, started over when the flag set or the parameters
// change, or on reload.
import { useCallback, useEffect, useRef, useState } from 'react';
import { useClient } from 'urql';

import { type ApiFailure, failureOf } from '../api/errors';
import type { FlagListQuery as FlagListData, FlagListQueryVariables } from '../gql/graphql';
import type { ListParams } from './listParams';
import { FlagListQuery } from './operations';

export type FlagRow = FlagListData['flags']['items'][number];

/** Flags per page (the server allows 1 to 100). */
export const PAGE_SIZE = 100;

/**
 * The `flags` query's variables for a page. The search text is sent; state,
 * tag and sort join it here once the server's `flags` query takes them.
 */
export function listVariables(flagSet: string, params: ListParams, after: string | null): FlagListQueryVariables {
  return {
    flagSet,
    search: params.search === '' ? null : params.search,
    after,
    first: PAGE_SIZE,
    includeArchived: params.archived,
  };
}

interface Pages {
  /** The request these pages answer. */
  key: string;
  items: FlagRow[];
  /** The cursor of the next page. */
  next: string | null;
  complete: boolean;
  loading: boolean;
  failure: ApiFailure | null;
}

export interface FlagPages {
  items: FlagRow[];
  loading: boolean;
  complete: boolean;
  failure: ApiFailure | null;
  /** Loads the next page, unless one is loading or none is left. */
  loadMore: () => void;
  /** Tries the failed page again. */
  retry: () => void;
  /** Loads the list again from its first page. */
  reload: () => void;
}

export function useFlagPages(flagSet: string, params: ListParams): FlagPages {
  const client = useClient();
  const [pages, setPages] = useState<Pages | null>(null);
  const [reloads, setReloads] = useState(0);
  const key = JSON.stringify([reloads, listVariables(flagSet, params, null)]);
  const latest = useRef(key);

  const fetchPage = useCallback(
    (pageKey: string, after: string | null, prior: FlagRow[]) => {
      void client
        .query(FlagListQuery, listVariables(flagSet, params, after), { requestPolicy: 'network-only' })
        .toPromise()
        .then((result) => {
          // An answer for parameters no longer shown is dropped.
          if (latest.current !== pageKey) return;
          if (result.data) {
            const { items, next } = result.data.flags;
            setPages({ key: pageKey, items: [...prior, ...items], next: next ?? null, complete: next == null, loading: false, failure: null });
          } else {
            const failure = result.error
              ? failureOf(result.error)
              : { message: 'the server sent no flags', code: 'EMPTY_ANSWER' };
            setPages({ key: pageKey, items: prior, next: after, complete: false, loading: false, failure });
          }
        });
    },
    [client, flagSet, params],
  );

  useEffect(() => {
    latest.current = key;
    fetchPage(key, null, []);
  }, [key, fetchPage]);

  const current = pages?.key === key ? pages : null;
  const resume = useCallback(
    (page: Pages) => {
      setPages({ ...page, loading: true, failure: null });
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
