// Two flag sets compared: how each flag stands, what the screen lists
// and counts, what differs in words, and what can be promoted.
import { describe, expect, it } from 'vitest';

import {
  type ComparedFlag,
  differenceText,
  groupComparison,
  parseCompareParams,
  promoteDenial,
  standingOf,
} from './comparison';

const side = (flagSet: string, extra: Partial<NonNullable<ComparedFlag['from']>> = {}): NonNullable<ComparedFlag['from']> => ({
  flagSet,
  key: 'k',
  version: 1,
  state: 'ENABLED',
  definition: {},
  clientVisible: false,
  archived: false,
  updatedAt: '2026-12-07T10:00:00Z',
  ...extra,
});
const compared = (key: string, differences: string[], from: boolean, to: boolean | 'archived'): ComparedFlag => ({
  key,
  differences,
  from: from ? side('staging') : null,
  to: to ? side('production', { archived: to === 'archived' }) : null,
});

const flags = [
  compared('a', [], true, true),
  compared('b', ['defaultVariant', 'clientVisible'], true, true),
  compared('c', ['state', 'variants'], true, false),
  compared('d', ['state', 'variants'], false, true),
  compared('e', ['archived'], true, 'archived'),
  compared('f', [], true, true),
];

describe('groupComparison', () => {
  it('lists what is not the same in key order, and counts every standing', () => {
    const grouped = groupComparison(flags);
    expect(grouped.different.map((f) => f.key)).toEqual(['b', 'c', 'd', 'e']);
    expect(grouped.same.map((f) => f.key)).toEqual(['a', 'f']);
    expect(grouped.counts).toEqual({
      same: 2,
      differs: 1,
      'missing-in-target': 1,
      'missing-in-source': 1,
      'archived-in-target': 1,
    });
  });
});

describe('one flag', () => {
  it('names what differs, or the side it is missing from', () => {
    expect(flags.map(standingOf)).toEqual(['same', 'differs', 'missing-in-target', 'missing-in-source', 'archived-in-target', 'same']);
    expect(flags.map((f) => differenceText(f, 'staging', 'production'))).toEqual([
      'identical',
      'default variant, client visibility',
      'not in production',
      'not in staging',
      'archived in production',
      'identical',
    ]);
  });

  it('can be promoted unless it is the same or the source lacks it', () => {
    expect(flags.map((f) => promoteDenial(f, 'staging', 'production'))).toEqual([
      'Already the same in production',
      null,
      null,
      'Not in staging: nothing to promote',
      null,
      'Already the same in production',
    ]);
  });
});

it('reads the comparison from the address', () => {
  expect(parseCompareParams('?from=a%2Fb&to=c&all=1')).toEqual({ from: 'a/b', to: 'c', all: true });
  expect(parseCompareParams('')).toEqual({ from: '', to: '', all: false });
});
