// What changed between two JSON documents, as a tree of the changed paths
// for the diff view: each change with its old and new value, and beside
// it the unchanged members of the same object or array, for context.
import {
  type Operation,
  applyOperation,
  compare,
  deepClone,
  getValueByPointer,
  unescapePathComponent,
} from 'fast-json-patch';

/** What happened at one path. */
export type ChangeKind = 'added' | 'removed' | 'changed';

/** One change: at `path`, `before` became `after` (absent when added or removed). */
export interface Change {
  kind: ChangeKind;
  /** The path's segments: object keys and array indices, unescaped. */
  path: string[];
  before?: unknown;
  after?: unknown;
  /** For a value moved or copied here by the patch: where it came from. */
  from?: string[];
}

/** An object member or array element that did not change. */
export interface Unchanged {
  key: string;
  value: unknown;
}

/** A path on the way to changes, with what changed at it and below it. */
export interface DiffNode {
  /** The last segment ('' for the document itself). */
  key: string;
  path: string[];
  /** Whether the value at this path is (or was) an array, so its members' keys are indices. */
  indexed: boolean;
  /** Changes exactly at this path, in the order they were made. */
  changes: Change[];
  /** Changed paths below this one, in document order. */
  children: DiffNode[];
  /** Members of this object or array that did not change. */
  unchanged: Unchanged[];
}

export interface ChangeTree {
  root: DiffNode;
  /** Every change, in the order the patch made them. */
  changes: Change[];
  /**
   * Why the recorded patch was not used (it does not apply to the recorded
   * `before`), or `null`. The changes then come from comparing both sides.
   */
  patchProblem: string | null;
}

/**
 * The changes from `before` to `after`. `patch` is the recorded JSON Patch
 * (RFC 6902), if any; without one (a creation, a deletion, an edit made by
 * hand in SQL) the changes are computed by comparing both sides. `undefined`
 * and `null` mean a side that does not exist.
 */
export function changeTree(before: unknown, after: unknown, patch: unknown): ChangeTree {
  const hasBefore = before !== undefined && before !== null;
  const hasAfter = after !== undefined && after !== null;
  let changes: Change[];
  let patchProblem: string | null = null;
  if (!hasBefore && !hasAfter) {
    changes = [];
  } else if (!hasBefore) {
    changes = [{ kind: 'added', path: [], after }];
  } else if (!hasAfter) {
    changes = [{ kind: 'removed', path: [], before }];
  } else {
    const recorded = Array.isArray(patch) ? replay(before, patch) : null;
    if (recorded && 'problem' in recorded) patchProblem = recorded.problem;
    changes = recorded && !('problem' in recorded) ? recorded.changes : compareValues(before, after);
  }
  return { root: buildTree(changes, hasBefore ? before : undefined, hasAfter ? after : undefined), changes, patchProblem };
}

/** The segments of a JSON pointer (`''` is the whole document). */
export function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map(unescapePathComponent);
}

/** The changes of a patch, each with the value it replaced, by applying it to `before` step by step. */
function replay(before: unknown, patch: unknown[]): { changes: Change[] } | { problem: string } {
  let document: unknown = deepClone(before);
  const changes: Change[] = [];
  for (const [index, raw] of patch.entries()) {
    if (!isOperation(raw)) return { problem: `operation ${index + 1} is not a JSON Patch operation` };
    const operation = raw;
    const path = pointerSegments(operation.path);
    try {
      const existing = valueAt(document, operation.path);
      switch (operation.op) {
        case 'add':
          changes.push(
            existing.found && (path.length === 0 || !isArrayIndex(document, path))
              ? { kind: 'changed', path, before: existing.value, after: operation.value }
              : { kind: 'added', path, after: operation.value },
          );
          break;
        case 'remove':
          changes.push({ kind: 'removed', path, before: existing.value });
          break;
        case 'replace':
          changes.push({ kind: 'changed', path, before: existing.value, after: operation.value });
          break;
        case 'move': {
          const from = pointerSegments(operation.from);
          const moved = valueAt(document, operation.from).value;
          changes.push({ kind: 'removed', path: from, before: moved });
          changes.push({ kind: 'added', path, after: moved, from });
          break;
        }
        case 'copy':
          changes.push({ kind: 'added', path, after: valueAt(document, operation.from).value, from: pointerSegments(operation.from) });
          break;
        default:
          // `test` (and fast-json-patch's own `_get`) change nothing.
          break;
      }
      document = applyOperation(document, deepClone(operation) as Operation, true, true).newDocument;
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      return { problem: `operation ${index + 1} (${operation.op} ${operation.path}) does not apply: ${reason}` };
    }
  }
  return { changes };
}

