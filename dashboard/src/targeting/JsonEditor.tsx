// A plain text area for JSON with line numbers, a marker beside each line
// that has a problem, and the problem's message at the end of that line.
// The side columns scroll with the text; they are drawn for the eye, and
// the problem list below the editor says the same to everyone.
import { type ReactNode, type Ref, useImperativeHandle, useRef, useState } from 'react';

/** A problem shown beside a line. */
export interface LineNote {
  line: number;
  severity: string;
  message: string;
}

export interface JsonEditorHandle {
  /** Moves the caret to the start of a line, selects it and scrolls to it. */
  goTo: (line: number) => void;
}

export interface JsonEditorProps {
  id: string;
  value: string;
  onChange: (text: string) => void;
  notes: LineNote[];
  readOnly: boolean;
  invalid: boolean;
  describedBy?: string;
  ref?: Ref<JsonEditorHandle>;
}

export function JsonEditor({ id, value, onChange, notes, readOnly, invalid, describedBy, ref }: JsonEditorProps) {
  const area = useRef<HTMLTextAreaElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const lines = value.split('\n').length;
  const byLine = new Map<number, LineNote[]>();
  for (const note of notes) byLine.set(note.line, [...(byLine.get(note.line) ?? []), note]);

  useImperativeHandle(ref, () => ({
    goTo(line: number) {
      const element = area.current;
      if (!element) return;
      const starts = lineStarts(element.value);
      const start = starts[line - 1] ?? 0;
      const end = (starts[line] ?? element.value.length + 1) - 1;
      element.focus();
      element.setSelectionRange(start, end);
      const height = parseFloat(getComputedStyle(element).lineHeight) || 20;
      element.scrollTop = Math.max(0, (line - 3) * height);
    },
  }));

  const column = (render: (line: number) => ReactNode, className: string) => (
    <div className={className} aria-hidden="true">
      <div style={{ transform: `translateY(${-scrollTop}px)` }}>
        {Array.from({ length: lines }, (_, i) => (
          <div key={i} className="editor-line">
            {render(i + 1)}
          </div>
        ))}
      </div>
    </div>
  );

  return (
    <div className="json-editor">
      {column((line) => {
        const found = byLine.get(line);
        const worst = found?.some((n) => n.severity === 'error') ? 'error' : found ? 'warning' : null;
        return (
          <>
            {worst && <span className={`marker marker-${worst}`}>●</span>}
            {line}
          </>
        );
      }, 'editor-gutter')}
      <textarea
        ref={area}
        id={id}
        value={value}
        wrap="off"
        spellCheck={false}
        autoComplete="off"
        autoCapitalize="off"
        readOnly={readOnly}
        aria-invalid={invalid}
        aria-describedby={describedBy}
        rows={Math.min(30, Math.max(8, lines + 1))}
        onChange={(event) => { onChange(event.target.value); }}
        onScroll={(event) => { setScrollTop(event.currentTarget.scrollTop); }}
      />
      {column((line) => {
        const found = byLine.get(line);
        if (!found) return null;
        const text = found.map((n) => n.message).join(' · ');
        return (
          <span className={`note note-${found.some((n) => n.severity === 'error') ? 'error' : 'warning'}`} title={text}>
            {text}
          </span>
        );
      }, 'editor-notes')}
    </div>
  );
}

/** The offset where each line of `text` starts. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  return starts;
}
