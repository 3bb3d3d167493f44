// The testbed's typed values: the text a feature file writes for a Boolean,
// String, Integer, Float, Object, Long, StringList, ResolverType or
// CacheType, read as the JavaScript value a flagd provider deals in.

import { isDeepStrictEqual } from 'node:util';

/**
 * Reads `text` as a value of the testbed type `type`.
 *
 * A String "null" is the four-letter string, as in conformance/src/typed.rs:
 * the fractional v3 examples bucket the text "null". Option values are read
 * by `optionValue` instead, where "null" means no value.
 */
export function typedValue(text, type) {
  switch (type) {
    case 'Boolean':
      return parseBoolean(text);
    case 'String':
      return text;
    case 'Integer':
    case 'Long':
      return parseInteger(text);
    case 'Float':
      return parseFloat(text);
    case 'Object':
      return JSON.parse(text);
    case 'StringList':
      return text
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item.length > 0);
    case 'ResolverType':
      return text.toLowerCase();
    case 'CacheType':
      return text;
    default:
      throw new Error(`unknown value type ${JSON.stringify(type)}`);
  }
}

/**
 * An option value of config.feature: as `typedValue`, except that "null"
 * (written for an option that has no default) means absent.
 */
export function optionValue(text, type) {
  if (text === 'null' && (type === 'String' || type === 'Object')) {
    return undefined;
  }
  return typedValue(text, type);
}

/**
 * Whether a resolved value equals an expected one. An unset list and an
 * empty one mean the same to the provider (no fatal status codes), and
 * numbers compare by value (JSON has no integer type).
 */
export function sameValue(actual, expected, type) {
  if (type === 'StringList') {
    return isDeepStrictEqual(actual ?? [], expected ?? []);
  }
  return isDeepStrictEqual(actual, expected);
}

function parseBoolean(text) {
  const lower = text.toLowerCase();
  if (lower !== 'true' && lower !== 'false') {
    throw new Error(`${JSON.stringify(text)} is not a Boolean`);
  }
  return lower === 'true';
}

function parseInteger(text) {
  if (!/^\s*-?\d+\s*$/.test(text)) {
    throw new Error(`${JSON.stringify(text)} is not an Integer`);
  }
  return Number(text);
}

function parseFloat(text) {
  const value = Number(text);
  if (text.trim() === '' || Number.isNaN(value)) {
    throw new Error(`${JSON.stringify(text)} is not a Float`);
  }
  return value;
}
