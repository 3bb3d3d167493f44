// `/flags/:flagSet`: the flag set's flags, searchable, with live changes.
import { useCallback, useMemo } from 'react';
import { useClient, useQuery } from 'urql';
import { useLocation, useParams, useSearch } from 'wouter';

import { failureOf } from '../api/errors';
import { ErrorNotice } from '../components/ErrorNotice';
import { FlagSetSwitcher } from '../components/FlagSetSwitcher';
import { type LoadPage, useCursorPages } from '../components/useCursorPages';
import { decodeParam, flagSetPath } from '../routing';
import { FilterBar } from './FilterBar';
import { FlagCount, numberText } from './FlagCount';
import { FlagList } from './FlagList';
import { LiveNotice } from './LiveNotice';
import { NewFlagLink } from './NewFlagLink';
import { type ListParams, formatListParams, parseListParams } from './listParams';
import { type FlagCounts, type FlagRow, countsAfter, listVariables } from './listQuery';
import { FlagListQuery, FlagTagsQuery } from './operations';
import { useOthersChanges } from './useOthersChanges';
import { useWriteDenial } from './useWriteDenial';

const TAGS_CONTEXT = { additionalTypenames: ['Flag'] };

export function FlagsScreen() {
  const flagSet = decodeParam(useParams<{ flagSet: string }>().flagSet);
  // A new flag set starts afresh: its own list, live changes and search box.
  return <FlagSetFlags key={flagSet} flagSet={flagSet} />;
}

function FlagSetFlags({ flagSet }: { flagSet: string }) {
  const search = useSearch();
  const [, navigate] = useLocation();
  const { params, problems } = useMemo(() => parseListParams(search), [search]);
  const update = useCallback(
    (next: ListParams) => { navigate(flagSetPath(flagSet, formatListParams(next)), { replace: true }); },
    [flagSet, navigate],
  );
  const client = useClient();
  const load = useCallback<LoadPage<FlagRow, string, FlagCounts>>(
    async (after, counts) => {
      const result = await client
        .query(FlagListQuery, listVariables(flagSet, params, after), { requestPolicy: 'network-only' })
        .toPromise();
      if (result.data) {
        const { items, next } = result.data.flags;
        return { items, next: next ?? null, summary: countsAfter(result.data, counts) };
      }
      return {
        failure: result.error ? failureOf(result.error) : { message: 'the server sent no flags', code: 'EMPTY_ANSWER' },
      };
    },
    [client, flagSet, params],
  );
  const pages = useCursorPages(JSON.stringify(listVariables(flagSet, params, null)), load);
  // The tags are plain strings, which the cache cannot tie to a flag: the
  // answer is dropped whenever a mutation returns a flag (a created flag
  // may bring new tags).
  const [tags, refetchTags] = useQuery({
    query: FlagTagsQuery,
    variables: { flagSet, includeArchived: params.archived },
    context: TAGS_CONTEXT,
  });
  // A change to the flags may add or drop a tag: the options are read again
  // with the list.
  const { reload: reloadPages } = pages;
  const reload = useCallback(() => {
    reloadPages();
    refetchTags({ requestPolicy: 'network-only' });
  }, [reloadPages, refetchTags]);
  const changes = useOthersChanges(flagSet);
  const writeDenial = useWriteDenial(flagSet);

  return (
    <>
      <div className="screen-head">
        <h1>Flags</h1>
        <FlagSetSwitcher flagSet={flagSet} pathOf={flagSetPath} />
        <NewFlagLink flagSet={flagSet} denial={writeDenial} />
      </div>
      <FilterBar
        params={params}
        tags={{ tags: tags.data?.flagTags ?? null, failure: tags.error ? failureOf(tags.error) : null }}
        onChange={update}
      />
      {problems.length > 0 && (
        <p className="notice" role="status">
          Not applied from the address: {problems.join('; ')}.
        </p>
      )}
      <LiveNotice changes={changes} onRefresh={reload} subject={`flag set ${flagSet}`} />
      {pages.failure && pages.items.length === 0 ? (
        <>
          <ErrorNotice failure={pages.failure} what="The flags could not be loaded" />
          <button type="button" onClick={pages.retry}>
            Try again
          </button>
        </>
      ) : (
        <>
          <FlagCount counts={pages.summary} />
          <FlagList flagSet={flagSet} pages={pages} writeDenial={writeDenial} onChanged={reload} />
        </>
      )}
      <p className="count" role="status">
        {numberText(pages.items.length)} flag{pages.items.length === 1 ? '' : 's'} loaded{pages.complete ? '' : ', more below'}
      </p>
    </>
  );
}
