// What the flag list asks the server for: a page of the `flags` query for
// the list's parameters, and the counts it reads from the answers.
import type { CursorPages } from '../components/useCursorPages';
import type { FlagListQuery as FlagListData, FlagListQueryVariables } from '../gql/graphql';
import type { ListParams } from './listParams';

export type FlagRow = FlagListData['flags']['items'][number];

/** Flags per page (the server allows 1 to 100). */
export const PAGE_SIZE = 100;

/** The list's pages, with the counts of the latest. */
export type FlagPages = CursorPages<FlagRow, FlagCounts>;

/** How many flags there are, as of the latest page. */
export interface FlagCounts {
  /** The flags matching the search and filters, on all pages. */
  matching: number;
  /** The flags the filters choose from; `null` when no filter is applied. */
  of: number | null;
}

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

/**
 * The counts after a page: its `totalCount`, and what the filters choose
 * from, which only the first page of a filtered list asks for.
 */
export function countsAfter(answer: FlagListData, prior: FlagCounts | null): FlagCounts {
  return { matching: answer.flags.totalCount, of: answer.unfiltered?.totalCount ?? prior?.of ?? null };
}
