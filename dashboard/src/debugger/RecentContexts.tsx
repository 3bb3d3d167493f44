// The contexts last evaluated for this flag set, newest first: one button
// puts a context back in the editor, another forgets them all.
export interface RecentContextsProps {
  flagSet: string;
  /** Compact JSON texts, newest first. */
  contexts: string[];
  /** Why the last context could not be kept, if it could not. */
  storageProblem: string | null;
  onUse: (context: string) => void;
  onForget: () => void;
}

/** Contexts longer than this are cut in the list. */
const SHOWN_CHARS = 80;

export function RecentContexts({ flagSet, contexts, storageProblem, onUse, onForget }: RecentContextsProps) {
  return (
    <section className="recent-contexts" aria-labelledby="recent-heading">
      <h4 id="recent-heading">Recent contexts</h4>
      {storageProblem && (
        <p className="notice" role="status">
          This context could not be kept in the browser: {storageProblem}
        </p>
      )}
      {contexts.length === 0 ? (
        <p className="help">The contexts you evaluate for flag set {flagSet} are kept here, in this browser.</p>
      ) : (
        <>
          <ol>
            {contexts.map((context, i) => (
              <li key={context}>
                <button type="button" onClick={() => { onUse(context); }} aria-label={`Use recent context ${i + 1}: ${context}`}>
                  Use
                </button>{' '}
                <code>{context.length > SHOWN_CHARS ? `${context.slice(0, SHOWN_CHARS)}…` : context}</code>
              </li>
            ))}
          </ol>
          <button type="button" className="link-button" onClick={onForget}>
            Forget recent contexts
          </button>
        </>
      )}
    </section>
  );
}
