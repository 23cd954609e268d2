/**
 * What PostgreSQL (and PGlite) text and jsonb cannot hold — U+0000 and unpaired surrogates — and the class
 * of errors a value from outside can cause. Anything written from a request or an event goes through
 * these, so that one odd character is stored as U+FFFD instead of failing its statement (and, in a batch,
 * every row with it).
 */

// NUL, or a high surrogate not followed by a low one, or a low one not preceded by a high one
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function unstorable(s: string): boolean {
  UNSTORABLE.lastIndex = 0;
  return UNSTORABLE.test(s);
}

/** The string with NUL and unpaired surrogates replaced by U+FFFD. */
export function storableText(s: string): string {
  return unstorable(s) ? s.replace(UNSTORABLE, '\ufffd') : s;
}

function dirty(v: unknown): boolean {
  if (typeof v === 'string') return unstorable(v);
  if (v === null || typeof v !== 'object' || v instanceof Date) return false;
  if (Array.isArray(v)) return v.some(dirty);
  for (const k in v as Record<string, unknown>) if (unstorable(k) || dirty((v as Record<string, unknown>)[k])) return true;
  return false;
}

/** The value with its strings (object keys too) made storable; the same value when nothing needs it. */
export function storableValue<T>(v: T): T {
  if (!dirty(v)) return v;
  if (typeof v === 'string') return storableText(v) as T;
  if (Array.isArray(v)) return v.map(storableValue) as T;
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [storableText(k), storableValue(x)])) as T;
}

/**
 * `storableValue` on JSON text, for a value already stringified: JSON.stringify writes NUL and unpaired
 * surrogates as escapes (a surrogate pair it writes as the character), so each such escape — preceded by an
 * even number of backslashes, so not an escaped backslash followed by "u…" — becomes `\ufffd`.
 */
export function storableJson(json: string): string {
  return json.includes('\\u') ? json.replace(/(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/g, '$1\\ufffd') : json;
}

/** A database refusal caused by the data itself (SQLSTATE class 22, data exception): retrying cannot cure it. */
export function isDataException(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code);
}
