// A modal confirmation: focus moves into it and stays there (Tab cycles),
// Escape or Cancel closes it, and focus returns to what opened it.
import { type ReactNode, useEffect, useId, useRef } from 'react';

import type { ApiFailure } from '../api/errors';
import { ErrorNotice } from './ErrorNotice';

export interface ConfirmDialogProps {
  title: string;
  children: ReactNode;
  /** The confirming button's text. */
  confirmLabel: string;
  /** Its text while the action runs. */
  pendingLabel: string;
  /** The dismissing button's text ("Cancel" unless the action is itself a cancellation). */
  dismissLabel?: string;
  pending: boolean;
  /** Why the last attempt failed, shown inside the dialog. */
  failure: ApiFailure | null;
  onConfirm: () => void;
  onCancel: () => void;
}

const FOCUSABLE =
  'button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export function ConfirmDialog(props: ConfirmDialogProps) {
  const { onCancel, pending } = props;
  const dialog = useRef<HTMLDivElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  const bodyId = useId();

  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    cancel.current?.focus();
    return () => opener?.focus();
  }, []);

  // Keys pressed anywhere inside the dialog.
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    const onKeyDown = (event: KeyboardEvent) => {
      trapKeys(event, element, pending, onCancel);
    };
    element.addEventListener('keydown', onKeyDown);
    return () => {
      element.removeEventListener('keydown', onKeyDown);
    };
  }, [pending, onCancel]);

  return (
    <div className="modal-backdrop">
      <div
        ref={dialog}
        className="modal"
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={bodyId}
      >
        <h2 id={titleId}>{props.title}</h2>
        <div id={bodyId}>{props.children}</div>
        {props.failure && <ErrorNotice failure={props.failure} what="It failed" />}
        <div className="modal-actions">
          <button ref={cancel} type="button" onClick={onCancel} disabled={pending}>
            {props.dismissLabel ?? 'Cancel'}
          </button>
          <button type="button" className="danger" onClick={props.onConfirm} disabled={pending}>
            {pending ? props.pendingLabel : props.confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}

/** Escape cancels (unless the action is running); Tab and Shift+Tab cycle
 * through the dialog's controls. */
function trapKeys(event: KeyboardEvent, dialog: HTMLElement, pending: boolean, onCancel: () => void) {
  if (event.key === 'Escape') {
    event.preventDefault();
    if (!pending) onCancel();
    return;
  }
  if (event.key !== 'Tab') return;
  const focusable = [...dialog.querySelectorAll<HTMLElement>(FOCUSABLE)];
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  if (!first || !last) {
    event.preventDefault();
  } else if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  }
}
