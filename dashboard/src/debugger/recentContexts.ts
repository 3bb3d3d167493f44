// The contexts last evaluated in the debugger, per flag set, in
// localStorage so they outlive the tab. Contexts are test data, not
// secrets; the admin token is never stored here (a context holding it is
// not kept).

/** How many recent contexts are kept per flag set. */
export const MAX_RECENT = 5;

const storageKey = (flagSet: string) => `ensign.debugger.recent.${flagSet}`;

/** The recent contexts of `flagSet`, newest first, as compact JSON texts. */
export function recentContexts(flagSet: string, storage: Storage = localStorage): string[] {
  let stored: unknown;
  try {
    stored = JSON.parse(storage.getItem(storageKey(flagSet)) ?? '[]');
  } catch {
    // Written by something else: start afresh.
    return [];
  }
  return Array.isArray(stored) ? stored.filter((t): t is string => typeof t === 'string').slice(0, MAX_RECENT) : [];
}

/**
 * Puts `context` first among `flagSet`'s recent contexts and returns them;
 * a context that contains `secret` (the session's token) is not kept.
 * Throws when the browser refuses to store them.
 */
export function rememberContext(
  flagSet: string,
  context: Record<string, unknown>,
  secret: string | null,
  storage: Storage = localStorage,
): string[] {
  const text = JSON.stringify(context);
  const current = recentContexts(flagSet, storage);
  if (secret && text.includes(secret)) return current;
  const next = [text, ...current.filter((t) => t !== text)].slice(0, MAX_RECENT);
  storage.setItem(storageKey(flagSet), JSON.stringify(next));
  return next;
}

/** Forgets `flagSet`'s recent contexts. */
export function forgetContexts(flagSet: string, storage: Storage = localStorage): void {
  storage.removeItem(storageKey(flagSet));
}
