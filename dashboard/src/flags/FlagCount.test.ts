// The flag count's wording, with and without filters.
import { expect, test } from 'vitest';

import { countText } from './FlagCount';

test('the count reads as English', () => {
  expect(countText({ matching: 0, of: null })).toBe('0 flags');
  expect(countText({ matching: 1, of: null })).toBe('1 flag');
  expect(countText({ matching: 1234, of: null })).toBe('1,234 flags');
  expect(countText({ matching: 0, of: 5000 })).toBe('0 of 5,000 match');
  expect(countText({ matching: 1, of: 5000 })).toBe('1 of 5,000 matches');
  expect(countText({ matching: 12, of: 5000 })).toBe('12 of 5,000 match');
});
