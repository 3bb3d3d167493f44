// `/flags/:flagSet/:key/history`: the flag's audit timeline, newest first
// and paged, each change with who made it, when, and a readable diff, and
// a rollback to any version written through Ensign.
import { useCallback, useMemo } from 'react';
import { useClient, useQuery } from 'urql';
import { Link, useParams } from 'wouter';

import { failureOf } from '../api/errors';
import type { AuditEvent } from '../audit/eventText';
import { ErrorNotice } from '../components/ErrorNotice';
import { LoadMore } from '../components/LoadMore';
import { type LoadPage, useCursorPages } from '../components/useCursorPages';
import { FlagTabs } from '../flags/FlagTabs';
import { LiveNotice } from '../flags/LiveNotice';
import { FlagOverviewQuery } from '../flags/operations';
import { useOthersChanges } from '../flags/useOthersChanges';
import { useWriteDenial } from '../flags/useWriteDenial';
import { decodeParam, flagSetPath } from '../routing';
import { HistoryEntry } from './HistoryEntry';
import { FlagHistoryQuery } from './operations';
import type { CurrentFlag } from './rollback';
import './history.css';

/** History entries per page (the server allows 1 to 100). */
export const HISTORY_PAGE_SIZE = 20;

export function FlagHistory() {
  const params = useParams<{ flagSet: string; key: string }>();
  const flagSet = decodeParam(params.flagSet);
  const key = decodeParam(params.key);
  return <History key={`${flagSet}\n${key}`} flagSet={flagSet} flagKey={key} />;
}

function History({ flagSet, flagKey }: { flagSet: string; flagKey: string }) {
  const client = useClient();
  const [flagResult] = useQuery({ query: FlagOverviewQuery, variables: { flagSet, key: flagKey } });
  const writeDenial = useWriteDenial(flagSet);
  const changes = useOthersChanges(flagSet, flagKey);

  const load = useCallback<LoadPage<AuditEvent>>(
    async (beforeId) => {
      const result = await client
        .query(
          FlagHistoryQuery,
          { flagSet, key: flagKey, first: HISTORY_PAGE_SIZE, beforeId },
          { requestPolicy: 'network-only' },
        )
        .toPromise();
      if (result.data) {
        const { items, next } = result.data.flag.history;
        return { items, next: next ?? null };
      }
      return {
        failure: result.error
          ? failureOf(result.error)
          : { message: 'the server sent no history', code: 'EMPTY_ANSWER' },
      };
    },
    [client, flagSet, flagKey],
  );
  const pages = useCursorPages(`${flagSet}\n${flagKey}`, load);

  const flag = flagResult.data?.flag;
  const current = useMemo<CurrentFlag | null>(
    () => (flag ? { version: flag.version, definition: flag.definition } : null),
    [flag],
  );

  return (
    <>
      <p>
        <Link href={flagSetPath(flagSet)}>← Flags of {flagSet}</Link>
      </p>
      <div className="screen-head">
        <h1>{flagKey}</h1>
        {flag && <span className="count">version {flag.version}</span>}
      </div>
      <FlagTabs flagSet={flagSet} flagKey={flagKey} />
      <h2>History</h2>
      <LiveNotice changes={changes} onRefresh={pages.reload} subject="this flag" />
      {flagResult.error && !flag && (
        <ErrorNotice failure={failureOf(flagResult.error)} what="The flag could not be loaded" />
      )}
      {pages.items.length === 0 && !pages.loading && !pages.failure ? (
        <p className="empty">No recorded changes.</p>
      ) : (
        <ol className="timeline" aria-label={`Changes to ${flagKey}, newest first`}>
          {pages.items.map((event) => (
            <HistoryEntry
              key={event.id}
              flagSet={flagSet}
              flagKey={flagKey}
              event={event}
              current={current}
              writeDenial={writeDenial}
              onRolledBack={pages.reload}
            />
          ))}
        </ol>
      )}
      <LoadMore pages={pages} noun="changes" />
    </>
  );
}
