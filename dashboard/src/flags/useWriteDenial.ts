// Why the signed-in token may not change the flags of a flag set: its role,
// or a flag set served read-only from a source outside the store.
import { useQuery } from 'urql';

import { useViewer } from '../auth/SessionProvider';
import { denial } from '../auth/roles';
import { FlagSetsQuery } from './operations';

export function useWriteDenial(flagSet: string): string | null {
  const viewer = useViewer();
  const [{ data }] = useQuery({ query: FlagSetsQuery });
  const byRole = denial(viewer, 'changeFlags');
  if (byRole) return byRole;
  const set = data?.flagSets.find((s) => s.key === flagSet);
  return set?.readOnly ? `Flag set “${flagSet}” is served from a source outside the store and is read-only here` : null;
}
