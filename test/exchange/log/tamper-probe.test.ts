/**
 * Tamper probe: the message log's offline verification (`verifyLog`, `truc log verify`) and the evidence
 * check (`checkEvidence`) looked at as an auditor and an attacker would. The property under test: after any
 * change to a log's files that alters what it records, verify says broken (or cannot check) — never intact —
 * and never crashes (no exception escapes, no stack trace from the CLI, no hang); a tampered evidence
 * container always has problems. Frames are parsed by hand from the documented format
 * (`u32 length | u8 type | payload | 32-byte hash`). One set of logs is built in beforeAll; each case works on
 * copies. Sweeps print which offsets were judged intact, so that a failure names them.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash, createPrivateKey, sign as nodeSign } from 'node:crypto';
import { cpSync, createWriteStream, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { MessageLog, checkEvidence, verifyLog, type VerifyReport } from '../../../src/exchange/log/index.js';
import { isTrucError } from '../../../src/errors.js';
import { BatchSigner } from '../../../src/exchange/server/batch-sign.js';
import { signMessage } from '../../../src/exchange/server/message.js';
import { signCades } from '../../../src/sign/cades/sign.js';
import { opensslCsr, tmp } from '../../helpers/openssl.js';
import { record, logDir, runTruc, stampedLog, testTsa, type TestTsa } from './fixtures.js';
import { frameBytes, frames, recordFrames, type Frame } from './frames-by-hand.js';

// ---- helpers ---------------------------------------------------------------------------------------------

const sha = (...b: Buffer[]) => {
  const h = createHash('sha256');
  for (const x of b) h.update(x);
  return h.digest();
};
const SEG = (dir: string, no = 1) => join(dir, 'segments', `${String(no).padStart(10, '0')}.seg`);
const segNos = (dir: string) =>
  readdirSync(join(dir, 'segments'))
    .filter((n) => /^\d{10}\.seg$/.test(n))
    .map((n) => Number(n.slice(0, 10)))
    .sort((a, b) => a - b);

/** seeded PRNG (mulberry32), so that a sweep names the same offsets every run */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const sample = (n: number, size: number, seed: number): number[] => {
  const r = rng(seed);
  const s = new Set<number>();
  while (s.size < Math.min(n, size)) s.add(Math.floor(r() * size));
  return [...s];
};
/** every byte of every frame header (u32 length, u8 type) of a file of frames */
const headerBytes = (buf: Buffer): number[] => frames(buf).flatMap((f) => [0, 1, 2, 3, 4].map((k) => f.offset + k));

/** where an offset lies in a file of frames, for the report */
function place(buf: Buffer, off: number, name: (f: Frame, i: number) => string): string {
  const fs = frames(buf);
  const i = fs.findIndex((f) => off >= f.offset && off < f.end);
  if (i < 0) return `@${off} (beyond the frames)`;
  const f = fs[i]!;
  const k = off - f.offset;
  const part = k < 4 ? `length byte ${k}` : k === 4 ? 'type' : k < 5 + f.len ? `payload+${k - 5}` : `hash+${k - 5 - f.len}`;
  return `@${off} ${name(f, i)} ${part}`;
}

type Verdict = 'intact' | 'broken' | 'cannot' | 'threw';
interface Judged {
  verdict: Verdict;
  r?: VerifyReport;
  error?: string;
}

let t: TestTsa;
let trust: { trustedTsaCerts: Buffer[]; intermediates: Buffer[] };

