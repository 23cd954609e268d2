import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { openDb, type Db } from '../../src/store/index.js';
import { encodeCopyBinary, type CopyColumn } from '../../src/store/copy.js';
import { testDatabaseUrls } from '../helpers/db.js';

const COLUMNS: CopyColumn[] = [
  { name: 'id', type: 'int4' },
  { name: 'big', type: 'int8' },
  { name: 'name', type: 'text' },
  { name: 'at', type: 'timestamptz' },
  { name: 'raw', type: 'bytea' },
  { name: 'doc', type: 'jsonb' },
];

describe('binary COPY encoding', () => {
  it('writes header, rows with NULLs as length -1, and the trailer', () => {
    const b = encodeCopyBinary([{ name: 'a', type: 'text' }, { name: 'b', type: 'bytea' }], [['é', null]]);
    expect(b.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
    expect(b.readInt32BE(11)).toBe(0); // flags
    expect(b.readInt32BE(15)).toBe(0); // header extension
    expect(b.readInt16BE(19)).toBe(2); // fields in the row
    expect(b.readInt32BE(21)).toBe(2); // 'é' is two UTF-8 bytes
    expect(b.subarray(25, 27).toString('utf8')).toBe('é');
    expect(b.readInt32BE(27)).toBe(-1);
    expect(b.readInt16BE(31)).toBe(-1);
    expect(b.length).toBe(33);
  });

  it('refuses a value of the wrong type and a row of the wrong width', () => {
    expect(() => encodeCopyBinary([{ name: 'a', type: 'int4' }], [['1']])).toThrow(/column a \(int4\)/);
    expect(() => encodeCopyBinary([{ name: 'a', type: 'timestamptz' }], [[new Date(NaN)]])).toThrow(/timestamptz/);
    expect(() => encodeCopyBinary([{ name: 'a', type: 'text' }], [['x', 'y']])).toThrow(/2 values for 1 columns/);
  });
});

for (const { name, url } of testDatabaseUrls()) {
  describe(`binary COPY on ${name}`, () => {
    let db: Db;
    const table = `t_copy_${process.pid}_${name}`;
    beforeAll(async () => {
      db = await openDb({ url: await url() });
      await db.exec(
        `CREATE TABLE ${table} (id int PRIMARY KEY, big bigint, name text NOT NULL, at timestamptz, raw bytea, doc jsonb,
           made timestamptz NOT NULL DEFAULT now())`,
      );
    });
    afterAll(async () => {
      await db?.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
      await db?.close();
    });

    it('round-trips every column type, NULLs and defaults', async () => {
      const at = new Date('2026-11-25T10:11:12.345Z');
      const raw = randomBytes(700);
      await db.copyFrom(table, COLUMNS, [
        [1, 9_007_199_254_740_991n, 'Bộ Thông tin và Truyền thông', at, raw, JSON.stringify({ b: [1, 'hai'], a: null })],
        [2, null, '', null, new Uint8Array(0), null],
      ]);
      const rows = await db.query<any>(`SELECT id, big::text AS big, name, at, raw, doc, made FROM ${table} ORDER BY id`);
      expect(rows).toHaveLength(2);
      expect(rows[0].big).toBe('9007199254740991');
      expect(rows[0].name).toBe('Bộ Thông tin và Truyền thông');
      expect(new Date(rows[0].at).toISOString()).toBe(at.toISOString());
      expect(Buffer.from(rows[0].raw).equals(raw)).toBe(true);
      expect(rows[0].doc).toEqual({ a: null, b: [1, 'hai'] });
      expect(rows[0].made).toBeTruthy();
      expect(rows[1]).toMatchObject({ id: 2, big: null, name: '', at: null, doc: null });
      expect(Buffer.from(rows[1].raw).length).toBe(0);
    });

    it('checks constraints as an insert would, and a failure rolls the whole transaction back', async () => {
      await expect(
        db.tx(async (sql) => {
          await sql.copyFrom(table, COLUMNS, [[10, 1, 'a', null, null, null]]);
          await sql.copyFrom(table, COLUMNS, [
            [11, 1, 'b', null, null, null],
            [1, 1, 'duplicate key', null, null, null],
          ]);
        }),
      ).rejects.toThrow(/duplicate key|unique/i);
      const ids = (await db.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)).map((r) => r.id);
      expect(ids).toEqual([1, 2]);
      // the connection is usable after the failed COPY
      await db.tx((sql) => sql.copyFrom(table, COLUMNS, [[12, 1, 'c', null, null, null]]));
      expect((await db.query(`SELECT name FROM ${table} WHERE id = 12`))[0]).toEqual({ name: 'c' });
    });

    it('refuses a NULL in a NOT NULL column and names that are not plain identifiers', async () => {
      await expect(db.copyFrom(table, COLUMNS, [[20, 1, null, null, null, null]])).rejects.toThrow(/null/i);
      await expect(db.copyFrom(`${table}; DROP TABLE x`, COLUMNS, [[21, 1, 'x', null, null, null]])).rejects.toThrow(
        /plain identifier/,
      );
      expect(await db.query(`SELECT id FROM ${table} WHERE id >= 20`)).toEqual([]);
    });

    it('loads a large batch in one statement', async () => {
      const rows = Array.from({ length: 3000 }, (_, i) => [1000 + i, i, `row ${i}`, new Date(), randomBytes(600), '{}']);
      await db.copyFrom(table, COLUMNS, rows);
      const [{ n }] = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table} WHERE id >= 1000`);
      expect(n).toBe('3000');
    });
  });
}

describe('binary COPY integers and times', () => {
  it('writes int8 and timestamptz as big-endian 64-bit values, negative ones included', () => {
    const cols = [
      { name: 'a', type: 'int8' as const },
      { name: 'b', type: 'timestamptz' as const },
    ];
    for (const [n, d] of [
      [0, new Date('2000-01-01T00:00:00.000Z')],
      [-1, new Date('1999-12-31T23:59:59.999Z')],
      [Number.MAX_SAFE_INTEGER, new Date('2026-11-25T17:00:00.123Z')],
      [-(2 ** 40) - 5, new Date('1950-06-01T12:00:00.000Z')],
    ] as const) {
      const b = encodeCopyBinary(cols, [[n, d]]);
      expect(b.readBigInt64BE(25)).toBe(BigInt(n));
      expect(b.readBigInt64BE(37)).toBe(BigInt(d.getTime() - 946_684_800_000) * 1000n);
    }
    expect(encodeCopyBinary(cols, [[2n ** 62n, null]]).readBigInt64BE(25)).toBe(2n ** 62n);
    expect(() => encodeCopyBinary(cols, [[1.5, null]])).toThrow(/int8/);
    expect(() => encodeCopyBinary(cols, [[2 ** 60, null]])).toThrow(/int8/);
  });
});
