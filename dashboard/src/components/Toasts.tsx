// Short notices after an action: successes fade after a while, failures
// stay until dismissed. Announced to screen readers as they appear.
import { type ReactNode, createContext, useCallback, useContext, useMemo, useRef, useState } from 'react';

export type ToastKind = 'success' | 'error';

interface Toast {
  id: number;
  kind: ToastKind;
  text: string;
}

type Notify = (kind: ToastKind, text: string) => void;

const ToastContext = createContext<Notify | null>(null);

/** How long a success notice stays, in milliseconds. */
const SUCCESS_MS = 6000;

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextId = useRef(1);
  const dismiss = useCallback((id: number) => {
    setToasts((current) => current.filter((t) => t.id !== id));
  }, []);
  const notify = useCallback<Notify>(
    (kind, text) => {
      const id = nextId.current++;
      setToasts((current) => [...current, { id, kind, text }]);
      if (kind === 'success') setTimeout(() => { dismiss(id); }, SUCCESS_MS);
    },
    [dismiss],
  );
  const value = useMemo(() => notify, [notify]);
  return (
    <ToastContext.Provider value={value}>
      {children}
      <div className="toasts" role="status" aria-live="polite">
        {toasts.map((toast) => (
          <div key={toast.id} className={`toast toast-${toast.kind}`}>
            <span>{toast.text}</span>
            <button type="button" onClick={() => { dismiss(toast.id); }} aria-label="Dismiss notice">
              ×
            </button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

/** Shows a notice. */
export function useToast(): Notify {
  const notify = useContext(ToastContext);
  if (!notify) throw new Error('useToast needs a ToastProvider');
  return notify;
}
