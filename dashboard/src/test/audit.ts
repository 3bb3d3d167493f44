// A fake admin API with an audit trail, segments and an evaluator, over the
// flag screens' fake: for the history, audit log and debugger tests.
import type { AuditEventFieldsFragment } from '../gql/graphql';
import { type FakeServer, flagsApi } from './flags';
import { type Answer, type Received, errorBody } from './harness';

export type FakeEvent = AuditEventFieldsFragment;

const definition = (state: string) => ({ state, variants: { on: true, off: false }, defaultVariant: 'off' });
const audited = (state: string) => ({ definition: definition(state), clientVisible: false, locked: false, archived: false });

/** An audit event of flag `new-checkout` in `default`; `id` orders them. */
export function event(id: number, extra: Partial<FakeEvent> = {}): FakeEvent {
  return {
    id,
    flagSet: 'default',
    subjectKind: 'flag',
    subjectKey: 'new-checkout',
    action: 'update',
    actor: 'ann',
    requestId: null,
    version: id,
    before: audited('ENABLED'),
    after: audited('DISABLED'),
    diff: [{ op: 'replace', path: '/definition/state', value: 'DISABLED' }],
    outOfBand: false,
    createdAt: '2026-12-01T10:00:00Z',
    ...extra,
  };
}

/** A creation: nothing before. */
export function created(id: number, extra: Partial<FakeEvent> = {}): FakeEvent {
  return event(id, { action: 'create', before: null, after: audited('ENABLED'), diff: null, ...extra });
}

export interface AuditServer extends FakeServer {
  /** Every event, any order; answered newest first. */
  events: FakeEvent[];
  segments: { key: string; definition: unknown }[];
  /** The answer to `evaluate`, from its variables. */
  evaluate: (variables: Record<string, unknown>) => Answer;
}

/** Newest first, before `beforeId`, `first` of them, and the next cursor. */
function page(events: FakeEvent[], variables: Record<string, unknown>) {
  const before = typeof variables.beforeId === 'number' ? variables.beforeId : Infinity;
  const first = Number(variables.first ?? 50);
  const sorted = events.filter((e) => e.id < before).sort((a, b) => b.id - a.id);
  const items = sorted.slice(0, first).map((e) => ({ __typename: 'AuditEvent', ...e }));
  const last = items[items.length - 1];
  return { __typename: 'AuditPage', items, next: sorted.length > first && last ? last.id : null };
}

export function auditApi(server: AuditServer) {
  const flags = flagsApi(server);
  return (request: Received): Answer => {
    const v = request.variables;
    const flag = server.flags.find((f) => f.key === v.key);
    const flagObject = flag && { __typename: 'Flag', flagSet: 'default', ...flag };
    const segments = server.segments.map((s) => ({ __typename: 'Segment', flagSet: 'default', ...s }));
    const notFound = () => ({ body: errorBody(`flag ${JSON.stringify(v.key)} not found in flag set "default"`, 'FLAG_NOT_FOUND') });
    switch (request.operationName) {
      case 'FlagHistory': {
        if (!flagObject) return notFound();
        const mine = server.events.filter((e) => e.subjectKind === 'flag' && e.subjectKey === v.key);
        return { body: { data: { flag: { ...flagObject, history: page(mine, v) } } } };
      }
      case 'AuditLog': {
        const filter = (v.filter ?? {}) as Record<string, unknown>;
        const matching = server.events.filter(
          (e) =>
            (filter.actor == null || e.actor === filter.actor) &&
            (filter.flagSet == null || e.flagSet === filter.flagSet) &&
            (filter.flag == null || (e.subjectKind === 'flag' && e.subjectKey === filter.flag)),
        );
        return { body: { data: { audit: page(matching, filter) } } };
      }
      case 'DebuggerRule':
        return flagObject ? { body: { data: { flag: flagObject, segments } } } : notFound();
      case 'Evaluate': {
        if (!flagObject) return notFound();
        const answer = server.evaluate(v);
        const data = (answer.body as { data?: { evaluate: unknown } }).data;
        return data
          ? { ...answer, body: { data: { evaluate: { __typename: 'Evaluation', ...(data.evaluate as object) }, flag: flagObject, segments } } }
          : answer;
      }
      default:
        return flags(request);
    }
  };
}
