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

/** Whether `params` narrow the list (the archived switch widens it instead). */
export function filtersApplied(params: ListParams): boolean {
  return params.search !== '' || params.state !== null || params.tag !== '';
}

/**
 * The `flags` query's variables for a page: the search, filters and sort,
 * and on the first page of a filtered list, the count of what is filtered.
 */
export function listVariables(flagSet: string, params: ListParams, after: string | null): FlagListQueryVariables {
  return {
    flagSet,
    search: params.search === '' ? null : params.search,
    state: params.state,
    tag: params.tag === '' ? null : params.tag,
    sort: params.sort,
    after,
    first: PAGE_SIZE,
    includeArchived: params.archived,
    countAll: after === null && filtersApplied(params),
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
  counts: FlagCounts | null;
}

/** How many flags there are, as of the latest page. */
export interface FlagCounts {
  /** The flags matching the search and filters, on all pages. */
  matching: number;
  /** The flags the filters choose from; `null` when no filter is applied. */
  of: number | null;
}

export interface FlagPages {
  items: FlagRow[];
  /** `null` until the first page is in. */
  counts: FlagCounts | null;
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
    (pageKey: string, after: string | null, prior: FlagRow[], counts: FlagCounts | null) => {
      void client
        .query(FlagListQuery, listVariables(flagSet, params, after), { requestPolicy: 'network-only' })
        .toPromise()
        .then((result) => {
          // An answer for parameters no longer shown is dropped.
          if (latest.current !== pageKey) return;
          if (result.data) {
            const { items, next, totalCount } = result.data.flags;
            const of = result.data.unfiltered?.totalCount ?? counts?.of ?? null;
            setPages({
              key: pageKey,
              items: [...prior, ...items],
              next: next ?? null,
              complete: next == null,
              loading: false,
              failure: null,
              counts: { matching: totalCount, of },
            });
          } else {
            const failure = result.error
              ? failureOf(result.error)
              : { message: 'the server sent no flags', code: 'EMPTY_ANSWER' };
            setPages({ key: pageKey, items: prior, next: after, complete: false, loading: false, failure, counts });
          }
        });
    },
    [client, flagSet, params],
  );

  useEffect(() => {
    latest.current = key;
    fetchPage(key, null, [], null);
  }, [key, fetchPage]);

  const current = pages?.key === key ? pages : null;
  const resume = useCallback(
    (page: Pages) => {
      setPages({ ...page, loading: true, failure: null });
      fetchPage(page.key, page.next, page.items, page.counts);
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
    counts: current?.counts ?? null,
    loading: current === null || current.loading,
    complete: current?.complete ?? false,
    failure: current?.failure ?? null,
    loadMore,
    retry,
    reload,
  };
}
