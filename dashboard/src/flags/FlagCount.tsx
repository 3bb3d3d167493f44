// How many flags the list holds, above it: "1,234 flags", or with a
// search or filter applied, "12 of 5,000 match".
import type { FlagCounts } from './listQuery';

// The dashboard's text is English, so its numbers are grouped the English way.
const NUMBER = new Intl.NumberFormat('en');

/** A number of flags as the dashboard writes it: "5,000". */
export function numberText(n: number): string {
  return NUMBER.format(n);
}

/** The count as a sentence fragment. */
export function countText({ matching, of }: FlagCounts): string {
  if (of === null) return `${NUMBER.format(matching)} flag${matching === 1 ? '' : 's'}`;
  return `${NUMBER.format(matching)} of ${NUMBER.format(of)} match${matching === 1 ? 'es' : ''}`;
}

export function FlagCount({ counts }: { counts: FlagCounts | null }) {
  return (
    <p className="total" aria-live="polite">
      {counts && countText(counts)}
    </p>
  );
}
