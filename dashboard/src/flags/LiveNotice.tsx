// The live indicator: whether changes arrive, and a refresh offer when
// someone else changed what is shown.
import type { OthersChanges } from './useOthersChanges';

export function LiveNotice({ changes, onRefresh, subject }: { changes: OthersChanges; onRefresh: () => void; subject: string }) {
  const { pending, last, failure } = changes;
  if (failure) {
    return (
      <p className="live live-off" role="status">
        Live updates stopped: {failure.message} <code>{failure.code}</code>
      </p>
    );
  }
  if (pending === 0 || !last) {
    return (
      <p className="live" role="status">
        <span className="live-dot" aria-hidden="true" /> Live: changes by others to {subject} show here
      </p>
    );
  }
  const what = last.flag ?? `flag set ${last.flagSet}`;
  const more = pending > 1 ? ` and ${pending - 1} more change${pending > 2 ? 's' : ''}` : '';
  return (
    <p className="live live-changed" role="status">
      {last.actor} changed {what} ({last.action}){more}.{' '}
      <button
        type="button"
        onClick={() => {
          changes.acknowledge();
          onRefresh();
        }}
      >
        Refresh
      </button>
    </p>
  );
}
