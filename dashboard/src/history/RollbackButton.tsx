// One-click rollback to a version of the flag's history: a confirmation
// naming the version and showing how the definition would change, then
// the rollback's progress, its success or the server's error.
import { useMutation } from 'urql';

import type { AuditEvent } from '../audit/eventText';
import { ChangeDiff } from '../components/ChangeDiff';
import { ConfirmAction } from '../components/ConfirmAction';
import { RollbackFlagMutation } from './operations';
import { type CurrentFlag, definitionAfter, rollbackDenial } from './rollback';

export interface RollbackButtonProps {
  flagSet: string;
  flagKey: string;
  event: AuditEvent & { version: number };
  current: CurrentFlag | null;
  writeDenial: string | null;
  onDone: () => void;
}

export function RollbackButton({ flagSet, flagKey, event, current, writeDenial, onDone }: RollbackButtonProps) {
  const [, rollback] = useMutation(RollbackFlagMutation);
  const toVersion = event.version;
  return (
    <ConfirmAction
      label="Roll back to this version"
      ariaLabel={`Roll back to version ${toVersion}`}
      title={`Roll ${flagKey} back to version ${toVersion}?`}
      confirmLabel={`Roll back to version ${toVersion}`}
      pendingLabel="Rolling back…"
      denial={rollbackDenial(event, current, writeDenial)}
      run={() =>
        rollback({ flagSet, key: flagKey, expectedVersion: current?.version ?? 0, toVersion })
      }
      success={(data) =>
        `Rolled ${data.rollbackFlag.key} back to version ${toVersion}; it is now version ${data.rollbackFlag.version}`
      }
      onDone={onDone}
    >
      <p>
        The definition of <strong>{flagKey}</strong> becomes the one it had at version <strong>{toVersion}</strong>,
        recorded as a new version after version {current?.version}. Whether clients see it and whether it is locked
        stay as they are.
      </p>
      <p>What changes from the current version {current?.version}:</p>
      <ChangeDiff
        before={current?.definition}
        after={definitionAfter(event)}
        label={`Changes from version ${current?.version} to version ${toVersion}`}
      />
    </ConfirmAction>
  );
}
