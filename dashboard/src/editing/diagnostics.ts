// The engine compiler's findings as the admin API sends them (from
// `validateFlag`, and in `extensions.diagnostics` of a refused save), and a
// refused save as the user sees it: the server's message, code and findings.
import type { CombinedError } from 'urql';

import { type ApiFailure, failureOf } from '../api/errors';

/** One finding of the engine's compiler. */
export interface Diagnostic {
  /** "error" or "warning". */
  severity: string;
  message: string;
  /** The flag it is about, if one. */
  flagKey: string | null;
  /** Its JSON pointer in the flag set's document ("" for the whole document). */
  pointer: string;
  /**
   * Whether the change introduces it: a write is refused for new findings
   * only (one the flag set already had, from a row edited by hand, does
   * not block it). A refused save's findings are all new.
   */
  isNew: boolean;
}

/** A refused request, with the compiler's findings when the server sent some. */
export interface SaveFailure extends ApiFailure {
  diagnostics: Diagnostic[];
}

/** The code of a save whose `expectedVersion` is no longer the flag's version. */
export const VERSION_CONFLICT = 'VERSION_CONFLICT';

/** Findings read from a JSON value; anything that is not one is skipped. */
export function diagnosticsFrom(value: unknown): Diagnostic[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item: unknown): Diagnostic[] => {
    if (typeof item !== 'object' || item === null) return [];
    const { severity, message, flagKey, pointer, new: isNew } = item as Record<string, unknown>;
    if (typeof message !== 'string') return [];
    return [
      {
        // The schema may spell it as an enum (ERROR) or as the engine does (error).
        severity: typeof severity === 'string' ? severity.toLowerCase() : 'error',
        message,
        flagKey: typeof flagKey === 'string' ? flagKey : null,
        pointer: typeof pointer === 'string' ? pointer : '',
        isNew: isNew !== false,
      },
    ];
  });
}

/** A failed request as the user sees it, with the findings of its first error. */
export function saveFailureOf(error: CombinedError): SaveFailure {
  const first = error.graphQLErrors[0];
  return { ...failureOf(error), diagnostics: diagnosticsFrom(first?.extensions.diagnostics) };
}

/** The failure of a request the server answered with neither data nor error. */
export const NO_ANSWER: SaveFailure = { message: 'the server sent no answer', code: 'EMPTY_ANSWER', diagnostics: [] };

/** A finding as one line: "error at /flags/x/targeting: message". */
export function describeDiagnostic(d: Diagnostic): string {
  return `${d.severity} at ${d.pointer || '/'}: ${d.message}`;
}
