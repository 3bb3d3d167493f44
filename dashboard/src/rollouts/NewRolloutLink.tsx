// The way to the schedule form: a link to its own address, or, for a token
// that may not change this flag set's flags, a disabled control with the
// reason beside it.
import { Link } from 'wouter';

import { Gated } from '../components/Denied';

export function NewRolloutLink({ href, denial, label = 'Schedule a rollout' }: { href: string; denial: string | null; label?: string }) {
  if (denial !== null) {
    return (
      <span className="new-flag-link">
        <Gated reason={denial}>
          <button type="button">{label}</button>
        </Gated>
      </span>
    );
  }
  return (
    <Link href={href} className="new-flag-link">
      {label}
    </Link>
  );
}
