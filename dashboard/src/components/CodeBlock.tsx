// Preformatted text in a box that scrolls when the text is wider or taller
// than its place: named and focusable, so the keyboard can scroll it too.
import type { ReactNode } from 'react';

export function CodeBlock({ label, className, children }: { label: string; className?: string; children: ReactNode }) {
  return (
    <pre role="region" aria-label={label} tabIndex={0} className={className}>
      {children}
    </pre>
  );
}
