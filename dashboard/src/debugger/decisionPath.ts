// The evaluation debugger's decision path: the engine's decisions as the
// server lists them (`Evaluation.steps`), the flag's targeting rule as a
// tree (segments expanded where it refers to them, as the engine expands
// them), and the tree marked with what each step decided: which nodes were
// evaluated, what conditions and clauses came to, which branch or bucket
// was taken.
//
// A step's pointer (`""` for the rule itself) names an operator's
// arguments within the rule, with `$ref`s expanded: `/if/0/and` is the
// `and` of the first argument of the rule's `if`. A `$ref` step's pointer
// is where the `$ref` stands in the flag's definition: `/targeting/if/0`.
import type { DecisionKind } from '../gql/graphql';

/** One decision of the engine. */
export type TraceStep =
  | { kind: 'ref'; pointer: string; segment: string }
  | { kind: 'if'; pointer: string; condition: number; taken: number | null }
  | { kind: 'clause'; pointer: string; op: string; clause: number; value: unknown }
  | { kind: 'fractional'; pointer: string; bucket: number; hash: number; variant: unknown }
  | { kind: 'no-bucket'; pointer: string }
  | { kind: 'result'; value: unknown };

export interface Trace {
  steps: TraceStep[];
  /** Decisions made after the trace was full, only counted. */
  omitted: number;
}

/** A step as the admin API answers it (`DecisionStep`): the fields its kind has are set. */
export interface DecisionStepFields {
  pointer: string;
  kind: DecisionKind;
  segment?: string | null;
  condition?: number | null;
  branch?: number | null;
  operator?: string | null;
  clause?: number | null;
  value?: unknown;
  bucket?: number | null;
  hash?: number | null;
}

/** The decision path from the steps the admin API answered. */
export function traceOf(steps: readonly DecisionStepFields[], omitted: number): Trace {
  return { steps: steps.map(stepOf), omitted };
}

function stepOf(step: DecisionStepFields): TraceStep {
  const { pointer } = step;
  switch (step.kind) {
    case 'REF':
      return { kind: 'ref', pointer, segment: step.segment ?? '' };
    case 'IF':
      return { kind: 'if', pointer, condition: step.condition ?? 0, taken: step.branch ?? null };
    case 'CLAUSE':
      return { kind: 'clause', pointer, op: step.operator ?? '', clause: step.clause ?? 0, value: step.value ?? null };
    case 'FRACTIONAL':
      // A bucketing that chose no bucket names no variant.
      return step.value === null || step.value === undefined
        ? { kind: 'no-bucket', pointer }
        : { kind: 'fractional', pointer, bucket: step.bucket ?? 0, hash: step.hash ?? 0, variant: step.value };
    case 'RESULT':
      return { kind: 'result', value: step.value ?? null };
  }
}

/** A node of a targeting rule. */
export interface RuleNode {
  /** The node's position as the engine names it ('' for the rule itself). */
  pointer: string;
  kind: 'op' | 'array' | 'value';
  /** The operator, as written (`op` nodes). */
  op?: string;
  /** An operator's arguments, or an array's elements. */
  args: RuleNode[];
  /** A literal (`value` nodes). */
  value?: unknown;
  /** The segment whose rule was expanded here, if one was. */
  segment?: string;
  /** A `$ref` to a segment that does not exist (a `value` node). */
  unknownSegment?: string;
}

/** Operators the engine knows under another name, by the name it traces. */
const TRACED_AS: Record<string, string> = { '?:': 'if' };

const escapeSegment = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * The rule as a tree, with each `{"$ref": name}` replaced by the segment
 * of that name (segments hold no `$ref` of their own).
 */
export function ruleTree(rule: unknown, segments: ReadonlyMap<string, unknown>, pointer = ''): RuleNode {
  const ref = refName(rule);
  if (ref !== null) {
    if (!segments.has(ref)) return { pointer, kind: 'value', args: [], value: rule, unknownSegment: ref };
    return { ...ruleTree(segments.get(ref), new Map(), pointer), segment: ref };
  }
  if (isOperation(rule)) {
    const [op, raw] = Object.entries(rule)[0] ?? ['', null];
    const args = Array.isArray(raw) ? (raw as unknown[]) : [raw];
    const traced = escapeSegment(TRACED_AS[op] ?? op);
    return {
      pointer,
      kind: 'op',
      op,
      args: args.map((arg, i) => ruleTree(arg, segments, `${pointer}/${traced}/${i}`)),
    };
  }
  if (Array.isArray(rule) && rule.some((item) => isOperation(item) || refName(item) !== null)) {
    return { pointer, kind: 'array', args: rule.map((item, i) => ruleTree(item, segments, `${pointer}/${i}`)) };
  }
  return { pointer, kind: 'value', args: [], value: rule };
}

