// The lift-over-time chart as drawn: a band and a line per treatment over
// the zero line, gaps where an analysis left the figures undefined, a lone
// analysis as an interval bar, several treatments each in its colour, and
// the latest figures read out by the chart's accessible name.
import { render, screen, within } from '@testing-library/react';
import { expect, test } from 'vitest';

import { comparison, historyEntry } from '../test/experiments';
import { LiftHistoryChart, LiftHistoryTable, LiftLegend } from './LiftHistoryChart';
import { liftHistory } from './liftHistory';

const tone = (variant: string) => ['off', 'on', 'blue'].indexOf(variant);
const at = (minute: number) => `2026-12-07T10:${String(minute).padStart(2, '0')}:00Z`;

function chartOf(entries: ReturnType<typeof historyEntry>[]) {
  const [history] = liftHistory(entries, ['purchases'], tone);
  if (!history) throw new Error('no history');
  return history;
}

test('one treatment: its band, its line, a dot per analysis and the zero line', () => {
  const history = chartOf([
    historyEntry(1, at(0), [comparison('on', 'purchases', { relLift: 0.6, sequentialRelCi: { low: -0.3, high: 1.5 } })], 200),
    historyEntry(2, at(5), [comparison('on', 'purchases', { relLift: 0.45, sequentialRelCi: { low: 0.02, high: 0.9 } })], 600),
    historyEntry(3, at(9), [comparison('on', 'purchases', { relLift: 0.5, sequentialRelCi: { low: 0.2, high: 0.8 } })], 1200),
  ]);
  const { container } = render(<LiftHistoryChart history={history} level="95%" />);
  expect(screen.getByRole('img')).toHaveAccessibleName(
    'purchases: relative lift over control across 3 analyses, with its always-valid 95% interval. ' +
      'Latest: on +50% (interval +20% to +80%, above zero).',
  );
  expect(container.querySelectorAll('path.band')).toHaveLength(1);
  expect(container.querySelectorAll('path.lift-line')).toHaveLength(1);
  expect(container.querySelectorAll('circle.dot')).toHaveLength(3);
  expect(container.querySelectorAll('line.zero')).toHaveLength(1);
  expect(container.querySelector('g.series-1')).not.toBeNull();
  // Each dot names its analysis.
  expect(container.querySelector('circle.dot title')?.textContent).toMatch(/^on, .*: \+60% \(−30% to \+150%\), 200 users$/);
});

test('an interval crossing zero is said so', () => {
  const history = chartOf([historyEntry(1, at(0), [comparison('on', 'purchases', { relLift: 0.05, sequentialRelCi: { low: -0.2, high: 0.3 } })])]);
  render(<LiftHistoryChart history={history} level="95%" />);
  expect(screen.getByRole('img')).toHaveAccessibleName(/Latest: on \+5% \(interval −20% to \+30%, crosses zero\)\.$/);
});

test('a lone analysis is an interval bar, not a band', () => {
  const history = chartOf([historyEntry(1, at(0), [comparison('on', 'purchases', { relLift: -0.2, sequentialRelCi: { low: -0.4, high: -0.05 } })])]);
  const { container } = render(<LiftHistoryChart history={history} level="95%" />);
  expect(container.querySelectorAll('path.band')).toHaveLength(0);
  expect(container.querySelectorAll('.band-bar line')).toHaveLength(3);
  expect(container.querySelectorAll('circle.dot')).toHaveLength(1);
  expect(screen.getByRole('img')).toHaveAccessibleName(/across 1 analysis,.*below zero/);
});

test('undefined figures leave gaps: the band and the line are drawn in pieces', () => {
  const history = chartOf([
    historyEntry(1, at(0), [comparison('on', 'purchases', { relLift: 0.1, sequentialRelCi: { low: -0.1, high: 0.3 } })]),
    historyEntry(2, at(3), [comparison('on', 'purchases', { relLift: 0.12, sequentialRelCi: { low: 0, high: 0.25 } })]),
    historyEntry(3, at(6), [comparison('on', 'purchases', { relLift: null, sequentialRelCi: null })]),
    historyEntry(4, at(9), [comparison('on', 'purchases', { relLift: 0.2, sequentialRelCi: { low: 0.1, high: 0.3 } })]),
    historyEntry(5, at(12), [comparison('on', 'purchases', { relLift: 0.22, sequentialRelCi: { low: 0.12, high: 0.31 } })]),
  ]);
  const { container } = render(<LiftHistoryChart history={history} level="95%" />);
  expect(container.querySelectorAll('path.band')).toHaveLength(2);
  expect(container.querySelectorAll('path.lift-line')).toHaveLength(2);
  expect(container.querySelectorAll('circle.dot')).toHaveLength(4);
});

test('the latest lift undefined: the name says so, and the last defined one is drawn', () => {
  const history = chartOf([
    historyEntry(1, at(0), [comparison('on', 'purchases', { relLift: 0.1, sequentialRelCi: { low: -0.1, high: 0.3 } })]),
    historyEntry(2, at(3), [comparison('on', 'purchases', { relLift: null, sequentialRelCi: null })]),
  ]);
  const { container } = render(<LiftHistoryChart history={history} level="99%" />);
  expect(screen.getByRole('img')).toHaveAccessibleName(/always-valid 99% interval\. Latest: on \+10% \(interval −10% to \+30%, crosses zero\)\.$/);
  expect(container.querySelectorAll('circle.dot')).toHaveLength(1);
});

test('several treatments: one series each, in its colour, with a legend and a table', () => {
  const history = chartOf([
    historyEntry(1, at(0), [comparison('on', 'purchases', { relLift: 0.3 }), comparison('blue', 'purchases', { relLift: -0.1, sequentialRelCi: { low: -0.3, high: 0.1 } })], 500),
    historyEntry(2, at(4), [comparison('on', 'purchases', { relLift: 0.35 }), comparison('blue', 'purchases', { relLift: -0.05, sequentialRelCi: { low: -0.2, high: 0.1 } })], 900),
  ]);
  const { container } = render(
    <>
      <LiftHistoryChart history={history} level="95%" />
      <LiftLegend history={history} />
      <LiftHistoryTable history={history} />
    </>,
  );
  expect(container.querySelectorAll('g.series-1 path.band, g.series-2 path.band')).toHaveLength(2);
  expect(container.querySelectorAll('g.series-2 circle.dot')).toHaveLength(2);
  expect(screen.getByRole('img')).toHaveAccessibleName(/Latest: on \+35% \(interval \+15% to \+65%, above zero\); blue −5% \(interval −20% to \+10%, crosses zero\)\.$/);
  expect(within(screen.getByRole('list', { name: 'Treatments on purchases' })).getAllByRole('listitem').map((li) => li.textContent)).toEqual([
    ' on: line, the lift; band, its always-valid interval',
    ' blue: line, the lift; band, its always-valid interval',
  ]);
  const rows = within(screen.getByRole('table')).getAllByRole('row');
  expect(rows.map((r) => within(r).queryAllByRole('cell').map((c) => c.textContent))).toEqual([
    [],
    ['500', '+30% (+15% to +65%)', '−10% (−30% to +10%)'],
    ['900', '+35% (+15% to +65%)', '−5% (−20% to +10%)'],
  ]);
});
