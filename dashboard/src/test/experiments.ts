// Experiments, their results and a fake admin API holding them, for the
// experiment screens' tests.
import type { ExperimentFieldsFragment, ResultFieldsFragment } from '../gql/graphql';
import { type Answer, type FakeRights, type Received, errorBody, viewerAnswer } from './harness';

export type FakeResult = ResultFieldsFragment;
export type FakeComparison = ResultFieldsFragment['comparisons'][number];
export type FakeVariant = ResultFieldsFragment['variants'][number];

/** A variant's figures: per metric, [count, sum, mean, variance]. */
export function variant(name: string, users: number, metrics: Record<string, [number, number, number | null, number | null]>): FakeVariant {
  return {
    variant: name,
    users,
    metrics: Object.entries(metrics).map(([metric, [count, sum, mean, variance]]) => ({ metric, count, sum, mean, variance })),
  };
}

/** A comparison with every figure defined (plausible ones), then `figures`. */
export function comparison(name: string, metric: string, figures: Partial<FakeComparison> = {}): FakeComparison {
  return {
    variant: name,
    metric,
    absLift: 0.12,
    relLift: 0.4,
    absCi: { low: 0.08, high: 0.16 },
    relCi: { low: 0.25, high: 0.55 },
    pValue: 0.00001,
    pValueHolm: 0.00001,
    pValueBh: 0.00001,
    mdeAbs: 0.03,
    mdeRel: 0.1,
    chanceToBeatControl: 0.99999,
    expectedLoss: 0.000001,
    sequentialPValue: 0.0002,
    sequentialCi: { low: 0.05, high: 0.19 },
    sequentialRelPValue: 0.0003,
    sequentialRelCi: { low: 0.15, high: 0.65 },
    sequentialPValueHolm: 0.0002,
    ...figures,
  };
}

/** A result of two variants on one conversion metric, then `fields`. */
export function result(fields: Partial<FakeResult> = {}): FakeResult {
  const variants = fields.variants ?? [
    variant('off', 1000, { purchases: [300, 300, 0.3, 0.21] }),
    variant('on', 1000, { purchases: [420, 420, 0.42, 0.2436] }),
  ];
  return {
    id: 1,
    computedAt: '2026-12-07T10:00:00Z',
    users: variants.reduce((sum, v) => sum + v.users, 0),
    alpha: 0.05,
    srm: { chi2: 0, pValue: 1, mismatch: false },
    multipleExposureShare: 0,
    variants,
    comparisons: [comparison('on', 'purchases')],
    notes: [],
    verdict:
      'on beats off on purchases: +12 points, +40% (95% always-valid interval +5 to +19 points), p = 0.0002 (sequential, Holm-adjusted). The sample is healthy: users per variant match the expected weights.',
    ...fields,
  };
}

/** A history entry: the figures the lift chart reads. */
export function historyEntry(id: number, computedAt: string, comparisons: FakeComparison[], users = 2000) {
  return {
    __typename: 'ExperimentResult',
    id,
    computedAt,
    users,
    alpha: 0.05,
    comparisons: comparisons.map(({ variant: name, metric, relLift, sequentialRelCi }) => ({ variant: name, metric, relLift, sequentialRelCi })),
  };
}

/** An experiment as the API answers it, with its results. */
export interface FakeExperiment extends ExperimentFieldsFragment {
  results: FakeResult[];
}

export function experiment(key: string, fields: Partial<FakeExperiment> = {}): FakeExperiment {
  return {
    id: 1,
    flagSet: 'default',
    key,
    flag: 'new-checkout',
    control: 'off',
    weights: [
      { variant: 'off', weight: 50 },
      { variant: 'on', weight: 50 },
    ],
    metrics: [{ name: 'purchases', event: 'purchase', kind: 'CONVERSION' }],
    windowSeconds: 7 * 86_400,
    alpha: 0.05,
    sequentialTuning: 5000,
    status: 'RUNNING',
    startedAt: '2026-12-01T09:00:00Z',
    stoppedAt: null,
    version: 2,
    createdBy: 'ann',
    createdAt: '2026-12-01T08:00:00Z',
    updatedAt: '2026-12-01T09:00:00Z',
    results: [],
    ...fields,
  };
}

/** A flag the form can choose, with its definition. */
export interface FakeExperimentFlag {
  key: string;
  definition: Record<string, unknown>;
}