function refName(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const entries = Object.entries(value);
  const [only] = entries;
  return entries.length === 1 && only?.[0] === '$ref' && typeof only[1] === 'string' ? only[1] : null;
}

/** A JSONLogic operation: an object with exactly one key. */
function isOperation(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1;
}

/** What a node came to, as far as the trace tells. */
export type Outcome = { kind: 'truthy' } | { kind: 'falsy' } | { kind: 'value'; value: unknown };

/** A rule node with what the evaluation did there. */
export interface MarkedNode {
  node: RuleNode;
  /** Its part in its parent (`if`, `then`, `else`, `clause 2`, `bucket`, ...), if it has a named one. */
  role: string | null;
  /** Whether the engine evaluated it; `null` when the rule was not evaluated at all. */
  reached: boolean | null;
  /** Whether it is the branch its `if` chose, or the bucket its `fractional` chose. */
  taken: boolean;
  outcome: Outcome | null;
  /** The decisions made at this node, in words. */
  notes: string[];
  children: MarkedNode[];
}

/** The pointer of the node a step decided at ('' for the rule itself). */
function nodePointer(step: TraceStep): string {
  switch (step.kind) {
    case 'result':
      return '';
    case 'ref':
      // Pointers of expansions are into the flag's definition.
      return step.pointer.startsWith('/targeting') ? step.pointer.slice('/targeting'.length) : step.pointer;
    default:
      // The step names the operator's arguments: the node is its parent.
      return step.pointer.slice(0, Math.max(0, step.pointer.lastIndexOf('/')));
  }
}

/** Marks `tree` with `trace`; without a trace (nothing evaluated yet) every node is left unknown. */
export function markTree(tree: RuleNode, trace: Trace | null): MarkedNode {
  const byNode = new Map<string, TraceStep[]>();
  for (const step of trace?.steps ?? []) {
    const at = nodePointer(step);
    byNode.set(at, [...(byNode.get(at) ?? []), step]);
  }
  const evaluated = trace !== null && trace.steps.some((s) => s.kind !== 'ref');
  const result = trace?.steps.find((s) => s.kind === 'result');
  const rootOutcome: Outcome | null = result ? { kind: 'value', value: result.value } : null;
  return mark(tree, null, trace === null ? null : evaluated, false, rootOutcome, byNode);
}

interface ChildState {
  reached: boolean;
  taken: boolean;
  outcome: Outcome | null;
}

function mark(
  node: RuleNode,
  role: string | null,
  reached: boolean | null,
  taken: boolean,
  outcome: Outcome | null,
  byNode: Map<string, TraceStep[]>,
): MarkedNode {
  const steps = reached ? (byNode.get(node.pointer) ?? []) : [];
  const notes: string[] = [];
  let own = outcome;
  // Each decision gives every argument a state; several decisions at one
  // node (inside a loop) are joined.
  const decided: ChildState[][] = [];
  const op = node.kind === 'op' ? (TRACED_AS[node.op ?? ''] ?? node.op) : undefined;
  for (const step of steps) {
    if (step.kind === 'if' && op === 'if') {
      decided.push(ifStates(node.args.length, step));
      notes.push(ifNote(node.args.length, step));
    } else if (step.kind === 'clause' && op === step.op) {
      decided.push(clauseStates(node.args.length, step));
      notes.push(`decided by clause ${step.clause + 1}`);
      own = own ?? { kind: 'value', value: step.value };
    } else if (step.kind === 'fractional' && op === 'fractional') {
      notes.push(`bucket ${step.bucket} (hash ${step.hash}) → ${JSON.stringify(step.variant)}`);
      own = own ?? { kind: 'value', value: step.variant };
      decided.push(node.args.map((arg) => ({ reached: true, taken: bucketVariant(arg) === step.variant && step.variant !== null, outcome: null })));
    } else if (step.kind === 'no-bucket' && op === 'fractional') {
      notes.push('no bucket chosen (nothing to bucket by): null');
      own = own ?? { kind: 'value', value: null };
    }
  }
  const roles = rolesOf(node);
  const children = node.args.map((arg, i) => {
    const states = decided.map((d) => d[i]).filter((s): s is ChildState => s !== undefined);
    if (reached !== true || states.length === 0) {
      return mark(arg, roles[i] ?? null, reached, false, null, byNode);
    }
    const outcomes = states.map((s) => s.outcome);
    const [first = null] = outcomes;
    return mark(
      arg,
      roles[i] ?? null,
      states.some((s) => s.reached),
      states.some((s) => s.taken),
      outcomes.every((o) => sameOutcome(o, first)) ? first : null,
      byNode,
    );
  });
  return { node, role, reached, taken, outcome: own, notes, children };
}

