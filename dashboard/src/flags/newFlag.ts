// A new flag as the create form holds it, what the browser can check of it
// before sending it (the server checks everything again, and compiles it),
// and the flagd definition `createFlag` is sent.

/** The type every variant value of a flag shares. */
export type VariantType = 'boolean' | 'string' | 'number' | 'object';

export const VARIANT_TYPES: readonly { type: VariantType; label: string }[] = [
  { type: 'boolean', label: 'Boolean' },
  { type: 'string', label: 'String' },
  { type: 'number', label: 'Number' },
  { type: 'object', label: 'Object (JSON)' },
];

/** One variant as typed: its name and its value as text. */
export interface VariantRow {
  name: string;
  value: string;
}

export interface NewFlag {
  key: string;
  type: VariantType;
  variants: VariantRow[];
  defaultVariant: string;
  state: 'ENABLED' | 'DISABLED';
  /** Comma-separated, as `metadata.tags` holds them. */
  tags: string;
  description: string;
}

/** The variants a new flag of `type` starts with, and its default variant. */
export function startingVariants(type: VariantType): { variants: VariantRow[]; defaultVariant: string } {
  switch (type) {
    case 'boolean':
      return { variants: [{ name: 'on', value: 'true' }, { name: 'off', value: 'false' }], defaultVariant: 'off' };
    case 'string':
      return { variants: [{ name: 'control', value: 'control' }, { name: 'treatment', value: 'treatment' }], defaultVariant: 'control' };
    case 'number':
      return { variants: [{ name: 'off', value: '0' }, { name: 'on', value: '1' }], defaultVariant: 'off' };
    case 'object':
      return { variants: [{ name: 'off', value: '{}' }, { name: 'on', value: '{"enabled": true}' }], defaultVariant: 'off' };
  }
}

/** An empty form for a boolean flag. */
export function blankFlag(): NewFlag {
  return { key: '', type: 'boolean', ...startingVariants('boolean'), state: 'ENABLED', tags: '', description: '' };
}

/** What is wrong with the form, by field; empty when it can be sent. */
export interface Problems {
  key?: string;
  /** Per variant row, by index. */
  names: Record<number, string>;
  values: Record<number, string>;
  variants?: string;
  defaultVariant?: string;
}

/** The longest stored key, in UTF-8 bytes (engine `flag_key::MAX_STORE_KEY_BYTES`). */
export const MAX_KEY_BYTES = 255;

/** Why the store would refuse `key` (the rule of engine `flag_key::check_store_key`), or null. */
export function keyProblem(key: string): string | null {
  if (key === '') return 'Enter a key';
  const bytes = new TextEncoder().encode(key).length;
  if (bytes > MAX_KEY_BYTES) return `The key is ${bytes} bytes long; at most ${MAX_KEY_BYTES} are allowed`;
  const invisible = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.exec(key);
  if (invisible) {
    const code = invisible[0].codePointAt(0) ?? 0;
    return `The key holds an invisible character (U+${code.toString(16).toUpperCase().padStart(4, '0')})`;
  }
  if (/^\s|\s$/u.test(key)) return 'The key may not start or end with white space';
  return null;
}

/** A variant's value read as `type`, or why it is not one. */
export function parseValue(type: VariantType, text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  switch (type) {
    case 'boolean':
      return text === 'true' || text === 'false'
        ? { ok: true, value: text === 'true' }
        : { ok: false, reason: 'Choose true or false' };
    case 'string':
      return { ok: true, value: text };
    case 'number': {
      const value = Number(text);
      return text.trim() !== '' && Number.isFinite(value)
        ? { ok: true, value }
        : { ok: false, reason: 'Enter a number, such as 42 or 0.5' };
    }
    case 'object': {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        return { ok: false, reason: `Not JSON: ${error instanceof Error ? error.message : String(error)}` };
      }
      return typeof value === 'object' && value !== null && !Array.isArray(value)
        ? { ok: true, value }
        : { ok: false, reason: 'Enter a JSON object, such as {"limit": 10}' };
    }
  }
}

/** The tags as `metadata.tags` stores them: trimmed, without empty or repeated ones. */
export function tagsText(tags: string): string {
  const found: string[] = [];
  for (const tag of tags.split(',').map((t) => t.trim())) {
    if (tag !== '' && !found.includes(tag)) found.push(tag);
  }
  return found.join(', ');
}

/** The form checked: the definition to send, or what is wrong. */
export function checkNewFlag(flag: NewFlag): { ok: true; definition: Record<string, unknown> } | { ok: false; problems: Problems } {
  const problems: Problems = { names: {}, values: {} };
  const key = keyProblem(flag.key);
  if (key) problems.key = key;
  if (flag.variants.length === 0) problems.variants = 'Add at least one variant';
  const variants: Record<string, unknown> = {};
  flag.variants.forEach((row, i) => {
    if (row.name === '') problems.names[i] = 'Enter a name';
    else if (Object.hasOwn(variants, row.name)) problems.names[i] = `Another variant is named “${row.name}”`;
    const parsed = parseValue(flag.type, row.value);
    if (parsed.ok) {
      if (row.name !== '' && !Object.hasOwn(variants, row.name)) variants[row.name] = parsed.value;
    } else {
      problems.values[i] = parsed.reason;
    }
  });
  if (!flag.variants.some((row) => row.name !== '' && row.name === flag.defaultVariant)) {
    problems.defaultVariant = 'Choose the default variant';
  }
  const invalid =
    problems.key !== undefined ||
    problems.variants !== undefined ||
    problems.defaultVariant !== undefined ||
    Object.keys(problems.names).length > 0 ||
    Object.keys(problems.values).length > 0;
  if (invalid) return { ok: false, problems };

  const definition: Record<string, unknown> = { state: flag.state, variants, defaultVariant: flag.defaultVariant };
  const metadata: Record<string, string> = {};
  const tags = tagsText(flag.tags);
  if (tags !== '') metadata.tags = tags;
  const description = flag.description.trim();
  if (description !== '') metadata.description = description;
  if (Object.keys(metadata).length > 0) definition.metadata = metadata;
  return { ok: true, definition };
}
