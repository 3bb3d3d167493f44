// The tabs of the flag screen, in order: each is a path below the flag's
// own (`/flags/:flagSet/:key/:tab`, the overview without one), shown by
// FlagScreen.tsx. A new view of a flag adds one entry here and its body
// there.
import { flagTabPath } from '../routing';

export interface FlagTab {
  label: string;
  /** The path segment below the flag's; none for the overview. */
  tab?: string;
}

export const FLAG_TABS: readonly FlagTab[] = [
  { label: 'Overview' },
  { label: 'Rollout', tab: 'rollout' },
  { label: 'Targeting', tab: 'targeting' },
  { label: 'Rule builder', tab: 'builder' },
  { label: 'History', tab: 'history' },
  { label: 'Debugger', tab: 'debug' },
];

/** A flag's history. */
export function flagHistoryPath(flagSet: string, key: string): string {
  return flagTabPath(flagSet, key, 'history');
}
