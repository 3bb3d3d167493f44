// A labelled form control with its help below it and, once the form has
// been checked, what is wrong with it (announced with the control).
import type { ReactNode } from 'react';

export interface ControlProps {
  id: string;
  'aria-describedby': string;
  'aria-invalid': boolean | undefined;
}

/** A labelled control with its help and, once checked, what is wrong with it. */
export function Field(props: { id: string; label: string; help: string; problem?: string | undefined; children: (control: ControlProps) => ReactNode }) {
  const { id, label, help, problem } = props;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {props.children({ id, 'aria-describedby': `${id}-help`, 'aria-invalid': problem ? true : undefined })}
      <p id={`${id}-help`} className="help">
        {problem && <span className="field-problem">{problem}. </span>}
        {help}
      </p>
    </div>
  );
}