/** verifyLog, judged: intact (exit 0), broken (1), cannot check (3: incomplete, or a TrucError naming why), threw (anything else escaping) */
async function judge(dir: string, extra: Partial<Parameters<typeof verifyLog>[0]> = {}): Promise<Judged> {
  try {
    const r = await verifyLog({ dir, ...trust, ...extra });
    return { verdict: r.problem ? 'broken' : r.incomplete.length ? 'cannot' : 'intact', r };
  } catch (e) {
    return { verdict: isTrucError(e) ? 'cannot' : 'threw', error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}
const why = (j: Judged) => (j.r?.problem ? j.r.problem.why : j.error ?? (j.r?.warnings.length ? `warnings: ${j.r.warnings.join(' | ')}` : 'no problem, no warning'));

/** flips one bit at each position (restoring the file after each), and judges the log each time */
async function flipSweep(dir: string, path: string, positions: number[], bit = 0x01): Promise<{ off: number; j: Judged }[]> {
  const orig = readFileSync(path);
  const out: { off: number; j: Judged }[] = [];
  try {
    for (const off of positions) {
      const b = Buffer.from(orig);
      b[off]! ^= bit;
      writeFileSync(path, b);
      out.push({ off, j: await judge(dir) });
    }
  } finally {
    writeFileSync(path, orig);
  }
  return out;
}

const copyOf = (from: string) => {
  const d = join(tmp('truc-tprobe-'), 'log');
  cpSync(from, d, { recursive: true, verbatimSymlinks: true });
  return d;
};
const edit = (path: string, f: (b: Buffer) => Buffer | void) => {
  const b = readFileSync(path);
  writeFileSync(path, f(b) ?? b);
};

const truc = (...args: string[]) => runTruc(args, 45_000);
const hasStack = (s: string) => /\n\s+at .+\(.+:\d+:\d+\)|^\s+at /m.test(s);

// ---- the logs ------------------------------------------------------------------------------------------------

/** one segment: 1..13 stamped (batches 1..7, 8..13; 13's body a file), 14..20 not yet stamped */
let base: string;
/** another log of the same shape (1..13 stamped), for cross-log swaps */
let other: string;
/** small segments, two archives (with a spooled body inside archive 2), 61..70 not yet stamped */
let multi: string;
/** `multi` as it was before its second archive: the segments archive 2 took still live */
let multiPre: string;
/** small segments, never archived, 1..40 stamped in batches of 10 */
let plain: string;

beforeAll(async () => {
  t = await testTsa();
  trust = { trustedTsaCerts: [t.root], intermediates: [t.issuing] };
  base = await stampedLog(t, 7);
  other = await stampedLog(t, 0);
  multi = logDir();
  const m = await MessageLog.open({ dir: multi, segmentBytes: 4096 });
  for (let i = 1; i <= 60; i++) {
    if (i === 22) {
      const sp = m.spool();
      await sp.write(Buffer.alloc(20_000, 'q'));
      const b = await sp.finish();
      await m.append(record(i, undefined, { body: b, bodyHash: b.hash, bodyLength: b.length }));
    } else await m.append(record(i));
  }
  await m.timestampNow(t.stamper, 20);
  await m.timestampNow(t.stamper, 20);
  expect((await m.archive({ before: 15 })).archive).not.toBeNull();
  multiPre = copyOf(multi);
  expect((await m.archive({ before: 30 })).archive).not.toBeNull();
  await m.timestampNow(t.stamper);
  for (let i = 61; i <= 70; i++) await m.append(record(i));
  await m.close();
  plain = logDir();
  const p = await MessageLog.open({ dir: plain, segmentBytes: 4096 });
  for (let i = 1; i <= 40; i++) await p.append(record(i));
  for (let k = 0; k < 4; k++) await p.timestampNow(t.stamper, 10);
  await p.close();
}, 120_000);

afterAll(async () => {
  await t?.p.close();
});

// ---- verify ----------------------------------------------------------------------------------------------------

describe('truc log verify under tampering', () => {
  it('the untouched logs verify intact (the probe\'s baseline)', async () => {
    for (const [d, n] of [
      [base, 20],
      [other, 13],
      [multi, 70],
      [plain, 40],
    ] as const) {
      const j = await judge(d);
      expect(j.verdict, `${d}: ${why(j)}`).toBe('intact');
      expect(j.r!.records).toBe(n);
    }
    expect((await judge(base)).r!.unstamped).toBe(7);
    expect((await judge(multi)).r!.archives).toBe(2);
  });

  it('a bit flipped anywhere in a segment (200 seeded positions + every frame-header byte) is never judged intact', async () => {
    const d = copyOf(base);
    const seg = readFileSync(SEG(d));
    const positions = [...new Set([...sample(200, seg.length, 1), ...headerBytes(seg)])].sort((a, b) => a - b);
    const res = await flipSweep(d, SEG(d), positions);
    const threw = res.filter((x) => x.j.verdict === 'threw');
    const intact = res.filter((x) => x.j.verdict === 'intact');
    const name = (f: Frame) => (f.type === 1 ? 'segment header' : `record ${f.payload.readUInt32BE(4)}${f.payload.readUInt32BE(4) <= 13 ? ' (stamped)' : ' (unstamped)'}`);
    if (intact.length)
      console.log(`[segment flip] ${intact.length}/${res.length} flips judged intact:\n  ` + intact.map((x) => `${place(seg, x.off, name)} → ${why(x.j)}`).join('\n  '));
    expect(threw.map((x) => `${x.off}: ${x.j.error}`)).toEqual([]);
    expect(intact.map((x) => place(seg, x.off, name))).toEqual([]);
  }, 60_000);

  it('a bit flipped anywhere in the stamp file (200 seeded positions + every frame-header byte) is never judged intact', async () => {
    const d = copyOf(base);
    const p = join(d, 'stamps');
    const st = readFileSync(p);
    const positions = [...new Set([...sample(200, st.length, 2), ...headerBytes(st)])].sort((a, b) => a - b);
    const res = await flipSweep(d, p, positions);
    const intact = res.filter((x) => x.j.verdict === 'intact');
    const name = (f: Frame, i: number) => (i === 0 ? 'stamps header' : `batch ${i}`);
    if (intact.length)
      console.log(`[stamps flip] ${intact.length}/${res.length} flips judged intact:\n  ` + intact.map((x) => `${place(st, x.off, name)} → unstamped=${x.j.r?.unstamped}, ${why(x.j)}`).join('\n  '));
    expect(res.filter((x) => x.j.verdict === 'threw').map((x) => x.j.error)).toEqual([]);
    expect(intact.map((x) => place(st, x.off, name))).toEqual([]);
  }, 60_000);

  it('a bit flipped in a spooled body file, or in an archive (frames, chunks, manifest, header), is always a break', async () => {
    const d = copyOf(base);
    const body = join(d, 'segments', '0000000001.bodies', '13.body');
    const rb = await flipSweep(d, body, sample(40, readFileSync(body).length, 3));
    expect(rb.filter((x) => x.j.verdict !== 'broken').map((x) => `${x.off}: ${x.j.verdict} ${why(x.j)}`)).toEqual([]);
    const m = copyOf(multi);
    for (const a of ['00000001.tlog', '00000002.tlog']) {
      const p = join(m, 'archives', a);
      const buf = readFileSync(p);
      const positions = [...new Set([...sample(80, buf.length, 4), ...headerBytes(buf).slice(0, 40), buf.length - 1, buf.length - 40])];
      const ra = await flipSweep(m, p, positions);
      expect(ra.filter((x) => x.j.verdict !== 'broken').map((x) => `${a}@${x.off}: ${x.j.verdict} ${why(x.j)}`)).toEqual([]);
    }
  }, 60_000);

  it('a bit flipped in the identity file (LOG): a changed log id is never intact, nothing escapes but a named error', async () => {
    const d = copyOf(base);
    const p = join(d, 'LOG');
    const raw = readFileSync(p);
    const id = JSON.parse(raw.toString()).logId as string;
    const at = raw.indexOf(Buffer.from(id));
    const res = await flipSweep(d, p, [...raw.keys()]);
    const other = res.filter((x) => x.off < at || x.off >= at + id.length);
    console.log(
      `[LOG flip] outside the log id: ${other.filter((x) => x.j.verdict === 'intact').length}/${other.length} intact (${raw.toString().slice(0, at - 1)}…${raw.toString().slice(at + id.length)}) — e.g. ` +
        other.filter((x) => x.j.verdict === 'intact').slice(0, 3).map((x) => `@${x.off} '${String.fromCharCode(raw[x.off]!)}'`).join(', '),
    );
    expect(res.filter((x) => x.j.verdict === 'threw').map((x) => `${x.off}: ${x.j.error}`)).toEqual([]);
    expect(res.filter((x) => x.off >= at && x.off < at + id.length && x.j.verdict === 'intact').map((x) => x.off)).toEqual([]);
  }, 60_000);

  it('a segment cut short anywhere that loses a time-stamped record is a break, never a torn-write warning', async () => {
    const d = copyOf(base);
    const orig = readFileSync(SEG(d));
    const fr = frames(orig);
    const r13 = recordFrames(orig)[12]!;
    const cuts = [...new Set(fr.flatMap((f) => [f.offset, f.offset + 1, f.offset + 4, f.offset + 5, f.offset + 17, f.offset + ((f.end - f.offset) >> 1), f.end - 1]))].filter((c) => c < orig.length).sort((a, b) => a - b);
    const res: { cut: number; j: Judged }[] = [];
    try {
      for (const cut of cuts) {
        writeFileSync(SEG(d), orig.subarray(0, cut));
        res.push({ cut, j: await judge(d) });
      }
    } finally {
      writeFileSync(SEG(d), orig);
    }
    const lostStamped = res.filter((x) => x.cut < r13.end);
    const unstampedIntact = res.filter((x) => x.cut >= r13.end && x.j.verdict === 'intact');
    console.log(`[segment cut] ${unstampedIntact.length} cuts after the last stamped record judged intact (documented: unstamped tail records cannot be missed offline)`);
    expect(res.filter((x) => x.j.verdict === 'threw').map((x) => `${x.cut}: ${x.j.error}`)).toEqual([]);
    expect(lostStamped.filter((x) => x.j.verdict !== 'broken').map((x) => `cut@${x.cut}: ${x.j.verdict} ${why(x.j)}`)).toEqual([]);
  }, 60_000);

  it('the stamp file cut short inside a batch is never intact; cut at a batch boundary, the lost batches\' records count as not yet stamped (docs/exchange-log.md, Limits)', async () => {
    const d = copyOf(base);
    const p = join(d, 'stamps');
    const orig = readFileSync(p);
    const fr = frames(orig);
    const cuts = [fr[1]!.offset, fr[1]!.offset + 3, fr[1]!.offset + 100, fr[2]!.offset, fr[2]!.offset + 5, fr[2]!.offset + 500, orig.length - 1];
    const res: { cut: number; j: Judged }[] = [];
    try {
      for (const cut of cuts) {
        writeFileSync(p, orig.subarray(0, cut));
        res.push({ cut, j: await judge(d) });
      }
    } finally {
      writeFileSync(p, orig);
    }
    // a cut exactly where a batch begins leaves a well-formed shorter file: nothing offline tells it from a log
    // whose later batches were never made, so the records those batches covered are reported as not yet
    // stamped (more than the log's 7) — the one loss the verifier cannot call a break (the Limits section)
    const boundary = new Set([fr[1]!.offset, fr[2]!.offset]);
    const intact = res.filter((x) => x.j.verdict === 'intact');
    if (intact.length) console.log(`[stamps cut] judged intact:\n  ` + intact.map((x) => `cut@${x.cut} (batch 1 @${fr[1]!.offset}, batch 2 @${fr[2]!.offset}, end ${orig.length}) → unstamped=${x.j.r!.unstamped}, ${why(x.j)}`).join('\n  '));
    expect(intact.filter((x) => !boundary.has(x.cut)).map((x) => x.cut)).toEqual([]);
    for (const x of intact) expect(x.j.r!.unstamped, `cut@${x.cut}`).toBeGreaterThan(7);
  });

  it('stamped records rewritten (record 10 changed, chain recomputed after it) and the stamp file torn inside batch 2 is a break', async () => {
    const d = copyOf(base);
    const seg = readFileSync(SEG(d));
    const out: Buffer[] = [];
    let prev: Buffer | null = null;
    for (const f of frames(seg)) {
      if (f.type !== 2) {
        out.push(seg.subarray(f.offset, f.end));
        continue;
      }
      const seq = f.payload.readUInt32BE(4);
      const p = Buffer.from(f.payload);
      if (seq === 10) p.write('VANTHU', p.indexOf(Buffer.from('vanthu'))); // the client, as kept
      if (seq < 10) {
        out.push(seg.subarray(f.offset, f.end));
        prev = Buffer.from(f.hash);
        continue;
      }
      const h = sha(prev!, sha(Buffer.of(2), p));
      out.push(frameBytes(2, p, h));
      prev = h;
    }
    writeFileSync(SEG(d), Buffer.concat(out));
    const st = frames(readFileSync(join(d, 'stamps')));
    edit(join(d, 'stamps'), (b) => b.subarray(0, st[2]!.offset + 40)); // batch 2 "torn", as a crash leaves it
    const j = await judge(d);
    console.log(`[rewrite + torn stamps] ${j.verdict}: records=${j.r?.records} batches=${j.r?.batches} unstamped=${j.r?.unstamped}; ${why(j)}`);
    expect(j.verdict).not.toBe('intact');
  });

  it('the first time-stamp batch removed from the stamp file (its header re-hashed to start at batch 2) is a break', async () => {
    const d = copyOf(base);
    edit(join(d, 'stamps'), (b) => {
      const [h, b1, b2] = frames(b);
      const hp = Buffer.from(h!.payload);
      hp.writeUInt32BE(0, 33); // firstBatch (u64 after magic 16, version 1, log id 16) = 2
      hp.writeUInt32BE(2, 37);
      b1!.hash.copy(hp, 41); // the chain continues from batch 1's frame hash
      return Buffer.concat([frameBytes(3, hp, sha(Buffer.of(3), hp)), b.subarray(b2!.offset)]);
    });
    const j = await judge(d);
    console.log(`[batch 1 dropped] ${j.verdict}: batches=${j.r?.batches} unstamped=${j.r?.unstamped} warnings=${JSON.stringify(j.r?.warnings)}; records 1..7 are now covered by no time-stamp`);
    expect(j.verdict).not.toBe('intact');
  });

  it('deletions: a live segment in the middle, the last (stamped) segment, the newest archive, the stamp file — each a break', async () => {
    const m1 = copyOf(multi);
    const live = segNos(m1);
    expect(live.length).toBeGreaterThanOrEqual(3);
    unlinkSync(SEG(m1, live[1]!));
    const p1 = copyOf(plain);
    const ps = segNos(p1);
    unlinkSync(SEG(p1, ps.at(-1)!));
    const m2 = copyOf(multi);
    unlinkSync(join(m2, 'archives', '00000002.tlog'));
    const b1 = copyOf(base);
    unlinkSync(join(b1, 'stamps'));
    const got = await Promise.all([m1, p1, m2, b1].map((d) => judge(d)));
    expect(got.map((j) => j.verdict), got.map(why).join(' | ')).toEqual(['broken', 'broken', 'broken', 'broken']);
  });

  it('the oldest segment of a never-archived log deleted, with a forged archives/LAST (plain JSON) claiming an archive retention removed, is a break', async () => {
    const d = copyOf(plain);
    const segs = segNos(d);
    const second = frames(readFileSync(SEG(d, segs[1]!)))[0]!.payload;
    const firstSeq = second.readUInt32BE(16 + 1 + 16 + 4 + 4); // magic, version, log id, segment u32, firstSeq u64 (low word)
    unlinkSync(SEG(d, segs[0]!));
    mkdirSync(join(d, 'archives'), { recursive: true });
    writeFileSync(join(d, 'archives', 'LAST'), JSON.stringify({ no: 1, hash: '0'.repeat(64), lastSeq: firstSeq - 1 }));
    const j = await judge(d);
    console.log(`[forged LAST] records 1..${firstSeq - 1} deleted → ${j.verdict}; warnings=${JSON.stringify(j.r?.warnings)}`);
    expect(j.verdict).not.toBe('intact');
  });

  it('swaps and duplicates: two live segments swapped, two archives swapped, the last segment duplicated under the next number, a record frame duplicated — each a break', async () => {
    const a = copyOf(multi);
    const s = segNos(a);
    renameSync(SEG(a, s[0]!), SEG(a, s[0]!) + '.x');
    renameSync(SEG(a, s[1]!), SEG(a, s[0]!));
    renameSync(SEG(a, s[0]!) + '.x', SEG(a, s[1]!));
    const b = copyOf(multi);
    const A = (n: number) => join(b, 'archives', `0000000${n}.tlog`);
    renameSync(A(1), A(3));
    renameSync(A(2), A(1));
    renameSync(A(3), A(2));
    const c = copyOf(multi);
    const cs = segNos(c);
    cpSync(SEG(c, cs.at(-1)!), SEG(c, cs.at(-1)! + 1));
    const e = copyOf(base);
    edit(SEG(e), (buf) => {
      const r5 = recordFrames(buf)[4]!;
      return Buffer.concat([buf.subarray(0, r5.end), buf.subarray(r5.offset, r5.end), buf.subarray(r5.end)]);
    });
    const got = await Promise.all([a, b, c, e].map((d) => judge(d)));
    expect(got.map((j) => j.verdict), got.map(why).join(' | ')).toEqual(['broken', 'broken', 'broken', 'broken']);
  });

  it('a live copy of an archived segment (left by a crash between archiving and removal), altered, is not passed over in silence', async () => {
    const d = copyOf(multi);
    const pre = segNos(multiPre);
    const inArchive2 = pre.filter((n) => !segNos(multi).includes(n));
    expect(inArchive2.length).toBeGreaterThan(0);
    const no = inArchive2[0]!;
    cpSync(SEG(multiPre, no), SEG(d, no));
    const clean = await judge(d);
    edit(SEG(d, no), (b) => {
      const r = recordFrames(b)[1]!;
      b.write('VANTHU', b.indexOf(Buffer.from('vanthu'), r.offset)); // what `truc log export` now prints for it
    });
    const j = await judge(d);
    console.log(`[live copy of archived segment ${no}] unaltered: ${clean.verdict} ${why(clean)}; altered: ${j.verdict} ${why(j)}`);
    expect(j.verdict === 'intact' && !j.r!.warnings.length, 'altered live duplicate judged intact without a word').toBe(false);
  });

  it('same-length changes: a body file replaced, an inline body\'s text, a record\'s time (stamped and unstamped) — each a break', async () => {
    const a = copyOf(base);
    writeFileSync(join(a, 'segments', '0000000001.bodies', '13.body'), Buffer.alloc(100_000, 'y'));
    const b = copyOf(base);
    edit(SEG(b), (buf) => void buf.write('Công văn số 9', buf.indexOf(Buffer.from('Công văn số 3'))));
    const c = copyOf(base);
    edit(SEG(c), (buf) => void buf.write('Công văn số 9', buf.indexOf(Buffer.from('Công văn số 17'))));
    const times = [3, 16].map((seq) => {
      const d = copyOf(base);
      edit(SEG(d), (buf) => {
        const r = recordFrames(buf)[seq - 1]!;
        const off = r.offset + 5 + 8; // f64 time after u64 seq
        buf.writeDoubleBE(buf.readDoubleBE(off) + 3_600_000, off);
      });
      return d;
    });
    const got = await Promise.all([a, b, c, ...times].map((d) => judge(d)));
    expect(got.map((j) => j.verdict), got.map(why).join(' | ')).toEqual(['broken', 'broken', 'broken', 'broken', 'broken']);
  });

  it('a well-formed material frame (type 0x08, correct hash) appended at the end, or slipped between stamped records, is not accepted in silence', async () => {
    const junk = Buffer.from('not a certificate: anything can be added here, no record names it');
    const mf = frameBytes(8, junk, sha(Buffer.of(8), junk));
    const a = copyOf(base);
    edit(SEG(a), (b) => Buffer.concat([b, mf]));
    const b = copyOf(base);
    edit(SEG(b), (buf) => {
      const r4 = recordFrames(buf)[3]!;
      return Buffer.concat([buf.subarray(0, r4.offset), mf, buf.subarray(r4.offset)]);
    });
    const got = await Promise.all([a, b].map((d) => judge(d)));
    console.log(`[material frame] appended: ${got[0]!.verdict} (${why(got[0]!)}); between records 3 and 4: ${got[1]!.verdict} (${why(got[1]!)})`);
    expect(got.map((j) => j.verdict === 'intact' && !j.r!.warnings.length)).toEqual([false, false]);
  });

  it('record frames appended: a copy of the last record is a break; a forged record chained on is at least counted as not time-stamped', async () => {
    const a = copyOf(base);
    edit(SEG(a), (b) => {
      const last = recordFrames(b).at(-1)!;
      return Buffer.concat([b, b.subarray(last.offset, last.end)]);
    });
    const b = copyOf(base);
    edit(SEG(b), (buf) => {
      const last = recordFrames(buf).at(-1)!;
      const p = Buffer.from(last.payload);
      p.writeUInt32BE(21, 4); // seq 21
      return Buffer.concat([buf, frameBytes(2, p, sha(last.hash, sha(Buffer.of(2), p)))]);
    });
    const [ja, jb] = await Promise.all([judge(a), judge(b)]);
    expect(ja.verdict, why(ja)).toBe('broken');
    // no key binds an unstamped record: a forged one chained on is indistinguishable, but never reported as stamped
    expect([jb.r?.records, jb.r?.unstamped]).toEqual([21, 8]);
  });

  it('batches re-ordered, and a time-stamp batch (and token) taken from another log, are breaks', async () => {
    const a = copyOf(base);
    edit(join(a, 'stamps'), (b) => {
      const [h, b1, b2] = frames(b);
      return Buffer.concat([b.subarray(h!.offset, h!.end), b.subarray(b2!.offset, b2!.end), b.subarray(b1!.offset, b1!.end)]);
    });
    const c = copyOf(base);
    const theirs = frames(readFileSync(join(other, 'stamps')))[2]!;
    edit(join(c, 'stamps'), (b) => {
      const [h, b1] = frames(b);
      return Buffer.concat([b.subarray(h!.offset, b1!.end), frameBytes(4, theirs.payload, sha(b1!.hash, sha(Buffer.of(4), theirs.payload)))]);
    });
    const got = await Promise.all([a, c].map((d) => judge(d)));
    expect(got.map((j) => j.verdict), got.map(why).join(' | ')).toEqual(['broken', 'broken']);
  });

  it('identity swapped with another log\'s: its LOG file, its stamp file, its segment — never intact', async () => {
    const a = copyOf(base);
    cpSync(join(other, 'LOG'), join(a, 'LOG'));
    const b = copyOf(base);
    cpSync(join(other, 'stamps'), join(b, 'stamps'));
    const c = copyOf(base);
    cpSync(SEG(other), SEG(c));
    const got = await Promise.all([a, b, c].map((d) => judge(d)));
    expect(got.map((j) => j.verdict), got.map(why).join(' | ')).toEqual(['broken', 'broken', 'broken']);
  });

  it('length fields claiming 4 GiB (segment header, unstamped record, batch, archive frame): a break, fast, without a large allocation', async () => {
    const rss0 = process.memoryUsage().rss;
    const a = copyOf(base);
    edit(SEG(a), (b) => void b.writeUInt32BE(0xffffffff, 0));
    const b = copyOf(base);
    edit(SEG(b), (buf) => void buf.writeUInt32BE(0xffffffff, recordFrames(buf)[15]!.offset));
    const c = copyOf(base);
    edit(join(c, 'stamps'), (buf) => void buf.writeUInt32BE(0xffffffff, frames(buf)[2]!.offset));
    const d = copyOf(multi);
    edit(join(d, 'archives', '00000001.tlog'), (buf) => void buf.writeUInt32BE(0xffffffff, frames(buf)[2]!.offset));
    const got = await Promise.all([a, b, c, d].map((x) => judge(x)));
    expect(process.memoryUsage().rss - rss0).toBeLessThan(400 * 1024 * 1024);
    expect(got.map((j) => j.verdict), got.map(why).join(' | ')).toEqual(['broken', 'broken', 'broken', 'broken']);
  });

  it('files that are not files (a segment, the stamp file, a body, the archives folder, the newest archive as folders; a segment a symlink loop): a report, never a raw exception', async () => {
    const cases: [string, (d: string) => void, string][] = [
      ['segment is a folder', (d) => { const s = segNos(d).at(-1)!; unlinkSync(SEG(d, s)); mkdirSync(SEG(d, s)); }, multi],
      ['segment is a symlink loop', (d) => { const s = segNos(d)[0]!; unlinkSync(SEG(d, s)); symlinkSync(SEG(d, s), SEG(d, s)); }, multi],
      ['stamps is a folder', (d) => { unlinkSync(join(d, 'stamps')); mkdirSync(join(d, 'stamps')); }, base],
      ['body is a folder', (d) => { const p = join(d, 'segments', '0000000001.bodies', '13.body'); unlinkSync(p); mkdirSync(p); }, base],
      ['archives/ is a file', (d) => { rmSync(join(d, 'archives'), { recursive: true }); writeFileSync(join(d, 'archives'), 'x'); }, multi],
      ['newest archive is a folder', (d) => { const p = join(d, 'archives', '00000002.tlog'); unlinkSync(p); mkdirSync(p); }, multi],
    ];
    const got: string[] = [];
    for (const [name, f, from] of cases) {
      const d = copyOf(from);
      f(d);
      const j = await judge(d);
      got.push(`${name}: ${j.verdict}${j.verdict === 'threw' ? ` (${j.error})` : ''}`);
    }
    console.log('[not files]\n  ' + got.join('\n  '));
    expect(got.filter((g) => /: (threw|intact)/.test(g))).toEqual([]);
  });

  it('--no-bodies on a log whose body file was altered does not say "intact" (the bodies were not checked: cannot check fully)', async () => {
    const d = copyOf(base);
    edit(join(d, 'segments', '0000000001.bodies', '13.body'), (b) => void (b[500] ^= 1));
    const j = await judge(d, { checkBodies: false });
    const cli = await truc('log', 'verify', d, '--trust', t.rootPath, '--untrusted', t.chainPath, '--no-bodies');
    console.log(`[--no-bodies] API ${j.verdict} (incomplete=${JSON.stringify(j.r?.incomplete)}); CLI exit ${cli.status}: ${cli.stdout.trim()}`);
    expect(cli.status).not.toBe(0);
  }, 60_000);

  it('CLI on damaged folders: exit 1 or 3, a message, no stack trace, no hang', async () => {
    const a = copyOf(base);
    edit(SEG(a), (b) => void (b[recordFrames(b)[2]!.offset + 60] ^= 1));
    const b = copyOf(base);
    edit(SEG(b), (buf) => void buf.writeUInt32BE(0xffffffff, recordFrames(buf)[15]!.offset));
    const c = copyOf(multi);
    const s = segNos(c).at(-1)!;
    unlinkSync(SEG(c, s));
    mkdirSync(SEG(c, s));
    const e = copyOf(multi);
    const s0 = segNos(e)[0]!;
    unlinkSync(SEG(e, s0));
    symlinkSync(SEG(e, s0), SEG(e, s0));
    const args = ['--trust', t.rootPath, '--untrusted', t.chainPath];
    const runs = await Promise.all([a, b, c, e].map((d) => truc('log', 'verify', d, ...args)));
    console.log('[cli] ' + runs.map((r) => `exit ${r.status} ${r.ms} ms: ${(r.stdout + r.stderr).trim().slice(0, 160)}`).join('\n      '));
    for (const r of runs) {
      expect([1, 3], r.stdout + r.stderr).toContain(r.status);
      expect(hasStack(r.stdout + r.stderr), r.stderr).toBe(false);
    }
    expect(runs[0]!.status).toBe(1);
    expect(runs[1]!.status).toBe(1);
  }, 120_000);
});

// ---- evidence ----------------------------------------------------------------------------------------------------

interface ZEntry {
  name: string;
  data: Buffer;
  /** offset of the data in the container */
  at: number;
}
/** stored entries from the central directory (the evidence writer stores, never deflates) */
function readZip(buf: Buffer): ZEntry[] {
  let eocd = -1;
  for (let i = buf.length - 22; i >= 0; i--)
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out: ZEntry[] = [];
  for (let i = 0; i < count; i++) {
    const csize = buf.readUInt32LE(p + 20);
    const n = buf.readUInt16LE(p + 28);
    const x = buf.readUInt16LE(p + 30);
    const c = buf.readUInt16LE(p + 32);
    const off = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + n).toString('utf8');
    const at = off + 30 + buf.readUInt16LE(off + 26) + buf.readUInt16LE(off + 28);
    out.push({ name, data: buf.subarray(at, at + csize), at });
    p += 46 + n + x + c;
  }
  return out;
}
/** a stored ZIP, sizes and CRC-32 in the headers; `localName` lets the local header name differ */
function writeZip(entries: { name: string; data: Buffer; localName?: string }[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let off = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const local = Buffer.from(e.localName ?? e.name);
    const crc = crc32(e.data) >>> 0;
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(10, 4);
    h.writeUInt32LE(crc, 14);
    h.writeUInt32LE(e.data.length, 18);
    h.writeUInt32LE(e.data.length, 22);
    h.writeUInt16LE(local.length, 26);
    parts.push(h, local, e.data);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(10, 4);
    c.writeUInt16LE(10, 6);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(e.data.length, 20);
    c.writeUInt32LE(e.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(off, 42);
    central.push(c, name);
    off += 30 + local.length + e.data.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(off, 16);
  return Buffer.concat([...parts, cd, end]);
}

describe('check-evidence under tampering', () => {
  let work: string;
  let unsealed: Buffer;
  let sealed: Buffer;
  let evTrust: { trust: Buffer[]; intermediates: Buffer[] };
  let n = 0;
  /** checkEvidence of these bytes: its report, or what it threw */
  const check = async (bytes: Buffer) => {
    const f = join(work, `c${n++}.asice`);
    writeFileSync(f, bytes);
    try {
      return { r: await checkEvidence(f, evTrust) };
    } catch (e) {
      return { threw: (e as Error).message };
    }
  };

  beforeAll(async () => {
    evTrust = { trust: [t.root], intermediates: [t.issuing] };
    work = tmp('truc-tprobe-ev-');
    // a member's signing key and certificate from the platform's CA: the messages are signed as a security
    // server signs them, and the container sealed with the same key (CAdES over the ASiCManifest)
    const { csr, keyPath } = opensslCsr(work, '/C=VN/O=Bộ Nội vụ/CN=Máy chủ an ninh ss-probe');
    const issued = await t.p.issuer.issue({ profile: 'agency-signing', csr }, 'ra');
    const key = createPrivateKey(readFileSync(keyPath));
    const signFn = (data: Uint8Array) => nodeSign('sha256', data, { key, dsaEncoding: 'der' });
    const signer = new BatchSigner(signFn, 'ecdsa-sha256');
    const log = await MessageLog.open({ dir: logDir() });
    const client = 'SUBSYSTEM:VN/GOV/000.00.00.G09/vanthu';
    const service = 'SERVICE:VN/PROV/000.00.31.H29/vanthu/echo';
    const append = async (kind: 'request' | 'response', body: Buffer, spooled: boolean) => {
      const time = new Date();
      const header = Buffer.from(JSON.stringify({ v: 2, kind, id: 'ev-1', client, service, time: time.toISOString(), signCert: issued.der.toString('base64') }));
      const bodyHash = createHash('sha256').update(body).digest();
      const sig = await signMessage(signer, header, bodyHash, body.length);
      let stored: any = body;  
      if (spooled) {
        const sp = log.spool();
        await sp.write(body);
        stored = await sp.finish();
      }
      await log.append({ messageId: 'ev-1', kind, side: 'consumer', client, service, time, header, signature: sig.bytes, bodyHash, bodyLength: body.length, body: stored });
    };
    await append('request', Buffer.from('{"van_ban":"Công văn 12/BNV"}'), false);
    await append('response', Buffer.alloc(120_000, 'r'), true); // a body file: streamed into the container
    await log.timestampNow(t.stamper);
    const seal = (m: Buffer) => signCades(m, { certificate: issued.der, chain: [t.issuing], scheme: 'ecdsa-sha256', sign: signFn });
    await pipeline(await log.evidence('ev-1'), createWriteStream(join(work, 'unsealed.asice')));
    await pipeline(await log.evidence('ev-1', { seal }), createWriteStream(join(work, 'sealed.asice')));
    await log.close();
    unsealed = readFileSync(join(work, 'unsealed.asice'));
    sealed = readFileSync(join(work, 'sealed.asice'));
  }, 120_000);

  it('the untouched containers, and the same entries rewritten by the probe\'s own ZIP writer, have no problems (baseline)', async () => {
    for (const c of [unsealed, sealed, writeZip(readZip(unsealed)), writeZip(readZip(sealed))]) {
      const { r, threw } = await check(c);
      expect(threw).toBeUndefined();
      expect(r!.problems).toEqual([]);
      expect(r!.records.map((x) => [x.kind, x.body, !!x.stampedAt])).toEqual([
        ['request', 'checked', true],
        ['response', 'checked', true],
      ]);
    }
    expect((await check(sealed)).r!.seal?.files).toBeGreaterThan(5);
  });

  /**
   * one bit flipped at five places in each entry's data, the container rewritten whole (CRC-32 right). A flip
   * is caught when it adds a problem, or (for the seal's own certificates) makes the seal "not checked"
   * (INDETERMINATE, as EN 319 102-1 has it): both say "not valid".
   */
  const entrySweep = async (container: Buffer, skip: (name: string, pos: number, data: Buffer) => boolean) => {
    const entries = readZip(container);
    const base = (await check(container)).r!;
    const missed: string[] = [];
    const threw: string[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (!e.data.length) continue;
      for (const pos of [...new Set([0, 1, 2, 3, 4].map((k) => Math.floor((e.data.length * k) / 5) + (k ? 1 : 0)))].filter((p) => p < e.data.length)) {
        if (skip(e.name, pos, e.data)) continue;
        const data = Buffer.from(e.data);
        data[pos]! ^= 0x01;
        const next = entries.map((x, k) => (k === i ? { name: x.name, data } : { name: x.name, data: x.data }));
        const { r, threw: err } = await check(writeZip(next));
        if (err) threw.push(`${e.name}+${pos}: ${err}`);
        else if (!r!.problems.length && r!.incomplete.length <= base.incomplete.length)
          missed.push(`${e.name}+${pos} (0x${e.data[pos]!.toString(16)}→0x${data[pos]!.toString(16)}${e.name.endsWith('.json') ? `, in ${JSON.stringify(e.data.toString('utf8', Math.max(0, pos - 24), pos + 8))}` : ''})`);
      }
    }
    return { missed, threw };
  };

  it('unsealed (`truc log evidence`): a bit flipped in any evidence file (record, chain, tree path, token, body, header, signature) is a problem', async () => {
    // README.txt and META-INF/manifest.xml prove nothing in an unsealed container (listed in the report)
    const { missed, threw } = await entrySweep(unsealed, (nm) => nm === 'README.txt' || nm === 'META-INF/manifest.xml');
    if (missed.length) console.log(`[unsealed entry flips] ${missed.length} judged valid:\n  ${missed.join('\n  ')}`);
    expect(threw).toEqual([]);
    expect(missed).toEqual([]);
  }, 90_000);

  it('unsealed: record.json, merkle.json and chain.json saying something else than the record (client, time, genTime, next) is a problem', async () => {
    const es = readZip(unsealed).map((e) => ({ name: e.name, data: e.data }));
    const json = (nm: string, f: (j: any) => void) =>  
      es.map((e) => {
        if (e.name !== nm) return e;
        const j = JSON.parse(e.data.toString('utf8'));
        f(j);
        return { name: e.name, data: Buffer.from(JSON.stringify(j, null, 2)) };
      });
    const edits: [string, ReturnType<typeof json>][] = [
      ['record.json client', json('records/1-request/record.json', (j) => (j.client = 'SUBSYSTEM:VN/GOV/000.00.00.G01/vanphong'))],
      ['record.json time', json('records/1-request/record.json', (j) => (j.time = '2025-01-01T00:00:00.000Z'))],
      ['record.json messageId', json('records/2-response/record.json', (j) => (j.messageId = 'ev-2'))],
      ['merkle.json genTime', json('records/1-request/merkle.json', (j) => (j.genTime = '2025-01-01T00:00:00.000Z'))],
      ['chain.json next', json('records/1-request/chain.json', (j) => (j.next = { seq: 7, chainHash: '00'.repeat(32) }))],
      ['chain.json recordDigest', json('records/2-response/chain.json', (j) => (j.recordDigest = '11'.repeat(32)))],
    ];
    const results: string[] = [];
    for (const [label, next] of edits) {
      const { r, threw } = await check(writeZip(next));
      results.push(`${label}: ${threw ?? (r!.problems.length ? 'problem' : 'VALID')}`);
    }
    console.log('[semantic edits] ' + results.join('; '));
    expect(results.filter((x) => !/: problem$/.test(x))).toEqual([]);
  });

  it('sealed: a bit flipped in any entry\'s data is a problem (META-INF/manifest.xml outside the seal by design; the CA copy in the CMS bag is unsigned by design)', async () => {
    const issuing = Buffer.from(t.issuing);
    const { missed, threw } = await entrySweep(sealed, (nm, pos, data) => {
      if (nm === 'META-INF/manifest.xml') return true;
      const at = nm.endsWith('.p7s') ? data.indexOf(issuing) : -1;
      return at >= 0 && pos >= at && pos < at + issuing.length;
    });
    if (missed.length) console.log(`[sealed entry flips] ${missed.length} judged valid:\n  ${missed.join('\n  ')}`);
    expect(threw).toEqual([]);
    expect(missed).toEqual([]);
  }, 90_000);

  it('an extra entry (a note in a record\'s folder) is a problem, sealed or not', async () => {
    const results: string[] = [];
    for (const [label, c] of [
      ['unsealed', unsealed],
      ['sealed', sealed],
    ] as const) {
      const es = readZip(c).map((e) => ({ name: e.name, data: e.data }));
      const withNote = [...es.slice(0, 3), { name: 'records/1-request/note.txt', data: Buffer.from('the sender admitted the debt') }, ...es.slice(3)];
      const r1 = await check(writeZip(withNote));
      results.push(`${label} + note.txt: ${r1.threw ?? (r1.r!.problems.length ? 'problem' : 'VALID')}`);
    }
    console.log('[extra entry] ' + results.join('; '));
    expect(results.filter((x) => /VALID|threw/.test(x))).toEqual([]);
  });

  it('ZIP ambiguity: a duplicated entry name (altered copy first, genuine copy last), or a local header naming another file than the central directory, is a problem', async () => {
    const results: string[] = [];
    for (const [label, c] of [
      ['unsealed', unsealed],
      ['sealed', sealed],
    ] as const) {
      const es = readZip(c).map((e) => ({ name: e.name, data: e.data }));
      const i = es.findIndex((e) => e.name.endsWith('response/body.bin'));
      const evil = Buffer.from(es[i]!.data);
      evil.fill('X', 0, 64);
      const dup = [...es.slice(0, i), { name: es[i]!.name, data: evil }, ...es.slice(i)];
      const r1 = await check(writeZip(dup));
      results.push(`${label} duplicate body.bin: ${r1.threw ?? (r1.r!.problems.length ? 'problem' : 'VALID')}`);
      const j = es.findIndex((e) => e.name.endsWith('request/header.json'));
      const renamed = es.map((e, k) => (k === j ? { ...e, localName: e.name.replace('header.json', 'headeX.json') } : e));
      const r2 = await check(writeZip(renamed));
      results.push(`${label} local name ≠ central name: ${r2.threw ?? (r2.r!.problems.length ? 'problem' : 'VALID')}`);
    }
    console.log('[zip ambiguity] ' + results.join('; '));
    expect(results.filter((x) => /VALID|threw/.test(x))).toEqual([]);
  });

  it('entries re-ordered: mimetype not first is a problem; the other entries in another order change nothing', async () => {
    const es = readZip(sealed).map((e) => ({ name: e.name, data: e.data }));
    const last = await check(writeZip([...es.slice(1), es[0]!]));
    expect(last.threw).toBeUndefined();
    expect(last.r!.problems.join()).toMatch(/mimetype/);
    const shuffled = await check(writeZip([es[0]!, ...es.slice(1).reverse()]));
    expect(shuffled.r!.problems).toEqual([]);
  });

  it('a bit flipped anywhere in the container file (150 seeded positions: headers, directory, data): checkEvidence reports, never throws', async () => {
    const threw: string[] = [];
    const valid: number[] = [];
    for (const [label, c] of [
      ['unsealed', unsealed],
      ['sealed', sealed],
    ] as const)
      for (const off of sample(75, c.length, 9)) {
        const b = Buffer.from(c);
        b[off]! ^= 0x01;
        const { r, threw: err } = await check(b);
        if (err) threw.push(`${label}@${off}: ${err}`);
        else if (!r!.problems.length) valid.push(off);
      }
    console.log(`[container flips] ${valid.length} valid (ZIP header fields that hold no content, e.g. CRC-32/date: not read), ${threw.length} threw:\n  ${threw.join('\n  ')}`);
    expect(threw).toEqual([]);
  }, 90_000);
});
