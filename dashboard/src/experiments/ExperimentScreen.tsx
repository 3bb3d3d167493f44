// `/experiments/:flagSet/:key`: one experiment's results. The verdict in
// words first, with the sample-ratio warning when the users do not split as
// the weights say; then the users per variant; then, per metric in the
// experiment's order, each variant's mean with its interval (a chart), the
// lift over time with its confidence sequence (a chart, from the history of
// analyses) and every figure of each comparison (a table); the notes saying
// why a figure is undefined; and the settings. Start, stop and "Analyse
// now" act on it.
import { type ReactNode, useCallback, useId } from 'react';
import { useQuery } from 'urql';
import { Link, useParams } from 'wouter';

import { failureOf } from '../api/errors';
import { ErrorNotice } from '../components/ErrorNotice';
import { formatTime } from '../flags/flagFields';
import { useWriteDenial } from '../flags/useWriteDenial';
import type { ExperimentResultsQuery as ResultsData } from '../gql/graphql';
import { decodeParam, experimentsPath, flagPath } from '../routing';
import { ComparisonTable, comparisonsOf } from './ComparisonTable';
import { ExperimentActions } from './ExperimentActions';
import { LiftHistoryChart, LiftHistoryTable, LiftLegend } from './LiftHistoryChart';
import { StatusBadge } from './StatusBadge';
import { VariantMeansChart } from './VariantMeansChart';
import { analysisTime, countText, levelText, meanText, METRIC_KINDS, percentText, pStatement, significant, windowText } from './format';
import { liftHistory } from './liftHistory';
import { noteLines } from './notes';
import { ExperimentResultsQuery } from './operations';
import { type MetricMeans, metricMeans, toneOf } from './resultsChart';
import './experiments.css';

/** How many analyses the lift chart draws (the API allows up to 100). */
export const HISTORY_LENGTH = 50;

// An analysis returns an `ExperimentResult`: the screen is read again even
// before its first result (when it held none for the cache to match).
const RESULTS_CONTEXT = { additionalTypenames: ['ExperimentResult'] };

type Experiment = ResultsData['experiment'];
type Result = NonNullable<Experiment['latestResult']>;

export function ExperimentScreen() {
  const params = useParams<{ flagSet: string; key: string }>();
  const flagSet = decodeParam(params.flagSet);
  const key = decodeParam(params.key);
  return <Screen key={`${flagSet}\n${key}`} flagSet={flagSet} experimentKey={key} />;
}

function Screen({ flagSet, experimentKey }: { flagSet: string; experimentKey: string }) {
  const [{ data, error, fetching }, refetch] = useQuery({
    query: ExperimentResultsQuery,
    variables: { flagSet, key: experimentKey, last: HISTORY_LENGTH },
    context: RESULTS_CONTEXT,
  });
  const denial = useWriteDenial(flagSet);
  const reload = useCallback(() => { refetch({ requestPolicy: 'network-only' }); }, [refetch]);
  const back = (
    <p>
      <Link href={experimentsPath(flagSet)}>← Experiments of {flagSet}</Link>
    </p>
  );
  if (!data) {
    return (
      <>
        {back}
        <h1>{experimentKey}</h1>
        {error ? (
          <>
            <ErrorNotice failure={failureOf(error)} what="The experiment could not be loaded" />
            <button type="button" onClick={reload}>
              Try again
            </button>
          </>
        ) : (
          fetching && <p role="status">Loading the experiment…</p>
        )}
      </>
    );
  }
  const experiment = data.experiment;
  const result = experiment.latestResult;
  return (
    <>
      {back}
      <div className="screen-head">
        <h1>{experiment.key}</h1>
        <StatusBadge status={experiment.status} />
      </div>
      <p className="experiment-summary">
        On flag <Link href={flagPath(flagSet, experiment.flag)}>{experiment.flag}</Link>, against the control{' '}
        <strong>{experiment.control}</strong>; {experiment.metrics.length} metric{experiment.metrics.length === 1 ? '' : 's'},
        events counted for {windowText(experiment.windowSeconds)} after a user’s first exposure.
      </p>
      <ExperimentActions experiment={experiment} denial={denial} onAnalysed={reload} />
      {error && <ErrorNotice failure={failureOf(error)} what="The results could not be read again" />}
      {result ? <Results experiment={experiment} result={result} /> : <NoResult experiment={experiment} />}
      <Settings experiment={experiment} />
    </>
  );
}

function NoResult({ experiment }: { experiment: Experiment }) {
  return (
    <section className="verdict panel" aria-labelledby="verdict-heading">
      <h2 id="verdict-heading">Verdict</h2>
      <p className="verdict-text">
        {experiment.status === 'DRAFT'
          ? 'Not started: nothing is recorded until the experiment starts.'
          : 'No analysis yet. Running experiments are analysed periodically; “Analyse now” runs the analysis at once.'}
      </p>
    </section>
  );
}

