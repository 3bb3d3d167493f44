// Which history entries a flag can be rolled back to, and what a rollback
// would restore: the definition recorded after that change.
import type { AuditEvent } from '../audit/eventText';

/** The definition an entry recorded after its change, if it recorded one. */
export function definitionAfter(event: AuditEvent): unknown {
  const after = event.after;
  if (typeof after === 'object' && after !== null && 'definition' in after) {
    return after.definition;
  }
  return undefined;
}

/** The flag as the rollback sees it now. */
export interface CurrentFlag {
  version: number;
  definition: unknown;
}

/**
 * Why the flag cannot be rolled back to `event`'s version, or `null` when
 * it can. `writeDenial` is why the signed-in token may not change the
 * flag at all, if it may not.
 */
export function rollbackDenial(event: AuditEvent, current: CurrentFlag | null, writeDenial: string | null): string | null {
  if (writeDenial) return writeDenial;
  if (event.outOfBand) {
    return 'Changed by hand outside Ensign: only versions written through Ensign can be restored';
  }
  if (definitionAfter(event) === undefined) return 'This change recorded no definition to restore';
  if (!current) return 'The flag’s current version is not loaded yet';
  if (event.version === current.version) return 'This is the current version';
  return null;
}
