// A control the signed-in role (or the flag set) does not allow: disabled,
// with the reason next to it and announced with it.
import { type ReactElement, cloneElement, useId } from 'react';

export function Gated({ reason, children }: { reason: string | null; children: ReactElement<{ disabled?: boolean; 'aria-describedby'?: string }> }) {
  const id = useId();
  if (reason === null) return children;
  return (
    <span className="gated">
      {cloneElement(children, { disabled: true, 'aria-describedby': id })}
      <span id={id} className="gated-reason">
        {reason}
      </span>
    </span>
  );
}
