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
        const search = typeof v.search === 'string' ? v.search : '';
        const listed = server.flags.filter(
          (f) => f.key.includes(search) && (v.includeArchived === true || !f.archived),
        );
        const start = typeof v.after === 'string' ? listed.findIndex((f) => f.key === v.after) + 1 : 0;
        const items = listed.slice(start, start + Number(v.first));
        const last = items[items.length - 1];
        const next = start + items.length < listed.length && last ? last.key : null;
        return {
          body: { data: { flags: { __typename: 'FlagPage', items: items.map((f) => ({ __typename: 'Flag', ...f })), next } } },
        };
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
