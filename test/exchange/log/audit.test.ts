/**
 * The message log as an auditor checks it (docs/exchange-log.md): evidence containers checked with tools the
 * project did not write (unzip, zipinfo, openssl, python's XML parser), and `truc log verify` / verifyLog on
 * damaged logs. Frames are located and chain hashes recomputed here by hand from the documented format
 * (`u32 length | u8 type | payload | 32-byte hash`, chain_n = SHA-256(chain_{n-1} || SHA-256(type || payload))),
 * not through the project's reader. Each test asserts the correct behaviour.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { MessageLog, verifyLog } from '../../../src/exchange/log/index.js';
import { tmp } from '../../helpers/openssl.js';
import { record, logDir, runTruc, stampedLog, testTsa, type TestTsa } from './fixtures.js';
import { frameBytes, frames, recordFrames } from './frames-by-hand.js';

const sha = (...b: Buffer[]) => {
  const h = createHash('sha256');
  for (const x of b) h.update(x);
  return h.digest();
};
const SEG = (dir: string, no = 1) => join(dir, 'segments', `${String(no).padStart(10, '0')}.seg`);


const truc = (...args: string[]) => runTruc(args, 60_000);

const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)|^\s+at /m);

describe('evidence containers judged by external tools', () => {
  let t: TestTsa;
  let dir: string;
  let work: string;
  beforeAll(async () => {
    t = await testTsa();
    dir = logDir();
    work = tmp('truc-probe-ev-');
    const log = await MessageLog.open({ dir });
    const cert = randomBytes(700);
    for (let i = 1; i <= 6; i++) await log.append(record(i, undefined, { messageId: `ex-${Math.ceil(i / 2)}`, kind: i % 2 ? 'request' : 'response', material: [cert] }));
    // a body kept in a file, and message ids with characters that XML and paths care about
    const sp = log.spool();
    await sp.write(Buffer.alloc(300_000, 'z'));
    const b = await sp.finish();
    await log.append(record(7, undefined, { messageId: 'ex-"4"&<x>/../..', kind: 'request', body: b, bodyHash: b.hash, bodyLength: b.length }));
    await log.append(record(8, undefined, { messageId: 'ex-"4"&<x>/../..', kind: 'response' }));
    await log.timestampNow(t.stamper);
    await log.append(record(9, undefined, { messageId: 'ex-late', kind: 'request' }));
    // sealed with a key and certificate made by openssl, the signature made by openssl too
    spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(work, 'seal.key'), '-out', join(work, 'seal.pem'), '-subj', '/CN=Probe Seal', '-days', '2']);
    const seal = async (m: Buffer) => {
      writeFileSync(join(work, 'm.xml'), m);
      const r = spawnSync('openssl', ['cms', '-sign', '-binary', '-outform', 'DER', '-in', join(work, 'm.xml'), '-signer', join(work, 'seal.pem'), '-inkey', join(work, 'seal.key'), '-out', join(work, 'sig.p7s')]);
      if (r.status !== 0) throw new Error(String(r.stderr));
      return readFileSync(join(work, 'sig.p7s'));
    };
    await pipeline(await log.evidence('ex-2'), createWriteStream(join(work, 'ex-2.asice')));
    await pipeline(await log.evidence('ex-"4"&<x>/../..', { seal }), createWriteStream(join(work, 'ex-4-sealed.asice')));
    await pipeline(await log.evidence('ex-late'), createWriteStream(join(work, 'ex-late.asice')));
    await log.close();
  }, 120_000);
  afterAll(async () => {
    await t.p.close();
  });

  const containers = ['ex-2.asice', 'ex-4-sealed.asice', 'ex-late.asice'];

  it('unzip -t accepts each container; names are relative, without "..", unique', () => {
    for (const c of containers) {
      const p = join(work, c);
      const test = spawnSync('unzip', ['-t', p], { encoding: 'utf8' });
      expect(test.status, test.stdout + test.stderr).toBe(0);
      const names = spawnSync('unzip', ['-Z1', p], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      expect(new Set(names).size).toBe(names.length);
      for (const n of names) {
        expect(n.startsWith('/')).toBe(false);
        expect(n.split('/')).not.toContain('..');
        expect(n).not.toMatch(/\\|^[A-Za-z]:/);
      }
    }
  });

  it('mimetype is the first entry, stored, without extra field, holding application/vnd.etsi.asic-e+zip (EN 319 162-1 §A.1)', () => {
    for (const c of containers) {
      const p = join(work, c);
      const z = readFileSync(p);
      // the local header of the first entry, read by hand
      expect(z.readUInt32LE(0)).toBe(0x04034b50);
      expect(z.readUInt16LE(8)).toBe(0); // stored
      const nameLen = z.readUInt16LE(26);
      expect(z.readUInt16LE(28)).toBe(0); // no extra field
      expect(z.subarray(30, 30 + nameLen).toString()).toBe('mimetype');
      expect(z.subarray(30 + nameLen, 30 + nameLen + 31).toString()).toBe('application/vnd.etsi.asic-e+zip');
      expect(z.readUInt32LE(18)).toBe(31); // sizes in the header, not a data descriptor
      expect(z.readUInt16LE(6) & 0x08).toBe(0);
      const zi = spawnSync('zipinfo', ['-v', p, 'mimetype'], { encoding: 'utf8' }).stdout;
      expect(zi).toMatch(/compression method:\s+none \(stored\)/);
      expect(zi).toMatch(/length of extra field:\s+0 bytes/);
      expect(spawnSync('unzip', ['-Z1', p], { encoding: 'utf8' }).stdout.split('\n')[0]).toBe('mimetype');
    }
  });

  it('the XML parts are well-formed (python xml parser) and META-INF/manifest.xml names exactly the files that exist', () => {
    for (const c of containers) {
      const x = join(work, c.replace('.asice', '-x'));
      mkdirSync(x, { recursive: true });
      expect(spawnSync('unzip', ['-o', '-q', join(work, c), '-d', x]).status).toBe(0);
      const names = spawnSync('unzip', ['-Z1', join(work, c)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      for (const xml of names.filter((n) => n.endsWith('.xml'))) {
        const r = spawnSync('python3', ['-c', 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])', join(x, xml)], { encoding: 'utf8' });
        expect(r.status, `${c} ${xml}: ${r.stderr}`).toBe(0);
      }
      const m = readFileSync(join(x, 'META-INF/manifest.xml'), 'utf8');
      const paths = [...m.matchAll(/manifest:full-path="([^"]*)"/g)].map((a) => a[1]!.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&amp;/g, '&'));
      expect(paths[0]).toBe('/');
      for (const p of paths.slice(1)) expect(names, `${c}: manifest names ${p}`).toContain(p);
      for (const n of names) if (n !== 'mimetype' && !n.startsWith('META-INF/')) expect(paths, `${c}: ${n} not in manifest.xml`).toContain(n);
    }
  });

  it('each record: the frame, the chain step, the body digest and the hash-tree path recomputed by hand; the RFC 3161 token read and verified by openssl ts', () => {
    for (const c of ['ex-2.asice', 'ex-4-sealed.asice']) {
      const x = join(work, c.replace('.asice', '-y'));
      mkdirSync(x, { recursive: true });
      expect(spawnSync('unzip', ['-o', '-q', join(work, c), '-d', x]).status).toBe(0);
      const recs = readdirSync(join(x, 'records'));
      expect(recs.length).toBe(2);
      for (const r of recs) {
        const d = join(x, 'records', r);
        const frame = readFileSync(join(d, 'record.bin'));
        const len = frame.readUInt32BE(0);
        expect(frame.length).toBe(5 + len + 32);
        expect(frame[4]).toBe(2);
        const payload = frame.subarray(5, 5 + len);
        const chain = JSON.parse(readFileSync(join(d, 'chain.json'), 'utf8'));
        const digest = sha(Buffer.of(2), payload);
        expect(chain.recordDigest).toBe(digest.toString('hex'));
        expect(sha(Buffer.from(chain.previous, 'hex'), digest).toString('hex')).toBe(chain.chainHash);
        expect(frame.subarray(5 + len).toString('hex')).toBe(chain.chainHash);
        const rj = JSON.parse(readFileSync(join(d, 'record.json'), 'utf8'));
        const body = readFileSync(join(d, 'body.bin'));
        expect(sha(body).toString('hex')).toBe(rj.bodyHash);
        expect(body.length).toBe(rj.bodyLength);
        // RFC 6962 audit path, recomputed here
        const mk = JSON.parse(readFileSync(join(d, 'merkle.json'), 'utf8'));
        expect(mk.leaf).toBe(chain.chainHash);
        let h = sha(Buffer.of(0), Buffer.from(mk.leaf, 'hex'));
        let idx = mk.index as number;
        let last = (mk.size as number) - 1;
        const path = (mk.path as string[]).map((p) => Buffer.from(p, 'hex'));
        let k = 0;
        while (last > 0) {
          if (idx % 2 === 1) h = sha(Buffer.of(1), path[k++]!, h);
          else if (idx < last) h = sha(Buffer.of(1), h, path[k++]!);
          idx = Math.floor(idx / 2);
          last = Math.floor(last / 2);
        }
        expect(k).toBe(path.length);
        expect(h.toString('hex')).toBe(mk.root);
        const tst = join(d, 'timestamp.tst');
        const text = spawnSync('openssl', ['ts', '-reply', '-in', tst, '-token_in', '-text'], { encoding: 'utf8' });
        expect(text.status, text.stderr).toBe(0);
        // the imprint, from openssl's hex dump of "Message data"
        const dump = text.stdout.split('Message data:')[1]!.split(/\n(?!\s+[0-9a-f]{4} - )/)[0]!;
        const imprint = [...dump.matchAll(/^\s+[0-9a-f]{4} - (.{47})/gm)].map((l) => l[1]!.replace(/[ -]/g, '')).join('');
        expect(imprint).toBe(mk.root);
        expect(text.stdout).toMatch(/Hash Algorithm: sha256/);
        const a1 = spawnSync('openssl', ['asn1parse', '-inform', 'DER', '-in', tst], { encoding: 'utf8' });
        expect(a1.status, a1.stderr).toBe(0);
        expect(a1.stdout).toMatch(/pkcs7-signedData|id-smime-ct-TSTInfo/);
        const cms = spawnSync('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', tst], { encoding: 'utf8' });
        expect(cms.status, cms.stderr).toBe(0);
        const ok = spawnSync('openssl', ['ts', '-verify', '-token_in', '-in', tst, '-digest', mk.root, '-CAfile', t.rootPath, '-untrusted', t.chainPath], { encoding: 'utf8' });
        expect(ok.status, ok.stdout + ok.stderr).toBe(0);
        const genTime = /Time stamp: (.+)/.exec(text.stdout)![1]!;
        expect(Math.abs(new Date(genTime).getTime() - new Date(mk.genTime).getTime())).toBeLessThan(1000);
      }
    }
  });

  it('sealed: openssl cms verifies the seal over ASiCManifest.xml; every file it names exists with that digest; every data file is named', () => {
    const x = join(work, 'ex-4-sealed-x');
    const cms = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', join(x, 'META-INF/signature001.p7s'), '-content', join(x, 'META-INF/ASiCManifest.xml'), '-CAfile', join(work, 'seal.pem'), '-purpose', 'any', '-out', '/dev/null'], { encoding: 'utf8' });
    expect(cms.status, cms.stderr).toBe(0);
    const m = readFileSync(join(x, 'META-INF/ASiCManifest.xml'), 'utf8');
    expect(m).toMatch(/<asic:SigReference URI="META-INF\/signature001\.p7s"/);
    const refs = [...m.matchAll(/<asic:DataObjectReference URI="([^"]+)"[^>]*>.*?<ds:DigestValue>([^<]+)<\/ds:DigestValue>/g)];
    const names = spawnSync('unzip', ['-Z1', join(work, 'ex-4-sealed.asice')], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    const listed = new Set<string>();
    for (const [, uri, value] of refs) {
      const n = decodeURI(uri!.replace(/&amp;/g, '&'));
      listed.add(n);
      expect(names).toContain(n);
      const dg = spawnSync('openssl', ['dgst', '-sha256', '-binary', join(x, n)]);
      expect(dg.stdout.toString('base64'), n).toBe(value);
    }
    for (const n of names) if (n !== 'mimetype' && !n.startsWith('META-INF/')) expect(listed.has(n), n).toBe(true);
  });

  it('a record exported before its time-stamp says so, and has no token', () => {
    const names = spawnSync('unzip', ['-Z1', join(work, 'ex-late.asice')], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    expect(names.some((n) => n.endsWith('NOT-YET-TIMESTAMPED.txt'))).toBe(true);
    expect(names.some((n) => n.endsWith('timestamp.tst'))).toBe(false);
  });
});

describe('truc log verify on damaged logs', () => {
  let t: TestTsa;
  let base: string;
  let multi: string;
  let trust: { trustedTsaCerts: Buffer[]; intermediates: Buffer[] };
  beforeAll(async () => {
    t = await testTsa();
    trust = { trustedTsaCerts: [t.root], intermediates: [t.issuing] };
    // one segment: 1..13 stamped in two batches (1..7, 8..13; 13 has its body in a file), 14..20 not yet stamped
    base = await stampedLog(t, 7);
    // several small segments, all stamped, two archives
    multi = logDir();
    const m = await MessageLog.open({ dir: multi, segmentBytes: 4096 });
    for (let i = 1; i <= 60; i++) await m.append(record(i));
    await m.timestampNow(t.stamper, 20);
    await m.timestampNow(t.stamper, 20);
    expect((await m.archive({ before: 15 })).archive).not.toBeNull();
    expect((await m.archive({ before: 30 })).archive).not.toBeNull();
    await m.timestampNow(t.stamper);
    for (let i = 61; i <= 70; i++) await m.append(record(i));
    await m.close();
  }, 120_000);
  afterAll(async () => {
    await t.p.close();
  });

  const copy = (from = base) => {
    const d = join(tmp('truc-probe-'), 'log');
    cpSync(from, d, { recursive: true });
    return d;
  };
  const edit = (path: string, f: (b: Buffer) => Buffer | void) => {
    const b = readFileSync(path);
    writeFileSync(path, f(b) ?? b);
  };

  it('the untouched logs verify', async () => {
    const v = await verifyLog({ dir: base, ...trust });
    expect(v.problem).toBeUndefined();
    expect([v.ok, v.records, v.unstamped]).toEqual([true, 20, 7]);
    const w = await verifyLog({ dir: multi, ...trust });
    expect(w.problem).toBeUndefined();
    expect([w.ok, w.records, w.archives]).toEqual([true, 70, 2]);
  });

  it('CLI: a flipped byte in a record, a body file, a segment header → exit 1, a specific message, no stack trace', async () => {
    const d1 = copy();
    const r4 = recordFrames(readFileSync(SEG(d1)))[3]!;
    edit(SEG(d1), (b) => void (b[r4.offset + 40] ^= 1));
    const d2 = copy();
    edit(join(d2, 'segments', '0000000001.bodies', '13.body'), (b) => void (b[777] ^= 1));
    const d3 = copy();
    edit(SEG(d3), (b) => void (b[20] ^= 1));
    const args = ['--trust', t.rootPath, '--untrusted', t.chainPath];
    const [a, b, c] = await Promise.all([truc('log', 'verify', d1, ...args), truc('log', 'verify', d2, ...args), truc('log', 'verify', d3, ...args)]);
    for (const r of [a, b, c]) {
      expect(r.status, r.stdout + r.stderr).toBe(1);
      noStack(r.stdout + r.stderr);
    }
    expect(a.stdout).toMatch(/0000000001\.seg.*record 4: chain hash/);
    expect(b.stdout).toMatch(/"seq":13.*body file does not match/);
    expect(c.stdout).toMatch(/0000000001\.seg.*bad segment header/);
  }, 120_000);

  it('a torn last record (crash mid-write) is a warning; the same cut inside stamped records is a break', async () => {
    const d = copy();
    const last = recordFrames(readFileSync(SEG(d))).at(-1)!;
    edit(SEG(d), (b) => b.subarray(0, last.offset + 17));
    const v = await verifyLog({ dir: d, ...trust });
    expect(v.problem).toBeUndefined();
    expect(v.ok).toBe(true);
    expect(v.records).toBe(19);
    expect(v.warnings.join()).toMatch(/torn write/);
    const d2 = copy();
    const r5 = recordFrames(readFileSync(SEG(d2)))[4]!;
    edit(SEG(d2), (b) => b.subarray(0, r5.offset + 17));
    const w = await verifyLog({ dir: d2, ...trust });
    expect(w.ok).toBe(false);
    expect(w.problem!.why).toMatch(/1\.\.7/);
  });

  it('a record cut out of the middle, and two segments swapped, are named', async () => {
    const d = copy();
    const fr = recordFrames(readFileSync(SEG(d)));
    edit(SEG(d), (b) => Buffer.concat([b.subarray(0, fr[15]!.offset), b.subarray(fr[15]!.end)])); // record 16, not stamped
    const v = await verifyLog({ dir: d, ...trust });
    expect(v.ok).toBe(false);
    expect(v.problem!.why).toMatch(/record 16/);
    const m = copy(multi);
    const segs = readdirSync(join(m, 'segments')).filter((n) => n.endsWith('.seg')).sort();
    expect(segs.length).toBeGreaterThan(3);
    const [s1, s2] = [join(m, 'segments', segs[1]!), join(m, 'segments', segs[2]!)];
    renameSync(s1, s1 + '.x');
    renameSync(s2, s1);
    renameSync(s1 + '.x', s2);
    const w = await verifyLog({ dir: m, ...trust });
    expect(w.ok).toBe(false);
    expect(w.problem!.where.file).toBe(s1);
    expect(w.problem!.why).toMatch(/segment header says/);
  });

  it('a byte flipped in an archive, and an archive whose link to the previous one is broken (header re-hashed), are named', async () => {
    const m = copy(multi);
    edit(join(m, 'archives', '00000002.tlog'), (b) => void (b[b.length >> 1] ^= 1));
    const v = await verifyLog({ dir: m, ...trust });
    expect(v.ok).toBe(false);
    expect(v.problem!.where.archive).toBe(2);
    const m2 = copy(multi);
    edit(join(m2, 'archives', '00000002.tlog'), (b) => {
      const h = frames(b)[0]!;
      const payload = Buffer.from(h.payload);
      payload[16 + 1 + 16 + 8] ^= 1; // magic, version, log id, archive number: then the previous archive's hash
      return Buffer.concat([frameBytes(h.type, payload, sha(Buffer.of(h.type), payload)), b.subarray(h.end)]);
    });
    const w = await verifyLog({ dir: m2, ...trust });
    expect(w.ok).toBe(false);
    expect(w.problem!.where.archive).toBe(2);
    // the newest archive: its hash is also in archives/LAST, which says so first
    expect(w.problem!.why).toMatch(/not the file the log recorded/);
    // without that note, the broken link itself is named
    rmSync(join(m2, 'archives', 'LAST'));
    const w2 = await verifyLog({ dir: m2, ...trust });
    expect([w2.ok, w2.problem!.where.archive]).toEqual([false, 2]);
    expect(w2.problem!.why).toMatch(/does not link to the previous archive/);
  });

  it('a huge length field in an archive, and in a segment that is not the last, is a break naming the file', async () => {
    const m = copy(multi);
    const a = join(m, 'archives', '00000001.tlog');
    edit(a, (b) => void b.writeUInt32BE(0xfffffff0, frames(b)[1]!.offset));
    const v = await verifyLog({ dir: m, ...trust });
    expect(v.ok).toBe(false);
    expect(v.problem!.where.archive).toBe(1);
    const m2 = copy(multi);
    const segs = readdirSync(join(m2, 'segments')).filter((n) => n.endsWith('.seg')).sort();
    const p = join(m2, 'segments', segs[0]!);
    edit(p, (b) => void b.writeUInt32BE(0xfffffff0, recordFrames(b)[1]!.offset));
    const w = await verifyLog({ dir: m2, ...trust });
    expect(w.ok).toBe(false);
    expect(w.problem!.where.file).toBe(p);
  });

  /** the stamp file with batch `n`'s token replaced, the stamp chain recomputed */
  const replaceToken = (d: string, n: number, token: Buffer) =>
    edit(join(d, 'stamps'), (b) => {
      const fs = frames(b);
      const out: Buffer[] = [b.subarray(0, fs[0]!.end)];
      let prev: Buffer = Buffer.alloc(0);
      for (let i = 1; i < fs.length; i++) {
        let p: Buffer = Buffer.from(fs[i]!.payload);
        if (i === n) {
          // u64 batch, u64 first, u64 last, 32 root, f64 time, u32 token length, token
          const head = p.subarray(0, 8 * 3 + 32 + 8);
          const l = Buffer.alloc(4);
          l.writeUInt32BE(token.length);
          p = Buffer.concat([head, l, token]);
        }
        const hash = i < n ? fs[i]!.hash : sha(prev, sha(Buffer.of(4), p));
        out.push(frameBytes(4, p, hash));
        prev = hash;
      }
      return Buffer.concat(out);
    });

  it('a genuine token of the same TSA over other data, put in place of a batch\'s token, is found', async () => {
    const d = copy();
    const other = await t.stamper.stamp(randomBytes(32), 'sha256');
    replaceToken(d, 2, Buffer.from(other));
    const v = await verifyLog({ dir: d, ...trust });
    expect(v.ok).toBe(false);
    expect(v.problem!.where.batch).toBe(2);
    expect(v.problem!.why).toMatch(/does not stamp the batch root/);
  });

  it('without --trust, an unreadable token (stamp chain recomputed) is reported as a break, not thrown', async () => {
    const d = copy();
    replaceToken(d, 2, Buffer.from('not a token'));
    const v = await verifyLog({ dir: d, trustedTsaCerts: [] }).catch((e: Error) => ({ threw: e.message }));
    expect(v).not.toHaveProperty('threw');
    expect((v as { ok: boolean }).ok).toBe(false);
    expect((v as { problem?: { where: { batch?: number } } }).problem?.where.batch).toBe(2);
    const cli = await truc('log', 'verify', d);
    expect(cli.status, cli.stdout + cli.stderr).toBe(1);
  });

  it('empty files: LOG, stamps, a segment in the middle → a clear message, no stack trace', async () => {
    const a = copy();
    writeFileSync(join(a, 'LOG'), '');
    const b = copy();
    writeFileSync(join(b, 'stamps'), '');
    const c = copy(multi);
    const segs = readdirSync(join(c, 'segments')).filter((n) => n.endsWith('.seg')).sort();
    writeFileSync(join(c, 'segments', segs[1]!), '');
    const args = ['--trust', t.rootPath, '--untrusted', t.chainPath];
    const [ra, rb, rc] = await Promise.all([truc('log', 'verify', a, ...args), truc('log', 'verify', b, ...args), truc('log', 'verify', c, ...args, '--json')]);
    for (const r of [ra, rb, rc]) noStack(r.stdout + r.stderr);
    expect(ra.status).toBe(3);
    expect(ra.stderr).toMatch(/LOG/);
    expect(rb.status).toBe(1);
    expect(rb.stdout).toMatch(/stamps.*bad stamp file header/);
    expect(rc.status).toBe(1);
    const p = JSON.parse(rc.stdout).problem;
    expect(p.where.file).toBe(join(c, 'segments', segs[1]!));
    expect(p.why).toMatch(/empty segment/);
  }, 120_000);

  it('a zero-length last segment (crash while rolling over, docs "Crash recovery") is a torn tail: a warning, not a break', async () => {
    const m = copy(multi);
    const segs = readdirSync(join(m, 'segments')).filter((n) => n.endsWith('.seg')).sort();
    const next = Number(segs.at(-1)!.slice(0, 10)) + 1;
    writeFileSync(SEG(m, next), '');
    const v = await verifyLog({ dir: m, ...trust });
    expect(v.problem).toBeUndefined();
    expect(v.records).toBe(70);
    // and what the writer makes of it: removed, nothing else lost
    const log = await MessageLog.open({ dir: m });
    await log.close();
    expect(existsSync(SEG(m, next))).toBe(false);
    expect((await verifyLog({ dir: m, ...trust })).ok).toBe(true);
  });

  it('a huge length field (never written by the log: > 64 MiB) in the middle of the last segment is damage, not a torn write', async () => {
    const d = copy();
    const r16 = recordFrames(readFileSync(SEG(d)))[15]!;
    edit(SEG(d), (b) => void b.writeUInt32BE(0xfffffff0, r16.offset));
    const v = await verifyLog({ dir: d, ...trust });
    expect(v.ok).toBe(false); // records 16..20 are in the file, unread
    expect(v.problem?.where.offset).toBe(r16.offset);
    const cli = await truc('log', 'verify', d, '--trust', t.rootPath, '--untrusted', t.chainPath);
    expect(cli.status, cli.stdout).toBe(1);
    expect(cli.ms).toBeLessThan(30_000);
  }, 60_000);

  it('a huge length field in a stamped record names the record\'s place, not only a batch', async () => {
    const d = copy();
    const r3 = recordFrames(readFileSync(SEG(d)))[2]!;
    edit(SEG(d), (b) => void b.writeUInt32BE(0xfffffff0, r3.offset));
    const v = await verifyLog({ dir: d, ...trust });
    expect(v.ok).toBe(false);
    expect(v.problem?.where.segment).toBe(1);
    expect(v.problem?.where.offset).toBe(r3.offset);
  });

  it('a huge length field in the stamp file drops its batches: the verifier must not then take the records as merely "not yet stamped"', async () => {
    const d = copy();
    const fs = frames(readFileSync(join(d, 'stamps')));
    edit(join(d, 'stamps'), (b) => void b.writeUInt32BE(0xfffffff0, fs[2]!.offset)); // batch 2's frame
    const v = await verifyLog({ dir: d, ...trust });
    expect(v.ok).toBe(false);
  });

  it('…which would let stamped records be rewritten unseen: record 10 changed, the chain recomputed after it, batch 2 "torn"', async () => {
    const d = copy();
    const seg = readFileSync(SEG(d));
    const fr = frames(seg);
    const out: Buffer[] = [seg.subarray(0, fr[0]!.end)];
    let prev: Buffer | null = null;
    let seq = 0;
    for (const f of fr.slice(1)) {
      if (f.type !== 2) {
        out.push(seg.subarray(f.offset, f.end));
        continue;
      }
      seq++;
      let p = Buffer.from(f.payload);
      if (seq === 10) {
        const at = p.indexOf(Buffer.from('vanthu'));
        p.write('VANTHU', at); // the client, as it is kept
      }
      if (seq < 10) {
        out.push(seg.subarray(f.offset, f.end));
        prev = f.hash;
        continue;
      }
      const h = sha(prev!, sha(Buffer.of(2), p));
      out.push(frameBytes(2, p, h));
      prev = h;
      void p;
      p = Buffer.alloc(0);
    }
    writeFileSync(SEG(d), Buffer.concat(out));
    // the rewrite alone: the chain holds, only batch 2's root shows it
    const alone = await verifyLog({ dir: d, ...trust });
    expect(alone.problem?.where.batch).toBe(2);
    expect(alone.problem?.why).toMatch(/batch root is not the hash-tree root/);
    const fs = frames(readFileSync(join(d, 'stamps')));
    edit(join(d, 'stamps'), (b) => void b.writeUInt32BE(0xfffffff0, fs[2]!.offset));
    const v = await verifyLog({ dir: d, ...trust });
    expect(v.ok).toBe(false);
  });

  it('the oldest live segment deleted from a log that never archived anything is a break, not "archived and deleted"', async () => {
    const m = join(tmp('truc-probe-'), 'log');
    const log = await MessageLog.open({ dir: m, segmentBytes: 4096 });
    for (let i = 1; i <= 40; i++) await log.append(record(i));
    await log.timestampNow(t.stamper, 10);
    await log.timestampNow(t.stamper);
    await log.close();
    expect(existsSync(join(m, 'archives', 'LAST'))).toBe(false);
    unlinkSync(SEG(m, 1));
    const v = await verifyLog({ dir: m, ...trust });
    // the stamp file starts at batch 1 from the genesis hash and batch 1 covers records that are gone
    expect(v.ok).toBe(false);
    expect(v.problem).toBeDefined();
  });

  it('the live segments that followed the newest archive deleted (archives/LAST names where the live log must start) is a break', async () => {
    const m = copy(multi);
    const last = JSON.parse(readFileSync(join(m, 'archives', 'LAST'), 'utf8'));
    rmSync(join(m, 'archives'), { recursive: true }); // all archives gone: may be retention …
    mkdirSync(join(m, 'archives'));
    writeFileSync(join(m, 'archives', 'LAST'), JSON.stringify(last));
    const segs = readdirSync(join(m, 'segments')).filter((n) => n.endsWith('.seg')).sort();
    unlinkSync(join(m, 'segments', segs[0]!)); // … but not the oldest live segment, which no archive holds
    const v = await verifyLog({ dir: m, ...trust });
    expect(v.ok).toBe(false);
  });

  it('a view opened beside a log with a half-written record changes nothing and refuses to write', async () => {
    const d = copy();
    edit(SEG(d), (b) => Buffer.concat([b, Buffer.from([0, 0, 1, 0, 2, 9, 9])]));
    const size = statSync(SEG(d)).size;
    const view = await MessageLog.open({ dir: d, readOnly: true });
    try {
      expect(view.last.seq).toBe(20);
      await expect(view.append(record(21))).rejects.toThrow(/open for reading only/);
    } finally {
      await view.close();
    }
    expect(statSync(SEG(d)).size).toBe(size);
    expect(existsSync(join(d, 'quarantine')) && readdirSync(join(d, 'quarantine')).length).toBeFalsy();
    const v = await verifyLog({ dir: d, ...trust });
    expect(v.ok).toBe(true);
    expect(v.warnings.join()).toMatch(/torn/);
  });
});
