/**
 * Array parameters in PostgreSQL's array text form, for one-statement bulk inserts
 * (`INSERT … SELECT … FROM unnest($1::text[], …)`). Both drivers would build the same text themselves,
 * but through generic per-element code (two regular expressions per string, hex then escape per bytea)
 * that costs more than signing a certificate on a batch of hundreds; these build it in one pass.
 * Every element is quoted, so empty strings and the string NULL stay strings.
 */

export function textArray(values: readonly (string | null)[]): string {
  let s = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i) s += ',';
    if (v === null) s += 'NULL';
    else s += '"' + (v.includes('"') || v.includes('\\') ? v.replace(/["\\]/g, '\\$&') : v) + '"';
  }
  return s + '}';
}

/** bytea[] as hex elements (`"\\x…"`), NULL for null. */
export function byteaArray(values: readonly (Uint8Array | null)[]): string {
  let s = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i) s += ',';
    s +=
      v === null
        ? 'NULL'
        : '"\\\\x' + Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') + '"';
  }
  return s + '}';
}

/** timestamptz[] from instants, at millisecond precision (what a Date holds). */
export function timestampArray(values: readonly (Date | null)[]): string {
  let s = '{';
  for (let i = 0; i < values.length; i++) s += (i ? ',' : '') + (values[i] === null ? 'NULL' : values[i]!.toISOString());
  return s + '}';
}
