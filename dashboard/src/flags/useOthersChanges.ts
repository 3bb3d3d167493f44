// Live changes to a flag set by anyone but the signed-in token, from the
// `flagChanges` subscription, counted until the user refreshes.
import { useCallback, useState } from 'react';
import { useSubscription } from 'urql';

import { type ApiFailure, failureOf } from '../api/errors';
import { useViewer } from '../auth/SessionProvider';
import type { FlagChangesSubscription as FlagChangesData } from '../gql/graphql';
import { FlagChangesSubscription } from './operations';

export type Commit = FlagChangesData['flagChanges'];

interface Seen {
  /** Every change by others since the subscription started. */
  count: number;
  /** The latest of them. */
  last: Commit | null;
}

export interface OthersChanges {
  /** Changes by others not yet refreshed. */
  pending: number;
  last: Commit | null;
  failure: ApiFailure | null;
  /** Marks the changes so far as seen. */
  acknowledge: () => void;
}

/** Changes by others to `flagSet`, or to its flag `key` when given. */
export function useOthersChanges(flagSet: string, key?: string): OthersChanges {
  const viewer = useViewer();
  const [acknowledged, setAcknowledged] = useState(0);
  const mine = (commit: Commit) => viewer.name !== '' && commit.actor === viewer.name;
  const [result] = useSubscription(
    { query: FlagChangesSubscription, variables: { flagSet } },
    (seen: Seen | undefined, data): Seen => {
      const previous = seen ?? { count: 0, last: null };
      const commit = data.flagChanges;
      if (mine(commit) || (key !== undefined && commit.flag !== key)) return previous;
      return { count: previous.count + 1, last: commit };
    },
  );
  const seen = result.data ?? { count: 0, last: null };
  const acknowledge = useCallback(() => { setAcknowledged(seen.count); }, [seen.count]);
  return {
    pending: Math.max(0, seen.count - acknowledged),
    last: seen.last,
    failure: result.error ? failureOf(result.error) : null,
    acknowledge,
  };
}