/** A flag with a `fractional` split over `weights`. */
export function splitFlag(key: string, weights: [string, number][] = [['off', 50], ['on', 50]]): FakeExperimentFlag {
  return {
    key,
    definition: {
      state: 'ENABLED',
      variants: Object.fromEntries(weights.map(([v], i) => [v, i > 0])),
      defaultVariant: weights[0]?.[0],
      targeting: { fractional: weights },
    },
  };
}

export interface FakeExperimentServer {
  role: string;
  rights?: FakeRights;
  experiments: FakeExperiment[];
  flags: FakeExperimentFlag[];
  /** Answers to mutations, by operation name; they fail when absent. */
  mutations: Record<string, (request: Received) => Answer>;
}

/** The experiment as a query answers it: its fields, latest result and the last `last` results. */
export function experimentAnswer(e: FakeExperiment, last = 50) {
  const { results, ...fields } = e;
  const latest = results[results.length - 1] ?? null;
  return {
    __typename: 'Experiment',
    ...fields,
    latestResult: latest && { __typename: 'ExperimentResult', ...latest },
    results: results.slice(-last).map((r) => historyEntry(r.id, r.computedAt, r.comparisons, r.users)),
  };
}

/** The admin API over `server`'s experiments and flags in flag set `default`. */
export function experimentsApi(server: FakeExperimentServer) {
  return (request: Received): Answer => {
    const v = request.variables;
    const find = () => server.experiments.find((e) => e.key === v.key);
    switch (request.operationName) {
      case 'Viewer':
        return viewerAnswer('ann', server.role, server.rights);
      case 'FlagSets':
        return {
          body: {
            data: {
              flagSets: [
                { __typename: 'FlagSet', key: 'default', name: 'Default', archived: false, readOnly: false },
                { __typename: 'FlagSet', key: 'mobile', name: 'Mobile', archived: false, readOnly: false },
              ],
            },
          },
        };
      case 'FlagSetScheme':
        return { body: { data: { flagSets: [{ __typename: 'FlagSet', key: 'default', fractional: 'v2', metadata: {} }] } } };
      case 'ExperimentList':
        return {
          body: {
            data: {
              experiments: server.experiments.map((e) => {
                const latest = e.results[e.results.length - 1];
                return {
                  __typename: 'Experiment',
                  id: e.id,
                  key: e.key,
                  flag: e.flag,
                  control: e.control,
                  status: e.status,
                  startedAt: e.startedAt,
                  stoppedAt: e.stoppedAt,
                  updatedAt: e.updatedAt,
                  health: latest
                    ? {
                        __typename: 'ExperimentHealth',
                        computedAt: latest.computedAt,
                        users: latest.users,
                        srmMismatch: latest.srm?.mismatch ?? false,
                        srmPValue: latest.srm?.pValue ?? null,
                        multipleExposureShare: latest.multipleExposureShare,
                        verdict: latest.verdict,
                      }
                    : null,
                };
              }),
            },
          },
        };
      case 'ExperimentResults':
      case 'ExperimentDraft': {
        const found = find();
        return found
          ? { body: { data: { experiment: experimentAnswer(found, Number(v.last ?? 50)) } } }
          : { body: errorBody(`experiment ${JSON.stringify(v.key)} not found in flag set "default"`, 'EXPERIMENT_NOT_FOUND') };
      }
      case 'ExperimentFlagChoices': {
        const search = typeof v.search === 'string' ? v.search : '';
        const matching = server.flags.filter((f) => f.key.includes(search)).sort((a, b) => (a.key < b.key ? -1 : 1));
        return {
          body: {
            data: {
              flags: {
                __typename: 'FlagPage',
                items: matching.slice(0, Number(v.first)).map((f) => ({ __typename: 'Flag', key: f.key })),
                totalCount: matching.length,
              },
            },
          },
        };
      }
      case 'ExperimentFlag': {
        const flag = server.flags.find((f) => f.key === v.key);
        return flag
          ? {
              body: {
                data: {
                  flag: {
                    __typename: 'Flag',
                    flagSet: 'default',
                    key: flag.key,
                    definition: flag.definition,
                    defaultVariant: flag.definition.defaultVariant ?? null,
                    version: 1,
                  },
                },
              },
            }
          : { body: errorBody(`flag ${JSON.stringify(v.key)} not found`, 'FLAG_NOT_FOUND') };
      }
      default: {
        const mutation = server.mutations[request.operationName];
        return mutation ? mutation(request) : { status: 500, body: errorBody(`unexpected ${request.operationName}`, 'TEST') };
      }
    }
  };
}
