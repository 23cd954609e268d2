import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, sign as nodeSign } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import { MessageLog, checkEvidence, verifyLog, rootFromAuditPath, type LogEvent } from '../../../src/exchange/log/index.js';
import type { TimeStamper } from '../../../src/sign/signer.js';
import { openssl, opensslCsr, opensslStatus, tmp } from '../../helpers/openssl.js';
import { signCades } from '../../../src/sign/cades/sign.js';
import { record, logDir, testTsa, type TestTsa } from './fixtures.js';

describe('time-stamping, grace period and evidence with the platform TSA', () => {
  let t: TestTsa;
  beforeAll(async () => {
    t = await testTsa();
  }, 60_000);
  afterAll(async () => {
    await t.p.close();
  });

  it('stamps waiting records in batches through a hash tree; the verifier checks roots and TSA signatures', async () => {
    const dir = logDir();
    const log = await MessageLog.open({ dir });
    for (let i = 1; i <= 25; i++) await log.append(record(i));
    expect(log.health().unstamped).toBe(25);
    expect((await log.timestampNow(t.stamper, 10)).stamped).toBe(10);
    expect((await log.timestampNow(t.stamper, 10)).stamped).toBe(10);
    expect(log.health().unstamped).toBe(5);
    for (let i = 26; i <= 30; i++) await log.append(record(i));
    expect((await log.timestampNow(t.stamper)).stamped).toBe(10);
    expect((await log.timestampNow(t.stamper)).stamped).toBe(0);
    const h = log.health();
    expect(h.unstamped).toBe(0);
    expect(h.lastTimestampAt).toBeInstanceOf(Date);
    expect(h.oldestUnstampedAt).toBeNull();
    await log.append(record(31));
    await log.close();
    const v = await verifyLog({ dir, trustedTsaCerts: [t.root], intermediates: [t.issuing] });
    expect(v.problem).toBeUndefined();
    expect(v.ok).toBe(true);
    expect(v.batches).toBe(3);
    expect(v.records).toBe(31);
    expect(v.unstamped).toBe(1);
    // the TSA's own certificate, pinned, is accepted too; a foreign anchor is not
    expect((await verifyLog({ dir, trustedTsaCerts: [t.tsa.certificate()] })).ok).toBe(true);
    expect((await verifyLog({ dir, trustedTsaCerts: [t.issuing] })).ok).toBe(true);
    const fdir = tmp('truc-foreign-');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(fdir, 'k.pem'), '-out', join(fdir, 'c.der'), '-outform', 'DER', '-subj', '/CN=Foreign Root', '-days', '30']);
    const wrong = await verifyLog({ dir, trustedTsaCerts: [readFileSync(join(fdir, 'c.der'))], intermediates: [t.issuing] });
    expect(wrong.ok).toBe(false);
    expect(wrong.problem?.why).toMatch(/does not verify/);
  });

  it('refuses after the grace period while every TSA fails, and recovers by itself when one answers', async () => {
    const T0 = Date.parse('2026-12-01T08:00:00Z');
    let now = new Date(T0);
    const dir = logDir();
    const log = await MessageLog.open({ dir, clock: () => now });
    let down = true;
    const flaky: TimeStamper = {
      stamp: async (imprint, hash) => {
        if (down) throw new Error('connect ECONNREFUSED (TSA down)');
        return t.stamper.stamp(imprint, hash);
      },
    };
    const alwaysDown: TimeStamper = { stamp: async () => Promise.reject(new Error('HTTP 503')) };
    const events: LogEvent[] = [];
    log.startTimestamping({ stampers: [alwaysDown, flaky], intervalMs: 3_600_000, graceMs: 4 * 3_600_000, onEvent: (e) => events.push(e) });
    await log.append(record(1, undefined, { time: now }));
    await log.tick();
    expect(events.map((e) => e.type)).toContain('timestamp_failed');
    expect(log.health().refusing).toBe(false);
    expect(log.health().lastError).toMatch(/HTTP 503.*TSA down/);
    now = new Date(T0 + 2 * 3_600_000);
    await log.append(record(2, undefined, { time: now }));
    await log.tick();
    expect(log.health().refusing).toBe(false);
    now = new Date(T0 + 4 * 3_600_000 + 1000);
    await log.tick();
    expect(log.health().refusing).toBe(true);
    expect(events.map((e) => e.type)).toContain('refusing');
    expect(log.health().oldestUnstampedAt!.getTime()).toBe(T0);
    // the TSA comes back: the next round stamps and the server accepts again, no restart
    down = false;
    now = new Date(T0 + 5 * 3_600_000);
    await log.tick();
    const h = log.health();
    expect(h.refusing).toBe(false);
    expect(h.unstamped).toBe(0);
    expect(h.lastTimestampAt!.getTime()).toBe(now.getTime());
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['timestamp_recovered', 'resumed']));
    expect(events.findIndex((e) => e.type === 'resumed')).toBeGreaterThan(events.findIndex((e) => e.type === 'refusing'));
    await log.close();
    // the state survives a restart: stamped records stay stamped
    const again = await MessageLog.open({ dir, clock: () => now });
    expect(again.health().unstamped).toBe(0);
    await again.close();
  });

  it('catches up a backlog with several full batches in one round', async () => {
    const dir = logDir();
    const log = await MessageLog.open({ dir });
    await Promise.all(Array.from({ length: 1050 }, (_, i) => log.append(record(i + 1))));
    log.startTimestamping({ stampers: [t.stamper], intervalMs: 3_600_000, batchLimit: 100 });
    await log.tick();
    expect(log.health().unstamped).toBe(0);
    await log.close();
    const v = await verifyLog({ dir, trustedTsaCerts: [t.root], intermediates: [t.issuing] });
    expect(v.problem).toBeUndefined();
    expect(v.ok).toBe(true);
    expect(v.batches).toBe(11);
  });

  it('gives per-message evidence as an ASiC-E container that unzip accepts and whose token openssl verifies', async () => {
    const dir = logDir();
    const log = await MessageLog.open({ dir });
    for (let i = 1; i <= 6; i++) await log.append(record(i));
    // one exchange: its request inline, its response spooled (streamed into the container)
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 'dữ liệu ');
    await log.append(record(7, Buffer.from('{"q":"hồ sơ 7"}'), { messageId: 'ex-7', kind: 'request' }));
    const sp = log.spool();
    await sp.write(big);
    const b = await sp.finish();
    await log.append(record(8, undefined, { messageId: 'ex-7', kind: 'response', body: b, bodyHash: b.hash, bodyLength: b.length }));
    for (let i = 9; i <= 12; i++) await log.append(record(i));
    await log.timestampNow(t.stamper);
    const out = join(tmp('truc-evidence-'), 'ex-7.asice');
    await pipeline(await log.evidence('ex-7'), createWriteStream(out));
    await log.close();
    const zipBytes = readFileSync(out);
    expect(zipBytes.subarray(30, 38).toString()).toBe('mimetype');
    expect(zipBytes.subarray(38, 38 + 31).toString()).toBe('application/vnd.etsi.asic-e+zip');
    const test = spawnSync('unzip', ['-t', out], { encoding: 'utf8' });
    expect(test.status, test.stdout + test.stderr).toBe(0);
    expect(test.stdout).toMatch(/No errors detected/);
    const x = join(tmp('truc-evidence-x-'), 'x');
    mkdirSync(x);
    expect(spawnSync('unzip', ['-q', out, '-d', x]).status).toBe(0);
    const list = spawnSync('unzip', ['-Z1', out], { encoding: 'utf8' }).stdout.trim().split('\n');
    expect(list[0]).toBe('mimetype');
    expect(list).toEqual(expect.arrayContaining(['META-INF/manifest.xml', 'records/7-request/body.bin', 'records/8-response/body.bin', 'records/8-response/timestamp.tst']));
    expect(readFileSync(join(x, 'records/8-response/body.bin')).equals(big)).toBe(true);
    for (const r of ['7-request', '8-response']) {
      const chain = JSON.parse(readFileSync(join(x, 'records', r, 'chain.json'), 'utf8'));
      const frame = readFileSync(join(x, 'records', r, 'record.bin'));
      const digest = createHash('sha256').update(frame.subarray(4, frame.length - 32)).digest();
      const ch = createHash('sha256').update(Buffer.from(chain.previous, 'hex')).update(digest).digest();
      expect(ch.toString('hex')).toBe(chain.chainHash);
      const m = JSON.parse(readFileSync(join(x, 'records', r, 'merkle.json'), 'utf8'));
      expect(rootFromAuditPath(Buffer.from(m.leaf, 'hex'), m.index, m.size, m.path.map((p: string) => Buffer.from(p, 'hex')))!.toString('hex')).toBe(m.root);
      expect(m.leaf).toBe(chain.chainHash);
      const ok = opensslStatus(['ts', '-verify', '-in', join(x, 'records', r, 'timestamp.tst'), '-token_in', '-digest', m.root, '-CAfile', t.rootPath, '-untrusted', t.chainPath]);
      expect(ok.out).toMatch(/Verification: OK/);
      const bad = opensslStatus(['ts', '-verify', '-in', join(x, 'records', r, 'timestamp.tst'), '-token_in', '-digest', '00'.repeat(32), '-CAfile', t.rootPath, '-untrusted', t.chainPath]);
      expect(bad.out).not.toMatch(/Verification: OK/);
    }
    writeFileSync(join(x, 'done'), '');
    await expect(MessageLog.open({ dir }).then(async (l) => {
      try {
        return await l.evidence('no-such-message');
      } finally {
        await l.close();
      }
    })).rejects.toThrow(/no logged message/);
  });

  it('sealed evidence is an ASiC-E with CAdES: openssl checks the signature over the ASiCManifest, and the manifest the files', async () => {
    const dir = logDir();
    const log = await MessageLog.open({ dir });
    for (let i = 1; i <= 3; i++) await log.append(record(i));
    await log.append(record(4, Buffer.from('{"q":"hồ sơ 4"}'), { messageId: 'ex-4', kind: 'request' }));
    const sp = log.spool();
    await sp.write(Buffer.alloc(200_000, 'văn bản '));
    const b = await sp.finish();
    await log.append(record(5, undefined, { messageId: 'ex-4', kind: 'response', body: b, bodyHash: b.hash, bodyLength: b.length }));
    await log.timestampNow(t.stamper);
    // the member's signing key and certificate, issued by the platform's CA
    const { csr, keyPath } = opensslCsr(t.dir, '/C=VN/O=UBND TP.HCM/CN=Máy chủ an ninh ss-hcm');
    const issued = await t.p.issuer.issue({ profile: 'official-signing', csr }, 'ra1');
    const key = createPrivateKey(readFileSync(keyPath));
    const signer = { certificate: issued.der, chain: [t.issuing], scheme: 'ecdsa-sha256' as const, sign: (d: Uint8Array) => nodeSign('sha256', d, { key, dsaEncoding: 'der' }) };
    const out = join(tmp('truc-evidence-sealed-'), 'ex-4.asice');
    await pipeline(await log.evidence('ex-4', { seal: (m) => signCades(m, signer) }), createWriteStream(out));
    await log.close();
    expect(spawnSync('unzip', ['-t', out], { encoding: 'utf8' }).stdout).toMatch(/No errors detected/);
    const list = spawnSync('unzip', ['-Z1', out], { encoding: 'utf8' }).stdout.trim().split('\n');
    expect(list[0]).toBe('mimetype');
    expect(list).toEqual(expect.arrayContaining(['META-INF/ASiCManifest.xml', 'META-INF/signature001.p7s', 'records/5-response/body.bin']));
    const x = join(tmp('truc-evidence-sealed-x-'), 'x');
    mkdirSync(x);
    expect(spawnSync('unzip', ['-q', out, '-d', x]).status).toBe(0);
    const manifestPath = join(x, 'META-INF/ASiCManifest.xml');
    const sigPath = join(x, 'META-INF/signature001.p7s');
    const ok = opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-in', sigPath, '-content', manifestPath, '-CAfile', t.rootPath, '-purpose', 'any', '-out', '/dev/null']);
    expect(ok.out).toMatch(/Verification successful/);
    // every data file is listed with its SHA-256, computed here by openssl
    const manifest = readFileSync(manifestPath, 'utf8');
    const refs = [...manifest.matchAll(/<asic:DataObjectReference URI="([^"]+)" MimeType="[^"]+"><ds:DigestMethod Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmlenc#sha256"\/><ds:DigestValue>([^<]+)<\/ds:DigestValue>/g)];
    const files = list.filter((n) => n !== 'mimetype' && !n.startsWith('META-INF/') && !n.endsWith('/'));
    expect(refs.map((r) => r[1]).sort()).toEqual(files.sort());
    for (const [, uri, digest] of refs) {
      const dgst = spawnSync('openssl', ['dgst', '-sha256', '-binary', join(x, decodeURI(uri!))]);
      expect(dgst.stdout.toString('base64'), uri).toBe(digest);
    }
    expect(manifest).toMatch(/<asic:SigReference URI="META-INF\/signature001\.p7s"/);
    // the offline check: the seal and the files agree, the records' chain, tree and token hold; these test
    // records carry no real message signature, and the check says so rather than passing them
    const checked = await checkEvidence(out, { trust: [t.root], intermediates: [t.issuing] });
    expect(checked.seal?.files).toBe(refs.length);
    expect(checked.records.map((r) => [r.folder, r.body, !!r.stampedAt])).toEqual([
      ['records/4-request', 'checked', true],
      ['records/5-response', 'checked', true],
    ]);
    expect(checked.problems).toEqual([
      'records/4-request: gói không chứa chứng thư ký mà phần đầu nêu / the signing certificate the header names is not in the container',
      'records/5-response: gói không chứa chứng thư ký mà phần đầu nêu / the signing certificate the header names is not in the container',
    ]);
    // not a container at all
    const notZip = join(x, 'not.asice');
    writeFileSync(notZip, 'PK but not really');
    // (a damaged container is broken evidence, a problem: not an error that would read as "not fully checked")
    expect((await checkEvidence(notZip, { trust: [t.root] })).problems).toEqual([expect.stringMatching(/not a ZIP file/)]);
    // an end record claiming a directory of almost 4 GiB is refused before anything is read into memory
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(5, 8);
    eocd.writeUInt16LE(5, 10);
    eocd.writeUInt32LE(0xfffffff0, 12);
    writeFileSync(notZip, Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(100), eocd]));
    expect((await checkEvidence(notZip, { trust: [t.root] })).problems).toEqual([expect.stringMatching(/central directory is over/)]);
    // a changed manifest no longer verifies
    writeFileSync(manifestPath, manifest.replace(refs[0]![2]!, Buffer.alloc(32).toString('base64')));
    const bad = opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-in', sigPath, '-content', manifestPath, '-CAfile', t.rootPath, '-purpose', 'any', '-out', '/dev/null']);
    expect(bad.out).not.toMatch(/Verification successful/);
  });
});