/** The changes between two existing values, computed. */
function compareValues(before: unknown, after: unknown): Change[] {
  if (isContainer(before) && isContainer(after) && Array.isArray(before) === Array.isArray(after)) {
    const replayed = replay(before, compare(before, after));
    if ('changes' in replayed) return replayed.changes;
  }
  return equal(before, after) ? [] : [{ kind: 'changed', path: [], before, after }];
}

function isOperation(value: unknown): value is Operation & { from: string } {
  if (typeof value !== 'object' || value === null) return false;
  const op = (value as { op?: unknown }).op;
  const path = (value as { path?: unknown }).path;
  const from = (value as { from?: unknown }).from;
  if (typeof op !== 'string' || typeof path !== 'string') return false;
  return (op !== 'move' && op !== 'copy') || typeof from === 'string';
}

function valueAt(document: unknown, pointer: string): { found: boolean; value: unknown } {
  try {
    const value: unknown = getValueByPointer(document, pointer);
    return { found: value !== undefined, value };
  } catch {
    return { found: false, value: undefined };
  }
}

/** Whether `path` ends in an index (or `-`) of an array of `document`. */
function isArrayIndex(document: unknown, path: string[]): boolean {
  let value = document;
  for (const segment of path.slice(0, -1)) {
    if (!isContainer(value)) return false;
    value = (value as Record<string, unknown>)[segment];
  }
  return Array.isArray(value);
}

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The members of a container (object keys or array indices), in order. */
function membersOf(value: unknown): [string, unknown][] {
  if (Array.isArray(value)) return value.map((item, i) => [String(i), item]);
  if (isContainer(value)) return Object.entries(value);
  return [];
}

function child(value: unknown, key: string): unknown {
  return isContainer(value) ? (value as Record<string, unknown>)[key] : undefined;
}

/** Groups the changes by path under the document, with unchanged members as context. */
function buildTree(changes: Change[], before: unknown, after: unknown): DiffNode {
  const build = (path: string[], beforeValue: unknown, afterValue: unknown, here: Change[]): DiffNode => {
    const depth = path.length;
    const own = here.filter((c) => c.path.length === depth);
    const below = here.filter((c) => c.path.length > depth);
    const byKey = new Map<string, Change[]>();
    for (const change of below) {
      const key = change.path[depth] ?? '';
      byKey.set(key, [...(byKey.get(key) ?? []), change]);
    }
    // Document order: the keys as they are after the change, then those gone.
    const keys = [...membersOf(afterValue).map(([k]) => k)];
    for (const [k] of membersOf(beforeValue)) if (!keys.includes(k)) keys.push(k);
    for (const k of byKey.keys()) if (!keys.includes(k)) keys.push(k);
    const indexed = Array.isArray(afterValue) || (afterValue === undefined && Array.isArray(beforeValue));
    if (indexed) keys.sort((a, b) => Number(a) - Number(b));
    const children: DiffNode[] = [];
    const unchanged: Unchanged[] = [];
    // A value replaced whole shows no context of its own.
    const replacedWhole = own.length > 0;
    for (const key of keys) {
      const changed = byKey.get(key);
      if (changed) {
        children.push(build([...path, key], child(beforeValue, key), child(afterValue, key), changed));
      } else if (!replacedWhole) {
        const afterChild = child(afterValue, key);
        unchanged.push({ key, value: afterChild === undefined ? child(beforeValue, key) : afterChild });
      }
    }
    return { key: path[depth - 1] ?? '', path, indexed, changes: own, children, unchanged };
  };
  return build([], before, after, changes);
}
