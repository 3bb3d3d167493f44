// `/segments/:flagSet/:key`: one segment's rule, edited as JSON and saved
// with the version read (`updateSegment`), and its deletion, confirmed
// (`deleteSegment`, with the same version). The server refuses a rule
// that would break a flag using the segment, and a deletion while a flag
// still uses it: the refusal is shown with its message, code, the flags
// it names and the compiler's findings. A save over a newer version is
// refused as stale; the edit is kept beside the segment as it is now.
import { useRef, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { Link, useLocation, useParams } from 'wouter';

import { failureOf } from '../api/errors';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Gated } from '../components/Denied';
import { ErrorNotice } from '../components/ErrorNotice';
import { useToast } from '../components/Toasts';
import { type Diagnostic, NO_ANSWER, type SaveFailure, VERSION_CONFLICT, saveFailureOf } from '../editing/diagnostics';
import { prettyJson, sameJson } from '../editing/edit';
import { formatTime } from '../flags/flagFields';
import { useWriteDenial } from '../flags/useWriteDenial';
import type { SegmentFieldsFragment } from '../gql/graphql';
import { decodeParam, segmentsPath } from '../routing';
import type { JsonEditorHandle } from '../targeting/JsonEditor';
import { parseText } from '../targeting/json';
import { DeleteSegmentMutation, SEGMENT_LIST_CONTEXT, SegmentListQuery, UpdateSegmentMutation } from './operations';
import { RuleEditor } from './RuleEditor';
import { SegmentRefusal } from './SegmentRefusal';
import { segmentLine } from './segmentText';
import '../editing/editing.css';
import './segments.css';

export function SegmentScreen() {
  const params = useParams<{ flagSet: string; key: string }>();
  const flagSet = decodeParam(params.flagSet);
  const key = decodeParam(params.key);
  return <Segment key={`${flagSet}\n${key}`} flagSet={flagSet} segmentKey={key} />;
}

type Segment = SegmentFieldsFragment;

/** The segment as read when the edit began: the version a save names. */
interface Read {
  version: number;
  definition: unknown;
}

type SaveState =
  | { status: 'idle' }
  | { status: 'pending' }
  | { status: 'saved'; version: number }
  /** Refused for this text. */
  | { status: 'failed'; text: string; failure: SaveFailure }
  /** The segment changed after `read`: the edit waits to be saved over the current version, or dropped. */
  | { status: 'conflict'; failure: SaveFailure };

function Segment({ flagSet, segmentKey }: { flagSet: string; segmentKey: string }) {
  const [{ data, error }, refetch] = useQuery({ query: SegmentListQuery, variables: { flagSet }, context: SEGMENT_LIST_CONTEXT });
  const back = (
    <p>
      <Link href={segmentsPath(flagSet)}>← Segments of {flagSet}</Link>
    </p>
  );
  if (error && !data) {
    return (
      <>
        {back}
        <h1>{segmentKey}</h1>
        <ErrorNotice failure={failureOf(error)} what="The segment could not be loaded" />
        <button type="button" onClick={() => { refetch({ requestPolicy: 'network-only' }); }}>
          Try again
        </button>
      </>
    );
  }
  if (!data) return <p role="status">Loading the segment…</p>;
  const segment = data.segments.find((s) => s.key === segmentKey);
  if (!segment) {
    return (
      <>
        {back}
        <h1>{segmentKey}</h1>
        <p className="empty">
          Flag set {flagSet} has no segment {segmentKey}. It may have been deleted.
        </p>
      </>
    );
  }
  return (
    <>
      {back}
      <h1>{segment.key}</h1>
      <SegmentEditor flagSet={flagSet} segment={segment} onReload={() => { refetch({ requestPolicy: 'network-only' }); }} />
    </>
  );
}

