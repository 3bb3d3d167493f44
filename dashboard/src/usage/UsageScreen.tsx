// `/usage/:flagSet`: how often each flag of the flag set was evaluated (the
// last 24 hours and 30 days, when first and last, and the variants served)
// as the evaluation nodes count it, and the flags that look stale over a
// window the user sets (`?unused=30d`): not evaluated in it, or serving one
// variant to everyone for all of it. Each flag links to its flag screen.
import { type SyntheticEvent, useId, useState } from 'react';
import { useQuery } from 'urql';
import { Link, useLocation, useParams, useSearch } from 'wouter';

import { failureOf } from '../api/errors';
import { ErrorNotice } from '../components/ErrorNotice';
import { FlagSetSwitcher } from '../components/FlagSetSwitcher';
import { formatTime } from '../flags/flagFields';
import { decodeParam, flagPath, usagePath } from '../routing';
import { FlagUsageQuery, StaleFlagsQuery } from './operations';
import {
  type Stale,
  type StaleWindow,
  USAGE_SORTS,
  type Usage,
  type UsageSort,
  type WindowUnit,
  agoText,
  countText,
  formatWindow,
  isUsageSort,
  parseWindow,
  sortUsage,
  staleAdvice,
  staleReasonText,
  variantText,
  windowHours,
  windowProblem,
  windowText,
} from './usageText';
import './usage.css';

export function UsageScreen() {
  const flagSet = decodeParam(useParams<{ flagSet: string }>().flagSet);
  return <FlagSetUsage key={flagSet} flagSet={flagSet} />;
}

