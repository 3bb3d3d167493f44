// What the segment screens say about a segment: its rule in one line, the
// flags a refusal names, where a finding points in the editor's text, and
// what a refusal's code means for a segment.
import type { Node } from 'jsonc-parser';

import type { Diagnostic, SaveFailure } from '../editing/diagnostics';
import { lineOfTokens, pointerTokens } from '../targeting/json';

/** The longest rule shown whole in the list; a longer one is cut with "…". */
export const SUMMARY_CHARS = 80;

/** A rule as one line of compact JSON, cut at `max` characters. */
export function ruleSummary(definition: unknown, max = SUMMARY_CHARS): string {
  const text = JSON.stringify(definition) as string | undefined;
  const whole = text ?? String(definition);
  return whole.length > max ? `${whole.slice(0, max - 1)}…` : whole;
}

/** The flags a refusal's findings are about, each once, in order. */
export function flagsNamed(diagnostics: readonly Diagnostic[]): string[] {
  const keys: string[] = [];
  for (const d of diagnostics) {
    const key = d.flagKey ?? flagOfPointer(d.pointer);
    if (key !== null && !keys.includes(key)) keys.push(key);
  }
  return keys;
}

/** The flag a pointer into the flag set's document is under (`/flags/<key>/…`), if any. */
function flagOfPointer(pointer: string): string | null {
  const [first, key] = pointerTokens(pointer);
  return first === 'flags' && key !== undefined ? key : null;
}

/**
 * The line (from 1) of the segment editor's text that a finding points at.
 * A finding about the segment's own rule points into the flag set's
 * document at `/$evaluators/<key>/…`; one about a flag using it points
 * through the flag's `$ref`, into the rule put in its place
 * (`/flags/<flag>/targeting/…/$ref/…`), and what follows `$ref` is a path
 * in the rule. `null` for a finding about anything else.
 */
export function segmentLine(text: string, tree: Node, key: string, d: Diagnostic): number | null {
  const tokens = pointerTokens(d.pointer);
  if (tokens[0] === '$evaluators') return tokens[1] === key ? lineOfTokens(text, tree, tokens.slice(2)) : null;
  const ref = tokens.lastIndexOf('$ref');
  if (tokens[0] === 'flags' && ref >= 0) return lineOfTokens(text, tree, tokens.slice(ref + 1));
  return null;
}

/** What a refused segment change was. */
export type SegmentChange = 'create' | 'update' | 'delete';

/**
 * What a refusal means, in a sentence to put beside the server's own
 * message, or `null` when its message says it all.
 */
export function refusalHelp(change: SegmentChange, failure: SaveFailure, key: string): string | null {
  const ref = `{"$ref": ${JSON.stringify(key)}}`;
  switch (failure.code) {
    case 'INVALID_DEFINITION': {
      const flags = flagsNamed(failure.diagnostics);
      if (change === 'delete') {
        return flags.length > 0
          ? `Flags still use this segment through ${ref}: take it out of their targeting first, then delete the segment.`
          : `A flag still uses this segment through ${ref}: take it out of its targeting first.`;
      }
      return flags.length > 0
        ? 'With this rule, flags that use the segment would no longer compile: nothing was saved.'
        : 'The compiler refuses this rule: nothing was saved.';
    }
    case 'SEGMENT_REF':
      return 'A segment cannot use another segment ($ref): write that rule here instead.';
    case 'VERSION_CONFLICT':
      return 'Someone changed this segment after you opened it. Your edit is kept below, beside the segment as it is now.';
    case 'ALREADY_EXISTS':
      return 'Choose another key, or edit the existing segment.';
    case 'SEGMENT_NOT_FOUND':
      return 'It was deleted after you opened it.';
    default:
      return null;
  }
}
