// Saving a flag edit against the version read: pending, saved, refused
// (with the server's message, code and the compiler's findings), or
// refused as stale, which keeps the edit so that it can be reapplied to
// the current version or discarded.
import { useCallback, useState } from 'react';
import { useClient, useMutation } from 'urql';

import { useToast } from '../components/Toasts';
import { FlagOverviewQuery } from '../flags/operations';
import { NO_ANSWER, type SaveFailure, VERSION_CONFLICT, saveFailureOf } from './diagnostics';
import { type FlagEdit, type ReadFlag, withTargeting } from './edit';
import { SetRolloutMutation, UpdateFlagDefinitionMutation } from './operations';

export type SaveState =
  | { status: 'idle' }
  | { status: 'pending'; edit: FlagEdit; read: ReadFlag }
  | { status: 'saved'; version: number }
  | { status: 'failed'; edit: FlagEdit; read: ReadFlag; failure: SaveFailure }
  /** The flag changed after `read`: the edit waits to be reapplied or discarded. */
  | { status: 'conflict'; edit: FlagEdit; read: ReadFlag; failure: SaveFailure; reapplying: boolean };

export interface FlagSave {
  state: SaveState;
  /** Sends `edit` with `read.version` as the expected version. */
  save: (edit: FlagEdit, read: ReadFlag) => Promise<void>;
  /** After a conflict: sends the same edit against the flag as it is now. */
  reapply: (current: ReadFlag) => Promise<void>;
  /** After a conflict: drops the edit. */
  discard: () => void;
  /** Forgets the last outcome (after a new edit begins). */
  reset: () => void;
}

export function useFlagSave(flagSet: string, key: string, onSaved: () => void, onDiscard: () => void): FlagSave {
  const notify = useToast();
  const [state, setState] = useState<SaveState>({ status: 'idle' });
  const [, updateFlag] = useMutation(UpdateFlagDefinitionMutation);
  const [, setRollout] = useMutation(SetRolloutMutation);

  const send = useCallback(
    async (edit: FlagEdit, read: ReadFlag) => {
      const expectedVersion = read.version;
      if (edit.kind === 'rollout') {
        const result = await setRollout({ flagSet, key, expectedVersion, weights: edit.weights });
        return { saved: result.data?.setRollout, error: result.error };
      }
      const definition = withTargeting(read.definition, edit.targeting);
      const result = await updateFlag({ flagSet, key, expectedVersion, definition });
      return { saved: result.data?.updateFlag, error: result.error };
    },
    [flagSet, key, setRollout, updateFlag],
  );

  const run = useCallback(
    async (edit: FlagEdit, read: ReadFlag, retry: boolean) => {
      const { saved, error } = await send(edit, read);
      if (saved) {
        setState({ status: 'saved', version: saved.version });
        notify('success', `Saved ${saved.key}: version ${saved.version}`);
        onSaved();
        return;
      }
      const failure = error ? saveFailureOf(error) : NO_ANSWER;
      if (failure.code === VERSION_CONFLICT) {
        setState({ status: 'conflict', edit, read, failure, reapplying: false });
      } else if (retry) {
        // A reapplied edit the server refuses for another reason: the
        // comparison stays, with the refusal.
        setState({ status: 'conflict', edit, read, failure, reapplying: false });
      } else {
        setState({ status: 'failed', edit, read, failure });
      }
    },
    [send, notify, onSaved],
  );

  const save = useCallback(
    async (edit: FlagEdit, read: ReadFlag) => {
      setState({ status: 'pending', edit, read });
      await run(edit, read, false);
    },
    [run],
  );

  const reapply = useCallback(
    async (current: ReadFlag) => {
      if (state.status !== 'conflict') return;
      const { edit, read, failure } = state;
      setState({ status: 'conflict', edit, read, failure, reapplying: true });
      await run(edit, current, true);
    },
    [state, run],
  );

  const client = useClient();
  const discard = useCallback(() => {
    setState({ status: 'idle' });
    onDiscard();
    // The screen still holds the flag as read: it reads it as it is now.
    void client.query(FlagOverviewQuery, { flagSet, key }, { requestPolicy: 'network-only' }).toPromise();
  }, [onDiscard, client, flagSet, key]);

  const reset = useCallback(() => {
    setState((current) => (current.status === 'pending' ? current : { status: 'idle' }));
  }, []);

  return { state, save, reapply, discard, reset };
}
