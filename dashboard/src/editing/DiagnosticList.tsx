// The compiler's findings as a list: severity, where, and what is wrong.
import type { Diagnostic } from './diagnostics';

export interface DiagnosticListProps {
  diagnostics: Diagnostic[];
  /** The editor's line of each finding, when it has one. */
  lineOf?: (d: Diagnostic) => number | null;
  /** Moves the editor to a line. */
  onGoTo?: (line: number) => void;
  /** The list's accessible name. */
  label?: string;
}

export function DiagnosticList({ diagnostics, lineOf, onGoTo, label = 'Problems' }: DiagnosticListProps) {
  if (diagnostics.length === 0) return null;
  return (
    <ul className="diagnostics" aria-label={label}>
      {diagnostics.map((d, i) => {
        const line = lineOf?.(d) ?? null;
        const where = line === null ? d.pointer || '/' : `line ${line}`;
        return (
          <li key={`${i}:${d.pointer}:${d.message}`} className={`diagnostic diagnostic-${d.severity}`}>
            <span className="severity">{d.severity}</span>{' '}
            {line !== null && onGoTo ? (
              <button type="button" className="link" onClick={() => { onGoTo(line); }}>
                {where}
              </button>
            ) : (
              <code>{where}</code>
            )}
            : {d.message}
            {!d.isNew && <span className="help"> (already there before this edit: it does not block the save)</span>}
          </li>
        );
      })}
    </ul>
  );
}
