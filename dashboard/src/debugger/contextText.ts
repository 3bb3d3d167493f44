// The debugger's context as the user types it: JSON text read into an
// evaluation context (an object), or the first syntax error with its line
// and column, and the `targetingKey` quick field's edits of it.
import { printParseErrorCode, visit } from 'jsonc-parser';

export type ContextRead =
  | { ok: true; context: Record<string, unknown> }
  | { ok: false; error: string; line: number | null; column: number | null };

const PROBLEMS: Record<string, string> = {
  InvalidSymbol: 'this is not JSON here',
  InvalidNumberFormat: 'this number is not written as JSON numbers are',
  PropertyNameExpected: 'a property name in double quotes is expected',
  ValueExpected: 'a value is expected',
  ColonExpected: 'a colon is expected',
  CommaExpected: 'a comma is expected',
  CloseBraceExpected: 'a closing } is expected',
  CloseBracketExpected: 'a closing ] is expected',
  EndOfFileExpected: 'nothing may follow the object',
  InvalidCommentToken: 'JSON has no comments',
  UnexpectedEndOfComment: 'JSON has no comments',
  UnexpectedEndOfString: 'this string is not closed',
  UnexpectedEndOfNumber: 'this number is not complete',
  InvalidUnicode: 'this \\u escape is not valid',
  InvalidEscapeCharacter: 'this escape is not valid in JSON',
  InvalidCharacter: 'strings cannot hold control characters (use \\n, \\t, ...)',
};

/** Reads the context text: a JSON object. */
export function readContext(text: string): ContextRead {
  if (text.trim() === '') return { ok: false, error: 'The context is empty: write a JSON object, such as {}', line: null, column: null };
  const errors: { code: string; line: number; column: number }[] = [];
  visit(
    text,
    {
      onError: (error, _offset, _length, startLine, startCharacter) => {
        errors.push({ code: printParseErrorCode(error), line: startLine + 1, column: startCharacter + 1 });
      },
    },
    { disallowComments: true, allowTrailingComma: false },
  );
  const [first] = errors;
  if (first) {
    const { code, line, column } = first;
    return { ok: false, error: `Line ${line}, column ${column}: ${PROBLEMS[code] ?? code}`, line, column };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error), line: null, column: null };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: 'The context must be a JSON object, such as {"targetingKey": "user-1"}', line: null, column: null };
  }
  return { ok: true, context: value as Record<string, unknown> };
}

/** The context's `targetingKey`, when it is a string. */
export function targetingKeyOf(context: Record<string, unknown>): string {
  const key = context.targetingKey;
  return typeof key === 'string' ? key : '';
}

/** The context text with `targetingKey` set (or removed, when empty), first among the members. */
export function withTargetingKey(context: Record<string, unknown>, targetingKey: string): string {
  const rest = Object.fromEntries(Object.entries(context).filter(([k]) => k !== 'targetingKey'));
  const next = targetingKey === '' ? rest : { targetingKey, ...rest };
  return formatContext(next);
}

/** A context as the editor shows it. */
export function formatContext(context: unknown): string {
  return JSON.stringify(context, null, 2);
}
