// URLs: the paths of each screen, and a router that hands each path
// segment and the query string over exactly as encoded, so a flag key with
// `/`, `%` or `?` in it survives the round trip.
import type { ReactNode } from 'react';
import { Router } from 'wouter';
import { useBrowserLocation, useSearch as useBrowserSearch } from 'wouter/use-browser-location';

// wouter decodes the location with decodeURI, which turns `%25` back into
// `%` and leaves the rest encoded; escaping every `%` first makes that
// decoding give back the location exactly as the browser has it.
const escapePercent = (text: string) => text.replace(/%/g, '%25');

function useEncodedLocation(): [string, ReturnType<typeof useBrowserLocation>[1]] {
  const [path, navigate] = useBrowserLocation();
  return [escapePercent(path), navigate];
}

function useEncodedSearch(): string {
  return escapePercent(useBrowserSearch());
}

export function AppRouter({ children }: { children: ReactNode }) {
  return (
    <Router hook={useEncodedLocation} searchHook={useEncodedSearch}>
      {children}
    </Router>
  );
}

/** A path parameter as the user wrote it (the router hands it over encoded). */
export function decodeParam(param: string | undefined): string {
  if (param === undefined) return '';
  try {
    return decodeURIComponent(param);
  } catch {
    return param;
  }
}

/**
 * The first path segments of the screens that show one flag set, as
 * `/<section>/:flagSet/…`: the main navigation keeps that flag set when it
 * moves between them.
 */
const FLAG_SET_SECTIONS: readonly string[] = [
  'flags',
  'new-flag',
  'experiments',
  'new-experiment',
  'rollouts',
  'new-rollout',
  'segments',
  'new-segment',
  'usage',
];

/** The flag set the screen at `path` (as the router hands it over) shows, if any. */
export function flagSetOfPath(path: string): string | undefined {
  const [section, flagSet] = path.split('/').slice(1);
  if (section === undefined || flagSet === undefined || flagSet === '') return undefined;
  return FLAG_SET_SECTIONS.includes(section) ? decodeParam(flagSet) : undefined;
}

export function flagSetPath(flagSet: string, query = ''): string {
  return `/flags/${encodeURIComponent(flagSet)}${query}`;
}

export function flagPath(flagSet: string, key: string): string {
  return `${flagSetPath(flagSet)}/${encodeURIComponent(key)}`;
}

/** A tab of the flag screen (`rollout`, `targeting`, `builder`); the overview without one. */
export function flagTabPath(flagSet: string, key: string, tab?: string): string {
  return tab ? `${flagPath(flagSet, key)}/${tab}` : flagPath(flagSet, key);
}

/**
 * The form that creates a flag in `flagSet`. It is not below
 * `/flags/:flagSet/`: any segment there could be a flag's key (a key may be
 * "new"), so only a path outside it can never name a flag.
 */
export function newFlagPath(flagSet: string): string {
  return `${NEW_FLAG_PATH}/${encodeURIComponent(flagSet)}`;
}

export const NEW_FLAG_PATH = '/new-flag';

/** The experiments of `flagSet`. */
export function experimentsPath(flagSet: string): string {
  return `${EXPERIMENTS_PATH}/${encodeURIComponent(flagSet)}`;
}

export const EXPERIMENTS_PATH = '/experiments';

/** One experiment's results. */
export function experimentPath(flagSet: string, key: string): string {
  return `${experimentsPath(flagSet)}/${encodeURIComponent(key)}`;
}

/**
 * The form that creates an experiment in `flagSet`, or, with `draft`,
 * edits that draft. Outside `/experiments/:flagSet/` for the reason the
 * create-flag form is outside `/flags/:flagSet/`: any segment there could
 * be an experiment's key.
 */
export function newExperimentPath(flagSet: string, draft?: string): string {
  const path = `${NEW_EXPERIMENT_PATH}/${encodeURIComponent(flagSet)}`;
  return draft === undefined ? path : `${path}?draft=${encodeURIComponent(draft)}`;
}

export const NEW_EXPERIMENT_PATH = '/new-experiment';

export const SEGMENTS_PATH = '/segments';

/** The segments of `flagSet`. */
export function segmentsPath(flagSet: string): string {
  return `${SEGMENTS_PATH}/${encodeURIComponent(flagSet)}`;
}

/** One segment's editor. */
export function segmentPath(flagSet: string, key: string): string {
  return `${segmentsPath(flagSet)}/${encodeURIComponent(key)}`;
}

/**
 * The form that creates a segment in `flagSet`, outside
 * `/segments/:flagSet/` for the reason `newFlagPath` is outside the flags:
 * a segment's key may be any visible text, "new" included.
 */
export function newSegmentPath(flagSet: string): string {
  return `${NEW_SEGMENT_PATH}/${encodeURIComponent(flagSet)}`;
}

export const NEW_SEGMENT_PATH = '/new-segment';

export const USAGE_PATH = '/usage';

/** The flag usage and stale flags of `flagSet`, with the query string `query` (`?unused=30d`). */
export function usagePath(flagSet: string, query = ''): string {
  return `${USAGE_PATH}/${encodeURIComponent(flagSet)}${query}`;
}

/** The tokens and SDK keys (not per flag set: a key names its own). */
export const KEYS_PATH = '/keys';

/** The progressive rollouts of a flag set, newest first. */
export function rolloutsPath(flagSet: string): string {
  return `${ROLLOUTS_PATH}/${encodeURIComponent(flagSet)}`;
}

/** One rollout, by its id: an integer, so the path cannot be mistaken for another screen of the section. */
export function rolloutPath(flagSet: string, id: number): string {
  return `${rolloutsPath(flagSet)}/${String(id)}`;
}

export const ROLLOUTS_PATH = '/rollouts';

/**
 * The form that schedules a rollout in `flagSet`, for `flag` when given.
 * Outside `/rollouts/:flagSet/` like the create-flag form, so that every
 * segment there is a rollout's id.
 */
export function newRolloutPath(flagSet: string, flag?: string): string {
  const query = flag === undefined ? '' : `?${new URLSearchParams({ flag }).toString()}`;
  return `${NEW_ROLLOUT_PATH}/${encodeURIComponent(flagSet)}${query}`;
}

export const NEW_ROLLOUT_PATH = '/new-rollout';

/** The alerts, of every flag set or of one. */
export function alertsPath(flagSet?: string): string {
  return flagSet === undefined ? ALERTS_PATH : `${ALERTS_PATH}?${new URLSearchParams({ flagSet }).toString()}`;
}

export const ALERTS_PATH = '/alerts';

/** Two flag sets side by side, `from` the one flags are promoted from; `all` lists identical flags too. */
export function comparePath(from?: string, to?: string, all = false): string {
  const query = new URLSearchParams();
  if (from !== undefined && from !== '') query.set('from', from);
  if (to !== undefined && to !== '') query.set('to', to);
  if (all) query.set('all', '1');
  const text = query.toString();
  return text === '' ? COMPARE_PATH : `${COMPARE_PATH}?${text}`;
}

export const COMPARE_PATH = '/compare';

export const SIGN_IN_PATH = '/sign-in';

/** The sign-in path that returns to `next` afterwards. */
export function signInPath(next: string): string {
  return next === '/' || next.startsWith(SIGN_IN_PATH)
    ? SIGN_IN_PATH
    : `${SIGN_IN_PATH}?next=${encodeURIComponent(next)}`;
}

/** Where to go after signing in: `next` if it is a path of this app. */
export function afterSignIn(search: string): string {
  const next = new URLSearchParams(search).get('next');
  return next?.startsWith('/') && !next.startsWith('//') ? next : '/';
}
