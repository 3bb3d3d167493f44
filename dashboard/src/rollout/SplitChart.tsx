// The rollout's split as a chart: the saved and the edited weights as two
// stacked bars over one scale, each variant in its own tone, so that a
// person sees at a glance where each boundary moves. The weights table
// holds the same numbers; the chart's accessible name reads them out.
import { Group } from '@visx/group';
import { scaleBand, scaleLinear } from '@visx/scale';
import { Bar } from '@visx/shape';

import { percent } from '../editing/ConflictPanel';
import { type Bucket, sum } from './overlap';

/** The chart's drawing size; it is scaled to the width it is given. */
const WIDTH = 600;
const HEIGHT = 64;
/** Room on the left for the row names. */
const LABELS = 56;
/** A part narrower than this shows no name inside it. */
const NAMED_PART = 40;

/** One drawn part of a bar: a variant's share of one layout. */
export interface SplitPart {
  row: 'Saved' | 'Edited';
  variant: string;
  /** Where the part starts and how wide it is, in drawing units. */
  x: number;
  width: number;
  /** Index of the variant's tone, shared by both rows. */
  tone: number;
  share: string;
}

/** The parts of both bars, laid out as the engine lays out the buckets: in rule order. */
export function splitParts(saved: readonly Bucket[], edited: readonly Bucket[]): SplitPart[] {
  const names = [...new Set([...saved, ...edited].map((b) => b.variant))];
  const x = scaleLinear<number>({ domain: [0, 1], range: [LABELS, WIDTH] });
  const parts = (row: SplitPart['row'], buckets: readonly Bucket[]): SplitPart[] => {
    const total = sum(buckets);
    let start = 0;
    return buckets.map((b) => {
      const fraction = total === 0 ? 0 : b.weight / total;
      const part = {
        row,
        variant: b.variant,
        x: x(start),
        width: x(start + fraction) - x(start),
        tone: names.indexOf(b.variant) % 6,
        share: percent(b.weight, total),
      };
      start += fraction;
      return part;
    });
  };
  return [...parts('Saved', saved), ...parts('Edited', edited)];
}

export function SplitChart({ saved, edited }: { saved: readonly Bucket[]; edited: readonly Bucket[] }) {
  const parts = splitParts(saved, edited);
  const y = scaleBand<SplitPart['row']>({ domain: ['Saved', 'Edited'], range: [0, HEIGHT], padding: 0.2 });
  const rowHeight = y.bandwidth();
  const described = (row: SplitPart['row']) =>
    `${row}: ${parts
      .filter((p) => p.row === row)
      .map((p) => `${p.variant} ${p.share}`)
      .join(', ')}`;
  return (
    <svg
      className="split-chart"
      viewBox={`0 0 ${String(WIDTH)} ${String(HEIGHT)}`}
      role="img"
      aria-label={`Split of users by variant. ${described('Saved')}. ${described('Edited')}.`}
    >
      {(['Saved', 'Edited'] as const).map((row) => (
        <Group key={row} top={y(row) ?? 0}>
          <text className="split-label" x={0} y={rowHeight / 2} dominantBaseline="middle">
            {row}
          </text>
          {parts
            .filter((p) => p.row === row)
            .map((p) => (
              <Group key={p.variant} left={p.x}>
                <Bar className={`split-part tone-${String(p.tone)}`} width={p.width} height={rowHeight}>
                  <title>{`${p.variant}: ${p.share}`}</title>
                </Bar>
                {p.width >= NAMED_PART && (
                  <text className="split-name" x={4} y={rowHeight / 2} dominantBaseline="middle">
                    {p.variant}
                  </text>
                )}
              </Group>
            ))}
        </Group>
      ))}
    </svg>
  );
}
