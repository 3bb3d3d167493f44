// One metric's mean per variant with its interval, drawn with visx: a dot
// at each mean, a line across its interval, and the control's mean as a
// dashed reference, so a person sees at a glance which variant is ahead and
// how precisely. The table beside it holds the same figures, and the
// chart's accessible name reads them out.
import { Group } from '@visx/group';
import { scaleLinear } from '@visx/scale';
import { Circle, Line } from '@visx/shape';

import { countText, levelText, meanText } from './format';
import type { MeanRow, MetricMeans } from './resultsChart';

/** The chart's drawing size; it is scaled to the width it is given. */
const WIDTH = 540;
const ROW = 36;
/** Room for the variant names on the left and the means on the right. */
const LEFT = 120;
const RIGHT = 72;
const TOP = 6;
const AXIS = 30;

/** The chart's accessible name: every variant's figures in words. */
export function meansLabel(chart: MetricMeans): string {
  const level = levelText(1 - chart.level);
  const rows = chart.rows.map((row) => {
    const name = row.isControl ? `${row.variant} (control)` : row.variant;
    if (row.mean === null) return `${name}: no mean (${row.missing ?? 'undefined'}), ${countText(row.users)} users`;
    const interval = row.interval ? ` (${meanText(chart.kind, row.interval.low)} to ${meanText(chart.kind, row.interval.high)})` : '';
    return `${name}: ${meanText(chart.kind, row.mean)}${interval}, ${countText(row.users)} users`;
  });
  return `${chart.metric}: mean per user by variant, with its ${level} interval. ${rows.join('; ')}.`;
}

export function VariantMeansChart({ chart }: { chart: MetricMeans }) {
  const height = TOP + chart.rows.length * ROW + AXIS;
  const label = meansLabel(chart);
  if (chart.domain === null) {
    return (
      <p className="chart-empty" role="img" aria-label={label}>
        No variant has a mean on {chart.metric} yet.
      </p>
    );
  }
  const x = scaleLinear<number>({ domain: chart.domain, range: [LEFT, WIDTH - RIGHT], nice: true });
  const bottom = TOP + chart.rows.length * ROW;
  const ticks = x.ticks(5);
  return (
    <svg className="means-chart" viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label={label}>
      <title>{label}</title>
      {ticks.map((tick) => (
        <Group key={tick} left={x(tick)}>
          <Line className="grid" from={{ x: 0, y: TOP }} to={{ x: 0, y: bottom }} />
          <text className="tick" y={bottom + 20} textAnchor="middle">
            {meanText(chart.kind, tick)}
          </text>
        </Group>
      ))}
      {chart.controlMean !== null && (
        <Line className="reference" from={{ x: x(chart.controlMean), y: TOP }} to={{ x: x(chart.controlMean), y: bottom }} />
      )}
      {chart.rows.map((row, i) => (
        <Row key={row.variant} row={row} top={TOP + i * ROW} x={x} kind={chart.kind} />
      ))}
    </svg>
  );
}

function Row({ row, top, x, kind }: { row: MeanRow; top: number; x: (value: number) => number; kind: MetricMeans['kind'] }) {
  const middle = ROW / 2;
  return (
    <Group top={top}>
      <text className="row-label" x={LEFT - 10} y={middle} textAnchor="end" dominantBaseline="middle">
        {row.variant}
        {row.isControl ? ' (control)' : ''}
      </text>
      {row.mean === null ? (
        <text className="row-missing" x={LEFT} y={middle} dominantBaseline="middle">
          no mean: {row.missing}
        </text>
      ) : (
        <>
          {row.interval && (
            <Group className={`interval series-${row.tone}`}>
              <Line from={{ x: x(row.interval.low), y: middle }} to={{ x: x(row.interval.high), y: middle }} />
              <Line from={{ x: x(row.interval.low), y: middle - 6 }} to={{ x: x(row.interval.low), y: middle + 6 }} />
              <Line from={{ x: x(row.interval.high), y: middle - 6 }} to={{ x: x(row.interval.high), y: middle + 6 }} />
            </Group>
          )}
          <Circle className={`dot series-${row.tone}`} cx={x(row.mean)} cy={middle} r={6} />
          <text className="row-value" x={WIDTH - RIGHT + 10} y={middle} dominantBaseline="middle">
            {meanText(kind, row.mean)}
          </text>
        </>
      )}
    </Group>
  );
}
