// `/segments/:flagSet`: the flag set's segments, the shared rules its flags
// use through `{"$ref": key}`, each with its rule, version and last change,
// and the way to the create form and to each segment's editor.
import { useQuery } from 'urql';
import { Link, useParams } from 'wouter';

import { failureOf } from '../api/errors';
import { Gated } from '../components/Denied';
import { ErrorNotice } from '../components/ErrorNotice';
import { FlagSetSwitcher } from '../components/FlagSetSwitcher';
import { formatTime } from '../flags/flagFields';
import { useWriteDenial } from '../flags/useWriteDenial';
import { decodeParam, newSegmentPath, segmentPath, segmentsPath } from '../routing';
import { SEGMENT_LIST_CONTEXT, SegmentListQuery } from './operations';
import { ruleSummary } from './segmentText';
import './segments.css';

export function SegmentsScreen() {
  const flagSet = decodeParam(useParams<{ flagSet: string }>().flagSet);
  return <SegmentList key={flagSet} flagSet={flagSet} />;
}

function SegmentList({ flagSet }: { flagSet: string }) {
  const [{ data, error, fetching }, refetch] = useQuery({ query: SegmentListQuery, variables: { flagSet }, context: SEGMENT_LIST_CONTEXT });
  const denial = useWriteDenial(flagSet);
  const segments = data?.segments ?? [];

  return (
    <>
      <div className="screen-head">
        <h1>Segments</h1>
        <FlagSetSwitcher flagSet={flagSet} pathOf={segmentsPath} />
        <NewSegmentLink flagSet={flagSet} denial={denial} />
      </div>
      <p className="help">
        A segment is a rule shared by the flags of a flag set: a flag’s targeting uses it as{' '}
        <code>{'{"$ref": "key"}'}</code>, and evaluation puts the segment’s rule in its place.
      </p>
      {error && !data ? (
        <>
          <ErrorNotice failure={failureOf(error)} what="The segments could not be loaded" />
          <button type="button" onClick={() => { refetch({ requestPolicy: 'network-only' }); }}>
            Try again
          </button>
        </>
      ) : !data ? (
        <p role="status">{fetching ? 'Loading segments…' : ''}</p>
      ) : segments.length === 0 ? (
        <p className="empty">Flag set {flagSet} has no segments yet.</p>
      ) : (
        <table className="segment-table">
          <caption className="visually-hidden">Segments of {flagSet}, by key</caption>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Rule</th>
              <th scope="col">Version</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {segments.map((segment) => (
              <tr key={segment.key}>
                <td>
                  <Link href={segmentPath(flagSet, segment.key)}>{segment.key}</Link>
                </td>
                <td className="rule-cell">
                  <code title={JSON.stringify(segment.definition)}>{ruleSummary(segment.definition)}</code>
                </td>
                <td>{segment.version}</td>
                <td>
                  <time dateTime={segment.updatedAt}>{formatTime(segment.updatedAt)}</time>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && (
        <p className="count" role="status">
          {segments.length} segment{segments.length === 1 ? '' : 's'}
        </p>
      )}
    </>
  );
}

/** The way to the create form, or a disabled control with the reason. */
function NewSegmentLink({ flagSet, denial }: { flagSet: string; denial: string | null }) {
  if (denial !== null) {
    return (
      <span className="new-flag-link">
        <Gated reason={denial}>
          <button type="button">New segment</button>
        </Gated>
      </span>
    );
  }
  return (
    <Link href={newSegmentPath(flagSet)} className="new-flag-link">
      New segment
    </Link>
  );
}
