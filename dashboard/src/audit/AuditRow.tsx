// One audited change in the audit log: a row with its time, actor, action
// and subject (a flag's links to its history), and a button that opens
// the diff below it.
import { useId, useState } from 'react';
import { Link } from 'wouter';

import { ChangeDiff } from '../components/ChangeDiff';
import { flagHistoryPath } from '../flags/tabs';
import { type AuditEvent, OUT_OF_BAND_DETAIL, actionText, eventTime, subjectText } from './eventText';

/** The number of columns of the audit table. */
const COLUMNS = 7;

export function AuditRow({ event }: { event: AuditEvent }) {
  const [open, setOpen] = useState(false);
  const diffId = useId();
  const subject =
    event.subjectKind === 'flag' && event.flagSet ? (
      <Link href={flagHistoryPath(event.flagSet, event.subjectKey)} aria-label={`History of flag ${event.subjectKey} in ${event.flagSet}`}>
        {event.flagSet} / {event.subjectKey}
      </Link>
    ) : (
      <>
        {subjectText(event.subjectKind)} {event.subjectKey}
        {event.flagSet && event.subjectKind !== 'flag_set' && <span className="count"> in {event.flagSet}</span>}
      </>
    );
  return (
    <tbody className={event.outOfBand ? 'audit-event out-of-band' : 'audit-event'}>
      <tr>
        <td>
          <time dateTime={event.createdAt}>{eventTime(event.createdAt)}</time>
        </td>
        <td>{event.actor}</td>
        <td>
          {actionText(event.action)}
          {event.outOfBand && (
            <>
              {' '}
              <strong className="out-of-band-label">out of band</strong>
              <span className="visually-hidden"> ({OUT_OF_BAND_DETAIL})</span>
            </>
          )}
        </td>
        <td>{subject}</td>
        <td>{event.version ?? ''}</td>
        <td>{event.requestId ? <code>{event.requestId}</code> : ''}</td>
        <td>
          <button
            type="button"
            aria-expanded={open}
            aria-controls={diffId}
            aria-label={`${open ? 'Hide' : 'Show'} the change to ${subjectText(event.subjectKind)} ${event.subjectKey}${event.version === null ? '' : ` (version ${event.version})`}`}
            onClick={() => { setOpen((o) => !o); }}
          >
            {open ? 'Hide' : 'Show'}
          </button>
        </td>
      </tr>
      <tr id={diffId} className="audit-diff" hidden={!open}>
        <td colSpan={COLUMNS}>
          {open && <ChangeDiff before={event.before} after={event.after} patch={event.diff} label={`Change ${event.id}`} />}
        </td>
      </tr>
    </tbody>
  );
}