function SegmentEditor({ flagSet, segment, onReload }: { flagSet: string; segment: Segment; onReload: () => void }) {
  const denial = useWriteDenial(flagSet);
  const notify = useToast();
  const editor = useRef<JsonEditorHandle>(null);
  const [, update] = useMutation(UpdateSegmentMutation);
  const [draft, setDraft] = useState<{ text: string; read: Read } | null>(null);
  const [save, setSave] = useState<SaveState>({ status: 'idle' });
  const read: Read = draft?.read ?? { version: segment.version, definition: segment.definition };
  const savedText = prettyJson(read.definition);
  const text = draft?.text ?? savedText;
  const parsed = parseText(text);
  const changed = parsed.kind === 'json' && !sameJson(parsed.value, read.definition);
  const findings = save.status === 'failed' && save.text === text ? save.failure.diagnostics : [];
  const lineOf = (d: Diagnostic) =>
    parsed.kind === 'json' ? segmentLine(text, parsed.tree, segment.key, d) : null;
  const goTo = (line: number) => editor.current?.goTo(line);

  const edit = (next: string) => {
    if (save.status !== 'pending' && save.status !== 'conflict') setSave({ status: 'idle' });
    setDraft(next === savedText && save.status !== 'conflict' ? null : { text: next, read });
  };

  const send = async (against: Read) => {
    if (parsed.kind !== 'json') return;
    setSave({ status: 'pending' });
    const result = await update({
      flagSet,
      key: segment.key,
      expectedVersion: against.version,
      definition: parsed.value,
    });
    const saved = result.data?.updateSegment;
    if (saved) {
      setDraft(null);
      setSave({ status: 'saved', version: saved.version });
      notify('success', `Saved segment ${saved.key}: version ${saved.version}`);
      return;
    }
    const failure = result.error ? saveFailureOf(result.error) : NO_ANSWER;
    if (failure.code === VERSION_CONFLICT) {
      // The edit stays as typed, read against the version it named.
      setDraft({ text, read: against });
      setSave({ status: 'conflict', failure });
      onReload();
    } else {
      setSave({ status: 'failed', text, failure });
    }
  };

  const saveDenial =
    denial ??
    (parsed.kind === 'empty'
      ? 'A segment needs a rule'
      : parsed.kind === 'invalid'
        ? 'Fix the JSON first'
        : !changed
          ? 'Nothing changed yet'
          : findings.length > 0
            ? 'The server refused this rule: change it first'
            : null);

  return (
    <>
      <dl className="details segment-facts">
        <div>
          <dt>Flag set</dt>
          <dd>{flagSet}</dd>
        </div>
        <div>
          <dt>Version</dt>
          <dd>{segment.version}</dd>
        </div>
        <div>
          <dt>Updated</dt>
          <dd>
            <time dateTime={segment.updatedAt}>{formatTime(segment.updatedAt)}</time>
          </dd>
        </div>
        <div>
          <dt>Used in targeting as</dt>
          <dd>
            <code>{`{"$ref": ${JSON.stringify(segment.key)}}`}</code>
          </dd>
        </div>
      </dl>

      <section className="panel" aria-labelledby="rule-heading">
        <h2 id="rule-heading">Rule</h2>
        <p className="help">
          Read at version {read.version}
          {read.version !== segment.version ? ` (the segment is now at version ${segment.version})` : ''}. Every
          flag that uses the segment evaluates this rule in place of its <code>$ref</code>.
        </p>
        <RuleEditor
          ref={editor}
          id="segment-rule"
          text={text}
          parsed={parsed}
          onChange={edit}
          denial={denial}
          findings={findings}
          lineOf={lineOf}
        />
        <div className="actions">
          <Gated reason={save.status === 'conflict' ? 'Choose below how to go on' : saveDenial}>
            <button
              type="button"
              className="primary"
              disabled={save.status === 'pending'}
              onClick={() => void send(read)}
            >
              {save.status === 'pending' ? 'Saving…' : 'Save rule'}
            </button>
          </Gated>
          <button
            type="button"
            disabled={parsed.kind !== 'json' || prettyJson(parsed.value) === text || denial !== null}
            onClick={() => { if (parsed.kind === 'json') edit(prettyJson(parsed.value)); }}
          >
            Format JSON
          </button>
          <button
            type="button"
            disabled={draft === null || save.status === 'pending'}
            onClick={() => { setDraft(null); setSave({ status: 'idle' }); }}
          >
            Undo my changes
          </button>
        </div>
        {save.status === 'pending' && <p role="status">Saving…</p>}
        {save.status === 'saved' && <p role="status">Saved: the segment is now at version {save.version}.</p>}
        {save.status === 'failed' && (
          <SegmentRefusal
            change="update"
            failure={save.failure}
            flagSet={flagSet}
            segmentKey={segment.key}
            lineOf={lineOf}
            onGoTo={goTo}
          />
        )}
        {save.status === 'conflict' && (
          <SegmentConflict
            failure={save.failure}
            flagSet={flagSet}
            segment={segment}
            mine={text}
            onSaveOver={() => void send({ version: segment.version, definition: segment.definition })}
            onDiscard={() => { setDraft(null); setSave({ status: 'idle' }); }}
          />
        )}
      </section>

      <DeleteSegment flagSet={flagSet} segment={segment} denial={denial} />
    </>
  );
}

