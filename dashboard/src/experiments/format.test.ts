// The figures as people read them: significant figures, signs, percent and
// points, p-values, windows and undefined figures.
import { describe, expect, test } from 'vitest';

import {
  UNDEFINED,
  absoluteIntervalText,
  absoluteText,
  chanceText,
  levelText,
  meanText,
  percentText,
  pStatement,
  pValueText,
  relativeIntervalText,
  signedPercent,
  significant,
  windowText,
} from './format';

describe('significant', () => {
  test('rounds to significant figures without trailing zeros or exponents', () => {
    expect(significant(12.345)).toBe('12.3');
    expect(significant(0.000123456)).toBe('0.000123');
    expect(significant(1234.5)).toBe('1,235');
    expect(significant(2.5, 3)).toBe('2.5');
    expect(significant(9.996)).toBe('10');
    expect(significant(-0.04567, 2)).toBe('-0.046');
    expect(significant(0)).toBe('0');
  });
});

describe('lifts and means', () => {
  test('a conversion rate in percent, a sum as a number', () => {
    expect(meanText('CONVERSION', 0.30412)).toBe('30.4%');
    expect(meanText('SUM', 12.3456)).toBe('12.35');
    expect(meanText('SUM', null)).toBe(UNDEFINED);
  });

  test('relative changes are signed with a real minus', () => {
    expect(signedPercent(0.1234)).toBe('+12.3%');
    expect(signedPercent(-0.045)).toBe('−4.5%');
    expect(signedPercent(null)).toBe(UNDEFINED);
    expect(percentText(0.5)).toBe('50%');
  });

  test('absolute lifts are points of conversion rate, or per user', () => {
    expect(absoluteText('CONVERSION', 0.0321)).toBe('+3.21 pts');
    expect(absoluteText('CONVERSION', -0.3)).toBe('−30 pts');
    expect(absoluteText('SUM', 1.5)).toBe('+1.5 per user');
    expect(absoluteText('SUM', null)).toBe(UNDEFINED);
  });

  test('intervals in the same units, crossing zero or not', () => {
    expect(absoluteIntervalText('CONVERSION', { low: -0.021, high: 0.098 })).toBe('−2.1 to +9.8 pts');
    expect(absoluteIntervalText('SUM', { low: 0.5, high: 2 })).toBe('+0.5 to +2');
    expect(relativeIntervalText({ low: -0.5, high: -0.1 })).toBe('−50% to −10%');
    expect(relativeIntervalText(null)).toBe(UNDEFINED);
  });
});

describe('probabilities', () => {
  test('p-values to two significant figures, tiny ones bounded', () => {
    expect(pValueText(0.04321)).toBe('0.043');
    expect(pValueText(0.5)).toBe('0.5');
    expect(pValueText(1)).toBe('1');
    expect(pValueText(0.00001)).toBe('< 0.0001');
    expect(pValueText(null)).toBe(UNDEFINED);
  });

  test('chances near certainty are bounded', () => {
    expect(chanceText(0.973)).toBe('97.3%');
    expect(chanceText(0.999999)).toBe('> 99.99%');
    expect(chanceText(0.00000001)).toBe('< 0.01%');
    expect(chanceText(null)).toBe(UNDEFINED);
  });

  test('the level of alpha', () => {
    expect(levelText(0.05)).toBe('95%');
    expect(levelText(0.01)).toBe('99%');
    expect(levelText(0.1)).toBe('90%');
  });
});

describe('windowText', () => {
  test('days and hours as people say them', () => {
    expect(windowText(7 * 86_400)).toBe('7 days');
    expect(windowText(86_400)).toBe('1 day');
    expect(windowText(3600)).toBe('1 hour');
    expect(windowText(36 * 3600)).toBe('1 day 12 hours');
    expect(windowText(90)).toBe('90 seconds');
    expect(windowText(5400)).toBe('1.5 hours');
  });
});

test('a p-value as a statement', () => {
  expect(pStatement(0.043)).toBe('p = 0.043');
  expect(pStatement(0.00001)).toBe('p < 0.0001');
  expect(pStatement(null)).toBe('p undefined');
});
