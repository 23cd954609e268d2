import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { cpSync, readFileSync, readdirSync, writeFileSync, unlinkSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { MessageLog, checkEvidence, verifyLog, scanSegment, writeArchivedEvidence } from '../../../src/exchange/log/index.js';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { tmp } from '../../helpers/openssl.js';
import { record, logDir, stampedLog, testTsa, type TestTsa } from './fixtures.js';

const SEG1 = (dir: string) => join(dir, 'segments', '0000000001.seg');

/** frame offsets of a segment's records */
async function offsets(path: string): Promise<{ offset: number; length: number }[]> {
  const s = await scanSegment(path);
  const out = [];
  for await (const r of s.records) out.push({ offset: r.frame.offset, length: r.frame.length });
  await s.close();
  return out;
}

describe('tamper detection and archives', () => {
  let t: TestTsa;
  let base: string;
  let trust: { trustedTsaCerts: Buffer[]; intermediates: Buffer[] };
  beforeAll(async () => {
    t = await testTsa();
    trust = { trustedTsaCerts: [t.root], intermediates: [t.issuing] };
    base = await stampedLog(t);
  }, 60_000);
  afterAll(async () => {
    await t.p.close();
  });

  const copy = () => {
    const d = join(tmp('truc-tamper-'), 'log');
    cpSync(base, d, { recursive: true });
    return d;
  };

  it('accepts the untouched log', async () => {
    const v = await verifyLog({ dir: base, ...trust });
    expect(v.problem).toBeUndefined();
    expect(v.ok).toBe(true);
    expect(v.records).toBe(13);
  });

  it('finds a flipped byte in a record, naming its seq', async () => {
    const d = copy();
    const fr = (await offsets(SEG1(d)))[4]!;
    const bytes = readFileSync(SEG1(d));
    bytes[fr.offset + 30] ^= 0x01;
    writeFileSync(SEG1(d), bytes);
    const v = await verifyLog({ dir: d, ...trust });
    expect(v.ok).toBe(false);
    expect(v.problem!.why).toMatch(/record 5: chain hash/);
  });

  it('finds a changed spooled body', async () => {
    const d = copy();
    const p = join(d, 'segments', '0000000001.bodies', '13.body');
    const b = readFileSync(p);
    b[500] = 0x79;
    writeFileSync(p, b);
    const v = await verifyLog({ dir: d, ...trust });
    expect(v.problem!.where.seq).toBe(13);
    expect(v.problem!.why).toMatch(/body file does not match/);
    unlinkSync(p);
    expect((await verifyLog({ dir: d, ...trust })).problem!.why).toMatch(/missing/);
  });

  it('finds an altered time-stamp token', async () => {
    const d = copy();
    const st = readFileSync(join(d, 'stamps'));
    // the token's signature value sits near the end of the first batch frame; flip a byte inside the second frame's token
    const i = st.length - 40 - 32;
    st[i] ^= 0x80;
    writeFileSync(join(d, 'stamps'), st);
    const v = await verifyLog({ dir: d, ...trust });
    expect(v.ok).toBe(false);
    expect(v.problem!.why).toMatch(/batch 2: chain hash/);
  });

  it('finds a token replaced consistently (stamp chain recomputed): its signature no longer verifies', async () => {
    const d = copy();
    const { readStamps } = await import('../../../src/exchange/log/index.js');
    const { chainHash, frameBytes, encodeBatch, encodeStampsHeader, recordDigest, T_BATCH, T_STAMPS } = await import('../../../src/exchange/log/format.js');
    const s = await readStamps(join(d, 'stamps'));
    const b2 = s.batches[1]!.batch;
    const tok = Buffer.from(b2.token);
    tok[tok.length - 5] ^= 0x01; // inside the signature value
    const hp = encodeStampsHeader({ logId: s.header!.logId, firstBatch: 1, prevHash: s.header!.prevHash });
    const f1 = s.batches[0]!.frame;
    const p2 = encodeBatch({ ...b2, token: tok });
    const h2 = chainHash(f1.hash, T_BATCH, p2);
    writeFileSync(join(d, 'stamps'), Buffer.concat([frameBytes(T_STAMPS, hp, recordDigest(T_STAMPS, hp)), frameBytes(T_BATCH, f1.payload, f1.hash), frameBytes(T_BATCH, p2, h2)]));
    const v = await verifyLog({ dir: d, ...trust });
    expect(v.problem!.where.batch).toBe(2);
    expect(v.problem!.why).toMatch(/token does not verify|unreadable/);
  });

  it('finds a deleted record and two records swapped', async () => {
    const d = copy();
    const fr = await offsets(SEG1(d));
    const bytes = readFileSync(SEG1(d));
    const cut = Buffer.concat([bytes.subarray(0, fr[2]!.offset), bytes.subarray(fr[3]!.offset)]);
    writeFileSync(SEG1(d), cut);
    const v = await verifyLog({ dir: d, ...trust });
    expect(v.problem!.why).toMatch(/record 3/);
    const d2 = copy();
    const a = fr[5]!;
    const b = fr[6]!;
    const swapped = Buffer.concat([bytes.subarray(0, a.offset), bytes.subarray(b.offset, b.offset + b.length), bytes.subarray(a.offset, a.offset + a.length), bytes.subarray(b.offset + b.length)]);
    writeFileSync(SEG1(d2), swapped);
    expect((await verifyLog({ dir: d2, ...trust })).problem!.why).toMatch(/record 6/);
    // removing the last records entirely is caught by the time-stamp that covers them
    const d3 = copy();
    writeFileSync(SEG1(d3), bytes.subarray(0, fr[10]!.offset));
    unlinkSync(join(d3, 'segments', '0000000001.bodies', '13.body'));
    expect((await verifyLog({ dir: d3, ...trust })).problem!.why).toMatch(/covers records/);
  });

  it('archives closed, stamped segments into hash-linked files; the verifier walks archives and live segments; retention deletes old archives', async () => {
    const dir = logDir();
    let now = new Date('2026-12-01T00:00:00Z');
    const log = await MessageLog.open({ dir, segmentBytes: 4096, clock: () => now });
    for (let i = 1; i <= 60; i++) await log.append(record(i));
    const sp = log.spool();
    await sp.write(Buffer.alloc(50_000, 'b'));
    const b = await sp.finish();
    await log.append(record(61, undefined, { body: b, bodyHash: b.hash, bodyLength: b.length }));
    for (let i = 62; i <= 80; i++) await log.append(record(i));
    // nothing stamped: nothing to archive
    expect((await log.archive({ before: 1000 })).archive).toBeNull();
    await log.timestampNow(t.stamper, 25);
    await log.timestampNow(t.stamper, 25);
    const a1 = await log.archive({ before: 40 });
    expect(a1.archive).not.toBeNull();
    expect(a1.lastSeq!).toBeLessThan(40);
    await log.timestampNow(t.stamper);
    now = new Date('2026-12-03T00:00:00Z');
    // the response to msg-6, whose request is already archived: an exchange across the archive's boundary
    await log.append(record(81, undefined, { messageId: 'msg-6', kind: 'response' }));
    for (let i = 82; i <= 90; i++) await log.append(record(i));
    // before the second archive: the live log holds the response, the first archive the request
    const live6 = join(tmp('truc-archived-evidence-'), 'msg-6-live.asice');
    await pipeline(await log.evidence('msg-6'), createWriteStream(live6));
    expect((await checkEvidence(live6, { trust: [t.root], intermediates: [t.issuing] })).records.map((r) => [r.seq, r.kind])).toEqual([
      [6, 'request'],
      [81, 'response'],
    ]);
    const a2 = await log.archive({ before: new Date('2027-01-01T00:00:00Z') });
    expect(a2.firstSeq).toBe(a1.lastSeq! + 1);
    expect(readdirSync(join(dir, 'archives')).filter((n) => n.endsWith('.tlog')).length).toBe(2);
    // the evidence of an unarchived record still comes out
    await (await log.evidence('msg-90')).resume();
    // and that of an archived one, from its archive: the records, the body, the path and the TSA token hold
    const ev = join(tmp('truc-archived-evidence-'), 'msg-61.asice');
    await pipeline(await log.evidence('msg-61'), createWriteStream(ev));
    const report = await checkEvidence(ev, { trust: [t.root], intermediates: [t.issuing] });
    expect(report.messageId).toBe('msg-61');
    expect(report.records.map((r) => [r.seq, r.body, !!r.stampedAt])).toEqual([[61, 'checked', true]]);
    // these test records carry no real message signature: the only problem named
    expect(report.problems).toEqual(['records/61-response: gói không chứa chứng thư ký mà phần đầu nêu / the signing certificate the header names is not in the container']);
    await expect(log.evidence('msg-khong-co')).rejects.toThrow(/no logged message msg-khong-co in the live log or its archives/);
    // the exchange across the boundary, the request now in the older of two archives and the response live
    // (not time-stamped yet: not archived): through the log, and offline from the archives
    for (const ev6 of [await log.evidence('msg-6'), await writeArchivedEvidence({ dir, messageId: 'msg-6' })]) {
      const f = join(tmp('truc-archived-evidence-'), 'msg-6.asice');
      await pipeline(ev6, createWriteStream(f));
      const r6 = await checkEvidence(f, { trust: [t.root], intermediates: [t.issuing] });
      expect(r6.records.map((r) => [r.seq, r.kind, r.body, !!r.stampedAt])).toEqual([
        [6, 'request', 'checked', true],
        [81, 'response', 'checked', false],
      ]);
      expect(r6.problems.every((p) => /the signing certificate the header names is not in the container/.test(p))).toBe(true);
    }
    // offline, as `truc log evidence` does without the index: the archives searched newest first
    const first = join(tmp('truc-archived-evidence-'), 'msg-5.asice');
    await pipeline(await writeArchivedEvidence({ dir, messageId: 'msg-5' }), createWriteStream(first));
    const r5 = await checkEvidence(first, { trust: [t.root], intermediates: [t.issuing] });
    expect(r5.records.map((r) => [r.seq, r.body, !!r.stampedAt])).toEqual([[5, 'checked', true]]);
    await log.append(record(91));
    await log.close();
    // once the response is archived too, in a later archive than the request: each record from its own
    // archive, each with its own time-stamp path (on a copy, the rest of this test goes on with the original)
    const d4 = join(tmp('truc-arch-'), 'log');
    cpSync(dir, d4, { recursive: true });
    const log4 = await MessageLog.open({ dir: d4, segmentBytes: 4096, clock: () => now });
    for (let i = 92; i <= 140; i++) await log4.append(record(i));
    await log4.timestampNow(t.stamper);
    expect((await log4.archive({ before: new Date('2027-01-01T00:00:00Z') })).lastSeq!).toBeGreaterThan(81);
    const f4 = join(tmp('truc-archived-evidence-'), 'msg-6-both.asice');
    await pipeline(await log4.evidence('msg-6'), createWriteStream(f4));
    await log4.close();
    expect((await checkEvidence(f4, { trust: [t.root], intermediates: [t.issuing] })).records.map((r) => [r.seq, r.kind, r.body, !!r.stampedAt])).toEqual([
      [6, 'request', 'checked', true],
      [81, 'response', 'checked', true],
    ]);
    const v = await verifyLog({ dir, ...trust });
    expect(v.problem).toBeUndefined();
    expect(v.archives).toBe(2);
    expect(v.records).toBe(91);
    expect(v.ok).toBe(true);
    // the log reopens after archiving and goes on
    const again = await MessageLog.open({ dir });
    expect((await again.append(record(92))).seq).toBe(92);
    await again.close();
    // a replaced archive breaks the link of the next one
    const d2 = join(tmp('truc-arch-'), 'log');
    cpSync(dir, d2, { recursive: true });
    const a1p = join(d2, 'archives', '00000001.tlog');
    const bytes = readFileSync(a1p);
    bytes[bytes.length - 3] ^= 1;
    writeFileSync(a1p, bytes);
    const bad = await verifyLog({ dir: d2, ...trust });
    expect(bad.ok).toBe(false);
    expect(bad.problem!.where.archive).toBe(1);
    // a missing archive in the middle is found
    const d3 = join(tmp('truc-arch-'), 'log');
    cpSync(dir, d3, { recursive: true });
    unlinkSync(join(d3, 'archives', '00000001.tlog'));
    const gone = await verifyLog({ dir: d3, ...trust });
    expect(gone.problem).toBeUndefined(); // the oldest archives may go by retention…
    expect(gone.warnings.join(' ')).toMatch(/archives before 2 are gone/);
    // retention: archives older than the period go
    const r = await MessageLog.open({ dir, clock: () => new Date('2026-12-02T12:00:00Z'), retentionDays: 1 });
    const res = await r.archive({ before: 0 });
    await r.close();
    expect(res.deleted.length).toBe(1);
    expect(existsSync(join(dir, 'archives', '00000001.tlog'))).toBe(false);
    expect(existsSync(join(dir, 'archives', '00000002.tlog'))).toBe(true);
  });
});
