// `/audit`: every audited change across flag sets, newest first and
// paged, filtered by actor, flag set, flag and time (kept in the URL);
// each row links to its flag's history and opens onto the diff.
import { useCallback, useMemo } from 'react';
import { useClient } from 'urql';
import { useLocation, useSearch } from 'wouter';

import { failureOf } from '../api/errors';
import { LoadMore } from '../components/LoadMore';
import { type LoadPage, useCursorPages } from '../components/useCursorPages';
import { AuditFilters } from './AuditFilters';
import { AuditRow } from './AuditRow';
import { AUDIT_PATH } from './path';
import { type AuditParams, auditFilter, formatAuditParams, parseAuditParams } from './auditParams';
import type { AuditEvent } from './eventText';
import { AuditLogQuery } from './operations';
import './audit.css';

/** Events per page (the server allows 1 to 100). */
export const AUDIT_PAGE_SIZE = 25;

export function AuditLog() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const client = useClient();
  const { params, problems } = useMemo(() => parseAuditParams(search), [search]);
  const filterKey = formatAuditParams(params);
  const apply = useCallback(
    (next: AuditParams) => { navigate(AUDIT_PATH + formatAuditParams(next)); },
    [navigate],
  );

  const load = useCallback<LoadPage<AuditEvent>>(
    async (beforeId) => {
      const result = await client
        .query(AuditLogQuery, { filter: auditFilter(params, beforeId, AUDIT_PAGE_SIZE) }, { requestPolicy: 'network-only' })
        .toPromise();
      if (result.data) {
        const { items, next } = result.data.audit;
        return { items, next: next ?? null };
      }
      return {
        failure: result.error
          ? failureOf(result.error)
          : { message: 'the server sent no audit events', code: 'EMPTY_ANSWER' },
      };
    },
    [client, params],
  );
  const pages = useCursorPages(filterKey, load);

  return (
    <>
      <h1>Audit log</h1>
      {/* The form starts afresh from the URL whenever the URL's filters change. */}
      <AuditFilters key={filterKey} params={params} onApply={apply} />
      {problems.length > 0 && (
        <p className="notice" role="status">
          Not applied from the address: {problems.join('; ')}.
        </p>
      )}
      {pages.items.length === 0 && !pages.loading && !pages.failure ? (
        <p className="empty">No changes match.</p>
      ) : (
        <table className="audit-table">
          <caption className="visually-hidden">Changes, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Subject</th>
              <th scope="col">Version</th>
              <th scope="col">Request id</th>
              <th scope="col">Change</th>
            </tr>
          </thead>
          {pages.items.map((event) => (
            <AuditRow key={event.id} event={event} />
          ))}
        </table>
      )}
      <LoadMore pages={pages} noun="changes" one="change" />
    </>
  );
}
