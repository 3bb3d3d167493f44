// `/compare?from=a&to=b[&all=1]`: two flag sets side by side by flag key.
// Flags that differ are marked with what differs; a flag missing on one
// side says so; identical flags are hidden unless asked for. Each differing
// flag opens onto the change promoting it would make and both definitions,
// and is promoted (`promoteFlag` with both versions read), after a
// confirmation, from the first flag set to the second; the comparison is
// read again afterwards.
import { useId, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { Link, useLocation, useSearch } from 'wouter';

import { failureOf } from '../api/errors';
import { ChangeDiff } from '../components/ChangeDiff';
import { CodeBlock } from '../components/CodeBlock';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Gated } from '../components/Denied';
import { ErrorNotice } from '../components/ErrorNotice';
import { useToast } from '../components/Toasts';
import { DiagnosticList } from '../editing/DiagnosticList';
import { NO_ANSWER, type SaveFailure, VERSION_CONFLICT, saveFailureOf } from '../editing/diagnostics';
import { FlagSetsQuery } from '../flags/operations';
import { useWriteDenial } from '../flags/useWriteDenial';
import { comparePath, flagPath } from '../routing';
import { type ComparedFlag, differenceText, fieldLabel, groupComparison, parseCompareParams, promoteDenial, standingOf } from './comparison';
import { CompareFlagSetsQuery, PromoteFlagMutation } from './operations';
import '../editing/editing.css';
import './compare.css';

export function CompareScreen() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const params = parseCompareParams(search);
  const go = (from: string, to: string, all: boolean) => { navigate(comparePath(from, to, all)); };

  return (
    <>
      <h1>Compare flag sets</h1>
      <Pickers from={params.from} to={params.to} onChange={(from, to) => { go(from, to, params.all); }} />
      {params.from === '' || params.to === '' ? (
        <p className="help">Choose the flag set to promote from and the one to promote to.</p>
      ) : params.from === params.to ? (
        <p className="notice">Choose two different flag sets.</p>
      ) : (
        <Comparison
          key={`${params.from}\n${params.to}`}
          from={params.from}
          to={params.to}
          all={params.all}
          onAll={(all) => { go(params.from, params.to, all); }}
        />
      )}
    </>
  );
}

function Pickers({ from, to, onChange }: { from: string; to: string; onChange: (from: string, to: string) => void }) {
  const id = useId();
  const [{ data, error }] = useQuery({ query: FlagSetsQuery });
  const sets = (data?.flagSets ?? []).filter((s) => !s.archived).map((s) => s.key);
  const options = (chosen: string) => (
    <>
      <option value="">Choose a flag set</option>
      {chosen !== '' && !sets.includes(chosen) && <option value={chosen}>{chosen}</option>}
      {sets.map((key) => (
        <option key={key} value={key}>
          {key}
        </option>
      ))}
    </>
  );
  return (
    <div className="compare-pickers">
      <label htmlFor={`${id}-from`}>From</label>
      <select id={`${id}-from`} value={from} onChange={(e) => { onChange(e.target.value, to); }}>
        {options(from)}
      </select>
      <button type="button" onClick={() => { onChange(to, from); }} disabled={from === '' && to === ''}>
        Swap
      </button>
      <label htmlFor={`${id}-to`}>To</label>
      <select id={`${id}-to`} value={to} onChange={(e) => { onChange(from, e.target.value); }}>
        {options(to)}
      </select>
      {error && <ErrorNotice failure={failureOf(error)} what="The flag sets could not be loaded" />}
    </div>
  );
}

interface ComparisonProps {
  from: string;
  to: string;
  all: boolean;
  onAll: (all: boolean) => void;
}

