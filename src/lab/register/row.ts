/**
 * Reading database rows into the register's camelCase records. Each record type lists its fields once,
 * with how the column is read; the column is the field's name in snake_case (`taxId` ← `tax_id`,
 * `reportSha256` ← `report_sha256`). Only the listed fields are copied, in the listed order, so a record
 * never leaks a column it does not declare (such as `created_by`).
 */

/** A row as the driver returns it. */
export type Row = Record<string, any>;

/**
 * text: as is (null stays null); date: a Date; date?: a Date or null; bytes: a Buffer; list: an array,
 * empty when null; a function: computed from the column's value and, when it needs others, the whole row.
 */
type NamedKind = 'text' | 'date' | 'date?' | 'bytes' | 'list';
export type ColumnKind = NamedKind | ((value: any, row: Row) => unknown);

export const toDate = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
export const toBuffer = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array));

const READ: Record<NamedKind, (v: unknown) => unknown> = {
  text: (v) => v,
  date: toDate,
  'date?': (v) => (v === null || v === undefined ? null : toDate(v)),
  bytes: toBuffer,
  list: (v) => v ?? [],
};

const snake = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A reader for records of type T from the listed fields. */
export function rowReader<T>(fields: { [K in keyof T]: ColumnKind }): (r: Row) => T {
  const plan = Object.entries(fields as Record<string, ColumnKind>).map(
    ([field, kind]) => [field, snake(field), typeof kind === 'function' ? kind : READ[kind]] as const,
  );
  return (r) => {
    const out: Row = {};
    for (const [field, column, read] of plan) out[field] = read(r[column], r);
    return out as T;
  };
}
