// Restores an archived flag (no confirmation: it only undoes an archive),
// from the flag list's row or the flag's overview.
import { useMutation } from 'urql';

import { ActionButton } from '../components/ActionButton';
import { RestoreFlagMutation } from './operations';

export interface RestoreButtonProps {
  flagSet: string;
  /** The flag as read: its version is what the server must still have. */
  flag: { key: string; version: number };
  /** Why the signed-in token may not restore it, or `null`. */
  denial: string | null;
  /** Names the flag in the button's accessible name (in a list). */
  named?: boolean;
  onRestored?: () => void;
}

export function RestoreButton({ flagSet, flag, denial, named = false, onRestored }: RestoreButtonProps) {
  const [, restore] = useMutation(RestoreFlagMutation);
  return (
    <ActionButton
      label="Restore"
      ariaLabel={named ? `Restore ${flag.key}` : undefined}
      pendingLabel="Restoring…"
      denial={denial}
      run={() => restore({ flagSet, key: flag.key, expectedVersion: flag.version })}
      success={(data) => `Restored ${data.restoreFlag.key} (version ${data.restoreFlag.version})`}
      failure={`${flag.key} was not restored`}
      onDone={onRestored}
    />
  );
}
