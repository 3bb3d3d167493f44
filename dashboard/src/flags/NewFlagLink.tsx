// The flag list's way to the create-flag form: a link to its own address,
// or, for a token that may not change the flags of this flag set, a
// disabled control with the reason beside it.
import { Link } from 'wouter';

import { Gated } from '../components/Denied';
import { newFlagPath } from '../routing';

export function NewFlagLink({ flagSet, denial }: { flagSet: string; denial: string | null }) {
  if (denial !== null) {
    return (
      <span className="new-flag-link">
        <Gated reason={denial}>
          <button type="button">New flag</button>
        </Gated>
      </span>
    );
  }
  return (
    <Link href={newFlagPath(flagSet)} className="new-flag-link">
      New flag
    </Link>
  );
}
