// The guard's latest figures as a chart: the new variant's relative lift
// over the other variants, with its confidence interval, on an axis
// showing no change (0) and the tolerance, beyond which lies the region
// where the guard acts. The figures are also listed as text beside it.
import { Group } from '@visx/group';
import { scaleLinear } from '@visx/scale';
import { Bar, Line } from '@visx/shape';

import type { GuardDirection } from '../gql/graphql';
import { plainPercent, signedPercent } from './format';

const WIDTH = 600;
const HEIGHT = 104;
const MARGIN = 24;
/** The top of the plot, below the lines' names. */
const TOP = 20;
/** Where the interval is drawn, from the top. */
const BAND_Y = 32;
const BAND_HEIGHT = 14;
const AXIS_Y = 74;

export interface GuardChartProps {
  lift: number;
  /** The lift's confidence interval, low then high. */
  interval: readonly [number, number] | null;
  tolerance: number;
  direction: GuardDirection;
}

/** The axis' ends: every figure, 0 and the tolerance line, with some room around them. */
export function liftDomain({ lift, interval, tolerance, direction }: GuardChartProps): [number, number] {
  const line = direction === 'HIGHER_IS_BETTER' ? -tolerance : tolerance;
  const values = [lift, 0, line, ...(interval ?? [])];
  const low = Math.min(...values);
  const high = Math.max(...values);
  const room = Math.max((high - low) * 0.1, 0.01);
  return [low - room, high + room];
}

/** The chart's accessible name: the figures and the tolerance in words. */
export function guardChartLabel(props: GuardChartProps): string {
  const { lift, interval, tolerance, direction } = props;
  const bound =
    direction === 'HIGHER_IS_BETTER'
      ? `it acts when the whole interval is below ${signedPercent(-tolerance)}`
      : `it acts when the whole interval is above ${signedPercent(tolerance)}`;
  const range = interval ? `, interval ${signedPercent(interval[0])} to ${signedPercent(interval[1])}` : '';
  return `Relative lift of the new variant over the others: ${signedPercent(lift)}${range}. The guard tolerates ${plainPercent(tolerance)}: ${bound}.`;
}

export function GuardChart(props: GuardChartProps) {
  const { lift, interval, tolerance, direction } = props;
  const [low, high] = liftDomain(props);
  const x = scaleLinear<number>({ domain: [low, high], range: [MARGIN, WIDTH - MARGIN] });
  const line = direction === 'HIGHER_IS_BETTER' ? -tolerance : tolerance;
  // Whether a lower lift is worse; the region where the guard acts lies beyond
  // the tolerance line, away from 0.
  const lowerIsWorse = direction === 'HIGHER_IS_BETTER';
  const zone = lowerIsWorse ? [x(low), x(line)] as const : [x(line), x(high)] as const;
  const ticks = x.ticks(5);
  return (
    <svg className="guard-chart" viewBox={`0 0 ${String(WIDTH)} ${String(HEIGHT)}`} role="img" aria-label={guardChartLabel(props)}>
      <Bar className="guard-zone" x={zone[0]} y={TOP} width={Math.max(0, zone[1] - zone[0])} height={AXIS_Y - TOP} />
      <text className="guard-zone-label" x={lowerIsWorse ? MARGIN + 4 : WIDTH - MARGIN - 4} y={AXIS_Y - 6} textAnchor={lowerIsWorse ? 'start' : 'end'}>
        regression beyond the tolerance
      </text>
      {/* The two lines' names sit on either side of them, so that they never overlap. */}
      <text className="guard-line-label" x={x(line) + (lowerIsWorse ? -4 : 4)} y={12} textAnchor={lowerIsWorse ? 'end' : 'start'}>
        {`tolerance ${signedPercent(line)}`}
      </text>
      <text className="guard-line-label" x={x(0) + (lowerIsWorse ? 4 : -4)} y={12} textAnchor={lowerIsWorse ? 'start' : 'end'}>
        no change
      </text>
      <Line className="guard-zero" from={{ x: x(0), y: TOP - 4 }} to={{ x: x(0), y: AXIS_Y }} />
      <Line className="guard-tolerance" from={{ x: x(line), y: TOP - 4 }} to={{ x: x(line), y: AXIS_Y }} />
      {interval && (
        <Bar
          className="guard-interval"
          x={x(interval[0])}
          y={BAND_Y}
          width={Math.max(1, x(interval[1]) - x(interval[0]))}
          height={BAND_HEIGHT}
          rx={3}
        />
      )}
      <circle className="guard-lift" cx={x(lift)} cy={BAND_Y + BAND_HEIGHT / 2} r={6} />
      <Group top={AXIS_Y}>
        <Line className="guard-axis" from={{ x: MARGIN, y: 0 }} to={{ x: WIDTH - MARGIN, y: 0 }} />
        {ticks.map((tick) => (
          <Group key={tick} left={x(tick)}>
            <Line className="guard-axis" from={{ x: 0, y: 0 }} to={{ x: 0, y: 5 }} />
            <text className="guard-tick" y={18} textAnchor="middle">
              {signedPercent(tick)}
            </text>
          </Group>
        ))}
      </Group>
    </svg>
  );
}
