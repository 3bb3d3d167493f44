// The rollout's split chart: both layouts drawn to one scale, in rule
// order, each variant in the same tone in both rows, and read out by its
// accessible name.
import { render, screen } from '@testing-library/react';
import { describe, expect, test } from 'vitest';

import { SplitChart, splitParts } from './SplitChart';

const saved = [
  { variant: 'on', weight: 10 },
  { variant: 'off', weight: 90 },
];
const edited = [
  { variant: 'on', weight: 20 },
  { variant: 'off', weight: 60 },
  { variant: 'beta', weight: 20 },
];

describe('splitParts', () => {
  test('lays each layout out in rule order over the same width', () => {
    const parts = splitParts(saved, edited);
    const row = (name: string) => parts.filter((p) => p.row === name);
    expect(row('Saved').map((p) => [p.variant, p.share])).toEqual([
      ['on', '10%'],
      ['off', '90%'],
    ]);
    expect(row('Edited').map((p) => [p.variant, p.share])).toEqual([
      ['on', '20%'],
      ['off', '60%'],
      ['beta', '20%'],
    ]);
    // One scale: the edited `on` is twice as wide as the saved one, and
    // each row ends where the other does.
    const [savedOn, savedOff] = row('Saved');
    const [editedOn, , editedBeta] = row('Edited');
    expect(editedOn?.width).toBeCloseTo(2 * (savedOn?.width ?? 0));
    expect((savedOff?.x ?? 0) + (savedOff?.width ?? 0)).toBeCloseTo((editedBeta?.x ?? 0) + (editedBeta?.width ?? 0));
    // A variant keeps its tone from one row to the other.
    expect(row('Edited').map((p) => p.tone)).toEqual([0, 1, 2]);
    expect(row('Saved').map((p) => p.tone)).toEqual([0, 1]);
  });

  test('a layout with no weight draws nothing wide', () => {
    const parts = splitParts([{ variant: 'on', weight: 0 }], saved);
    expect(parts[0]?.width).toBe(0);
  });
});

test('the chart reads both layouts out by name', () => {
  render(<SplitChart saved={saved} edited={edited} />);
  expect(
    screen.getByRole('img', {
      name: 'Split of users by variant. Saved: on 10%, off 90%. Edited: on 20%, off 60%, beta 20%.',
    }),
  ).toBeInTheDocument();
});
