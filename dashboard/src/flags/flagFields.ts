// Reading the parts of a flag's flagd definition the screens show.

/** The definition's `metadata` object, if it has one. */
export function metadataOf(definition: unknown): Record<string, unknown> {
  if (typeof definition === 'object' && definition !== null && 'metadata' in definition) {
    const { metadata } = definition;
    if (typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata)) {
      return metadata as Record<string, unknown>;
    }
  }
  return {};
}

/** The flag's variants, by name. */
export function variantsOf(definition: unknown): [string, unknown][] {
  if (typeof definition === 'object' && definition !== null && 'variants' in definition) {
    const { variants } = definition;
    if (typeof variants === 'object' && variants !== null) return Object.entries(variants);
  }
  return [];
}

/** An RFC 3339 time in the reader's locale (the text itself if it is not one). */
export function formatTime(rfc3339: string): string {
  const time = new Date(rfc3339);
  return Number.isNaN(time.getTime())
    ? rfc3339
    : time.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A JSON value as compact text. */
export function jsonText(value: unknown): string {
  // JSON.stringify gives undefined for undefined and functions.
  const text = JSON.stringify(value) as string | undefined;
  return text ?? String(value);
}
