// The flag list's requests: the variables of each page, and the counts
// read from the answers.
import { expect, test } from 'vitest';

import type { FlagListQuery as FlagListData } from '../gql/graphql';
import { DEFAULT_PARAMS } from './listParams';
import { PAGE_SIZE, countsAfter, listVariables } from './listQuery';

test('only the first page of a filtered list asks for the unfiltered count', () => {
  const searched = { ...DEFAULT_PARAMS, search: 'checkout' };
  expect(listVariables('default', searched, null)).toMatchObject({ search: 'checkout', after: null, first: PAGE_SIZE, countAll: true });
  expect(listVariables('default', searched, 'c2')).toMatchObject({ after: 'c2', countAll: false });
  expect(listVariables('default', DEFAULT_PARAMS, null)).toMatchObject({ search: null, tag: null, countAll: false });
  // Showing archived flags widens the list: nothing to count "of".
  expect(listVariables('default', { ...DEFAULT_PARAMS, archived: true }, null)).toMatchObject({ includeArchived: true, countAll: false });
});

test('later pages keep the unfiltered count the first page read', () => {
  const answer = (totalCount: number, unfiltered?: number): FlagListData => ({
    flags: { items: [], next: null, totalCount },
    ...(unfiltered === undefined ? {} : { unfiltered: { totalCount: unfiltered } }),
  });
  const first = countsAfter(answer(12, 5000), null);
  expect(first).toEqual({ matching: 12, of: 5000 });
  expect(countsAfter(answer(11), first)).toEqual({ matching: 11, of: 5000 });
  expect(countsAfter(answer(7), null)).toEqual({ matching: 7, of: null });
});
