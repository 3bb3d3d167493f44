// The server compiler's verdict on the definition being edited, asked
// (`validateFlag`, a dry run that writes nothing) a moment after the user
// stops typing; an answer for older text is dropped.
import { useEffect, useState } from 'react';
import { useClient } from 'urql';

import { type ApiFailure, failureOf } from '../api/errors';
import { type Diagnostic, diagnosticsFrom } from '../editing/diagnostics';
import { graphql } from '../gql';

/** How long typing must pause before the server is asked, in milliseconds. */
export const VALIDATION_DELAY_MS = 350;

export const ValidateFlagQuery = graphql(`
  query ValidateFlag($flagSet: String!, $key: String!, $definition: JSON!) {
    validateFlag(flagSet: $flagSet, key: $key, definition: $definition) {
      severity
      message
      flagKey
      pointer
      new
    }
  }
`);

export type Validation =
  /** Nothing to ask about (the text is not JSON, or unchanged). */
  | { status: 'idle' }
  | { status: 'pending'; forText: string }
  | { status: 'done'; forText: string; diagnostics: Diagnostic[] }
  /** The server could not answer; the save is still checked by it. */
  | { status: 'unavailable'; forText: string; failure: ApiFailure };

/**
 * Validates `definition` (the flag with the edited targeting) whenever
 * `text` changes; `definition` undefined asks nothing.
 */
export function useValidation(flagSet: string, key: string, text: string, definition: unknown): Validation {
  const client = useClient();
  const [state, setState] = useState<Validation>({ status: 'idle' });
  const ask = definition !== undefined;

  useEffect(() => {
    if (!ask) return;
    let live = true;
    const timer = setTimeout(() => {
      setState({ status: 'pending', forText: text });
      void client
        .query(ValidateFlagQuery, { flagSet, key, definition }, { requestPolicy: 'network-only' })
        .toPromise()
        .then((result) => {
          if (!live) return;
          if (result.data) {
            setState({ status: 'done', forText: text, diagnostics: diagnosticsFrom(result.data.validateFlag) });
          } else {
            const failure = result.error
              ? failureOf(result.error)
              : { message: 'the server sent no answer', code: 'EMPTY_ANSWER' };
            setState({ status: 'unavailable', forText: text, failure });
          }
        });
    }, VALIDATION_DELAY_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
    // `definition` is derived from `text`: the text alone says when to ask.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, flagSet, key, text, ask]);

  if (!ask) return { status: 'idle' };
  // Until the pause is over, the last verdict is for other text.
  if (state.status === 'idle' || state.forText !== text) return { status: 'pending', forText: text };
  return state;
}
