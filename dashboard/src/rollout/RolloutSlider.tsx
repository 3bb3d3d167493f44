// One variant's weight as a slider: dragged with the pointer, or moved
// with the keyboard (arrows by one percentage point, Page Up and Page Down
// by ten, Home and End to the ends), announced with the variant and its
// percentage.
import { type KeyboardEvent, type PointerEvent, useRef } from 'react';

export interface RolloutSliderProps {
  /** The id of the element naming the slider (the variant). */
  labelledBy: string;
  value: number;
  /** The total weight: the slider runs from 0 to it. */
  max: number;
  onChange: (value: number) => void;
  disabled?: boolean;
  'aria-describedby'?: string;
}

export function RolloutSlider(props: RolloutSliderProps) {
  const { value, max, onChange, disabled = false } = props;
  const track = useRef<HTMLDivElement>(null);
  // One percentage point of the total, at least one weight unit.
  const step = Math.max(1, Math.round(max / 100));
  const share = max === 0 ? 0 : (value * 100) / max;
  const text = `${Number(share.toFixed(2))}% (weight ${value} of ${max})`;

  const set = (next: number) => {
    const clamped = Math.min(max, Math.max(0, Math.round(next)));
    if (clamped !== value) onChange(clamped);
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (disabled) return;
    const moves: Record<string, number> = {
      ArrowRight: value + step,
      ArrowUp: value + step,
      ArrowLeft: value - step,
      ArrowDown: value - step,
      PageUp: value + 10 * step,
      PageDown: value - 10 * step,
      Home: 0,
      End: max,
    };
    const next = moves[event.key];
    if (next === undefined) return;
    event.preventDefault();
    set(next);
  };

  const fromPointer = (event: PointerEvent) => {
    const rect = track.current?.getBoundingClientRect();
    if (!rect || rect.width === 0) return;
    set(((event.clientX - rect.left) / rect.width) * max);
  };

  return (
    <div
      ref={track}
      className="slider"
      role="slider"
      tabIndex={0}
      aria-labelledby={props.labelledBy}
      aria-describedby={props['aria-describedby']}
      aria-valuemin={0}
      aria-valuemax={max}
      aria-valuenow={value}
      aria-valuetext={text}
      aria-disabled={disabled || undefined}
      onKeyDown={onKeyDown}
      onPointerDown={(event) => {
        if (disabled || event.button !== 0) return;
        event.currentTarget.setPointerCapture(event.pointerId);
        event.currentTarget.focus();
        fromPointer(event);
      }}
      onPointerMove={(event) => {
        if (!disabled && event.currentTarget.hasPointerCapture(event.pointerId)) fromPointer(event);
      }}
    >
      <div className="slider-fill" style={{ width: `${share}%` }} />
      <div className="slider-thumb" style={{ left: `${share}%` }} />
    </div>
  );
}
