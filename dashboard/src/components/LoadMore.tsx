// The foot of a list loaded page by page: a "Load more" button while pages
// are left, the loading state, and a failed page's error with a retry.
import type { CursorPages } from './useCursorPages';
import { ErrorNotice } from './ErrorNotice';

/** `noun` names the items, `one` a single item ("changes", "change"). */
export function LoadMore<T>({ pages, noun, one }: { pages: CursorPages<T>; noun: string; one: string }) {
  if (pages.failure) {
    return (
      <div className="load-more">
        <ErrorNotice failure={pages.failure} what={`The ${noun} could not be loaded`} />
        <button type="button" onClick={pages.retry}>
          Try again
        </button>
      </div>
    );
  }
  return (
    <div className="load-more">
      <p className="count" role="status">
        {pages.loading
          ? 'Loading…'
          : `${String(pages.items.length)} ${pages.items.length === 1 ? one : noun} loaded${pages.complete ? ', the oldest included' : ''}`}
      </p>
      {!pages.complete && (
        <button type="button" onClick={pages.loadMore} disabled={pages.loading}>
          Load more
        </button>
      )}
    </div>
  );
}
