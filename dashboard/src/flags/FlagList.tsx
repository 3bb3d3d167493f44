// The flag list: a virtualized table (only the rows in view, plus a few,
// are in the DOM) that loads the next page as its end scrolls into view.
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef } from 'react';
import { Link } from 'wouter';
import { useMutation } from 'urql';

import { describe } from '../api/errors';
import { ConfirmAction } from '../components/ConfirmAction';
import { flagPath } from '../routing';
import { formatTime } from './flagFields';
import { ArchiveFlagMutation } from './operations';
import { RestoreButton } from './RestoreButton';
import type { FlagPages, FlagRow } from './listQuery';

/** Each row's height in pixels (as in styles.css). */
export const ROW_HEIGHT = 44;

export function FlagList({ flagSet, pages, writeDenial, onChanged }: { flagSet: string; pages: FlagPages; writeDenial: string | null; onChanged: () => void }) {
  const { items, complete, failure, loading, loadMore } = pages;
  const scroller = useRef<HTMLDivElement>(null);
  const count = items.length + (complete ? 0 : 1);
  // eslint-disable-next-line react-hooks/incompatible-library -- the virtualizer is read during render by design.
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
  });
  const rows = virtualizer.getVirtualItems();
  const lastShown = rows[rows.length - 1]?.index ?? -1;

  useEffect(() => {
    if (lastShown >= items.length) loadMore();
  }, [lastShown, items.length, loadMore]);

  if (complete && items.length === 0) {
    return <p className="empty">No flags match.</p>;
  }
  const before = rows[0]?.start ?? 0;
  const after = virtualizer.getTotalSize() - (rows[rows.length - 1]?.end ?? 0);
  return (
    // Focusable, so the keyboard scrolls it to rows not yet in the DOM.
    <div ref={scroller} className="flag-list" role="region" aria-label="Flag list" tabIndex={0}>
      <table aria-rowcount={complete ? items.length + 1 : -1} aria-busy={loading}>
        <thead>
          <tr aria-rowindex={1}>
            <th scope="col">Key</th>
            <th scope="col">State</th>
            <th scope="col">Default variant</th>
            <th scope="col">Tags</th>
            <th scope="col">Updated</th>
            <th scope="col">Version</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {before > 0 && (
            <tr aria-hidden="true">
              <td colSpan={7} style={{ height: before }} />
            </tr>
          )}
          {rows.map((row) => {
            const flag = items[row.index];
            return flag ? (
              <FlagListRow key={flag.key} flag={flag} flagSet={flagSet} index={row.index} writeDenial={writeDenial} onChanged={onChanged} />
            ) : (
              <tr key="more" className="flag-row">
                <td colSpan={7}>
                  {failure ? (
                    <span role="alert">
                      More flags could not be loaded: {describe(failure)}{' '}
                      <button type="button" onClick={pages.retry}>
                        Try again
                      </button>
                    </span>
                  ) : (
                    <span role="status">Loading flags…</span>
                  )}
                </td>
              </tr>
            );
          })}
          {after > 0 && (
            <tr aria-hidden="true">
              <td colSpan={7} style={{ height: after }} />
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

function FlagListRow({ flag, flagSet, index, writeDenial, onChanged }: { flag: FlagRow; flagSet: string; index: number; writeDenial: string | null; onChanged: () => void }) {
  const [, archive] = useMutation(ArchiveFlagMutation);
  return (
    <tr className="flag-row" aria-rowindex={index + 2}>
      <td>
        <Link href={flagPath(flagSet, flag.key)}>{flag.key}</Link>
        {flag.archived && <span className="badge">archived</span>}
      </td>
      <td>
        <span className={`state state-${flag.state.toLowerCase()}`}>{flag.state}</span>
      </td>
      <td>{flag.defaultVariant ?? '—'}</td>
      <td>{flag.tags.length > 0 ? flag.tags.map((t) => <span key={t} className="tag">{t}</span>) : '—'}</td>
      <td>
        <time dateTime={flag.updatedAt}>{formatTime(flag.updatedAt)}</time>
      </td>
      <td>{flag.version}</td>
      <td>
        {flag.archived ? (
          <RestoreButton flagSet={flagSet} flag={flag} denial={writeDenial} named onRestored={onChanged} />
        ) : (
          <ConfirmAction
            label="Archive"
            ariaLabel={`Archive ${flag.key}`}
            title={`Archive ${flag.key}?`}
            confirmLabel="Archive flag"
            pendingLabel="Archiving…"
            denial={writeDenial}
            run={() => archive({ flagSet, key: flag.key, expectedVersion: flag.version })}
            success={(data) => `Archived ${data.archiveFlag.key} (version ${data.archiveFlag.version})`}
            onDone={onChanged}
          >
            <p>
              Evaluation stops serving <strong>{flag.key}</strong>; its history is kept. This archives
              version {flag.version}: if someone changed it since, the server refuses.
            </p>
          </ConfirmAction>
        )}
      </td>
    </tr>
  );
}
