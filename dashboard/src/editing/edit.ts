// A flag edit as data, so that it can be sent against the version read,
// and sent again against the current version after a conflict: the same
// weights, or the same targeting in the definition as it is now.
import type { Bucket } from '../rollout/overlap';

/** One edit of a flag. */
export type FlagEdit =
  | { kind: 'rollout'; weights: Bucket[] }
  /** `targeting` undefined removes it (every evaluation gets the default variant). */
  | { kind: 'targeting'; targeting: unknown };

/** A flag as read before an edit: the version the edit is sent against. */
export interface ReadFlag {
  version: number;
  definition: unknown;
}

/** A definition as an object (an empty one for anything else). */
export function definitionObject(definition: unknown): Record<string, unknown> {
  return typeof definition === 'object' && definition !== null && !Array.isArray(definition)
    ? (definition as Record<string, unknown>)
    : {};
}

/** The definition's targeting (undefined when it has none). */
export function targetingOf(definition: unknown): unknown {
  return definitionObject(definition).targeting;
}

/** `definition` with its targeting replaced (or removed, for undefined). */
export function withTargeting(definition: unknown, targeting: unknown): Record<string, unknown> {
  const next: Record<string, unknown> = { ...definitionObject(definition) };
  if (targeting === undefined) delete next.targeting;
  else next.targeting = targeting;
  return next;
}

/** The members of two definitions that differ, by name, sorted. */
export function changedMembers(before: unknown, after: unknown): string[] {
  const a = definitionObject(before);
  const b = definitionObject(after);
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].filter((name) => !sameJson(a[name], b[name])).sort();
}

/** Whether two JSON values are equal (objects compared member by member, in any order). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  return keys.length === Object.keys(right).length && keys.every((k) => Object.hasOwn(right, k) && sameJson(left[k], right[k]));
}

/** A JSON value as indented text, as the editor shows it. */
export function prettyJson(value: unknown): string {
  return value === undefined ? '' : JSON.stringify(value, null, 2);
}

/** The targeting editor's text, and the flag as read when editing began. */
export interface TargetingDraft {
  text: string;
  read: ReadFlag;
}

/** The rollout's edited weights, and the flag as read when editing began. */
export interface RolloutDraft {
  weights: Bucket[];
  read: ReadFlag;
}
