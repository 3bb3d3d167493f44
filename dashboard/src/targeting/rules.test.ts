// The rule builder's JSONLogic: what each kind of condition and result is
// written as, rules read back exactly, and the rules it cannot read.
import { expect, test } from 'vitest';

import { type BuiltRule, fromJsonLogic, ruleProblems, toJsonLogic } from './rules';

const every: BuiltRule = {
  branches: [
    { condition: { kind: 'in', attribute: 'email', values: ['ann@example.com', 'bob@example.com'] }, outcome: { kind: 'variant', variant: 'on' } },
    { condition: { kind: 'starts_with', attribute: 'email', value: 'admin@' }, outcome: { kind: 'variant', variant: 'on' } },
    { condition: { kind: 'ends_with', attribute: 'email', value: '@example.com' }, outcome: { kind: 'variant', variant: 'off' } },
    { condition: { kind: 'sem_ver', attribute: 'appVersion', operator: '>=', version: '2.1.0' }, outcome: { kind: 'variant', variant: 'on' } },
    {
      condition: { kind: 'segment', segment: 'beta-testers' },
      outcome: { kind: 'split', bucketBy: 'userId', buckets: [{ variant: 'on', weight: 10 }, { variant: 'off', weight: 90 }] },
    },
  ],
  otherwise: { kind: 'split', bucketBy: '', buckets: [{ variant: 'on', weight: 1 }, { variant: 'off', weight: 3 }] },
};

test('each kind of condition and result is written as flagd JSONLogic', () => {
  expect(toJsonLogic(every)).toEqual({
    if: [
      { in: [{ var: 'email' }, ['ann@example.com', 'bob@example.com']] },
      'on',
      { starts_with: [{ var: 'email' }, 'admin@'] },
      'on',
      { ends_with: [{ var: 'email' }, '@example.com'] },
      'off',
      { sem_ver: [{ var: 'appVersion' }, '>=', '2.1.0'] },
      'on',
      { $ref: 'beta-testers' },
      { fractional: [{ cat: [{ var: '$flagd.flagKey' }, { var: 'userId' }] }, ['on', 10], ['off', 90]] },
      { fractional: [['on', 1], ['off', 3]] },
    ],
  });
});

test('rules read back exactly as they were built', () => {
  const rules: BuiltRule[] = [
    every,
    { branches: [], otherwise: { kind: 'default' } },
    { branches: [], otherwise: { kind: 'split', bucketBy: '', buckets: [{ variant: 'a', weight: 50 }, { variant: 'b', weight: 50 }] } },
    { branches: every.branches.slice(0, 1), otherwise: { kind: 'default' } },
    { branches: every.branches.slice(3, 4), otherwise: { kind: 'variant', variant: 'off' } },
    // What the form holds while it is being filled in reads back too.
    { branches: [{ condition: { kind: 'in', attribute: '', values: [] }, outcome: { kind: 'variant', variant: '' } }], otherwise: { kind: 'default' } },
  ];
  for (const rule of rules) {
    // Through text, as the JSON editor holds it.
    const json: unknown = JSON.parse(JSON.stringify(toJsonLogic(rule) ?? {}));
    expect(fromJsonLogic(json)).toEqual({ ok: true, rule });
  }
  expect(fromJsonLogic(undefined)).toEqual({ ok: true, rule: { branches: [], otherwise: { kind: 'default' } } });
});

test('rules written the same way by hand are read too', () => {
  // An if without an else serves the default variant, as a null else does.
  const seeded = { if: [{ $ref: 'beta_testers' }, 'beta', null] };
  const read = fromJsonLogic({ if: [{ $ref: 'beta_testers' }, 'beta'] });
  expect(read).toEqual(fromJsonLogic(seeded));
  expect(read.ok && toJsonLogic(read.rule)).toEqual(seeded);
  // A bucket without a weight weighs 1.
  expect(fromJsonLogic({ fractional: [['a'], ['b', 2]] })).toEqual({
    ok: true,
    rule: { branches: [], otherwise: { kind: 'split', bucketBy: '', buckets: [{ variant: 'a', weight: 1 }, { variant: 'b', weight: 2 }] } },
  });
});

test('rules the builder does not write are too complex, with the reason', () => {
  const reason = (json: unknown) => {
    const read = fromJsonLogic(json);
    return read.ok ? 'read' : read.reason;
  };
  expect(reason({ if: [{ and: [{ '==': [{ var: 'a' }, 1] }, true] }, 'on', 'off'] })).toBe(
    'a condition is the operator “and”, which the builder does not write',
  );
  expect(reason({ '==': [1, 1] })).toBe('its top is the operator “==”, not an if/else chain or a percentage split');
  expect(reason({ if: [{ in: ['@example.com', { var: 'email' }] }, 'on'] })).toBe(
    'a “in” condition is not in the form the builder writes, {"in": [{"var": attribute}, [text, …]]}',
  );
  expect(reason({ if: [{ in: [{ var: 'email' }, 'example'] }, 'on'] })).toMatch(/^a “in” condition is not in the form/);
  expect(reason({ if: [{ $ref: 7 }, 'on'] })).toBe('a “$ref” condition is not in the form the builder writes, {"$ref": segment}');
  expect(reason({ if: [{ $ref: 'beta' }, { if: [true, 'on'] }] })).toBe('a result is the operator “if”, not a variant or a split');
  expect(reason({ if: [{ $ref: 'beta' }, { fractional: [{ var: 'email' }, ['on', 1]] }] })).toBe(
    'a split buckets by an expression the builder does not write',
  );
  expect(reason({ if: [{ $ref: 'beta' }, { fractional: [['on', 0.5]] }] })).toBe('a split has the bucket ["on",0.5], not [variant, weight]');
  expect(reason({ if: [{ $ref: 'beta' }, null] })).toBe('condition 1 serves null');
  expect(reason({ if: [{ $ref: 'beta' }] })).toBe('its if has fewer than a condition and a result');
  expect(reason({ if: [{ sem_ver: [{ var: 'v' }, '===', '1.0.0'] }, 'on'] })).toMatch(/^a “sem_ver” condition is not in the form/);
  expect(reason('on')).toBe('its top is "on", not an if/else chain or a percentage split');
});

test('an unfinished rule says what is missing', () => {
  expect(ruleProblems(every)).toEqual([]);
  expect(
    ruleProblems({
      branches: [
        { condition: { kind: 'in', attribute: ' ', values: [] }, outcome: { kind: 'variant', variant: '' } },
        { condition: { kind: 'segment', segment: '' }, outcome: { kind: 'split', bucketBy: '', buckets: [{ variant: 'on', weight: 0 }] } },
        { condition: { kind: 'sem_ver', attribute: 'v', operator: '<', version: '' }, outcome: { kind: 'variant', variant: 'on' } },
      ],
      otherwise: { kind: 'default' },
    }),
  ).toEqual([
    'Condition 1: name the attribute.',
    'Condition 1: list at least one value.',
    'Condition 1: choose a variant.',
    'Condition 2: choose a segment.',
    'Condition 2: give at least one variant of the split a weight above 0.',
    'Condition 3: give a version.',
  ]);
  expect(ruleProblems({ branches: [], otherwise: { kind: 'variant', variant: 'on' } })).toHaveLength(1);
});
