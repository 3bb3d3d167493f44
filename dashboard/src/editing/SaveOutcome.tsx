// What became of the last save: pending, saved, the server's refusal with
// its message, code and findings, or the conflict panel.
import type { FractionalVersion } from '../rollout/overlap';
import { ErrorNotice } from '../components/ErrorNotice';
import { ConflictPanel } from './ConflictPanel';
import { DiagnosticList } from './DiagnosticList';
import type { Diagnostic } from './diagnostics';
import type { FlagSave } from './useFlagSave';

export interface SaveOutcomeProps {
  save: FlagSave;
  flagSet: string;
  flagKey: string;
  version: FractionalVersion;
  /** The editor's line of a finding, for the refusal's list. */
  lineOf?: (d: Diagnostic) => number | null;
  onGoTo?: (line: number) => void;
}

export function SaveOutcome({ save, flagSet, flagKey, version, lineOf, onGoTo }: SaveOutcomeProps) {
  const { state } = save;
  switch (state.status) {
    case 'idle':
      return null;
    case 'pending':
      return <p role="status">Saving…</p>;
    case 'saved':
      return <p role="status">Saved: the flag is now at version {state.version}.</p>;
    case 'failed':
      return (
        <div>
          <ErrorNotice failure={state.failure} what="Not saved" />
          <DiagnosticList diagnostics={state.failure.diagnostics} lineOf={lineOf} onGoTo={onGoTo} label="Why the server refused it" />
        </div>
      );
    case 'conflict':
      return (
        <ConflictPanel
          key={`${state.read.version}:${state.failure.code}:${state.failure.message}`}
          flagSet={flagSet}
          flagKey={flagKey}
          read={state.read}
          edit={state.edit}
          failure={state.failure}
          reapplying={state.reapplying}
          version={version}
          onReapply={(current) => void save.reapply(current)}
          onDiscard={save.discard}
        />
      );
  }
}
