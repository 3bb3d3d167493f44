import { describe, expect, it } from 'vitest';

import type { Diagnostic } from '../editing/diagnostics';
import { parseText } from '../targeting/json';
import { flagsNamed, refusalHelp, ruleSummary, segmentLine } from './segmentText';

const finding = (pointer: string, flagKey: string | null = null): Diagnostic => ({
  severity: 'error',
  message: 'm',
  flagKey,
  pointer,
  isNew: true,
});

describe('ruleSummary', () => {
  it('writes a rule as compact JSON, cut with an ellipsis past the limit', () => {
    expect(ruleSummary({ '==': [{ var: 'plan' }, 'pro'] })).toBe('{"==":[{"var":"plan"},"pro"]}');
    const long = ruleSummary({ in: [{ var: 'email' }, Array.from({ length: 20 }, (_, i) => `user${i}@example.com`)] }, 40);
    expect(long).toHaveLength(40);
    expect(long.endsWith('…')).toBe(true);
    expect(ruleSummary(true)).toBe('true');
  });
});

describe('flagsNamed', () => {
  it('lists each flag once, from the finding or else its pointer', () => {
    expect(
      flagsNamed([
        finding('/flags/a/targeting', 'a'),
        finding('/flags/b~1c/targeting/if/0'),
        finding('/flags/a/targeting/if/1', 'a'),
        finding('/$evaluators/staff'),
      ]),
    ).toEqual(['a', 'b/c']);
  });
});

describe('segmentLine', () => {
  it('finds a finding about the rule at its line, directly or through a flag’s $ref, and none about the flag', () => {
    const text = '{\n  "and": [\n    true,\n    {"$ref": "x"}\n  ]\n}';
    const parsed = parseText(text);
    if (parsed.kind !== 'json') throw new Error('not JSON');
    expect(segmentLine(text, parsed.tree, 'a/b', finding('/$evaluators/a~1b/and/1'))).toBe(4);
    expect(segmentLine(text, parsed.tree, 'a/b', finding('/$evaluators/a~1b'))).toBe(1);
    expect(segmentLine(text, parsed.tree, 'a/b', finding('/$evaluators/other/and/1'))).toBeNull();
    expect(segmentLine(text, parsed.tree, 'a/b', finding('/flags/f/targeting', 'f'))).toBeNull();
    // Through a flag's `$ref`, into the rule put in its place.
    expect(segmentLine(text, parsed.tree, 'a/b', finding('/flags/f/targeting/if/0/$ref/and/0', 'f'))).toBe(3);
  });
});

describe('refusalHelp', () => {
  const failure = (code: string, diagnostics: Diagnostic[] = []) => ({ message: 'm', code, diagnostics });

  it('says what each refusal means for a segment', () => {
    const used = failure('INVALID_DEFINITION', [finding('/flags/f/targeting', 'f')]);
    expect(refusalHelp('delete', used, 'staff')).toBe(
      'Flags still use this segment through {"$ref": "staff"}: take it out of their targeting first, then delete the segment.',
    );
    expect(refusalHelp('update', used, 'staff')).toBe(
      'With this rule, flags that use the segment would no longer compile: nothing was saved.',
    );
    expect(refusalHelp('create', failure('INVALID_DEFINITION'), 'x')).toBe('The compiler refuses this rule: nothing was saved.');
    expect(refusalHelp('create', failure('SEGMENT_REF'), 'x')).toMatch(/cannot use another segment/);
    expect(refusalHelp('update', failure('VERSION_CONFLICT'), 'x')).toMatch(/changed this segment after you opened it/);
    expect(refusalHelp('create', failure('INVALID_KEY'), 'x')).toBeNull();
  });
});
