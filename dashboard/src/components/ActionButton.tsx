// A button for a change that needs no confirmation: it shows the change
// pending, then a success notice, or a notice with the server's message
// and code that stays until dismissed.
import { useState } from 'react';
import type { OperationResult } from 'urql';

import { describe, failureOf } from '../api/errors';
import { Gated } from './Denied';
import { useToast } from './Toasts';

export interface ActionButtonProps<T> {
  /** The button's text. */
  label: string;
  /** Its accessible name, when the text alone is ambiguous (in a list). */
  ariaLabel?: string;
  /** Its text while the change runs. */
  pendingLabel: string;
  /** Why the button is disabled, or `null`. */
  denial: string | null;
  run: () => Promise<OperationResult<T>>;
  /** The success notice. */
  success: (data: T) => string;
  /** The failure notice's opening, before the server's message and code. */
  failure: string;
  onDone?: (data: T) => void;
}

export function ActionButton<T>(props: ActionButtonProps<T>) {
  const notify = useToast();
  const [pending, setPending] = useState(false);

  const act = async () => {
    setPending(true);
    const result = await props.run();
    setPending(false);
    if (result.data) {
      notify('success', props.success(result.data));
      props.onDone?.(result.data);
    } else {
      const failure = result.error
        ? failureOf(result.error)
        : { message: 'the server sent no answer', code: 'EMPTY_ANSWER' };
      notify('error', `${props.failure}: ${describe(failure)}`);
    }
  };

  return (
    <Gated reason={props.denial}>
      <button type="button" aria-label={props.ariaLabel} disabled={pending} onClick={() => void act()}>
        {pending ? props.pendingLabel : props.label}
      </button>
    </Gated>
  );
}