/** What each argument of an `if` did under one decision. */
function ifStates(count: number, step: Extract<TraceStep, { kind: 'if' }>): ChildState[] {
  const isCondition = (i: number) => i % 2 === 0 && i + 1 < count;
  return Array.from({ length: count }, (_, i) => {
    if (step.taken === null) {
      return { reached: isCondition(i), taken: false, outcome: isCondition(i) ? { kind: 'falsy' } : null };
    }
    if (isCondition(i) && i < step.condition) return { reached: true, taken: false, outcome: { kind: 'falsy' } };
    if (i === step.condition && step.taken === step.condition + 1) {
      return { reached: true, taken: false, outcome: { kind: 'truthy' } };
    }
    if (i === step.taken) return { reached: true, taken: true, outcome: null };
    return { reached: false, taken: false, outcome: null };
  });
}

function ifNote(count: number, step: Extract<TraceStep, { kind: 'if' }>): string {
  if (step.taken === null) return 'no condition held and there is no else: null';
  if (step.taken === step.condition) return 'no condition held: the else branch was taken';
  const roles = ifRoles(count);
  return `condition ${step.condition / 2 + 1} held: its “${roles[step.taken] ?? 'then'}” branch was taken`;
}

/** What each clause of an `and` or `or` did under one decision. */
function clauseStates(count: number, step: Extract<TraceStep, { kind: 'clause' }>): ChildState[] {
  // An `and` goes on past truthy clauses, an `or` past falsy ones.
  const passed: Outcome = step.op === 'and' ? { kind: 'truthy' } : { kind: 'falsy' };
  return Array.from({ length: count }, (_, i) => {
    if (i < step.clause) return { reached: true, taken: false, outcome: passed };
    if (i === step.clause) return { reached: true, taken: false, outcome: { kind: 'value', value: step.value } };
    return { reached: false, taken: false, outcome: null };
  });
}

/** The variant a `fractional` bucket (`["variant", weight]`) names, if the node is one. */
function bucketVariant(node: RuleNode): unknown {
  if (node.kind !== 'value' || !Array.isArray(node.value)) return undefined;
  return (node.value as unknown[])[0];
}

function sameOutcome(a: Outcome | null, b: Outcome | null): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The parts of an `if`'s arguments: `if`, `then`, `else if`, `then`, ..., `else`. */
function ifRoles(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    if (i % 2 === 1) return 'then';
    if (i + 1 === count) return 'else';
    return i === 0 ? 'if' : 'else if';
  });
}

function rolesOf(node: RuleNode): (string | null)[] {
  if (node.kind !== 'op') return [];
  const op = TRACED_AS[node.op ?? ''] ?? node.op;
  if (op === 'if') return ifRoles(node.args.length);
  if (op === 'and' || op === 'or') return node.args.map((_, i) => `clause ${i + 1}`);
  if (op === 'fractional') {
    return node.args.map((arg, i) => (i === 0 && bucketVariant(arg) === undefined ? 'bucket by' : 'bucket'));
  }
  return [];
}

/** The one-line text of a node made only of values and `var`s, or `null` for a larger one. */
export function inlineText(node: RuleNode): string | null {
  if (node.kind === 'value') return node.unknownSegment !== undefined ? `$ref ${JSON.stringify(node.unknownSegment)}` : compact(node.value);
  if (node.kind !== 'op' || node.segment !== undefined) return null;
  const op = node.op ?? '';
  // Operations that decide are drawn whole, so what they decided can be marked.
  if (DECIDING.has(TRACED_AS[op] ?? op)) return null;
  if (op === 'var') {
    const [path, fallback] = node.args;
    if (!path || path.kind !== 'value') return null;
    // `var ""` reads the whole data (in a loop, the current element).
    const name = typeof path.value === 'string' && path.value !== '' ? path.value : compact(path.value);
    return fallback ? `var ${name} (default ${inlineText(fallback) ?? '…'})` : `var ${name}`;
  }
  const parts: string[] = [];
  for (const arg of node.args) {
    if (arg.kind === 'op' && arg.op !== 'var') return null;
    const text = inlineText(arg);
    if (text === null) return null;
    parts.push(text);
  }
  const [left, right] = parts;
  if (INFIX.has(op) && parts.length === 2 && left !== undefined && right !== undefined) return `${left} ${op} ${right}`;
  return `${op}(${parts.join(', ')})`;
}

const DECIDING = new Set(['if', 'and', 'or', 'fractional']);

const INFIX = new Set(['==', '===', '!=', '!==', '<', '<=', '>', '>=', 'in', 'starts_with', 'ends_with']);

/** Values longer than this are cut in the tree. */
const MAX_VALUE_CHARS = 120;

function compact(value: unknown): string {
  const text = (JSON.stringify(value) as string | undefined) ?? 'undefined';
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}… (${text.length} characters)` : text;
}

/** An outcome in words. */
export function outcomeText(outcome: Outcome): string {
  if (outcome.kind === 'value') return compact(outcome.value);
  return outcome.kind === 'truthy' ? 'truthy (held)' : 'falsy (did not hold)';
}
