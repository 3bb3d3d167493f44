// The flag list's search, filters and sort, kept in the URL's query string
// (`?q=…&state=…&tag=…&sort=…&archived=1`) so that a view can be shared
// and survives a reload. Defaults are left out of the URL.

export type StateFilter = 'ENABLED' | 'DISABLED';
export type FlagSort = 'KEY_ASC' | 'KEY_DESC' | 'UPDATED_DESC' | 'UPDATED_ASC';

export interface ListParams {
  /** Text the flag keys are searched for; empty for all. */
  search: string;
  state: StateFilter | null;
  /** A tag the flags must have; empty for any. */
  tag: string;
  sort: FlagSort;
  /** Whether archived flags are listed too. */
  archived: boolean;
}

export const STATES: readonly StateFilter[] = ['ENABLED', 'DISABLED'];
export const SORTS: readonly FlagSort[] = ['KEY_ASC', 'KEY_DESC', 'UPDATED_DESC', 'UPDATED_ASC'];
export const DEFAULT_PARAMS: ListParams = {
  search: '',
  state: null,
  tag: '',
  sort: 'KEY_ASC',
  archived: false,
};

export interface ParsedParams {
  params: ListParams;
  /** What in the URL was not understood and so not applied. */
  problems: string[];
}

const isState = (value: string): value is StateFilter => (STATES as readonly string[]).includes(value);
const isSort = (value: string): value is FlagSort => (SORTS as readonly string[]).includes(value);

/** The parameters in a query string (with or without its `?`). */
export function parseListParams(search: string): ParsedParams {
  const query = new URLSearchParams(search);
  const params = { ...DEFAULT_PARAMS };
  const problems: string[] = [];
  params.search = query.get('q') ?? '';
  params.tag = query.get('tag') ?? '';
  const state = query.get('state');
  if (state !== null) {
    if (isState(state)) params.state = state;
    else problems.push(`state “${state}” is not one of ${STATES.join(', ')}`);
  }
  const sort = query.get('sort');
  if (sort !== null) {
    if (isSort(sort)) params.sort = sort;
    else problems.push(`sort “${sort}” is not one of ${SORTS.join(', ')}`);
  }
  const archived = query.get('archived');
  if (archived !== null) {
    if (archived === '1') params.archived = true;
    else if (archived !== '0') problems.push(`archived “${archived}” is not 1 or 0`);
  }
  return { params, problems };
}

/** The query string of `params` (`?…`, or empty when all are defaults). */
export function formatListParams(params: ListParams): string {
  const query = new URLSearchParams();
  if (params.search !== '') query.set('q', params.search);
  if (params.state !== null) query.set('state', params.state);
  if (params.tag !== '') query.set('tag', params.tag);
  if (params.sort !== DEFAULT_PARAMS.sort) query.set('sort', params.sort);
  if (params.archived) query.set('archived', '1');
  const text = query.toString();
  return text === '' ? '' : `?${text}`;
}
