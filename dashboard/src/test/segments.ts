// A fake admin API holding one flag set's segments, for the segment
// screens' tests; anything else is the flag screens' fake's.
import type { Answer, Received } from './harness';
import { type FakeServer, flagsApi } from './flags';

export interface FakeSegment {
  key: string;
  definition: unknown;
  version: number;
  updatedAt: string;
}

export function segment(key: string, definition: unknown, extra: Partial<FakeSegment> = {}): FakeSegment {
  return { key, definition, version: 1, updatedAt: '2026-11-30T12:00:00Z', ...extra };
}

export interface FakeSegmentServer extends FakeServer {
  segments: FakeSegment[];
}

/** The GraphQL shape of a segment of flag set `default`. */
export function segmentData(s: FakeSegment) {
  return { __typename: 'Segment', flagSet: 'default', ...s };
}

/** The admin API over `server`'s segments in flag set `default`. */
export function segmentsApi(server: FakeSegmentServer) {
  const flags = flagsApi(server);
  return (request: Received): Answer => {
    if (request.operationName === 'SegmentList') {
      return { body: { data: { segments: server.segments.map(segmentData) } } };
    }
    return flags(request);
  };
}
