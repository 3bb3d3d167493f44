// A rollout's steps as a chart: one stacked bar per step (and one for the
// weights before it, when known), each variant in the same tone as on the
// flag's rollout tab, steps not applied yet drawn lighter. The steps'
// table beside it holds the same figures; the chart's name reads them out.
import { Group } from '@visx/group';
import { scaleBand, scaleLinear } from '@visx/scale';
import { Bar } from '@visx/shape';

import { percent } from '../editing/ConflictPanel';
import { type Bucket, sum } from '../rollout/overlap';
import { weightsText } from './format';

/** One bar: a label, its weights, and whether its step is applied. */
export interface StepRow {
  label: string;
  weights: readonly Bucket[];
  applied: boolean;
}

const WIDTH = 600;
const ROW = 26;
const LABELS = 70;
const NAMED_PART = 60;

/** One drawn part of a bar. */
export interface StepPart {
  variant: string;
  x: number;
  width: number;
  tone: number;
  share: string;
}

/** Each row's parts, in rule order; a variant keeps its tone across rows. */
export function stepParts(rows: readonly StepRow[]): StepPart[][] {
  const names = [...new Set(rows.flatMap((row) => row.weights.map((b) => b.variant)))];
  const x = scaleLinear<number>({ domain: [0, 1], range: [LABELS, WIDTH] });
  return rows.map((row) => {
    const total = sum(row.weights);
    let start = 0;
    return row.weights.map((b) => {
      const fraction = total === 0 ? 0 : b.weight / total;
      const part = {
        variant: b.variant,
        x: x(start),
        width: x(start + fraction) - x(start),
        tone: names.indexOf(b.variant) % 6,
        share: percent(b.weight, total),
      };
      start += fraction;
      return part;
    });
  });
}

export function StepsChart({ rows, label }: { rows: readonly StepRow[]; label: string }) {
  const parts = stepParts(rows);
  const height = rows.length * ROW;
  const y = scaleBand<number>({ domain: rows.map((_, i) => i), range: [0, height], padding: 0.2 });
  const band = y.bandwidth();
  const described = rows
    .map((row) => `${row.label}${row.applied ? '' : ' (not applied yet)'}: ${weightsText(row.weights)}`)
    .join('. ');
  return (
    <svg className="steps-chart" viewBox={`0 0 ${String(WIDTH)} ${String(height)}`} role="img" aria-label={`${label}. ${described}.`}>
      {rows.map((row, i) => (
        <Group key={row.label} top={y(i) ?? 0} className={row.applied ? 'step-applied' : 'step-pending'}>
          <text className="split-label" x={0} y={band / 2} dominantBaseline="middle">
            {row.label}
          </text>
          {(parts[i] ?? []).map((p) => (
            <Group key={p.variant} left={p.x}>
              <Bar className={`split-part tone-${String(p.tone)}`} width={p.width} height={band}>
                <title>{`${row.label}, ${p.variant}: ${p.share}`}</title>
              </Bar>
              {p.width >= NAMED_PART && (
                <text className="split-name" x={4} y={band / 2} dominantBaseline="middle">
                  {`${p.variant} ${p.share}`}
                </text>
              )}
            </Group>
          ))}
        </Group>
      ))}
    </svg>
  );
}
