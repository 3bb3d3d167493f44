// The fake admin API of the flag screens' editing tabs: the flag-set
// scheme, segments, the dry-run validation, the flag as it is now with its
// latest change, and the flag list's fake for everything else.
import type { Diagnostic } from '../editing/diagnostics';
import { type FakeServer, flagsApi } from './flags';
import type { Answer, Received } from './harness';

export interface FakeEditing extends FakeServer {
  /** The flag set's `fractional` setting. */
  fractional: string | null;
  segments: string[];
  /** What `validateFlag` answers for a definition; no findings when absent. */
  validate?: (definition: unknown) => Diagnostic[] | Answer;
  /** The latest change of the flag, for `history(first: 1)`. */
  latest?: { actor: string; action: string; createdAt: string };
}

export function editingApi(server: FakeEditing) {
  const rest = flagsApi(server);
  return (request: Received): Answer => {
    const v = request.variables;
    switch (request.operationName) {
      case 'FlagSetScheme':
        return {
          body: {
            data: {
              flagSets: [
                { __typename: 'FlagSet', key: 'default', fractional: server.fractional, metadata: {} },
                { __typename: 'FlagSet', key: 'mobile', fractional: null, metadata: {} },
              ],
            },
          },
        };
      case 'Segments':
        return {
          body: { data: { segments: server.segments.map((key) => ({ __typename: 'Segment', key, definition: { '==': [1, 1] } })) } },
        };
      case 'ValidateFlag': {
        const answer = server.validate?.(v.definition) ?? [];
        return Array.isArray(answer)
          ? {
              body: {
                data: {
                  validateFlag: answer.map((d) => ({
                    __typename: 'Diagnostic',
                    severity: d.severity,
                    message: d.message,
                    flagKey: d.flagKey,
                    pointer: d.pointer,
                    new: d.isNew,
                  })),
                },
              },
            }
          : answer;
      }
      case 'FlagNow': {
        const found = server.flags.find((f) => f.key === v.key);
        if (!found) return rest(request);
        const latest = server.latest;
        const items = latest ? [{ __typename: 'AuditEvent', id: 99, version: found.version, ...latest }] : [];
        return {
          body: {
            data: {
              flag: {
                __typename: 'Flag',
                flagSet: 'default',
                key: found.key,
                definition: found.definition,
                version: found.version,
                updatedAt: found.updatedAt,
                history: { __typename: 'AuditPage', items },
              },
            },
          },
        };
      }
      default:
        return rest(request);
    }
  };
}
