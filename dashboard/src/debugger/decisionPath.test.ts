// The decision path's logic: reading the steps the admin API answers,
// expanding segments into the rule, and marking each node with what the
// evaluation did there.
import { describe, expect, test } from 'vitest';

import { type MarkedNode, type RuleNode, type Trace, type TraceStep, inlineText, markTree, ruleTree, traceOf } from './decisionPath';

/** A decision path of `steps`, none omitted. */
function path(...steps: TraceStep[]): Trace {
  return { steps, omitted: 0 };
}

describe('traceOf', () => {
  test('reads every kind of step, with only the fields its kind has', () => {
    const trace = traceOf(
      [
        { pointer: '/targeting/if/0', kind: 'REF', segment: 'staff' },
        { pointer: '/if/0/and', kind: 'CLAUSE', operator: 'and', clause: 1, value: true },
        { pointer: '/if', kind: 'IF', condition: 0, branch: 1 },
        { pointer: '/if/2/fractional', kind: 'FRACTIONAL', bucket: 68, hash: 2932679249, value: 'off' },
        { pointer: '/if/4/fractional', kind: 'FRACTIONAL', bucket: 0, hash: 0, value: null },
        { pointer: '/if/6', kind: 'IF', condition: 2, branch: null },
        { pointer: '', kind: 'RESULT', value: 'on' },
      ],
      3,
    );
    expect(trace).toEqual({
      steps: [
        { kind: 'ref', pointer: '/targeting/if/0', segment: 'staff' },
        { kind: 'clause', pointer: '/if/0/and', op: 'and', clause: 1, value: true },
        { kind: 'if', pointer: '/if', condition: 0, taken: 1 },
        { kind: 'fractional', pointer: '/if/2/fractional', bucket: 68, hash: 2932679249, variant: 'off' },
        { kind: 'no-bucket', pointer: '/if/4/fractional' },
        { kind: 'if', pointer: '/if/6', condition: 2, taken: null },
        { kind: 'result', value: 'on' },
      ],
      omitted: 3,
    });
  });

  test('values keep their JSON, null included', () => {
    const trace = traceOf(
      [
        { pointer: '/or', kind: 'CLAUSE', operator: 'or', clause: 0, value: { 'a; b': [']', ')'] } },
        { pointer: '', kind: 'RESULT', value: null },
      ],
      0,
    );
    expect(trace.steps).toEqual([
      { kind: 'clause', pointer: '/or', op: 'or', clause: 0, value: { 'a; b': [']', ')'] } },
      { kind: 'result', value: null },
    ]);
  });

  test('no steps (a static or disabled flag)', () => {
    expect(traceOf([], 0)).toEqual({ steps: [], omitted: 0 });
  });
});

describe('ruleTree', () => {
  test('names each node by the position the engine traces, segments expanded in place', () => {
    const segments = new Map<string, unknown>([['staff', { ends_with: [{ var: 'email' }, '@example.com'] }]]);
    const tree = ruleTree({ if: [{ $ref: 'staff' }, 'on', { '?:': [true, { '/': [1, 2] }, null] }] }, segments);
    const pointers = (node: RuleNode): string[] => [node.pointer, ...node.args.flatMap(pointers)];
    expect(pointers(tree)).toEqual([
      '',
      '/if/0',
      '/if/0/ends_with/0',
      '/if/0/ends_with/0/var/0',
      '/if/0/ends_with/1',
      '/if/1',
      '/if/2',
      // `?:` is traced as `if`, and `/` is escaped.
      '/if/2/if/0',
      '/if/2/if/1',
      '/if/2/if/1/~1/0',
      '/if/2/if/1/~1/1',
      '/if/2/if/2',
    ]);
    expect(tree.args[0]?.segment).toBe('staff');
    expect(tree.args[0]?.op).toBe('ends_with');
  });

  test('a reference to no segment is kept and flagged', () => {
    const tree = ruleTree({ if: [{ $ref: 'gone' }, 'on'] }, new Map());
    expect(tree.args[0]).toMatchObject({ kind: 'value', unknownSegment: 'gone', value: { $ref: 'gone' } });
  });

  test('arrays are values unless they hold operations', () => {
    const tree = ruleTree({ in: [{ var: 'tier' }, ['gold', 'silver']] }, new Map());
    expect(tree.args[1]).toMatchObject({ kind: 'value', value: ['gold', 'silver'] });
    const mixed = ruleTree({ in: ['x', [{ var: 'a' }, 'y']] }, new Map());
    expect(mixed.args[1]?.kind).toBe('array');
    expect(mixed.args[1]?.args[0]?.pointer).toBe('/in/1/0');
  });
});

