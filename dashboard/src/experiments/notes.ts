// A result's notes: why each null figure is undefined, keyed by the
// figure's JSON pointer in the analysis' report (`/comparisons/0/rel_lift`,
// `/variants/1/metrics/revenue/mean`, `/srm`), where the fields are spelt
// as the report spells them (snake case), not as GraphQL does.

/** The notes as the API answers them. */
export type ResultNotes = readonly { pointer: string; reason: string }[];

/** A pointer's reference token for `name`: `~` as `~0` and `/` as `~1` (RFC 6901). */
export function pointerToken(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A comparison's figure as GraphQL names it, in the report's spelling: `relLift` → `rel_lift`. */
export function reportField(field: string): string {
  return field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** The pointer of comparison `index`'s `field` (GraphQL's name). */
export function comparisonPointer(index: number, field: string): string {
  return `/comparisons/${index}/${reportField(field)}`;
}

/** The pointer of variant `index`'s `field` (`mean`, `variance`) of `metric`. */
export function variantMetricPointer(index: number, metric: string, field: string): string {
  return `/variants/${index}/metrics/${pointerToken(metric)}/${field}`;
}

/** Why the figure at `pointer` is undefined, if a note says so. */
export function noteAt(notes: ResultNotes, pointer: string): string | null {
  return notes.find((n) => n.pointer === pointer)?.reason ?? null;
}

/** A note of the whole result, in words: what figure it is about, and why. */
export interface NoteLine {
  pointer: string;
  /** What the figure is, as the screen names it ("the relative lift of b on purchases"). */
  subject: string;
  reason: string;
}

/** The words for the report's fields. */
const FIELD_WORDS: Record<string, string> = {
  abs_lift: 'the absolute lift',
  rel_lift: 'the relative lift',
  abs_ci: 'the interval of the absolute lift',
  rel_ci: 'the interval of the relative lift',
  p_value: 'the p-value',
  p_value_holm: 'the Holm-adjusted p-value',
  p_value_bh: 'the Benjamini–Hochberg-adjusted p-value',
  mde_abs: 'the minimum detectable effect',
  mde_rel: 'the relative minimum detectable effect',
  chance_to_beat_control: 'the chance to beat control',
  expected_loss: 'the expected loss',
  sequential_p_value: 'the sequential p-value',
  sequential_ci: 'the confidence sequence',
  sequential_rel_p_value: 'the sequential p-value of the relative lift',
  sequential_rel_ci: 'the confidence sequence of the relative lift',
  sequential_p_value_holm: 'the Holm-adjusted sequential p-value',
  mean: 'the mean',
  variance: 'the variance',
};

/** Undoes `pointerToken`. */
function unescapeToken(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * Every note in words, in the order of the report: the result's own
 * (`/variants`, `/srm`, `/multiple_exposure_share`), then the variants',
 * then the comparisons'. `comparisons` and `variants` name what the
 * indices point at.
 */
export function noteLines(
  notes: ResultNotes,
  comparisons: readonly { variant: string; metric: string }[],
  variants: readonly { variant: string }[],
): NoteLine[] {
  const lines = notes.map((note): NoteLine & { order: readonly [number, number] } => {
    const [, kind, index, ...rest] = note.pointer.split('/');
    const i = Number(index);
    if (kind === 'comparisons' && rest.length === 1) {
      const comparison = comparisons[i];
      const field = FIELD_WORDS[rest[0] ?? ''] ?? rest[0] ?? 'a figure';
      return {
        pointer: note.pointer,
        subject: comparison ? `${field} of ${comparison.variant} on ${comparison.metric}` : `${field} of comparison ${index ?? ''}`,
        reason: note.reason,
        order: [2, i],
      };
    }
    if (kind === 'variants' && rest[0] === 'metrics' && rest.length === 3) {
      const variant = variants[i]?.variant ?? `variant ${index ?? ''}`;
      const field = FIELD_WORDS[rest[2] ?? ''] ?? rest[2] ?? 'a figure';
      return {
        pointer: note.pointer,
        subject: `${field} of ${unescapeToken(rest[1] ?? '')} in ${variant}`,
        reason: note.reason,
        order: [1, i],
      };
    }
    const whole: Record<string, string> = {
      '/variants': 'the users',
      '/srm': 'the sample-ratio test',
      '/multiple_exposure_share': 'the multiple-exposure share',
    };
    return { pointer: note.pointer, subject: whole[note.pointer] ?? note.pointer, reason: note.reason, order: [0, 0] };
  });
  return lines
    .map((line, position) => ({ line, position }))
    .sort((a, b) => a.line.order[0] - b.line.order[0] || a.line.order[1] - b.line.order[1] || a.position - b.position)
    .map(({ line: { pointer, subject, reason } }) => ({ pointer, subject, reason }));
}
