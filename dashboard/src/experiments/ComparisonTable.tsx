// One metric's comparisons of each treatment with the control: the lifts,
// the fixed-horizon interval and p-values (raw, Holm, Benjamini–Hochberg),
// the always-valid figures, the Bayesian ones (conversions only) and the
// minimum detectable effect. A figure the analysis left undefined shows
// "—" with a link to the note that says why.
import type { ReactNode } from 'react';

import type { MetricKind, ResultFieldsFragment } from '../gql/graphql';
import {
  absoluteIntervalText,
  absoluteText,
  chanceText,
  levelText,
  pValueText,
  relativeIntervalText,
  signedPercent,
  significant,
} from './format';
import { comparisonPointer } from './notes';

type Comparison = ResultFieldsFragment['comparisons'][number];

/** A comparison with its index among the result's (for its notes' pointers). */
export interface IndexedComparison {
  index: number;
  comparison: Comparison;
}

/** The result's comparisons on `metric`, in order, with their indices. */
export function comparisonsOf(result: Pick<ResultFieldsFragment, 'comparisons'>, metric: string): IndexedComparison[] {
  return result.comparisons.flatMap((comparison, index) => (comparison.metric === metric ? [{ index, comparison }] : []));
}

/** A row of the table: its heading, the figure's fields (for the notes), and its text. */
interface FigureRow {
  label: string;
  help?: string;
  fields: (keyof Comparison)[];
  text: (c: Comparison) => string;
  /** Only for these kinds (the Bayesian figures are for conversions). */
  kinds?: MetricKind[];
}

function rowsOf(kind: MetricKind, alpha: number): FigureRow[] {
  const level = levelText(alpha);
  const rows: FigureRow[] = [
    { label: 'Relative lift', fields: ['relLift'], text: (c) => signedPercent(c.relLift) },
    { label: 'Absolute lift', fields: ['absLift'], text: (c) => absoluteText(kind, c.absLift) },
    {
      label: `${level} interval (fixed horizon)`,
      help: 'valid only at a sample size fixed in advance',
      fields: ['absCi', 'relCi'],
      text: (c) => both(absoluteIntervalText(kind, c.absCi), relativeIntervalText(c.relCi)),
    },
    {
      label: `${level} always-valid interval`,
      help: 'the confidence sequence: valid however often the results are looked at',
      fields: ['sequentialCi', 'sequentialRelCi'],
      text: (c) => both(absoluteIntervalText(kind, c.sequentialCi), relativeIntervalText(c.sequentialRelCi)),
    },
    { label: 'p-value (fixed horizon)', fields: ['pValue'], text: (c) => pValueText(c.pValue) },
    { label: 'p-value, Holm-adjusted', fields: ['pValueHolm'], text: (c) => pValueText(c.pValueHolm) },
    { label: 'p-value, Benjamini–Hochberg-adjusted', fields: ['pValueBh'], text: (c) => pValueText(c.pValueBh) },
    { label: 'Sequential p-value', help: 'always valid', fields: ['sequentialPValue'], text: (c) => pValueText(c.sequentialPValue) },
    {
      label: 'Sequential p-value, Holm-adjusted',
      help: 'what the verdict reads',
      fields: ['sequentialPValueHolm'],
      text: (c) => pValueText(c.sequentialPValueHolm),
    },
    {
      label: 'Chance to beat control',
      fields: ['chanceToBeatControl'],
      text: (c) => chanceText(c.chanceToBeatControl),
      kinds: ['CONVERSION'],
    },
    {
      label: 'Expected loss',
      help: 'of choosing the treatment, in points of conversion rate',
      fields: ['expectedLoss'],
      text: (c) => lossText(c.expectedLoss),
      kinds: ['CONVERSION'],
    },
    {
      label: 'Minimum detectable effect',
      help: 'at 80% power, absolute and relative to the control',
      fields: ['mdeAbs', 'mdeRel'],
      text: (c) => both(absoluteText(kind, c.mdeAbs).replace(/^\+/, ''), c.mdeRel === null ? '—' : signedPercent(c.mdeRel).replace(/^\+/, '')),
    },
  ];
  return rows.filter((row) => row.kinds === undefined || row.kinds.includes(kind));
}

/** The expected loss in points of conversion rate; a negligible one bounded. */
export function lossText(loss: number | null): string {
  if (loss === null) return '—';
  const points = 100 * loss;
  return points < 0.0001 ? '< 0.0001 pts' : `${significant(points, 2)} pts`;
}

/** An absolute and a relative figure in one cell. */
function both(absolute: string, relative: string): string {
  if (absolute === '—' && relative === '—') return '—';
  return `${absolute} · ${relative}`;
}

/** Whether a comparison differs from the control, as the verdict decides it. */
export function significance(c: Comparison, alpha: number): 'better' | 'worse' | 'not yet' {
  if (c.sequentialPValueHolm === null || c.sequentialPValueHolm >= alpha) return 'not yet';
  return (c.absLift ?? 0) >= 0 ? 'better' : 'worse';
}

export interface ComparisonTableProps {
  metric: string;
  kind: MetricKind;
  control: string;
  alpha: number;
  comparisons: IndexedComparison[];
  /** The link to the note explaining the figure at `pointer`, if any. */
  noteRef: (pointer: string) => ReactNode;
}

export function ComparisonTable({ metric, kind, control, alpha, comparisons, noteRef }: ComparisonTableProps) {
  if (comparisons.length === 0) return <p>No treatment is compared with {control} on {metric}.</p>;
  const rows = rowsOf(kind, alpha);
  return (
    <div className="table-scroll" role="region" aria-label={`Comparisons on ${metric}`} tabIndex={0}>
      <table className="figures comparisons">
        <caption className="visually-hidden">Each treatment against {control} on {metric}</caption>
        <thead>
          <tr>
            <th scope="col">Figure</th>
            {comparisons.map(({ comparison }) => (
              <th key={comparison.variant} scope="col">
                {comparison.variant}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          <tr className="differs">
            <th scope="row">Differs from {control}?</th>
            {comparisons.map(({ comparison }) => {
              const verdict = significance(comparison, alpha);
              return (
                <td key={comparison.variant} className={`significance-${verdict.replace(' ', '-')}`}>
                  {verdict === 'not yet' ? 'Not yet' : `Yes, ${verdict}`}
                </td>
              );
            })}
          </tr>
          {rows.map((row) => (
            <tr key={row.label}>
              <th scope="row">
                {row.label}
                {row.help && <span className="row-help">{row.help}</span>}
              </th>
              {comparisons.map(({ index, comparison }) => (
                <td key={comparison.variant}>
                  {row.text(comparison)}
                  {row.fields
                    .filter((field) => comparison[field] === null)
                    .map((field) => (
                      <span key={field}>{noteRef(comparisonPointer(index, field))}</span>
                    ))}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
