// The targeting editor's text as JSON: its value, or its syntax errors
// with line and column; and the line a compiler finding's JSON pointer
// points at.
import { type Node, type ParseError, parseTree, printParseErrorCode } from 'jsonc-parser';

/** A syntax error, located (lines and columns from 1). */
export interface SyntaxProblem {
  message: string;
  line: number;
  column: number;
}

export type ParsedText =
  /** Empty text: no targeting. */
  | { kind: 'empty' }
  | { kind: 'json'; value: unknown; tree: Node }
  | { kind: 'invalid'; problems: SyntaxProblem[] };

const MESSAGES: Record<string, string> = {
  InvalidSymbol: 'this is not JSON',
  InvalidNumberFormat: 'this number is not written as JSON writes numbers',
  PropertyNameExpected: 'a member name in double quotes is expected here',
  ValueExpected: 'a value is expected here',
  ColonExpected: 'a colon is expected here',
  CommaExpected: 'a comma is expected here',
  CloseBraceExpected: 'a closing brace } is expected here',
  CloseBracketExpected: 'a closing bracket ] is expected here',
  EndOfFileExpected: 'the JSON ended before this',
  InvalidCommentToken: 'JSON has no comments',
  UnexpectedEndOfComment: 'JSON has no comments',
  UnexpectedEndOfString: 'this string is not closed',
  UnexpectedEndOfNumber: 'this number is cut short',
  InvalidUnicode: 'this \\u escape is not four hexadecimal digits',
  InvalidEscapeCharacter: 'this escape is not one JSON knows',
  InvalidCharacter: 'this character must be escaped in a string',
};

/** Reads the editor's text. */
export function parseText(text: string): ParsedText {
  if (text.trim() === '') return { kind: 'empty' };
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (errors.length > 0 || !tree) {
    const problems = errors.map((e) => ({
      message: MESSAGES[printParseErrorCode(e.error)] ?? printParseErrorCode(e.error),
      ...position(text, e.offset),
    }));
    return { kind: 'invalid', problems: problems.length > 0 ? problems : [{ message: 'this is not JSON', line: 1, column: 1 }] };
  }
  try {
    // The value as the server will read it: the browser's own JSON reader.
    return { kind: 'json', value: JSON.parse(text) as unknown, tree };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const at = /position (\d+)/.exec(message);
    return { kind: 'invalid', problems: [{ message, ...position(text, at ? Number(at[1]) : 0) }] };
  }
}

/** The line and column (from 1) of an offset in `text`. */
export function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/** The reference tokens of a JSON pointer (`/a/b~1c` is `a`, `b/c`). */
export function pointerTokens(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Where a finding about flag `flagKey` points in the editor's text (the
 * flag's targeting): the tokens after `/flags/<key>/targeting` of its
 * pointer into the flag set's document (or after `/targeting`, if it is
 * relative to the flag), or `null` when it points elsewhere.
 */
export function targetingTokens(pointer: string, flagKey: string): string[] | null {
  let tokens = pointerTokens(pointer);
  if (tokens[0] === 'flags' && tokens[1] === flagKey) tokens = tokens.slice(2);
  return tokens[0] === 'targeting' ? tokens.slice(1) : null;
}

/**
 * The line (from 1) of the deepest node of `tree` on the path of `tokens`:
 * a finding about a member that is not there points at its parent.
 */
export function lineOfTokens(text: string, tree: Node, tokens: readonly string[]): number {
  let node = tree;
  for (const token of tokens) {
    const next = child(node, token);
    if (!next) break;
    node = next;
  }
  // A member's line is its name's line.
  const start = node.parent?.type === 'property' ? node.parent.offset : node.offset;
  return position(text, start).line;
}

function child(node: Node, token: string): Node | undefined {
  if (node.type === 'object') {
    // The last member of a name wins, as in JSON.parse.
    const found = node.children?.filter((p) => p.children?.[0]?.value === token).pop();
    return found?.children?.[1];
  }
  if (node.type === 'array' && /^(0|[1-9]\d*)$/.test(token)) return node.children?.[Number(token)];
  return undefined;
}
