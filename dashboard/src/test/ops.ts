// A fake admin API with rollouts, alerts, webhooks and a comparison of two
// flag sets, over the editing tabs' fake: for the rollout, alert and
// comparison screens' tests.
import type { AlertsQuery, CompareFlagSetsQuery, RolloutFieldsFragment, WebhooksQuery } from '../gql/graphql';
import { type FakeEditing, editingApi } from './editing';
import { type Answer, type Received, errorBody } from './harness';

export type FakeRollout = RolloutFieldsFragment;
export type FakeAlert = AlertsQuery['alerts']['items'][number];
export type FakeWebhook = WebhooksQuery['webhooks'][number];
export type FakeCompared = CompareFlagSetsQuery['compareFlagSets'][number];

export interface FakeOps extends FakeEditing {
  rollouts: FakeRollout[];
  /** The alerts (none unless given). */
  alerts?: FakeAlert[];
  /** The webhooks' delivery state (none unless given). */
  webhooks?: FakeWebhook[];
  /** The comparison of two flag sets, from the variables (nothing in common unless given). */
  compare?: (from: string, to: string) => FakeCompared[] | Answer;
}

/** A rollout of `new-checkout` in `default`: 10% → 50% → 100% of `on`, its first step applied. */
export function rollout(id: number, extra: Partial<FakeRollout> = {}): FakeRollout {
  const weights = (on: number) => [
    { variant: 'on', weight: on },
    { variant: 'off', weight: 100 - on },
  ];
  return {
    id,
    flagSet: 'default',
    flag: 'new-checkout',
    status: 'RUNNING',
    nextStep: 1,
    nextAt: '2026-12-08T10:00:00Z',
    lastError: null,
    createdAt: '2026-12-07T09:00:00Z',
    createdBy: 'ann',
    updatedAt: '2026-12-07T09:00:00Z',
    actor: `rollout:${String(id)}`,
    steps: [
      { at: '2026-12-07T09:00:00Z', weights: weights(10) },
      { at: '2026-12-08T10:00:00Z', weights: weights(50) },
      { at: '2026-12-09T10:00:00Z', weights: weights(100) },
    ],
    guard: null,
    guardedVariant: null,
    initialWeights: null,
    stepStartedAt: '2026-12-07T09:00:01Z',
    guardCheck: null,
    ...extra,
  };
}

/** A guard on `purchase`, pausing at a 2% regression. */
export function guard(extra: Partial<NonNullable<FakeRollout['guard']>> = {}): NonNullable<FakeRollout['guard']> {
  return {
    metric: { event: 'purchase', kind: 'CONVERSION', windowSeconds: 3600 },
    direction: 'HIGHER_IS_BETTER',
    tolerance: 0.02,
    minUsers: 400,
    action: 'PAUSE',
    ...extra,
  };
}

/** A rollout with its `__typename`s, as the server answers it (the cache needs them). */
export function typedRollout(r: FakeRollout) {
  const weights = (list: { variant: string; weight: number }[]) => list.map((w) => ({ __typename: 'RolloutWeight', ...w }));
  return {
    __typename: 'Rollout',
    ...r,
    steps: r.steps.map((s) => ({ __typename: 'RolloutStep', at: s.at, weights: weights(s.weights) })),
    initialWeights: r.initialWeights ? weights(r.initialWeights) : null,
    guard: r.guard && {
      __typename: 'RolloutGuard',
      ...r.guard,
      metric: { __typename: 'GuardMetric', ...r.guard.metric },
    },
    guardCheck: r.guardCheck && { __typename: 'GuardCheck', ...r.guardCheck },
  };
}

/** A kill-switch alert of flag `key` in `flagSet`, event `id`, failing to one webhook. */
export function alert(id: number, extra: Partial<FakeAlert> = {}, flagSet = 'default', key = 'new-checkout'): FakeAlert {
  return {
    id,
    severity: 'WARNING',
    kind: 'KILL_SWITCH',
    kinds: ['KILL_SWITCH'],
    message: `Flag "${key}" of flag set "${flagSet}" was disabled by "ann" (kill switch).`,
    publication: null,
    event: {
      id,
      flagSet,
      subjectKind: 'flag',
      subjectKey: key,
      action: 'kill',
      actor: 'ann',
      after: null,
      createdAt: '2026-12-07T10:00:00Z',
    },
    deliveries: [{ webhook: 'https://hooks.example', status: 'FAILING' }],
    ...extra,
  };
}

export function opsApi(server: FakeOps) {
  const rest = editingApi(server);
  return (request: Received): Answer => {
    const v = request.variables;
    switch (request.operationName) {
      case 'Rollouts':
        return {
          body: {
            data: {
              rollouts: server.rollouts
                .filter((r) => r.flagSet === v.flagSet)
                .sort((a, b) => b.id - a.id)
                .map(typedRollout),
            },
          },
        };
      case 'Rollout': {
        const found = server.rollouts.find((r) => r.id === v.id);
        return found
          ? { body: { data: { rollout: typedRollout(found) } } }
          : { body: errorBody(`rollout ${String(v.id)} not found`, 'ROLLOUT_NOT_FOUND') };
      }
      case 'RolloutFlagChoices': {
        const search = typeof v.search === 'string' ? v.search : '';
        const items = server.flags.filter((f) => f.key.includes(search));
        return {
          body: {
            data: {
              flags: {
                __typename: 'FlagPage',
                items: items.map((f) => ({ __typename: 'Flag', key: f.key, definition: f.definition })),
                totalCount: items.length,
              },
            },
          },
        };
      }
      case 'RolloutFlag': {
        const found = server.flags.find((f) => f.key === v.key);
        return found
          ? {
              body: {
                data: {
                  flag: {
                    __typename: 'Flag',
                    flagSet: v.flagSet,
                    key: found.key,
                    version: found.version,
                    state: found.state,
                    archived: found.archived,
                    definition: found.definition,
                  },
                },
              },
            }
          : { body: errorBody(`flag ${JSON.stringify(v.key)} not found`, 'FLAG_NOT_FOUND') };
      }
      case 'Alerts': {
        const before = typeof v.beforeId === 'number' ? v.beforeId : Infinity;
        const first = Number(v.first);
        const matching = (server.alerts ?? [])
          .filter((a) => a.id < before && (v.flagSet == null || a.event.flagSet === v.flagSet))
          .sort((a, b) => b.id - a.id);
        const items = matching.slice(0, first);
        const last = items[items.length - 1];
        return {
          body: {
            data: {
              alerts: {
                __typename: 'AlertPage',
                items: items.map((a) => ({
                  __typename: 'Alert',
                  ...a,
                  event: { __typename: 'AuditEvent', ...a.event },
                  deliveries: a.deliveries.map((d) => ({ __typename: 'AlertDelivery', ...d })),
                })),
                next: matching.length > first && last ? last.id : null,
              },
            },
          },
        };
      }
      case 'Webhooks':
        return { body: { data: { webhooks: (server.webhooks ?? []).map((w) => ({ __typename: 'Webhook', ...w })) } } };
      case 'CompareFlagSets': {
        const answer = server.compare?.(String(v.from), String(v.to)) ?? [];
        if (!Array.isArray(answer)) return answer;
        const side = (flag: FakeCompared['from']) => flag && { __typename: 'Flag', ...flag };
        return {
          body: {
            data: {
              compareFlagSets: answer.map((c) => ({ __typename: 'ComparedFlag', ...c, from: side(c.from), to: side(c.to) })),
            },
          },
        };
      }
      default:
        return rest(request);
    }
  };
}