function Results({ experiment, result }: { experiment: Experiment; result: Result }) {
  const id = useId();
  const notes = noteLines(result.notes, result.comparisons, result.variants);
  const noteRef = (pointer: string): ReactNode => {
    const n = notes.findIndex((line) => line.pointer === pointer);
    if (n < 0) return null;
    return (
      <sup>
        <a href={`#${id}-note-${n + 1}`} aria-label={`note ${n + 1}`}>
          {n + 1}
        </a>
      </sup>
    );
  };
  const variants = result.variants.map((v) => v.variant);
  const charts = metricMeans(result, experiment.metrics, experiment.control);
  const histories = liftHistory(experiment.results, charts.map((c) => c.metric), (variant) => toneOf(variants, variant));
  const level = levelText(result.alpha);
  return (
    <>
      <Verdict result={result} noteRef={noteRef} />
      <UsersTable experiment={experiment} result={result} />
      {charts.map((chart, i) => {
        const history = histories.find((h) => h.metric === chart.metric);
        return (
          <section key={chart.metric} className="panel metric" aria-labelledby={`${id}-metric-${i}`}>
            <h2 id={`${id}-metric-${i}`}>
              {chart.metric} <span className="kind">{METRIC_KINDS[chart.kind].label.toLowerCase()}</span>
            </h2>
            <h3>Mean per user by variant</h3>
            <div className="chart-pair">
              <VariantMeansChart chart={chart} />
              <MeansTable chart={chart} />
            </div>
            <h3>Relative lift over time</h3>
            {history && history.series.length > 0 ? (
              <div className="chart-pair">
                <LiftHistoryChart history={history} level={level} />
                <div>
                  <LiftLegend history={history} />
                  <p className="help">
                    Each dot is an analysis. The band is the always-valid {level} interval (the confidence sequence): once
                    it leaves 0 behind, the difference is real at that level, however often the results were looked at.
                  </p>
                  <details>
                    <summary>The lift at each analysis as a table</summary>
                    <LiftHistoryTable history={history} />
                  </details>
                </div>
              </div>
            ) : (
              <p className="chart-empty">No treatment has been compared on {chart.metric} yet.</p>
            )}
            <h3>Each treatment against {experiment.control}</h3>
            <ComparisonTable
              metric={chart.metric}
              kind={chart.kind}
              control={experiment.control}
              alpha={result.alpha}
              comparisons={comparisonsOf(result, chart.metric)}
              noteRef={noteRef}
            />
          </section>
        );
      })}
      {notes.length > 0 && (
        <section className="panel" aria-labelledby={`${id}-notes`}>
          <h2 id={`${id}-notes`}>Notes</h2>
          <p className="help">Why each figure shown as “—” is undefined.</p>
          <ol className="notes">
            {notes.map((line, i) => (
              <li key={line.pointer} id={`${id}-note-${i + 1}`}>
                {capitalise(line.subject)}: {line.reason}.
              </li>
            ))}
          </ol>
        </section>
      )}
    </>
  );
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The verdict in words, the sample-ratio warning, and the multiple-exposure share. */
function Verdict({ result, noteRef }: { result: Result; noteRef: (pointer: string) => ReactNode }) {
  const { srm } = result;
  return (
    <section className="verdict panel" aria-labelledby="verdict-heading">
      <h2 id="verdict-heading">Verdict</h2>
      <p className="verdict-text">{result.verdict}</p>
      <p className="help">
        Analysed <time dateTime={result.computedAt}>{analysisTime(result.computedAt)}</time> over {countText(result.users)}{' '}
        users; intervals at {levelText(result.alpha)}. Decided on the first metric by the always-valid p-value, Holm-adjusted.
      </p>
      {srm?.mismatch && (
        <div className="srm-warning" role="note" aria-label="Sample-ratio mismatch">
          <strong>Sample-ratio mismatch.</strong> The users per variant do not match the expected weights (χ² ={' '}
          {significant(srm.chi2)}, {pStatement(srm.pValue)}): the assignment or the exposure logging is broken, and no
          result can be trusted until the cause is found.
        </div>
      )}
      <dl className="details health">
        <dt>Sample ratio</dt>
        <dd>
          {srm === null ? (
            <>not tested{noteRef('/srm')}</>
          ) : srm.mismatch ? (
            <span className="srm-mismatch">mismatch ({pStatement(srm.pValue)})</span>
          ) : (
            <>matches the weights ({pStatement(srm.pValue)})</>
          )}
        </dd>
        <dt>Users who saw more than one variant</dt>
        <dd>
          {result.multipleExposureShare === null ? (
            <>—{noteRef('/multiple_exposure_share')}</>
          ) : (
            <>{percentText(result.multipleExposureShare, 2)} (each counts in the variant they saw first)</>
          )}
        </dd>
      </dl>
    </section>
  );
}

/** Users per variant against the share the weights expect. */
function UsersTable({ experiment, result }: { experiment: Experiment; result: Result }) {
  const weights = experiment.weights ?? [];
  const totalWeight = weights.reduce((sum, w) => sum + w.weight, 0);
  const totalUsers = result.variants.reduce((sum, v) => sum + v.users, 0);
  return (
    <section className="panel" aria-labelledby="users-heading">
      <h2 id="users-heading">Users by variant</h2>
      <table className="figures users">
        <caption className="visually-hidden">Users by variant at the latest analysis</caption>
        <thead>
          <tr>
            <th scope="col">Variant</th>
            <th scope="col" className="number">
              Users
            </th>
            <th scope="col" className="number">
              Share
            </th>
            <th scope="col" className="number">
              Expected
            </th>
          </tr>
        </thead>
        <tbody>
          {result.variants.map((v) => {
            const weight = weights.find((w) => w.variant === v.variant)?.weight;
            return (
              <tr key={v.variant}>
                <th scope="row">
                  {v.variant}
                  {v.variant === experiment.control && <span className="badge">control</span>}
                </th>
                <td className="number">{countText(v.users)}</td>
                <td className="number">{totalUsers === 0 ? '—' : percentText(v.users / totalUsers)}</td>
                <td className="number">{weight === undefined || totalWeight === 0 ? '—' : percentText(weight / totalWeight)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

/** The per-variant chart's figures as a table. */
function MeansTable({ chart }: { chart: MetricMeans }) {
  const conversion = chart.kind === 'CONVERSION';
  return (
    <table className="figures means">
      <caption className="visually-hidden">
        Mean of {chart.metric} per variant, with its {levelText(1 - chart.level)} interval
      </caption>
      <thead>
        <tr>
          <th scope="col">Variant</th>
          <th scope="col" className="number">
            Users
          </th>
          <th scope="col" className="number">
            {conversion ? 'Converted' : 'With events'}
          </th>
          <th scope="col" className="number">
            {conversion ? 'Conversion rate' : 'Mean per user'}
          </th>
          <th scope="col">{levelText(1 - chart.level)} interval</th>
        </tr>
      </thead>
      <tbody>
        {chart.rows.map((row) => (
          <tr key={row.variant}>
            <th scope="row">
              <span className={`swatch series-${row.tone}`} aria-hidden="true" /> {row.variant}
            </th>
            <td className="number">{countText(row.users)}</td>
            <td className="number">{countText(row.count)}</td>
            <td className="number">{row.mean === null ? `— (${row.missing ?? 'undefined'})` : meanText(chart.kind, row.mean)}</td>
            <td>{row.interval ? `${meanText(chart.kind, row.interval.low)} to ${meanText(chart.kind, row.interval.high)}` : '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The experiment's settings, as stored. */
function Settings({ experiment }: { experiment: Experiment }) {
  return (
    <section className="panel" aria-labelledby="settings-heading">
      <h2 id="settings-heading">Settings</h2>
      <dl className="details">
        <dt>Flag</dt>
        <dd>
          <Link href={flagPath(experiment.flagSet, experiment.flag)}>{experiment.flag}</Link>
        </dd>
        <dt>Control</dt>
        <dd>{experiment.control}</dd>
        <dt>Expected weights</dt>
        <dd>
          {experiment.weights
            ? experiment.weights.map((w) => `${w.variant} ${countText(w.weight)}`).join(', ')
            : 'the flag’s split when it starts'}
        </dd>
        <dt>Metrics</dt>
        <dd>
          <ul className="plain">
            {experiment.metrics.map((m) => (
              <li key={m.name}>
                <strong>{m.name}</strong>: {METRIC_KINDS[m.kind].label.toLowerCase()} of event <code>{m.event}</code>
              </li>
            ))}
          </ul>
        </dd>
        <dt>Attribution window</dt>
        <dd>{windowText(experiment.windowSeconds)}</dd>
        <dt>Alpha</dt>
        <dd>
          {experiment.alpha} (intervals at {levelText(experiment.alpha)})
        </dd>
        <dt>Sequential tuning</dt>
        <dd>{countText(experiment.sequentialTuning)} users</dd>
        <dt>Created</dt>
        <dd>
          <time dateTime={experiment.createdAt}>{formatTime(experiment.createdAt)}</time> by {experiment.createdBy}
        </dd>
        {experiment.startedAt && (
          <>
            <dt>Started</dt>
            <dd>
              <time dateTime={experiment.startedAt}>{formatTime(experiment.startedAt)}</time>
            </dd>
          </>
        )}
        {experiment.stoppedAt && (
          <>
            <dt>Stopped</dt>
            <dd>
              <time dateTime={experiment.stoppedAt}>{formatTime(experiment.stoppedAt)}</time>
            </dd>
          </>
        )}
        <dt>Version</dt>
        <dd>{experiment.version}</dd>
      </dl>
    </section>
  );
}
