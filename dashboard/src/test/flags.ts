// A fake admin API holding one flag set's flags, for the flag screens' tests.
import { type Answer, type FakeRights, type Received, errorBody, viewerAnswer } from './harness';

export interface FakeFlag {
  key: string;
  state: string;
  defaultVariant: string | null;
  version: number;
  updatedAt: string;
  archived: boolean;
  locked: boolean;
  clientVisible: boolean;
  /** What the server reads from the definition's `metadata.tags`. */
  tags: string[];
  definition: unknown;
}

export function flag(key: string, extra: Partial<FakeFlag> = {}): FakeFlag {
  return {
    key,
    state: 'ENABLED',
    defaultVariant: 'off',
    version: 1,
    updatedAt: '2026-11-30T12:00:00Z',
    archived: false,
    locked: false,
    clientVisible: false,
    tags: ['checkout'],
    definition: { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off', metadata: { tags: ['checkout'] } },
    ...extra,
  };
}

/** `count` flags, keyed `flag-0000` and on. */
export function manyFlags(count: number): FakeFlag[] {
  return Array.from({ length: count }, (_, i) => flag(`flag-${String(i).padStart(4, '0')}`));
}

export interface FakeServer {
  role: string;
  name: string;
  /** What the server says the role may change; by default what it gives the role. */
  rights?: FakeRights;
  flags: FakeFlag[];
  /** Answers to mutations, by operation name; they fail when absent. */
  mutations: Record<string, (request: Received) => Answer>;
}

/** The admin API over `server`'s flags in flag set `default`. */
export function flagsApi(server: FakeServer) {
  return (request: Received): Answer => {
    const v = request.variables;
    switch (request.operationName) {
      case 'Viewer':
        return viewerAnswer(server.name, server.role, server.rights);
      case 'FlagSets':
        return {
          body: {
            data: {
              flagSets: [
                { key: 'default', name: 'Default', archived: false, readOnly: false },
                { key: 'mobile', name: 'Mobile', archived: false, readOnly: false },
              ],
            },
          },
        };
      case 'FlagList': {
        const shown = server.flags.filter((f) => v.includeArchived === true || !f.archived);
        const search = typeof v.search === 'string' ? v.search.toLowerCase() : '';
        const tag = typeof v.tag === 'string' ? v.tag : null;
        const listed = sortFlags(
          shown.filter(
            (f) =>
              f.key.toLowerCase().includes(search) &&
              (v.state == null || f.state === v.state) &&
              (tag === null || f.tags.includes(tag)),
          ),
          String(v.sort),
        );
        // The cursor is the last key shown (the server's is opaque).
        const start = typeof v.after === 'string' ? listed.findIndex((f) => f.key === v.after) + 1 : 0;
        const items = listed.slice(start, start + Number(v.first));
        const last = items[items.length - 1];
        const next = start + items.length < listed.length && last ? last.key : null;
        const page = {
          __typename: 'FlagPage',
          items: items.map(listRow),
          next,
          totalCount: listed.length,
        };
        const unfiltered = v.countAll === true ? { unfiltered: { __typename: 'FlagPage', totalCount: shown.length } } : {};
        return { body: { data: { flags: page, ...unfiltered } } };
      }
      case 'FlagTags': {
        const shown = server.flags.filter((f) => v.includeArchived === true || !f.archived);
        return { body: { data: { flagTags: [...new Set(shown.flatMap((f) => f.tags))].sort() } } };
      }
      case 'FlagOverview': {
        const found = server.flags.find((f) => f.key === v.key);
        return found
          ? { body: { data: { flag: { __typename: 'Flag', flagSet: 'default', ...found } } } }
          : { body: errorBody(`flag ${JSON.stringify(v.key)} not found in flag set "default"`, 'FLAG_NOT_FOUND') };
      }
      default: {
        const mutation = server.mutations[request.operationName];
        return mutation
          ? mutation(request)
          : { status: 500, body: errorBody(`unexpected ${request.operationName}`, 'TEST') };
      }
    }
  };
}

/** `flags` in the server's order for `sort` (ties by key). */
function sortFlags(flags: FakeFlag[], sort: string): FakeFlag[] {
  const byKey = (a: FakeFlag, b: FakeFlag) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  const byTime = (a: FakeFlag, b: FakeFlag) => Date.parse(a.updatedAt) - Date.parse(b.updatedAt);
  const order: Record<string, (a: FakeFlag, b: FakeFlag) => number> = {
    KEY_ASC: byKey,
    KEY_DESC: (a, b) => byKey(b, a),
    UPDATED_ASC: (a, b) => byTime(a, b) || byKey(a, b),
    UPDATED_DESC: (a, b) => byTime(b, a) || byKey(a, b),
  };
  const compare = order[sort];
  if (!compare) throw new Error(`the fake server has no sort ${sort}`);
  return [...flags].sort(compare);
}

/** A flag as the list query asks for it: no definition, so rows cannot lean on it. */
function listRow(f: FakeFlag) {
  const { key, state, defaultVariant, version, updatedAt, archived, locked, tags } = f;
  return { __typename: 'Flag', key, state, defaultVariant, version, updatedAt, archived, locked, tags };
}