describe('inlineText', () => {
  const inline = (rule: unknown) => inlineText(ruleTree(rule, new Map()));

  test('comparisons of variables and values read as one line', () => {
    expect(inline({ '==': [{ var: 'platform' }, 'ios'] })).toBe('var platform == "ios"');
    expect(inline({ sem_ver: [{ var: 'appVersion' }, '>=', '4.2.0'] })).toBe('sem_ver(var appVersion, ">=", "4.2.0")');
    expect(inline({ var: ['plan', 'free'] })).toBe('var plan (default "free")');
  });

  test('nested operations, bucketing and expanded segments are drawn as a tree', () => {
    expect(inline({ and: [{ '==': [1, 1] }] })).toBeNull();
    expect(inline({ fractional: [['on', 50], ['off', 50]] })).toBeNull();
    expect(inline({ if: [{ var: 'a' }, 'A', 'B'] })).toBeNull();
    expect(inline({ or: [{ var: 'a' }, { var: 'b' }] })).toBeNull();
  });
});

/** A marked tree as lines: the node, then what it was marked with. */
function lines(node: MarkedNode, depth = 0): string[] {
  const marks = [
    node.reached === false ? 'not evaluated' : null,
    node.taken ? 'taken' : null,
    node.outcome ? (node.outcome.kind === 'value' ? JSON.stringify(node.outcome.value) : node.outcome.kind) : null,
    ...node.notes,
  ].filter((m) => m !== null);
  const label = inlineText(node.node) ?? node.node.op ?? 'list';
  const line = `${'  '.repeat(depth)}${node.role ? `${node.role}: ` : ''}${label}${marks.length ? ` [${marks.join('; ')}]` : ''}`;
  return [line, ...(inlineText(node.node) === null ? node.children.flatMap((c) => lines(c, depth + 1)) : [])];
}

const segments = new Map<string, unknown>([['staff', { ends_with: [{ var: 'email' }, '@example.com'] }]]);
const rollout = { if: [{ $ref: 'staff' }, 'on', { fractional: [['on', 10], ['off', 90]] }] };

