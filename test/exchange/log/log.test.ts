import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openDb, type Db } from '../../../src/store/index.js';
import { MessageLog, verifyLog, merkleRoot, auditPath, rootFromAuditPath, scanSegment, listSegments } from '../../../src/exchange/log/index.js';
import { testDatabaseUrls } from '../../helpers/db.js';
import { record, logDir, gcmCipher } from './fixtures.js';
import { bodyHash } from '../../../src/exchange/log/format.js';
import { createHash, randomBytes } from 'node:crypto';

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

describe('hash tree', () => {
  it('gives an audit path that leads back to the root for every leaf of trees of many sizes', () => {
    for (const n of [1, 2, 3, 5, 8, 13, 100]) {
      const leaves = Array.from({ length: n }, () => randomBytes(32));
      const root = merkleRoot(leaves);
      for (let i = 0; i < n; i++) expect(rootFromAuditPath(leaves[i]!, i, n, auditPath(leaves, i))!.equals(root)).toBe(true);
      if (n > 1) expect(rootFromAuditPath(randomBytes(32), 0, n, auditPath(leaves, 0))!.equals(root)).toBe(false);
    }
  });
});

for (const dbv of testDatabaseUrls()) {
  describe(`message log with its index on ${dbv.name}`, () => {
    let db: Db;
    beforeAll(async () => {
      db = await openDb({ url: await dbv.url() });
    });
    afterAll(async () => {
      await db.close();
    });

    it('appends, reads back through the verifier, and finds records by message id, client, service and time', async () => {
      const dir = logDir();
      const log = await MessageLog.open({ db, dir });
      const r1 = await log.append(record(1));
      const r2 = await log.append(record(2));
      expect(r1.seq).toBe(1);
      expect(r2.seq).toBe(2);
      await log.close();
      const again = await MessageLog.open({ db, dir });
      expect(again.last.seq).toBe(2);
      expect(again.last.hash.equals(r2.hash)).toBe(true);
      const r3 = await again.append(record(3, Buffer.alloc(0)));
      expect(r3.seq).toBe(3);
      expect((await again.search({ messageId: 'msg-2' })).map((h) => h.seq)).toEqual([2]);
      expect((await again.search({ client: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu' })).length).toBe(3);
      expect((await again.search({ service: 'SERVICE:VN/GOV/000.00.00.G09/noivu/getDocument', from: new Date(1_780_000_001_500), to: new Date(1_780_000_003_500) })).map((h) => h.seq)).toEqual([2, 3]);
      expect((await again.search({ client: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu', limit: 1 })).length).toBe(1);
      await again.close();
      const v = await verifyLog({ dir, trustedTsaCerts: [] });
      expect(v.problem).toBeUndefined();
      expect(v.records).toBe(3);
      expect(v.unstamped).toBe(3);
      expect(v.incomplete.length).toBe(1); // no TSA certificate given
    });

    it('keeps indexing after a search that found nothing new to index (the index never stalls)', async () => {
      const log = await MessageLog.open({ db, dir: logDir() });
      const tag = randomBytes(6).toString('hex');
      const rec = (i: number) => record(i, undefined, { messageId: `stall-${tag}-${i}` });
      await log.append(rec(1));
      expect((await log.search({ messageId: `stall-${tag}-1` })).length).toBe(1);
      // nothing queued now: this flush has nothing to write
      expect((await log.search({ messageId: `stall-${tag}-1` })).length).toBe(1);
      await log.append(rec(2));
      await log.append(rec(3));
      // found by the background indexer alone, without a search flushing it
      const end = Date.now() + 10_000;
      let n = 0;
      while (Date.now() < end && (n = Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM xl_record WHERE message_id LIKE $1', [`stall-${tag}-%`]))[0]!.n)) < 3) await new Promise((r) => setTimeout(r, 50));
      expect(n).toBe(3);
      expect((await log.search({ messageId: `stall-${tag}-3` })).map((h) => h.seq)).toEqual([3]);
      await log.close();
    });

    it('group-commits many concurrent appends into one ordered chain, each acknowledged with its own seq', async () => {
      const dir = logDir();
      const log = await MessageLog.open({ db, dir, segmentBytes: 256 * 1024 });
      const n = 3000;
      // six waves of 500, started a tick apart while earlier commits are still in flight
      const all: Promise<{ seq: number; hash: Buffer }>[] = [];
      for (let w = 0; w < 6; w++) {
        for (let i = 0; i < 500; i++) all.push(log.append(record(w * 500 + i + 1)));
        await new Promise((r) => setImmediate(r));
      }
      const acks = await Promise.all(all);
      expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect(new Set(acks.map((a) => a.hash.toString('hex'))).size).toBe(n);
      await log.close();
      const segs = await listSegments(join(dir, 'segments'));
      expect(segs.length).toBeGreaterThanOrEqual(2); // rolled over
      // records hold the message each caller gave, in seq order across segments
      let seq = 0;
      for (const no of segs) {
        const s = await scanSegment(join(dir, 'segments', `${String(no).padStart(10, '0')}.seg`));
        for await (const r of s.records) {
          seq++;
          expect(r.meta.seq).toBe(seq);
          expect(r.meta.messageId).toBe(`msg-${seq}`);
          expect(r.frame.hash.equals(acks[seq - 1]!.hash)).toBe(true);
        }
        await s.close();
      }
      expect(seq).toBe(n);
      const v = await verifyLog({ dir, trustedTsaCerts: [] });
      expect(v.problem).toBeUndefined();
      expect(v.records).toBe(n);
      const reopened = await MessageLog.open({ db, dir });
      expect((await reopened.search({ messageId: `msg-${n}` }))[0]!.seq).toBe(n);
      await reopened.close();
    });

    it('rebuilds the index from the segments when it fell behind', async () => {
      const dir = logDir();
      const log = await MessageLog.open({ db, dir });
      for (let i = 1; i <= 20; i++) await log.append(record(i));
      await log.close();
      await db.query('DELETE FROM xl_record WHERE log_id = $1 AND seq > 5', [log.logIdHex]);
      const again = await MessageLog.open({ db, dir });
      expect((await again.search({ messageId: 'msg-17' })).map((h) => h.seq)).toEqual([17]);
      const n = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM xl_record WHERE log_id = $1', [log.logIdHex]);
      expect(Number(n[0]!.n)).toBe(20);
      await again.close();
    });
  });
}

describe('bodies', () => {
  it('spools a body to disk, moves it into the log on append and still streams it back for delivery', async () => {
    const dir = logDir();
    const log = await MessageLog.open({ dir });
    const sp = log.spool();
    const parts = Array.from({ length: 40 }, () => randomBytes(64 * 1024));
    for (const p of parts) await sp.write(p);
    const body = await sp.finish();
    const whole = Buffer.concat(parts);
    expect(body.length).toBe(whole.length);
    expect(body.hash.equals(createHash('sha256').update(whole).digest())).toBe(true);
    expect(readdirSync(join(dir, 'spool')).length).toBe(1);
    await log.append(record(1, undefined, { body, bodyHash: body.hash, bodyLength: body.length }));
    expect(readdirSync(join(dir, 'spool')).length).toBe(0);
    expect((await readAll(body.open())).equals(whole)).toBe(true);
    // a second append of the same spool is refused
    await expect(log.append(record(2, undefined, { body, bodyHash: body.hash, bodyLength: body.length }))).rejects.toThrow(/already logged/);
    // a discarded spool leaves nothing
    const sp2 = log.spool();
    await sp2.write(Buffer.from('refused'));
    await sp2.discard();
    const sp3 = log.spool();
    await sp3.write(Buffer.from('refused after reading'));
    const b3 = await sp3.finish();
    await b3.discard!();
    expect(readdirSync(join(dir, 'spool')).length).toBe(0);
    await log.close();
    const v = await verifyLog({ dir, trustedTsaCerts: [] });
    expect(v.problem).toBeUndefined();
    expect(v.bodies).toBe(1);
  });

  it('refuses a record whose body does not match its hash', async () => {
    const log = await MessageLog.open({ dir: logDir() });
    await expect(log.append(record(1, Buffer.from('a'), { bodyHash: createHash('sha256').update('b').digest() }))).rejects.toThrow(/does not match/);
    // a body the server hashed already (bodyHash, kept with the Buffer): the log takes that hash instead of
    // hashing the bytes again — and still refuses a record that names another hash
    const body = Buffer.from('đã băm / hashed before');
    const h = bodyHash(body);
    expect(h.equals(createHash('sha256').update(body).digest())).toBe(true);
    await expect(log.append(record(2, body, { bodyHash: createHash('sha256').update('b').digest() }))).rejects.toThrow(/does not match/);
    await expect(log.append(record(3, body, { bodyHash: h }))).resolves.toMatchObject({ seq: 1 });
    await log.close();
  });

  it('keeps no body in metadata mode, only its hash and length, yet lets the server deliver a spooled body once', async () => {
    const dir = logDir();
    const log = await MessageLog.open({ dir, mode: 'metadata' });
    const inline = Buffer.from('bí mật nội dung 1234567890');
    await log.append(record(1, inline));
    const sp = log.spool();
    await sp.write(Buffer.from('spooled secret body'));
    const b = await sp.finish();
    await log.append(record(2, undefined, { body: b, bodyHash: b.hash, bodyLength: b.length }));
    expect((await readAll(b.open())).toString()).toBe('spooled secret body');
    await new Promise((r) => setTimeout(r, 50));
    await log.close();
    expect(readdirSync(join(dir, 'spool')).length).toBe(0);
    const segBytes = readFileSync(join(dir, 'segments', '0000000001.seg'));
    expect(segBytes.includes(inline)).toBe(false);
    expect(segBytes.includes(Buffer.from('spooled secret body'))).toBe(false);
    expect(readdirSync(join(dir, 'segments')).filter((n) => n.endsWith('.bodies')).length).toBe(0);
    const s = await scanSegment(join(dir, 'segments', '0000000001.seg'));
    const metas = [];
    for await (const r of s.records) metas.push(r.meta);
    await s.close();
    expect(metas.map((m) => [m.body.store, m.bodyLength])).toEqual([[0, inline.length], [0, 19]]);
    expect((await verifyLog({ dir, trustedTsaCerts: [] })).problem).toBeUndefined();
  });

  it('passes inline and spooled bodies through the at-rest cipher hook; the verifier checks them with the key', async () => {
    const dir = logDir();
    const cipher = gcmCipher();
    const log = await MessageLog.open({ dir, cipher });
    const inline = Buffer.from('Quyết định mật số 7');
    await log.append(record(1, inline));
    const sp = log.spool();
    const big = Buffer.alloc(3 * 1024 * 1024, 'công văn mật ');
    await sp.write(big.subarray(0, 1_000_000));
    await sp.write(big.subarray(1_000_000));
    const b = await sp.finish();
    await log.append(record(2, undefined, { body: b, bodyHash: b.hash, bodyLength: b.length }));
    expect((await readAll(b.open())).equals(big)).toBe(true);
    // a reader that stops after its first bytes (a SOAP envelope read back) and destroys the stream: the file closes
    const bodyFile = join(dir, 'segments', '0000000001.bodies', '2.body');
    const openOnBody = () => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === bodyFile;
      } catch {
        return false;
      }
    }).length;
    for (let i = 0; i < 3; i++) {
      const s = b.open();
      const first = (await s[Symbol.asyncIterator]().next()).value as Buffer;
      expect(first.equals(big.subarray(0, first.length))).toBe(true);
      s.destroy();
    }
    for (let k = 0; k < 50 && openOnBody() > 0; k++) await new Promise((r) => setTimeout(r, 20));
    expect(openOnBody()).toBe(0);
    await log.close();
    const seg = readFileSync(join(dir, 'segments', '0000000001.seg'));
    expect(seg.includes(inline)).toBe(false);
    const file = readFileSync(join(dir, 'segments', '0000000001.bodies', '2.body'));
    expect(file.includes(Buffer.from('công văn mật'))).toBe(false);
    expect(statSync(join(dir, 'segments', '0000000001.bodies', '2.body')).size).toBe(big.length + 28);
    const withKey = await verifyLog({ dir, trustedTsaCerts: [], cipher });
    expect(withKey.problem).toBeUndefined();
    expect(withKey.incomplete.some((s) => /cipher/.test(s))).toBe(false);
    const withoutKey = await verifyLog({ dir, trustedTsaCerts: [] });
    expect(withoutKey.problem).toBeUndefined();
    expect(withoutKey.incomplete.some((s) => /not decrypted/.test(s))).toBe(true);
    const wrongKey = await verifyLog({ dir, trustedTsaCerts: [], cipher: gcmCipher() });
    expect(wrongKey.problem?.why).toMatch(/decrypt/);
  });
});
