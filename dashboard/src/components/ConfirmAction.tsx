// A button for a consequential change: it asks for confirmation in a
// modal, shows the change pending, then a success notice, or the server's
// message and code inside the dialog when it fails.
import { type ReactNode, useState } from 'react';
import type { OperationResult } from 'urql';

import { type ApiFailure, failureOf } from '../api/errors';
import { ConfirmDialog } from './ConfirmDialog';
import { Gated } from './Denied';
import { useToast } from './Toasts';

export interface ConfirmActionProps<T> {
  /** The button's text. */
  label: string;
  /** Its accessible name, when the text alone is ambiguous (in a list). */
  ariaLabel?: string;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  pendingLabel: string;
  /** The dialog's dismissing button's text, when "Cancel" would be ambiguous. */
  dismissLabel?: string;
  /** Why the button is disabled, or `null`. */
  denial: string | null;
  run: () => Promise<OperationResult<T>>;
  /** The success notice. */
  success: (data: T) => string;
  onDone?: (data: T) => void;
  className?: string;
}

export function ConfirmAction<T>(props: ConfirmActionProps<T>) {
  const notify = useToast();
  const [open, setOpen] = useState(false);
  const [pending, setPending] = useState(false);
  const [failure, setFailure] = useState<ApiFailure | null>(null);

  const confirm = async () => {
    setPending(true);
    setFailure(null);
    const result = await props.run();
    setPending(false);
    if (result.data) {
      setOpen(false);
      notify('success', props.success(result.data));
      props.onDone?.(result.data);
    } else {
      setFailure(
        result.error ? failureOf(result.error) : { message: 'the server sent no answer', code: 'EMPTY_ANSWER' },
      );
    }
  };

  return (
    <>
      <Gated reason={props.denial}>
        <button
          type="button"
          className={props.className}
          aria-label={props.ariaLabel}
          onClick={() => { setFailure(null); setOpen(true); }}
        >
          {props.label}
        </button>
      </Gated>
      {open && (
        <ConfirmDialog
          title={props.title}
          confirmLabel={props.confirmLabel}
          pendingLabel={props.pendingLabel}
          dismissLabel={props.dismissLabel}
          pending={pending}
          failure={failure}
          onConfirm={() => void confirm()}
          onCancel={() => { setOpen(false); }}
        >
          {props.children}
        </ConfirmDialog>
      )}
    </>
  );
}