describe('markTree', () => {
  test('a condition that held: its branch taken, the rest not evaluated', () => {
    const trace = path(
      { kind: 'ref', pointer: '/targeting/if/0', segment: 'staff' },
      { kind: 'if', pointer: '/if', condition: 0, taken: 1 },
      { kind: 'result', value: 'on' },
    );
    expect(lines(markTree(ruleTree(rollout, segments), trace))).toEqual([
      'if ["on"; condition 1 held: its “then” branch was taken]',
      '  if: ends_with [truthy]',
      '    var email',
      '    "@example.com"',
      '  then: "on" [taken]',
      '  else: fractional [not evaluated]',
      '    bucket: ["on",10] [not evaluated]',
      '    bucket: ["off",90] [not evaluated]',
    ]);
  });

  test('the else branch: a bucketing, with the bucket it chose', () => {
    const trace = path(
      { kind: 'ref', pointer: '/targeting/if/0', segment: 'staff' },
      { kind: 'if', pointer: '/if', condition: 2, taken: 2 },
      { kind: 'fractional', pointer: '/if/2/fractional', bucket: 68, hash: 2932679249, variant: 'off' },
      { kind: 'result', value: 'off' },
    );
    expect(lines(markTree(ruleTree(rollout, segments), trace))).toEqual([
      'if ["off"; no condition held: the else branch was taken]',
      '  if: ends_with [falsy]',
      '    var email',
      '    "@example.com"',
      '  then: "on" [not evaluated]',
      '  else: fractional [taken; "off"; bucket 68 (hash 2932679249) → "off"]',
      '    bucket: ["on",10]',
      '    bucket: ["off",90] [taken]',
    ]);
  });

  test('no condition held and no else; an `and` decided by its second clause', () => {
    const rule = { if: [{ and: [{ '==': [{ var: 'platform' }, 'ios'] }, { sem_ver: [{ var: 'v' }, '>=', '4.2.0'] }] }, 'enabled'] };
    const trace = path(
      { kind: 'clause', pointer: '/if/0/and', op: 'and', clause: 1, value: false },
      { kind: 'if', pointer: '/if', condition: 2, taken: null },
      { kind: 'result', value: null },
    );
    expect(lines(markTree(ruleTree(rule, new Map()), trace))).toEqual([
      'if [null; no condition held and there is no else: null]',
      '  if: and [falsy; decided by clause 2]',
      '    clause 1: var platform == "ios" [truthy]',
      '    clause 2: sem_ver(var v, ">=", "4.2.0") [false]',
      '  then: "enabled" [not evaluated]',
    ]);
  });

  test('an `or` stops at its first truthy clause; later clauses are not evaluated', () => {
    const rule = { or: [{ var: 'a' }, { var: 'b' }, { var: 'c' }] };
    const trace = path({ kind: 'clause', pointer: '/or', op: 'or', clause: 1, value: 'x' }, { kind: 'result', value: 'x' });
    expect(lines(markTree(ruleTree(rule, new Map()), trace))).toEqual([
      'or ["x"; decided by clause 2]',
      '  clause 1: var a [falsy]',
      '  clause 2: var b ["x"]',
      '  clause 3: var c [not evaluated]',
    ]);
  });

  test('else-if chains name their parts', () => {
    const rule = { if: [{ var: 'a' }, 'A', { var: 'b' }, 'B', 'C'] };
    const trace = path({ kind: 'if', pointer: '/if', condition: 2, taken: 3 }, { kind: 'result', value: 'B' });
    expect(lines(markTree(ruleTree(rule, new Map()), trace))).toEqual([
      'if ["B"; condition 2 held: its “then” branch was taken]',
      '  if: var a [falsy]',
      '  then: "A" [not evaluated]',
      '  else if: var b [truthy]',
      '  then: "B" [taken]',
      '  else: "C" [not evaluated]',
    ]);
  });

  test('a bucketing with nothing to bucket by', () => {
    const rule = { fractional: [['on', 10], ['off', 90]] };
    const trace = path({ kind: 'no-bucket', pointer: '/fractional' }, { kind: 'result', value: null });
    expect(lines(markTree(ruleTree(rule, new Map()), trace))).toEqual([
      'fractional [null; no bucket chosen (nothing to bucket by): null]',
      '  bucket: ["on",10]',
      '  bucket: ["off",90]',
    ]);
  });

  test('a rule decided several times (in a loop) joins what each decision reached', () => {
    const rule = { some: [{ var: 'items' }, { if: [{ var: '' }, true, false] }] };
    const trace = path(
      { kind: 'if', pointer: '/some/1/if', condition: 0, taken: 1 },
      { kind: 'if', pointer: '/some/1/if', condition: 2, taken: 2 },
      { kind: 'result', value: true },
    );
    const marked = markTree(ruleTree(rule, new Map()), trace);
    expect(lines(marked)).toEqual([
      'some [true]',
      '  var items',
      '  if [condition 1 held: its “then” branch was taken; no condition held: the else branch was taken]',
      '    if: var ""',
      '    then: true [taken]',
      '    else: false [taken]',
    ]);
  });

  test('a rule that was not evaluated (a disabled flag) is all marked so', () => {
    const marked = markTree(ruleTree(rollout, segments), path());
    expect(marked.reached).toBe(false);
    expect(lines(marked).every((line) => line.includes('not evaluated'))).toBe(true);
  });

  test('before any evaluation nothing is marked', () => {
    const marked = markTree(ruleTree(rollout, segments), null);
    expect(lines(marked)).toEqual([
      'if',
      '  if: ends_with',
      '    var email',
      '    "@example.com"',
      '  then: "on"',
      '  else: fractional',
      '    bucket: ["on",10]',
      '    bucket: ["off",90]',
    ]);
  });
});
