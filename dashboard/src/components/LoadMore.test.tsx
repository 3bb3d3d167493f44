// The foot of a paged list counts what is loaded, one item or many.
import { render, screen } from '@testing-library/react';
import { expect, test } from 'vitest';

import { LoadMore } from './LoadMore';
import type { CursorPages } from './useCursorPages';

function pages(count: number, complete: boolean): CursorPages<number> {
  return {
    items: Array.from({ length: count }, (_, i) => i),
    summary: null,
    loading: false,
    complete,
    failure: null,
    loadMore: () => undefined,
    retry: () => undefined,
    reload: () => undefined,
  };
}

test('one item is counted in the singular, and more in the plural', () => {
  const { rerender } = render(<LoadMore pages={pages(1, true)} noun="alerts" one="alert" />);
  expect(screen.getByRole('status')).toHaveTextContent('1 alert loaded, the oldest included');
  rerender(<LoadMore pages={pages(2, false)} noun="alerts" one="alert" />);
  expect(screen.getByRole('status')).toHaveTextContent('2 alerts loaded');
  expect(screen.getByRole('button', { name: 'Load more' })).toBeEnabled();
});
