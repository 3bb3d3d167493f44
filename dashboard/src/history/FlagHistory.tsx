// The flag screen's history tab (`/flags/:flagSet/:key/history`): the
// flag's audit timeline, newest first and paged, each change with who made
// it, when, and a readable diff, and a rollback to any version written
// through Ensign.
import { useCallback, useMemo } from 'react';
import { useClient } from 'urql';

import { failureOf } from '../api/errors';
import type { AuditEvent } from '../audit/eventText';
import { LoadMore } from '../components/LoadMore';
import { type LoadPage, useCursorPages } from '../components/useCursorPages';
import type { ShownFlag } from '../flags/FlagScreen';
import { HistoryEntry } from './HistoryEntry';
import { FlagHistoryQuery } from './operations';
import type { CurrentFlag } from './rollback';
import './history.css';

/** History entries per page (the server allows 1 to 100). */
export const HISTORY_PAGE_SIZE = 20;

/** `refreshes` counts the user's refreshes of the flag screen; each loads the timeline again. */
export function FlagHistory({
  flagSet,
  flag,
  writeDenial,
  refreshes,
}: {
  flagSet: string;
  flag: ShownFlag;
  writeDenial: string | null;
  refreshes: number;
}) {
  const client = useClient();
  const flagKey = flag.key;

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
  const pages = useCursorPages(`${refreshes}\n${flagSet}\n${flagKey}`, load);

  const current = useMemo<CurrentFlag>(
    () => ({ version: flag.version, definition: flag.definition }),
    [flag.version, flag.definition],
  );

  return (
    <>
      <h2>History</h2>
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
      <LoadMore pages={pages} noun="changes" one="change" />
    </>
  );
}