function FlagSetUsage({ flagSet }: { flagSet: string }) {
  const search = useSearch();
  const [, navigate] = useLocation();
  const { window, problem } = parseWindow(search);
  const [usage, refetchUsage] = useQuery({ query: FlagUsageQuery, variables: { flagSet } });
  const [stale, refetchStale] = useQuery({
    query: StaleFlagsQuery,
    variables: { flagSet, unusedForHours: windowHours(window) },
  });
  // The time the relative times are counted from: when the figures were last asked for.
  const [now, setNow] = useState(() => Date.now());
  const refresh = () => {
    setNow(Date.now());
    refetchUsage({ requestPolicy: 'network-only' });
    refetchStale({ requestPolicy: 'network-only' });
  };
  const loading = usage.fetching || stale.fetching;

  return (
    <>
      <div className="screen-head">
        <h1>Flag usage</h1>
        <FlagSetSwitcher flagSet={flagSet} pathOf={(set) => usagePath(set, formatWindow(window))} />
        <button type="button" className="refresh" onClick={refresh} disabled={loading}>
          {loading ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>
      <p className="help">
        Evaluations as the evaluation nodes count them, to the minute: each node writes its counts within a minute.
        Evaluations made inside an application’s own process are not counted, and a bulk evaluation (what web SDKs
        fetch) counts every flag it returns.
      </p>
      {problem && (
        <p className="notice" role="status">
          Not applied from the address: {problem}.
        </p>
      )}
      <StaleSection
        flagSet={flagSet}
        window={window}
        stale={stale.data?.staleFlags ?? null}
        failure={stale.error ? failureOf(stale.error) : null}
        onWindow={(next) => { navigate(usagePath(flagSet, formatWindow(next)), { replace: true }); }}
      />
      <section aria-labelledby="usage-heading" className="usage-section">
        <h2 id="usage-heading">Evaluations</h2>
        {usage.error && !usage.data ? (
          <ErrorNotice failure={failureOf(usage.error)} what="The evaluation counts could not be loaded" />
        ) : !usage.data ? (
          <p role="status">Loading the evaluation counts…</p>
        ) : (
          <UsageTable flagSet={flagSet} rows={usage.data.flagUsage} now={now} />
        )}
      </section>
    </>
  );
}

interface StaleSectionProps {
  flagSet: string;
  window: StaleWindow;
  stale: Stale[] | null;
  failure: ReturnType<typeof failureOf> | null;
  onWindow: (window: StaleWindow) => void;
}

function StaleSection({ flagSet, window, stale, failure, onWindow }: StaleSectionProps) {
  return (
    <section aria-labelledby="stale-heading" className="panel">
      <h2 id="stale-heading">Stale flags</h2>
      {/* The form starts afresh whenever the address's window changes. */}
      <WindowForm key={`${window.amount}${window.unit}`} window={window} onApply={onWindow} />
      <p className="help">
        Listed: flags older than the window that were not evaluated in it, and flags that served one variant to
        every evaluation for all of it. Their code can likely stop asking for them.
      </p>
      {failure && !stale ? (
        <ErrorNotice failure={failure} what="The stale flags could not be loaded" />
      ) : !stale ? (
        <p role="status">Loading the stale flags…</p>
      ) : stale.length === 0 ? (
        <p className="empty">No flag of {flagSet} looks stale over the last {windowText(window)}.</p>
      ) : (
        <>
          <p className="count">
            {countText(stale.length)} stale flag{stale.length === 1 ? '' : 's'} over the last {windowText(window)}
          </p>
          <ul className="stale-list" aria-label={`Stale flags over the last ${windowText(window)}`}>
            {stale.map((s) => (
              <li key={s.flag}>
                <Link href={flagPath(flagSet, s.flag)} className="stale-flag">
                  {s.flag}
                </Link>
                <span className={`stale-reason stale-${s.reason === 'NOT_EVALUATED' ? 'unused' : 'one-variant'}`}>
                  {staleReasonText(s)}
                </span>{' '}
                <span className="help">{staleAdvice(s)}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

/** The window's length and unit, applied to the address. */
function WindowForm({ window, onApply }: { window: StaleWindow; onApply: (window: StaleWindow) => void }) {
  const id = useId();
  const [amount, setAmount] = useState(String(window.amount));
  const [unit, setUnit] = useState<WindowUnit>(window.unit);
  const typed: StaleWindow = { amount: Number(amount), unit };
  const problem = amount.trim() === '' ? 'Write how long the window is' : windowProblem(typed);
  const [tried, setTried] = useState(false);

  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    setTried(true);
    if (problem === null) onApply(typed);
  };

  return (
    <form className="window-form" onSubmit={submit} noValidate>
      <label htmlFor={`${id}-amount`}>Unused for at least</label>
      <input
        id={`${id}-amount`}
        type="number"
        min={1}
        step={1}
        inputMode="numeric"
        value={amount}
        aria-invalid={tried && problem !== null ? true : undefined}
        aria-describedby={`${id}-problem`}
        onChange={(e) => { setAmount(e.target.value); }}
      />
      <select aria-label="Unit" value={unit} onChange={(e) => { setUnit(e.target.value as WindowUnit); }}>
        <option value="days">days</option>
        <option value="hours">hours</option>
      </select>
      <button type="submit">Show stale flags</button>
      <span id={`${id}-problem`} className="field-problem">
        {tried && problem ? problem : ''}
      </span>
    </form>
  );
}

function UsageTable({ flagSet, rows, now }: { flagSet: string; rows: Usage[]; now: number }) {
  const id = useId();
  const [sort, setSort] = useState<UsageSort>('key');
  if (rows.length === 0) return <p className="empty">Flag set {flagSet} has no flags.</p>;
  const sorted = sortUsage(rows, sort);
  const never = rows.filter((r) => r.lastEvaluatedAt === null).length;
  return (
    <>
      <div className="usage-tools">
        <p className="count">
          {countText(rows.length)} flag{rows.length === 1 ? '' : 's'}, {countText(never)} never evaluated
        </p>
        <label htmlFor={`${id}-sort`}>Order</label>
        <select
          id={`${id}-sort`}
          value={sort}
          onChange={(e) => { if (isUsageSort(e.target.value)) setSort(e.target.value); }}
        >
          {Object.entries(USAGE_SORTS).map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </div>
      <table className="usage-table">
        <caption className="visually-hidden">Evaluations of each flag of {flagSet}</caption>
        <thead>
          <tr>
            <th scope="col">Flag</th>
            <th scope="col" className="number">
              Last 24 hours
            </th>
            <th scope="col" className="number">
              Last 30 days
            </th>
            <th scope="col">Last evaluated</th>
            <th scope="col">First evaluated</th>
            <th scope="col">Variants served (last 24 hours)</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((row) => (
            <tr key={row.flag}>
              <th scope="row">
                <Link href={flagPath(flagSet, row.flag)}>{row.flag}</Link>
              </th>
              <td className="number">{countText(row.evaluations24h)}</td>
              <td className="number">{countText(row.evaluations30d)}</td>
              <td>
                <When time={row.lastEvaluatedAt} now={now} />
              </td>
              <td>
                <When time={row.firstEvaluatedAt} now={now} />
              </td>
              <td className="variants-cell">
                <Variants usage={row} now={now} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** A time, with how long ago it was; "never" for none. */
function When({ time, now }: { time: string | null; now: number }) {
  if (time === null) return <span className="never">never</span>;
  return (
    <time dateTime={time}>
      {agoText(time, now)}
      <span className="when-exact">{formatTime(time)}</span>
    </time>
  );
}

function Variants({ usage, now }: { usage: Usage; now: number }) {
  if (usage.variants.length === 0) return <span className="help">none</span>;
  const total = usage.variants.reduce((sum, v) => sum + v.evaluations24h, 0);
  return (
    <ul className="variants">
      {usage.variants.map((v) => (
        <li key={v.variant ?? '\u0000none'}>
          <span className="variant-name">{variantText(v.variant)}</span>{' '}
          {v.evaluations24h > 0 ? (
            <>
              {countText(v.evaluations24h)}
              {total > 0 && v.evaluations24h !== total && (
                <span className="help"> ({Math.round((100 * v.evaluations24h) / total)}%)</span>
              )}
            </>
          ) : (
            <span className="help">
              none, last served <When time={v.lastServedAt} now={now} />
            </span>
          )}
        </li>
      ))}
    </ul>
  );
}
