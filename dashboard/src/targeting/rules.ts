// The rule builder's model: an if/else chain of common conditions, each
// serving a variant or a percentage split, written as flagd JSONLogic and
// read back from it. What the builder cannot read exactly is "too complex"
// and left to the JSON editor.
import type { Bucket } from '../rollout/overlap';

/** flagd's `sem_ver` comparisons. */
export const SEM_VER_OPERATORS = ['=', '!=', '<', '<=', '>', '>=', '^', '~'] as const;
export type SemVerOperator = (typeof SEM_VER_OPERATORS)[number];

/** A condition on the evaluation context. */
export type Condition =
  /** `{"in": [{"var": attribute}, [values…]]}` */
  | { kind: 'in'; attribute: string; values: string[] }
  /** `{"starts_with": [{"var": attribute}, value]}` */
  | { kind: 'starts_with'; attribute: string; value: string }
  /** `{"ends_with": [{"var": attribute}, value]}` */
  | { kind: 'ends_with'; attribute: string; value: string }
  /** `{"sem_ver": [{"var": attribute}, operator, version]}` */
  | { kind: 'sem_ver'; attribute: string; operator: SemVerOperator; version: string }
  /** `{"$ref": segment}` */
  | { kind: 'segment'; segment: string };

export type ConditionKind = Condition['kind'];

/** What a branch serves. */
export type Outcome =
  | { kind: 'variant'; variant: string }
  /**
   * `{"fractional": [bucketing?, [variant, weight]…]}`; `bucketBy` empty
   * buckets by the flag key and targeting key (flagd's shorthand), else by
   * the flag key followed by that attribute.
   */
  | { kind: 'split'; bucketBy: string; buckets: Bucket[] }
  /** No value: the flag's default variant (only when nothing else matches). */
  | { kind: 'default' };

export interface Branch {
  condition: Condition;
  outcome: Outcome;
}

/** Branches tried in order, then `otherwise`. */
export interface BuiltRule {
  branches: Branch[];
  otherwise: Outcome;
}

/** A rule read from JSONLogic, or why the builder cannot show it. */
export type ReadRule = { ok: true; rule: BuiltRule } | { ok: false; reason: string };

/** The JSONLogic of a rule; `undefined` for no targeting at all. */
export function toJsonLogic(rule: BuiltRule): unknown {
  if (rule.branches.length === 0) return rule.otherwise.kind === 'default' ? undefined : outcomeJson(rule.otherwise);
  // The default variant is written as flagd's examples write it: a null
  // result, which flagd answers with the default variant.
  return { if: [...rule.branches.flatMap((b) => [conditionJson(b.condition), outcomeJson(b.outcome)]), outcomeJson(rule.otherwise)] };
}

/** What keeps a rule from being useful, for the user to fix; empty when none. */
export function ruleProblems(rule: BuiltRule): string[] {
  const problems: string[] = [];
  if (rule.branches.length === 0 && rule.otherwise.kind === 'variant') {
    problems.push('With no condition, serve one variant by setting the flag’s default variant, or add a condition.');
  }
  rule.branches.forEach((branch, i) => {
    const where = `Condition ${i + 1}`;
    const c = branch.condition;
    if (c.kind === 'segment') {
      if (c.segment === '') problems.push(`${where}: choose a segment.`);
    } else if (c.attribute.trim() === '') {
      problems.push(`${where}: name the attribute.`);
    }
    if (c.kind === 'in' && c.values.length === 0) problems.push(`${where}: list at least one value.`);
    if (c.kind === 'sem_ver' && c.version.trim() === '') problems.push(`${where}: give a version.`);
    problems.push(...outcomeProblems(branch.outcome, where));
  });
  problems.push(...outcomeProblems(rule.otherwise, 'Otherwise'));
  return problems;
}

function outcomeProblems(outcome: Outcome, where: string): string[] {
  if (outcome.kind === 'variant' && outcome.variant === '') return [`${where}: choose a variant.`];
  if (outcome.kind === 'split' && outcome.buckets.every((b) => b.weight === 0)) {
    return [`${where}: give at least one variant of the split a weight above 0.`];
  }
  return [];
}

function conditionJson(c: Condition): unknown {
  switch (c.kind) {
    case 'in':
      return { in: [{ var: c.attribute }, c.values] };
    case 'starts_with':
      return { starts_with: [{ var: c.attribute }, c.value] };
    case 'ends_with':
      return { ends_with: [{ var: c.attribute }, c.value] };
    case 'sem_ver':
      return { sem_ver: [{ var: c.attribute }, c.operator, c.version] };
    case 'segment':
      return { $ref: c.segment };
  }
}

function outcomeJson(o: Outcome): unknown {
  switch (o.kind) {
    case 'variant':
      return o.variant;
    case 'split': {
      const buckets = o.buckets.map((b) => [b.variant, b.weight]);
      // Salted with the flag key, as flagd recommends, so that flags split
      // by the same attribute do not pick the same users.
      return o.bucketBy === ''
        ? { fractional: buckets }
        : { fractional: [{ cat: [{ var: '$flagd.flagKey' }, { var: o.bucketBy }] }, ...buckets] };
    }
    case 'default':
      return null;
  }
}

