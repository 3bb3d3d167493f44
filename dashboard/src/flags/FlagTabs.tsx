// The navigation between a flag's screens (overview, history, debugger,
// ...), from the one list in tabs.ts; the current screen is marked.
import { Link, useLocation } from 'wouter';

import { FLAG_TABS, flagTabPath } from './tabs';
import './flagTabs.css';

export function FlagTabs({ flagSet, flagKey }: { flagSet: string; flagKey: string }) {
  const [location] = useLocation();
  return (
    <nav aria-label="Flag" className="flag-tabs">
      <ul>
        {FLAG_TABS.map((tab) => {
          const href = flagTabPath(flagSet, flagKey, tab.suffix);
          const current = samePath(location, href);
          return (
            <li key={tab.suffix}>
              <Link href={href} aria-current={current ? 'page' : undefined}>
                {tab.label}
              </Link>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

/** Whether the router's location (encoded, `%` escaped once more) is `href`. */
function samePath(location: string, href: string): boolean {
  return location === href || location === href.replace(/%/g, '%25');
}
