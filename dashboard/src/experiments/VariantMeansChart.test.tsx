// The per-variant chart as drawn: a dot and an interval per variant with a
// mean, the control's reference line, an undefined mean said in words, and
// every figure read out by the chart's accessible name.
import { render, screen } from '@testing-library/react';
import { expect, test } from 'vitest';

import { result, variant } from '../test/experiments';
import { VariantMeansChart } from './VariantMeansChart';
import { metricMeans } from './resultsChart';

const purchases = [{ name: 'purchases', kind: 'CONVERSION' as const }];

test('draws each variant’s mean and interval, and reads them out', () => {
  const [chart] = metricMeans(
    result({
      variants: [
        variant('off', 1000, { purchases: [300, 300, 0.3, 0.21] }),
        variant('on', 1000, { purchases: [600, 600, 0.6, 0.24] }),
        variant('blue', 2000, { purchases: [700, 700, 0.35, 0.2275] }),
      ],
    }),
    purchases,
    'off',
  );
  if (!chart) throw new Error('no chart');
  const { container } = render(<VariantMeansChart chart={chart} />);
  const svg = screen.getByRole('img', { name: /^purchases: mean per user by variant, with its 95% interval\./ });
  expect(svg).toHaveAccessibleName(
    'purchases: mean per user by variant, with its 95% interval. ' +
      'off (control): 30% (27.2% to 32.8%), 1,000 users; on: 60% (57% to 63%), 1,000 users; blue: 35% (32.9% to 37.1%), 2,000 users.',
  );
  expect(container.querySelectorAll('circle.dot')).toHaveLength(3);
  // Each interval: its line and two end caps.
  expect(container.querySelectorAll('.interval line')).toHaveLength(9);
  expect(container.querySelectorAll('line.reference')).toHaveLength(1);
  // Each variant keeps its colour.
  expect([...container.querySelectorAll('circle.dot')].map((c) => c.getAttribute('class'))).toEqual([
    'visx-circle dot series-0',
    'visx-circle dot series-1',
    'visx-circle dot series-2',
  ]);
  // The higher mean is drawn further right.
  const [off, on] = [...container.querySelectorAll('circle.dot')].map((c) => Number(c.getAttribute('cx')));
  expect(on).toBeGreaterThan(off ?? Infinity);
  expect(screen.getByText('off (control)')).toBeInTheDocument();
});

test('a variant without a mean says why, and draws no dot', () => {
  const [chart] = metricMeans(
    result({
      variants: [variant('off', 0, { purchases: [0, 0, null, null] }), variant('on', 40, { purchases: [10, 10, 0.25, 0.1875] })],
      notes: [{ pointer: '/variants/0/metrics/purchases/mean', reason: 'an arm has no users' }],
    }),
    purchases,
    'off',
  );
  if (!chart) throw new Error('no chart');
  const { container } = render(<VariantMeansChart chart={chart} />);
  expect(screen.getByText('no mean: an arm has no users')).toBeInTheDocument();
  expect(container.querySelectorAll('circle.dot')).toHaveLength(1);
  // No control mean, no reference line.
  expect(container.querySelector('line.reference')).toBeNull();
  expect(screen.getByRole('img')).toHaveAccessibleName(/off \(control\): no mean \(an arm has no users\), 0 users; on: 25%/);
});

test('a sum metric is drawn in its own units', () => {
  const [chart] = metricMeans(
    result({ variants: [variant('off', 100, { revenue: [40, 420, 4.2, 30] }), variant('on', 100, { revenue: [50, 610, 6.1, 41] })] }),
    [{ name: 'revenue', kind: 'SUM' }],
    'off',
  );
  if (!chart) throw new Error('no chart');
  render(<VariantMeansChart chart={chart} />);
  expect(screen.getByText('4.2')).toBeInTheDocument();
  expect(screen.getByText('6.1')).toBeInTheDocument();
});

test('no variant with a mean is said in words instead of a chart', () => {
  const [chart] = metricMeans(
    result({ variants: [variant('off', 0, { purchases: [0, 0, null, null] }), variant('on', 0, { purchases: [0, 0, null, null] })] }),
    purchases,
    'off',
  );
  if (!chart) throw new Error('no chart');
  const { container } = render(<VariantMeansChart chart={chart} />);
  expect(container.querySelector('svg')).toBeNull();
  expect(screen.getByText('No variant has a mean on purchases yet.')).toBeInTheDocument();
});