/** A save refused as stale: the edit beside the segment as it is now, to save over it or drop. */
function SegmentConflict(props: {
  failure: SaveFailure;
  flagSet: string;
  segment: Segment;
  mine: string;
  onSaveOver: () => void;
  onDiscard: () => void;
}) {
  const { failure, flagSet, segment, mine } = props;
  return (
    <div className="panel conflict">
      <SegmentRefusal change="update" failure={failure} flagSet={flagSet} segmentKey={segment.key} />
      <div className="compare">
        <figure className="compare-side">
          <figcaption>Your edit</figcaption>
          <pre>{mine}</pre>
        </figure>
        <figure className="compare-side">
          <figcaption>
            Now (version {segment.version}, <time dateTime={segment.updatedAt}>{formatTime(segment.updatedAt)}</time>)
          </figcaption>
          <pre>{prettyJson(segment.definition)}</pre>
        </figure>
      </div>
      <div className="actions">
        <button type="button" className="primary" onClick={props.onSaveOver}>
          Save my edit over version {segment.version}
        </button>
        <button type="button" onClick={props.onDiscard}>
          Discard my edit
        </button>
      </div>
    </div>
  );
}

/** Deleting the segment: confirmed, with the version shown; a refusal stays on the screen. */
function DeleteSegment({ flagSet, segment, denial }: { flagSet: string; segment: Segment; denial: string | null }) {
  const notify = useToast();
  const [, navigate] = useLocation();
  const [, remove] = useMutation(DeleteSegmentMutation);
  const [open, setOpen] = useState(false);
  const [pending, setPending] = useState(false);
  const [failure, setFailure] = useState<SaveFailure | null>(null);

  const confirm = async () => {
    setPending(true);
    const result = await remove({ flagSet, key: segment.key, expectedVersion: segment.version });
    setPending(false);
    setOpen(false);
    const deleted = result.data?.deleteSegment;
    if (deleted) {
      notify('success', `Deleted segment ${deleted.key} from ${flagSet}`);
      navigate(segmentsPath(flagSet));
    } else {
      setFailure(result.error ? saveFailureOf(result.error) : NO_ANSWER);
    }
  };

  return (
    <section className="panel" aria-labelledby="delete-heading">
      <h2 id="delete-heading">Delete</h2>
      <p>
        The server refuses to delete a segment while a flag’s targeting still uses it.
      </p>
      <Gated reason={denial}>
        <button type="button" className="danger" onClick={() => { setFailure(null); setOpen(true); }}>
          Delete segment
        </button>
      </Gated>
      {failure && <SegmentRefusal change="delete" failure={failure} flagSet={flagSet} segmentKey={segment.key} />}
      {open && (
        <ConfirmDialog
          title={`Delete segment ${segment.key}?`}
          confirmLabel="Delete segment"
          pendingLabel="Deleting…"
          pending={pending}
          failure={null}
          onConfirm={() => void confirm()}
          onCancel={() => { setOpen(false); }}
        >
          <p>
            Segment <strong>{segment.key}</strong> (version {segment.version}) is removed from flag set{' '}
            <strong>{flagSet}</strong>. A flag that names it in <code>$ref</code> would no longer compile, so the
            server refuses while one does.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
