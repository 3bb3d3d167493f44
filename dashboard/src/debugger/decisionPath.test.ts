// The decision path's logic: reading the engine's trace text (as
// `Trace::render` writes it, in the forms the server answered for the
// example flags), expanding segments into the rule, and marking each node
// with what the evaluation did there.
import { describe, expect, test } from 'vitest';

import { type MarkedNode, type RuleNode, inlineText, markTree, parseTrace, ruleTree } from './decisionPath';

describe('parseTrace', () => {
  test('reads every kind of step', () => {
    const trace = parseTrace(
      '/targeting/if/0: $ref "staff" expanded; /if/0/and: and decided by clause 1 (true); ' +
        '/if: condition 0 chose branch 1; /if/2/fractional: fractional bucket 68 (hash 2932679249) -> "off"; ' +
        '/if/4/fractional: fractional produced no bucket; /if/6: no condition held, no else branch; result "on"',
    );
    expect(trace.problem).toBeNull();
    expect(trace.steps).toEqual([
      { kind: 'ref', pointer: '/targeting/if/0', segment: 'staff' },
      { kind: 'clause', pointer: '/if/0/and', op: 'and', clause: 1, value: true },
      { kind: 'if', pointer: '/if', condition: 0, taken: 1 },
      { kind: 'fractional', pointer: '/if/2/fractional', bucket: 68, hash: 2932679249, variant: 'off' },
      { kind: 'no-bucket', pointer: '/if/4/fractional' },
      { kind: 'if', pointer: '/if/6', condition: -1, taken: null },
      { kind: 'result', value: 'on' },
    ]);
  });

  test('values may hold the separator, brackets and quotes', () => {
    const trace = parseTrace('/or: or decided by clause 0 ({"a; b":["]",")"],"c":"\\"; x"}); result [1,{"k":null}]');
    expect(trace.problem).toBeNull();
    expect(trace.steps).toEqual([
      { kind: 'clause', pointer: '/or', op: 'or', clause: 0, value: { 'a; b': [']', ')'], c: '"; x' } },
      { kind: 'result', value: [1, { k: null }] },
    ]);
  });

  test('the root pointer, numbers, null and omitted steps', () => {
    const trace = parseTrace('/: $ref "everyone" expanded; /and: and decided by clause 2 (-1.5e3); result null; 12 more steps omitted');
    expect(trace.steps).toEqual([
      { kind: 'ref', pointer: '', segment: 'everyone' },
      { kind: 'clause', pointer: '/and', op: 'and', clause: 2, value: -1500 },
      { kind: 'result', value: null },
    ]);
    expect(trace.omitted).toBe(12);
  });

  test('an empty trace (a static or disabled flag) has no steps', () => {
    expect(parseTrace('')).toEqual({ steps: [], omitted: 0, problem: null });
  });

  test('text it cannot read is reported, with the steps read before it', () => {
    const trace = parseTrace('/if: condition 0 chose branch 1; /if/1: something new happened; result true');
    expect(trace.steps).toEqual([{ kind: 'if', pointer: '/if', condition: 0, taken: 1 }]);
    expect(trace.problem).toBe('the decision path could not be read from “/if/1: something new happened; result tr”');
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
    const trace = parseTrace('/targeting/if/0: $ref "staff" expanded; /if: condition 0 chose branch 1; result "on"');
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
    const trace = parseTrace(
      '/targeting/if/0: $ref "staff" expanded; /if: condition 2 chose branch 2; ' +
        '/if/2/fractional: fractional bucket 68 (hash 2932679249) -> "off"; result "off"',
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
    const trace = parseTrace('/if/0/and: and decided by clause 1 (false); /if: no condition held, no else branch; result null');
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
    const trace = parseTrace('/or: or decided by clause 1 ("x"); result "x"');
    expect(lines(markTree(ruleTree(rule, new Map()), trace))).toEqual([
      'or ["x"; decided by clause 2]',
      '  clause 1: var a [falsy]',
      '  clause 2: var b ["x"]',
      '  clause 3: var c [not evaluated]',
    ]);
  });

  test('else-if chains name their parts', () => {
    const rule = { if: [{ var: 'a' }, 'A', { var: 'b' }, 'B', 'C'] };
    const trace = parseTrace('/if: condition 2 chose branch 3; result "B"');
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
    const trace = parseTrace('/fractional: fractional produced no bucket; result null');
    expect(lines(markTree(ruleTree(rule, new Map()), trace))).toEqual([
      'fractional [null; no bucket chosen (nothing to bucket by): null]',
      '  bucket: ["on",10]',
      '  bucket: ["off",90]',
    ]);
  });

  test('a rule decided several times (in a loop) joins what each decision reached', () => {
    const rule = { some: [{ var: 'items' }, { if: [{ var: '' }, true, false] }] };
    const trace = parseTrace('/some/1/if: condition 0 chose branch 1; /some/1/if: condition 2 chose branch 2; result true');
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
    const marked = markTree(ruleTree(rollout, segments), parseTrace(''));
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
