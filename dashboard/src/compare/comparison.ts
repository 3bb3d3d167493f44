// Two flag sets compared, as the screen groups them: flags that differ,
// flags missing on one side (or archived in the target), and identical
// ones, with what differs named for people; and the comparison's address.

import type { CompareFlagSetsQuery } from '../gql/graphql';

export type ComparedFlag = CompareFlagSetsQuery['compareFlagSets'][number];

/** How one flag key stands between the two flag sets. */
export type Standing =
  /** Live in both and the same. */
  | 'same'
  /** Live in both, with differences. */
  | 'differs'
  /** Live in the source only: promoting creates it in the target. */
  | 'missing-in-target'
  /** Archived in the target. */
  | 'archived-in-target'
  /** In the target only: nothing to promote. */
  | 'missing-in-source';

export function standingOf(flag: ComparedFlag): Standing {
  if (!flag.from) return 'missing-in-source';
  if (!flag.to) return 'missing-in-target';
  if (flag.to.archived) return 'archived-in-target';
  return flag.differences.length === 0 ? 'same' : 'differs';
}

export interface Grouped {
  /** Every flag that is not the same on both sides, in key order. */
  different: ComparedFlag[];
  /** The flags that are the same on both sides, in key order. */
  same: ComparedFlag[];
  /** How many flags stand each way. */
  counts: Record<Standing, number>;
}

/** The comparison split into what differs and what is the same, with counts. */
export function groupComparison(flags: readonly ComparedFlag[]): Grouped {
  const counts: Record<Standing, number> = {
    same: 0,
    differs: 0,
    'missing-in-target': 0,
    'archived-in-target': 0,
    'missing-in-source': 0,
  };
  const different: ComparedFlag[] = [];
  const same: ComparedFlag[] = [];
  for (const flag of flags) {
    const standing = standingOf(flag);
    counts[standing] += 1;
    (standing === 'same' ? same : different).push(flag);
  }
  return { different, same, counts };
}

const FIELD_LABEL: Record<string, string> = {
  state: 'state',
  variants: 'variants',
  defaultVariant: 'default variant',
  targeting: 'targeting',
  metadata: 'metadata',
  clientVisible: 'client visibility',
  archived: 'archived',
};

/** A field the server names as differing, for people: `defaultVariant` → "default variant". */
export function fieldLabel(field: string): string {
  return FIELD_LABEL[field] ?? field;
}

/** What differs, in words: the fields, or the side a flag is missing from. */
export function differenceText(flag: ComparedFlag, from: string, to: string): string {
  switch (standingOf(flag)) {
    case 'same':
      return 'identical';
    case 'missing-in-target':
      return `not in ${to}`;
    case 'missing-in-source':
      return `not in ${from}`;
    case 'archived-in-target':
      return `archived in ${to}`;
    case 'differs':
      return flag.differences.map(fieldLabel).join(', ');
  }
}

/** Why flag `flag` cannot be promoted, or `null` when it can. */
export function promoteDenial(flag: ComparedFlag, from: string, to: string): string | null {
  switch (standingOf(flag)) {
    case 'same':
      return `Already the same in ${to}`;
    case 'missing-in-source':
      return `Not in ${from}: nothing to promote`;
    default:
      return null;
  }
}

/** The comparison's settings in the address: `?from=…&to=…[&all=1]`. */
export interface CompareParams {
  from: string;
  to: string;
  /** Whether identical flags are listed too. */
  all: boolean;
}

export function parseCompareParams(search: string): CompareParams {
  const query = new URLSearchParams(search);
  return { from: query.get('from') ?? '', to: query.get('to') ?? '', all: query.get('all') === '1' };
}
