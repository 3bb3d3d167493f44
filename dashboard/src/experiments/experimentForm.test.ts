// The experiment form: the settings it sends (the window in seconds, alpha
// and the tuning only when given), what it refuses before sending, and a
// draft's settings read back into it.
import { describe, expect, test } from 'vitest';

import { experiment } from '../test/experiments';
import { type ExperimentForm, blankForm, checkForm, formOf, windowSeconds, withEvent } from './experimentForm';

const filled = (fields: Partial<ExperimentForm> = {}): ExperimentForm => ({
  ...blankForm(),
  key: 'checkout-test',
  flag: 'new-checkout',
  control: 'off',
  metrics: [{ name: 'purchases', event: 'purchase', kind: 'CONVERSION' }],
  ...fields,
});

describe('checkForm', () => {
  test('sends the settings with the window in seconds and the defaults left to the server', () => {
    expect(checkForm(filled(), ['off', 'on'])).toEqual({
      ok: true,
      settings: {
        flag: 'new-checkout',
        control: 'off',
        metrics: [{ name: 'purchases', event: 'purchase', kind: 'CONVERSION' }],
        windowSeconds: 7 * 86_400,
      },
    });
  });

  test('sends alpha, the tuning and a window in hours when given', () => {
    const checked = checkForm(filled({ window: '36', windowUnit: 'hours', alpha: '0.01', sequentialTuning: '20000' }), ['off', 'on']);
    expect(checked.ok && checked.settings).toMatchObject({ windowSeconds: 36 * 3600, alpha: 0.01, sequentialTuning: 20000 });
  });

  test('refuses what the server would, each field with its reason', () => {
    const checked = checkForm(
      {
        key: ' padded',
        flag: 'new-checkout',
        control: 'gone',
        metrics: [
          { name: 'purchases', event: '', kind: 'CONVERSION' },
          { name: 'purchases', event: 'purchase', kind: 'SUM' },
        ],
        window: '400',
        windowUnit: 'days',
        alpha: '0.5',
        sequentialTuning: '-3',
      },
      ['off', 'on'],
    );
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    expect(checked.problems).toEqual({
      key: 'The key may not start or end with white space',
      control: 'Choose the control variant among the flag’s',
      names: [undefined, 'Another metric has this name'],
      events: ['Enter the metric’s event', undefined],
      window: 'The window can be at most 365 days',
      alpha: 'Alpha must be above 0 and below 0.5, such as 0.05',
      sequentialTuning: 'The tuning must be a positive number of users, such as 5000',
    });
  });

  test('needs a flag with its variants known, two of them, and a metric', () => {
    const none = checkForm(filled({ flag: '', metrics: [] }), null);
    expect(!none.ok && [none.problems.flag, none.problems.metrics]).toEqual(['Choose a flag', 'Add at least one metric']);
    const loading = checkForm(filled(), null);
    expect(!loading.ok && loading.problems.flag).toBe('The flag’s variants are not known yet');
    const single = checkForm(filled(), ['off']);
    expect(!single.ok && single.problems.flag).toBe('The flag needs at least two variants to compare');
  });

  test('an edited draft keeps its key unchecked', () => {
    expect(checkForm(filled({ key: '' }), ['off', 'on'], true).ok).toBe(true);
    expect(checkForm(filled({ key: '' }), ['off', 'on']).ok).toBe(false);
  });
});

describe('windowSeconds', () => {
  test('rounds to whole seconds within 1 s and 365 days', () => {
    expect(windowSeconds('1.5', 'hours')).toEqual({ ok: true, seconds: 5400 });
    expect(windowSeconds('365', 'days')).toEqual({ ok: true, seconds: 365 * 86_400 });
    expect(windowSeconds('0', 'hours')).toEqual({ ok: false, reason: 'The window must be longer than 0' });
    expect(windowSeconds('', 'days')).toEqual({ ok: false, reason: 'Enter a number of days' });
    expect(windowSeconds('a week', 'days')).toEqual({ ok: false, reason: 'Enter a number of days' });
  });
});

describe('formOf', () => {
  test('reads a draft back in days, or else in hours, and leaves the defaults empty', () => {
    const week = formOf(experiment('checkout-test', { status: 'DRAFT' }));
    expect(week).toEqual(filled({ window: '7', windowUnit: 'days' }));
    const tuned = formOf(experiment('t', { windowSeconds: 5400, alpha: 0.1, sequentialTuning: 800 }));
    expect([tuned.window, tuned.windowUnit, tuned.alpha, tuned.sequentialTuning]).toEqual(['1.5', 'hours', '0.1', '800']);
  });
});

describe('withEvent', () => {
  test('names the metric after its event until the user names it otherwise', () => {
    const typed = withEvent(withEvent({ name: '', event: '', kind: 'CONVERSION' }, 'p'), 'purchase');
    expect(typed).toEqual({ name: 'purchase', event: 'purchase', kind: 'CONVERSION' });
    expect(withEvent({ ...typed, name: 'buyers' }, 'purchased')).toEqual({ name: 'buyers', event: 'purchased', kind: 'CONVERSION' });
  });
});