function Comparison({ from, to, all, onAll }: ComparisonProps) {
  const [{ data, error, fetching }, refetch] = useQuery({ query: CompareFlagSetsQuery, variables: { from, to } });
  const writeDenial = useWriteDenial(to);
  const reload = () => { refetch({ requestPolicy: 'network-only' }); };
  if (error && !data) return <ErrorNotice failure={failureOf(error)} what="The flag sets could not be compared" />;
  if (!data) return <p role="status">Comparing…</p>;
  const grouped = groupComparison(data.compareFlagSets);
  const shown = all ? data.compareFlagSets : grouped.different;
  const { counts } = grouped;
  const summary = [
    `${String(counts.differs)} differ`,
    `${String(counts['missing-in-target'])} only in ${from}`,
    `${String(counts['missing-in-source'])} only in ${to}`,
    ...(counts['archived-in-target'] > 0 ? [`${String(counts['archived-in-target'])} archived in ${to}`] : []),
    `${String(counts.same)} identical`,
  ];

  return (
    <section aria-labelledby="comparison-heading">
      <h2 id="comparison-heading">
        {from} → {to}
      </h2>
      <div className="compare-summary">
        <p role="status">
          {data.compareFlagSets.length} flag{data.compareFlagSets.length === 1 ? '' : 's'}: {summary.join(', ')}.
          {fetching ? ' Reading again…' : ''}
        </p>
        <label className="inline">
          <input type="checkbox" checked={!all} onChange={(e) => { onAll(!e.target.checked); }} /> Only differences
        </label>
        <button type="button" onClick={reload}>
          Compare again
        </button>
      </div>
      {shown.length === 0 ? (
        <p className="empty">
          {data.compareFlagSets.length === 0 ? 'Neither flag set has any flag.' : `Every flag is the same in ${from} and ${to}.`}
        </p>
      ) : (
        <table className="compare-table">
          <caption className="visually-hidden">
            Flags of {from} and {to}, by key
          </caption>
          <thead>
            <tr>
              <th scope="col">Flag</th>
              <th scope="col">In {from}</th>
              <th scope="col">In {to}</th>
              <th scope="col">What differs</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          {shown.map((flag) => (
            <FlagRows key={flag.key} flag={flag} from={from} to={to} writeDenial={writeDenial} onPromoted={reload} />
          ))}
        </table>
      )}
      {!all && counts.same > 0 && (
        <p className="help">
          {counts.same} identical flag{counts.same === 1 ? ' is' : 's are'} not listed.{' '}
          <button type="button" className="link" onClick={() => { onAll(true); }}>
            List them too
          </button>
        </p>
      )}
    </section>
  );
}

/** One side of a flag: its version and state, or that it is missing. */
function Side({ flag, flagSet }: { flag: ComparedFlag['from']; flagSet: string }) {
  if (!flag) return <span className="missing">not in {flagSet}</span>;
  return (
    <span>
      <Link href={flagPath(flag.flagSet, flag.key)} aria-label={`${flag.key} in ${flagSet}, version ${String(flag.version)}`}>
        version {flag.version}
      </Link>{' '}
      <span className={`state state-${flag.state.toLowerCase()}`}>{flag.state}</span>
      {flag.archived && <span className="badge">archived</span>}
    </span>
  );
}

interface FlagRowsProps {
  flag: ComparedFlag;
  from: string;
  to: string;
  writeDenial: string | null;
  onPromoted: () => void;
}

function FlagRows({ flag, from, to, writeDenial, onPromoted }: FlagRowsProps) {
  const [open, setOpen] = useState(false);
  const detailsId = useId();
  const standing = standingOf(flag);
  const differs = standing !== 'same';
  return (
    <tbody className={`compared-flag standing-${standing}`}>
      <tr>
        <th scope="row">
          <code>{flag.key}</code>
        </th>
        <td>
          <Side flag={flag.from} flagSet={from} />
        </td>
        <td>
          <Side flag={flag.to} flagSet={to} />
        </td>
        <td>
          {standing === 'differs' ? (
            <ul className="difference-list" aria-label={`What differs in ${flag.key}`}>
              {flag.differences.map((field) => (
                <li key={field} className="difference">
                  {fieldLabel(field)}
                </li>
              ))}
            </ul>
          ) : (
            <span className={differs ? 'difference' : 'help'}>{differenceText(flag, from, to)}</span>
          )}
        </td>
        <td>
          <div className="row-actions">
            <button
              type="button"
              aria-expanded={open}
              aria-controls={detailsId}
              aria-label={`${open ? 'Hide' : 'Show'} the definitions of ${flag.key}`}
              onClick={() => { setOpen((o) => !o); }}
            >
              {open ? 'Hide' : 'Show'}
            </button>
            {promoteDenial(flag, from, to) === null && (
              <PromoteButton flag={flag} from={from} to={to} denial={writeDenial} onPromoted={onPromoted} />
            )}
          </div>
        </td>
      </tr>
      <tr id={detailsId} className="compare-details" hidden={!open}>
        <td colSpan={5}>{open && <Definitions flag={flag} from={from} to={to} />}</td>
      </tr>
    </tbody>
  );
}

