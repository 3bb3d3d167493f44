// The tabs of a flag's screens, in order: each is a path below the flag's
// own (`/flags/:flagSet/:key` + suffix), routed in App.tsx. A new screen of
// a flag adds one entry here and its route there.
import { flagPath } from '../routing';

export interface FlagTab {
  label: string;
  /** The path below the flag's, `''` for the overview. */
  suffix: string;
}

export const FLAG_TABS: readonly FlagTab[] = [
  { label: 'Overview', suffix: '' },
  { label: 'History', suffix: '/history' },
  { label: 'Debugger', suffix: '/debug' },
];

/** The path of one of a flag's screens. */
export function flagTabPath(flagSet: string, key: string, suffix: string): string {
  return flagPath(flagSet, key) + suffix;
}

/** A flag's history. */
export function flagHistoryPath(flagSet: string, key: string): string {
  return flagTabPath(flagSet, key, '/history');
}

/** A flag's evaluation debugger. */
export function flagDebugPath(flagSet: string, key: string): string {
  return flagTabPath(flagSet, key, '/debug');
}
