// A segment change the server refused: its message and code, what that
// means for a segment, the flags the refusal names (each linking to its
// targeting) and the compiler's findings.
import { Link } from 'wouter';

import { ErrorNotice } from '../components/ErrorNotice';
import { DiagnosticList } from '../editing/DiagnosticList';
import type { Diagnostic, SaveFailure } from '../editing/diagnostics';
import { flagTabPath } from '../routing';
import { type SegmentChange, flagsNamed, refusalHelp } from './segmentText';

const WHAT: Record<SegmentChange, string> = {
  create: 'The segment was not created',
  update: 'Not saved',
  delete: 'Not deleted',
};

export interface SegmentRefusalProps {
  change: SegmentChange;
  failure: SaveFailure;
  flagSet: string;
  segmentKey: string;
  lineOf?: (d: Diagnostic) => number | null;
  onGoTo?: (line: number) => void;
}

export function SegmentRefusal({ change, failure, flagSet, segmentKey, lineOf, onGoTo }: SegmentRefusalProps) {
  const help = refusalHelp(change, failure, segmentKey);
  const flags = failure.code === 'INVALID_DEFINITION' ? flagsNamed(failure.diagnostics) : [];
  return (
    <div className="segment-refusal">
      <ErrorNotice failure={failure} what={WHAT[change]} />
      {help && <p>{help}</p>}
      {flags.length > 0 && (
        <div>
          <h3 className="refusal-heading">{change === 'delete' ? 'Flags that use it' : 'Flags it would break'}</h3>
          <ul className="refusal-flags">
            {flags.map((flag) => (
              <li key={flag}>
                <Link href={flagTabPath(flagSet, flag, 'targeting')}>{flag}</Link>
              </li>
            ))}
          </ul>
        </div>
      )}
      <DiagnosticList
        diagnostics={failure.diagnostics}
        lineOf={lineOf}
        onGoTo={onGoTo}
        label={change === 'delete' ? 'Why the server refused to delete it' : 'Why the server refused it'}
      />
    </div>
  );
}
