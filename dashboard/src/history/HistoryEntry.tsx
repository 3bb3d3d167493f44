// One change in a flag's timeline: its version and action, who made it
// and when, an out-of-band label when it was made by hand in SQL, the
// diff, and the rollback to the version it produced.
import { useId } from 'react';

import { EventFacts } from '../audit/EventFacts';
import { type AuditEvent, OUT_OF_BAND_TEXT, actionText } from '../audit/eventText';
import { ChangeDiff } from '../components/ChangeDiff';
import { RollbackButton } from './RollbackButton';
import type { CurrentFlag } from './rollback';
import '../audit/audit.css';

export interface HistoryEntryProps {
  flagSet: string;
  flagKey: string;
  event: AuditEvent;
  current: CurrentFlag | null;
  writeDenial: string | null;
  onRolledBack: () => void;
}

export function HistoryEntry({ flagSet, flagKey, event, current, writeDenial, onRolledBack }: HistoryEntryProps) {
  const headingId = useId();
  const version = event.version;
  const isCurrent = current !== null && version === current.version;
  return (
    <li className={event.outOfBand ? 'timeline-entry out-of-band' : 'timeline-entry'}>
      <article aria-labelledby={headingId}>
        <div className="timeline-head">
          <h3 id={headingId}>
            {version === null ? 'No version' : `Version ${version}`}: {actionText(event.action)}
          </h3>
          {isCurrent && <span className="badge">current</span>}
          {event.outOfBand && <strong className="out-of-band-label">{OUT_OF_BAND_TEXT}</strong>}
          {version !== null && (
            <RollbackButton
              flagSet={flagSet}
              flagKey={flagKey}
              event={{ ...event, version }}
              current={current}
              writeDenial={writeDenial}
              onDone={onRolledBack}
            />
          )}
        </div>
        <EventFacts event={event} />
        <ChangeDiff
          before={event.before}
          after={event.after}
          patch={event.diff}
          label={`Changes in ${version === null ? 'this change' : `version ${version}`}`}
        />
      </article>
    </li>
  );
}
