// What an alert links to, and its reasons as a title.
import { expect, it } from 'vitest';

import { type ShownAlert, alertTitle, subjectLinks } from './alertText';

const event = (extra: Partial<ShownAlert['event']>): ShownAlert['event'] => ({
  id: 1,
  flagSet: 'prod/eu',
  subjectKind: 'flag',
  subjectKey: 'a b',
  action: 'kill',
  actor: 'ann',
  after: null,
  createdAt: '2026-12-07T10:00:00Z',
  ...extra,
});

it('links a flag’s, a rollout’s and an experiment’s alert to them, encoded', () => {
  expect(subjectLinks(event({}))).toEqual([{ label: 'Flag a b', href: '/flags/prod%2Feu/a%20b' }]);
  expect(subjectLinks(event({ subjectKind: 'rollout', after: { id: 7 } }))).toEqual([
    { label: 'Rollout 7', href: '/rollouts/prod%2Feu/7' },
    { label: 'Flag a b', href: '/flags/prod%2Feu/a%20b' },
  ]);
  expect(subjectLinks(event({ subjectKind: 'rollout', after: null }))).toEqual([{ label: 'Flag a b', href: '/flags/prod%2Feu/a%20b' }]);
  expect(subjectLinks(event({ subjectKind: 'experiment', subjectKey: 'checkout-test' }))).toEqual([
    { label: 'Experiment checkout-test', href: '/experiments/prod%2Feu/checkout-test' },
  ]);
  expect(subjectLinks(event({ flagSet: null }))).toEqual([]);
});

it('titles an alert by every reason, the most significant first', () => {
  expect(alertTitle({ kind: 'OUT_OF_BAND', kinds: ['OUT_OF_BAND', 'LOCKED_FLAG'] })).toBe('Out-of-band edit, Locked flag changed');
  expect(alertTitle({ kind: 'SAMPLE_RATIO_MISMATCH', kinds: [] })).toBe('Sample-ratio mismatch');
});