/** What the target would hold: the definition and client visibility that promotion copies. */
function promoted(flag: ComparedFlag['from']) {
  return flag ? { definition: flag.definition, clientVisible: flag.clientVisible } : null;
}

function Definitions({ flag, from, to }: { flag: ComparedFlag; from: string; to: string }) {
  return (
    <div className="definitions">
      {flag.from && standingOf(flag) !== 'same' && (
        <>
          <h3 className="diff-heading">What promoting would change in {to}</h3>
          <ChangeDiff before={promoted(flag.to)} after={promoted(flag.from)} label={`Changes promoting ${flag.key} would make`} />
        </>
      )}
      <div className="compare">
        {([
          [from, flag.from],
          [to, flag.to],
        ] as const).map(([set, side]) => (
          <figure key={set} className="compare-side">
            <figcaption>
              {set}
              {side ? `, version ${String(side.version)}${side.clientVisible ? ', visible to client keys' : ''}` : ''}
            </figcaption>
            {side ? (
              <CodeBlock label={`${flag.key} in ${set}`}>{JSON.stringify(side.definition, null, 2)}</CodeBlock>
            ) : (
              <p className="missing">Not in {set}.</p>
            )}
          </figure>
        ))}
      </div>
    </div>
  );
}

interface PromoteButtonProps {
  flag: ComparedFlag;
  from: string;
  to: string;
  denial: string | null;
  onPromoted: () => void;
}

/** Promotes one flag after a confirmation; a refusal (a conflict, a definition the target cannot compile) stays in the dialog. */
function PromoteButton({ flag, from, to, denial, onPromoted }: PromoteButtonProps) {
  const notify = useToast();
  const [, promote] = useMutation(PromoteFlagMutation);
  const [open, setOpen] = useState(false);
  const [pending, setPending] = useState(false);
  const [failure, setFailure] = useState<SaveFailure | null>(null);
  const source = flag.from;

  const confirm = async () => {
    if (!source) return;
    setPending(true);
    setFailure(null);
    const result = await promote({
      from,
      to,
      key: flag.key,
      fromVersion: source.version,
      expectedVersion: flag.to?.version ?? null,
    });
    setPending(false);
    const done = result.data?.promoteFlag;
    if (done) {
      setOpen(false);
      notify('success', `Promoted ${done.key} to ${to}: version ${String(done.version)}`);
      onPromoted();
    } else {
      const refused = result.error ? saveFailureOf(result.error) : NO_ANSWER;
      setFailure(refused);
      // A flag changed on either side since it was read: the comparison is
      // read again, so what the dialog says is what would be promoted.
      if (refused.code === VERSION_CONFLICT) onPromoted();
    }
  };

  return (
    <>
      <Gated reason={denial}>
        <button
          type="button"
          className="primary"
          aria-label={`Promote ${flag.key} to ${to}`}
          onClick={() => { setFailure(null); setOpen(true); }}
        >
          Promote
        </button>
      </Gated>
      {open && source && (
        <ConfirmDialog
          title={`Promote ${flag.key} to ${to}?`}
          confirmLabel="Promote"
          pendingLabel="Promoting…"
          pending={pending}
          failure={failure}
          onConfirm={() => void confirm()}
          onCancel={() => { setOpen(false); }}
        >
          <p>
            Copies the definition and client visibility of <strong>{flag.key}</strong> from {from} (version{' '}
            {source.version}) into {to},{' '}
            {flag.to ? `replacing its version ${String(flag.to.version)}` : 'where it is created'}. Evaluation in {to}{' '}
            serves it as soon as it is published.
          </p>
          <p>Changes: {differenceText(flag, from, to)}.</p>
          {failure?.code === VERSION_CONFLICT && (
            <p className="notice">The comparison has been read again: review the flag before promoting it.</p>
          )}
          {failure && <DiagnosticList diagnostics={failure.diagnostics} label={`Why ${to} refused it`} />}
        </ConfirmDialog>
      )}
    </>
  );
}
