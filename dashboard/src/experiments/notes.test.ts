// The notes' pointers: the report's spelling of GraphQL's fields, escaped
// metric names, and every note in words, in the report's order.
import { describe, expect, test } from 'vitest';

import { comparisonPointer, noteAt, noteLines, pointerToken, reportField, variantMetricPointer } from './notes';

describe('pointers', () => {
  test('name a comparison’s figure as the report spells it', () => {
    expect(reportField('relLift')).toBe('rel_lift');
    expect(reportField('sequentialPValueHolm')).toBe('sequential_p_value_holm');
    expect(reportField('pValueBh')).toBe('p_value_bh');
    expect(comparisonPointer(3, 'chanceToBeatControl')).toBe('/comparisons/3/chance_to_beat_control');
  });

  test('escape a metric’s name as RFC 6901 says', () => {
    expect(pointerToken('a/b~c')).toBe('a~1b~0c');
    expect(variantMetricPointer(1, 'rev/user', 'mean')).toBe('/variants/1/metrics/rev~1user/mean');
  });

  test('find the note of a figure, or none', () => {
    const notes = [{ pointer: '/comparisons/0/rel_lift', reason: 'the control’s mean is 0, so there is no relative lift' }];
    expect(noteAt(notes, comparisonPointer(0, 'relLift'))).toBe('the control’s mean is 0, so there is no relative lift');
    expect(noteAt(notes, comparisonPointer(1, 'relLift'))).toBeNull();
  });
});

describe('noteLines', () => {
  test('say what each figure is and why, the result’s own first, then variants, then comparisons', () => {
    const lines = noteLines(
      [
        { pointer: '/comparisons/1/p_value_holm', reason: 'the test’s p-value is undefined' },
        { pointer: '/comparisons/0/rel_lift', reason: 'the control’s mean is 0' },
        { pointer: '/variants/0/metrics/a~1b/variance', reason: 'an arm has fewer than 2 users' },
        { pointer: '/srm', reason: 'fewer than two variants' },
        { pointer: '/something/new', reason: 'a later report’s note' },
      ],
      [
        { variant: 'on', metric: 'purchases' },
        { variant: 'blue', metric: 'purchases' },
      ],
      [{ variant: 'off' }, { variant: 'on' }],
    );
    expect(lines.map((l) => `${l.subject}: ${l.reason}`)).toEqual([
      'the sample-ratio test: fewer than two variants',
      '/something/new: a later report’s note',
      'the variance of a/b in off: an arm has fewer than 2 users',
      'the relative lift of on on purchases: the control’s mean is 0',
      'the Holm-adjusted p-value of blue on purchases: the test’s p-value is undefined',
    ]);
  });

  test('a pointer beyond the result still reads', () => {
    const [line] = noteLines([{ pointer: '/comparisons/9/abs_ci', reason: 'why' }], [], []);
    expect(line?.subject).toBe('the interval of the absolute lift of comparison 9');
  });
});