/** Reads a rule the builder wrote (or one written the same way). */
export function fromJsonLogic(targeting: unknown): ReadRule {
  if (targeting === undefined || isEmptyObject(targeting)) {
    return { ok: true, rule: { branches: [], otherwise: { kind: 'default' } } };
  }
  const only = operator(targeting);
  if (only?.[0] === 'fractional') {
    const split = readOutcome(targeting);
    return split.ok ? { ok: true, rule: { branches: [], otherwise: split.outcome } } : split;
  }
  if (only?.[0] !== 'if') {
    return tooComplex(`its top is ${describe(targeting)}, not an if/else chain or a percentage split`);
  }
  const args = only[1];
  if (!Array.isArray(args) || args.length < 2) return tooComplex('its if has fewer than a condition and a result');
  const branches: Branch[] = [];
  for (let i = 0; i + 1 < args.length; i += 2) {
    const condition = readCondition(args[i]);
    if (!condition.ok) return condition;
    const outcome = readOutcome(args[i + 1]);
    if (!outcome.ok) return outcome;
    if (outcome.outcome.kind === 'default') return tooComplex(`condition ${i / 2 + 1} serves null`);
    branches.push({ condition: condition.condition, outcome: outcome.outcome });
  }
  let otherwise: Outcome = { kind: 'default' };
  // No else, or a null one, both serve the default variant.
  if (args.length % 2 === 1) {
    const last = readOutcome(args[args.length - 1]);
    if (!last.ok) return last;
    otherwise = last.outcome;
  }
  return { ok: true, rule: { branches, otherwise } };
}

type Read<T, K extends string> = ({ ok: true } & Record<K, T>) | { ok: false; reason: string };

/** The form the builder writes each condition in, by operator. */
const FORMS: Record<string, string> = {
  in: '{"in": [{"var": attribute}, [text, …]]}',
  starts_with: '{"starts_with": [{"var": attribute}, text]}',
  ends_with: '{"ends_with": [{"var": attribute}, text]}',
  sem_ver: '{"sem_ver": [{"var": attribute}, comparison, version]}',
  $ref: '{"$ref": segment}',
};

function readCondition(json: unknown): Read<Condition, 'condition'> {
  const op = operator(json);
  const form = op ? FORMS[op[0]] : undefined;
  if (!op || form === undefined) return tooComplex(`a condition is ${describe(json)}, which the builder does not write`);
  const [name, args] = op;
  const list = Array.isArray(args) ? (args as unknown[]) : [];
  const attribute = varName(list[0]);
  if (name === '$ref' && typeof args === 'string') {
    return { ok: true, condition: { kind: 'segment', segment: args } };
  }
  if (attribute !== null) {
    if (name === 'in' && list.length === 2 && Array.isArray(list[1]) && list[1].every((v) => typeof v === 'string')) {
      return { ok: true, condition: { kind: 'in', attribute, values: list[1] } };
    }
    if ((name === 'starts_with' || name === 'ends_with') && list.length === 2 && typeof list[1] === 'string') {
      return { ok: true, condition: { kind: name, attribute, value: list[1] } };
    }
    if (name === 'sem_ver' && list.length === 3 && isSemVerOperator(list[1]) && typeof list[2] === 'string') {
      return { ok: true, condition: { kind: 'sem_ver', attribute, operator: list[1], version: list[2] } };
    }
  }
  return tooComplex(`a “${name}” condition is not in the form the builder writes, ${form}`);
}

function readOutcome(json: unknown): Read<Outcome, 'outcome'> {
  if (typeof json === 'string') return { ok: true, outcome: { kind: 'variant', variant: json } };
  if (json === null) return { ok: true, outcome: { kind: 'default' } };
  const op = operator(json);
  if (op?.[0] !== 'fractional' || !Array.isArray(op[1])) return tooComplex(`a result is ${describe(json)}, not a variant or a split`);
  const args = op[1] as unknown[];
  let bucketBy = '';
  let buckets = args;
  if (args.length > 0 && !Array.isArray(args[0])) {
    const salted = saltedAttribute(args[0]);
    if (salted === null) return tooComplex('a split buckets by an expression the builder does not write');
    bucketBy = salted;
    buckets = args.slice(1);
  }
  const read: Bucket[] = [];
  for (const bucket of buckets) {
    const [variant, weight = 1, ...rest] = Array.isArray(bucket) ? (bucket as unknown[]) : [];
    if (typeof variant !== 'string' || typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || rest.length > 0) {
      return tooComplex(`a split has the bucket ${JSON.stringify(bucket)}, not [variant, weight]`);
    }
    read.push({ variant, weight });
  }
  if (read.length === 0) return tooComplex('a split has no buckets');
  return { ok: true, outcome: { kind: 'split', bucketBy, buckets: read } };
}

/** `{"cat": [{"var": "$flagd.flagKey"}, {"var": attribute}]}` → attribute. */
function saltedAttribute(json: unknown): string | null {
  const op = operator(json);
  if (op?.[0] !== 'cat' || !Array.isArray(op[1]) || op[1].length !== 2) return null;
  const [salt, attribute] = op[1] as unknown[];
  return varName(salt) === '$flagd.flagKey' ? varName(attribute) : null;
}

/** `{"var": name}` → name. */
function varName(json: unknown): string | null {
  const op = operator(json);
  return op?.[0] === 'var' && typeof op[1] === 'string' ? op[1] : null;
}

/** An object with exactly one member: its name and value. */
function operator(json: unknown): [string, unknown] | null {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return null;
  const entries = Object.entries(json);
  return entries.length === 1 ? (entries[0] ?? null) : null;
}

function isEmptyObject(json: unknown): boolean {
  return typeof json === 'object' && json !== null && !Array.isArray(json) && Object.keys(json).length === 0;
}

function isSemVerOperator(value: unknown): value is SemVerOperator {
  return typeof value === 'string' && (SEM_VER_OPERATORS as readonly string[]).includes(value);
}

/** A short description of a JSON value for a "too complex" reason. */
function describe(json: unknown): string {
  const op = operator(json);
  if (op) return `the operator “${op[0]}”`;
  const text = JSON.stringify(json);
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}

function tooComplex(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}
