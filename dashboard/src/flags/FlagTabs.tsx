// The navigation between the flag screen's tabs, from the one list in
// tabs.ts; the tab shown is marked.
import { Link } from 'wouter';

import { flagTabPath } from '../routing';
import { FLAG_TABS } from './tabs';
import './flagTabs.css';

/** `current` is the tab shown, `undefined` for the overview. */
export function FlagTabs({ flagSet, flagKey, current }: { flagSet: string; flagKey: string; current: string | undefined }) {
  return (
    <nav aria-label="Flag" className="flag-tabs">
      <ul>
        {FLAG_TABS.map((t) => (
          <li key={t.label}>
            <Link href={flagTabPath(flagSet, flagKey, t.tab)} aria-current={t.tab === current ? 'page' : undefined}>
              {t.label}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}
