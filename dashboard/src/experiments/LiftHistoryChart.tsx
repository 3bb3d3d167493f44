// One metric's relative lift over time, drawn with visx: for each
// treatment, the lift at every analysis as a line and its confidence
// sequence as a band, against a zero line. The sequence is valid at every
// look at once: where the band leaves zero behind, the difference is real
// (at the experiment's level), however often the results were looked at.
// The table below the chart holds the same figures.
import { Group } from '@visx/group';
import { scaleLinear, scaleTime } from '@visx/scale';
import { Area, Circle, Line, LinePath } from '@visx/shape';

import { analysisTime, countText, relativeIntervalText, signedPercent } from './format';
import {
  type LiftPoint,
  type LiftSeries,
  type MetricHistory,
  hasInterval,
  hasLift,
  latestPoint,
  liftDomain,
  runs,
  sideOfZero,
  timeDomain,
  timeTickText,
} from './liftHistory';

const WIDTH = 640;
const HEIGHT = 240;
const LEFT = 58;
const RIGHT = 34;
const TOP = 12;
const BOTTOM = 28;

/** Where the latest interval lies against zero, in words. */
const SIDE_WORDS = {
  above: 'above zero',
  below: 'below zero',
  crosses: 'crosses zero',
  undefined: 'undefined',
} as const;

/** What one treatment's latest analysis says, in words. */
export function latestText(series: LiftSeries): string {
  const last = latestPoint(series);
  if (!last) return `${series.variant}: no analysis`;
  if (last.lift === null) return `${series.variant}: lift undefined`;
  const interval = hasInterval(last) ? ` (interval ${relativeIntervalText(last)}, ${SIDE_WORDS[sideOfZero(last)]})` : '';
  return `${series.variant} ${signedPercent(last.lift)}${interval}`;
}

/** The chart's accessible name. */
export function historyLabel(history: MetricHistory, level: string): string {
  const analyses = new Set(history.series.flatMap((s) => s.points.map((p) => p.id))).size;
  const latest = history.series.map(latestText).join('; ');
  return `${history.metric}: relative lift over control across ${analyses} analys${analyses === 1 ? 'is' : 'es'}, with its always-valid ${level} interval. Latest: ${latest}.`;
}

export function LiftHistoryChart({ history, level }: { history: MetricHistory; level: string }) {
  const label = historyLabel(history, level);
  const span = timeDomain(history);
  const x = scaleTime<number>({ domain: span, range: [LEFT, WIDTH - RIGHT] });
  const y = scaleLinear<number>({ domain: liftDomain(history), range: [HEIGHT - BOTTOM, TOP], nice: true });
  const at = (p: LiftPoint) => x(p.at);
  return (
    <svg className="lift-chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={label}>
      <title>{label}</title>
      {y.ticks(5).map((tick) => (
        <Group key={tick} top={y(tick)}>
          <Line className={tick === 0 ? 'zero' : 'grid'} from={{ x: LEFT, y: 0 }} to={{ x: WIDTH - RIGHT, y: 0 }} />
          <text className="tick" x={LEFT - 6} textAnchor="end" dominantBaseline="middle">
            {tick === 0 ? '0' : signedPercent(tick, 2)}
          </text>
        </Group>
      ))}
      {!y.ticks(5).includes(0) && <Line className="zero" from={{ x: LEFT, y: y(0) }} to={{ x: WIDTH - RIGHT, y: y(0) }} />}
      {x.ticks(4).map((tick) => (
        <text key={tick.getTime()} className="tick" x={x(tick)} y={HEIGHT - 8} textAnchor="middle">
          {timeTickText(tick, span)}
        </text>
      ))}
      {history.series.map((series) => (
        <Group key={series.variant} className={`series-${series.tone}`}>
          {runs(series.points, hasInterval).map((run) =>
            run.length === 1 && run[0] ? (
              <Group key={run[0].id} className="band-bar">
                <Line from={{ x: at(run[0]), y: y(run[0].low) }} to={{ x: at(run[0]), y: y(run[0].high) }} />
                <Line from={{ x: at(run[0]) - 5, y: y(run[0].low) }} to={{ x: at(run[0]) + 5, y: y(run[0].low) }} />
                <Line from={{ x: at(run[0]) - 5, y: y(run[0].high) }} to={{ x: at(run[0]) + 5, y: y(run[0].high) }} />
              </Group>
            ) : (
              <Area key={run[0]?.id} className="band" data={run} x={at} y0={(p) => y(p.low)} y1={(p) => y(p.high)} />
            ),
          )}
          {runs(series.points, hasLift).map((run) => (
            <LinePath key={run[0]?.id} className="lift-line" data={run} x={at} y={(p) => y(p.lift)} />
          ))}
          {series.points.filter(hasLift).map((p) => (
            <Circle key={p.id} className="dot" cx={at(p)} cy={y(p.lift)} r={3.5}>
              <title>{`${series.variant}, ${analysisTime(p.at)}: ${signedPercent(p.lift)}${hasInterval(p) ? ` (${relativeIntervalText(p)})` : ''}, ${countText(p.users)} users`}</title>
            </Circle>
          ))}
        </Group>
      ))}
    </svg>
  );
}

/** The treatments' colours, named. */
export function LiftLegend({ history }: { history: MetricHistory }) {
  return (
    <ul className="legend" aria-label={`Treatments on ${history.metric}`}>
      {history.series.map((s) => (
        <li key={s.variant}>
          <span className={`swatch series-${s.tone}`} aria-hidden="true" /> {s.variant}: line, the lift; band, its always-valid interval
        </li>
      ))}
    </ul>
  );
}

/** The chart's figures as a table: each analysis, oldest first. */
export function LiftHistoryTable({ history }: { history: MetricHistory }) {
  const ids = [...new Map(history.series.flatMap((s) => s.points.map((p) => [p.id, p] as const))).values()];
  return (
    <table className="figures">
      <caption className="visually-hidden">Relative lift of each treatment on {history.metric} at each analysis</caption>
      <thead>
        <tr>
          <th scope="col">Analysed</th>
          <th scope="col" className="number">
            Users
          </th>
          {history.series.map((s) => (
            <th key={s.variant} scope="col">
              {s.variant}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {ids.map((point) => (
          <tr key={point.id}>
            <th scope="row">
              <time dateTime={point.at.toISOString()}>{analysisTime(point.at)}</time>
            </th>
            <td className="number">{countText(point.users)}</td>
            {history.series.map((s) => {
              const p = s.points.find((q) => q.id === point.id);
              return (
                <td key={s.variant}>
                  {p ? `${signedPercent(p.lift)}${hasInterval(p) ? ` (${relativeIntervalText(p)})` : ''}` : '—'}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
