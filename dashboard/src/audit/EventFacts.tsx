// Who made an audited change, when, with which request id, and the
// version it produced.
import { type AuditEvent, eventTime } from './eventText';

export function EventFacts({ event }: { event: AuditEvent }) {
  return (
    <dl className="event-facts">
      <div>
        <dt>Actor</dt>
        <dd>{event.actor}</dd>
      </div>
      <div>
        <dt>Time</dt>
        <dd>
          <time dateTime={event.createdAt}>{eventTime(event.createdAt)}</time>
        </dd>
      </div>
      <div>
        <dt>Version</dt>
        <dd>{event.version ?? 'none'}</dd>
      </div>
      <div>
        <dt>Request id</dt>
        <dd>{event.requestId ? <code>{event.requestId}</code> : 'none'}</dd>
      </div>
    </dl>
  );
}
