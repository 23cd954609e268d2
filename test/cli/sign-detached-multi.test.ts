/**
 * `truc sign xades --detached` over several files, and `truc augment` with several `--content` (issue 21): one
 * detached signature whose references name the files by their names (one with a space), raised to B-LTA with the
 * same files. xmlsec1 verifies the XML-DSig core of both (it reads the files the URIs name from its working
 * folder); our validator, given the files, finds each reference's file and the signature TOTAL-PASSED at B-LTA,
 * offline. Refused with exit 3, nothing written: B-LTA with a file missing (a reference would go unstamped), and
 * several files without --detached. And an ISO-8859-2 document signed and augmented by the CLI keeps its bytes.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateFile } from '../../src/sign/index.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { judgeXades, splitChain, type Trust } from '../sign/judges.js';

const dataDir = tmp('truc-cli-multi-');
const env = { ...process.env, TRUC_DATA_DIR: dataDir, TRUC_KEY_PASSPHRASE: 'cli multi passphrase', TRUC_LOG_LEVEL: 'warn' };
delete (env as Record<string, string | undefined>).TRUC_DATABASE_URL;

function truc(...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/truc.js', ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const FILES: Record<string, Buffer> = {
  'to-trinh.pdf': Buffer.from('%PDF-1.7\n% Tờ trình số 14/TTr-STC\n%%EOF\n'),
  'phu luc 1.txt': Buffer.from('Phụ lục 1: danh mục tài sản\n'),
  'bang-ke.csv': Buffer.from('stt,tai_san,gia_tri\n1,Máy chủ,250000000\n'),
};

describe('truc sign --detached over several files, truc augment with several contents', () => {
  const dir = tmp('truc-cli-multi-files-');
  let trust: Trust;
  let root: Buffer;
  let keyPath: string;
  let cert: string;
  const paths = Object.keys(FILES).map((n) => join(dir, n));

  beforeAll(() => {
    expect(truc('ca', 'init').status).toBe(0);
    const made = opensslCsr(dir, '/C=VN/O=Sở Tài chính/CN=Lê Thị Hồng');
    keyPath = made.keyPath;
    cert = join(dir, 'cert.pem');
    const issued = truc('ca', 'issue', '--csr', made.csrPath, '--profile', 'official-signing', '--out', cert, '--chain');
    expect(issued.status, issued.stderr).toBe(0);
    const chain = splitChain(readFileSync(cert, 'utf8'));
    trust = { dir, rootPath: join(dir, 'root.pem'), issuingPath: join(dir, 'issuing.pem') };
    writeFileSync(trust.rootPath, chain.root);
    writeFileSync(trust.issuingPath, chain.issuing);
    root = Buffer.from(new X509Certificate(chain.root).raw);
    for (const [name, bytes] of Object.entries(FILES)) writeFileSync(join(dir, name), bytes);
  }, 60_000);

  it('one signature naming each file; raised to B-LTA with the files; xmlsec1 and our validator agree', async () => {
    const sig = join(dir, 'ho-so.sig.xml');
    const s = truc('--json', 'sign', 'xades', ...paths, '--detached', '--out', sig, '--key-pem', keyPath, '--cert-pem', cert);
    expect(s.status, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ files: Object.keys(FILES), level: 'B-B' });
    const xml = readFileSync(sig, 'utf8');
    expect(xml).toContain('URI="phu%20luc%201.txt"');
    const j = judgeXades(trust, readFileSync(sig));
    expect(j.ok, j.out).toBe(true);
    expect(j.out).toMatch(/SignedInfo References \(ok\/all\): 4\/4/);

    const lta = join(dir, 'ho-so.lta.xml');
    const a = truc('--json', 'augment', 'xades', sig, '--out', lta, '--level', 'B-LTA', ...paths.flatMap((p) => ['--content', p]));
    expect(a.status, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ from: 'B-B', level: 'B-LTA', changed: true });
    const jl = judgeXades(trust, readFileSync(lta));
    expect(jl.ok, jl.out).toBe(true);
    const documents = Object.entries(FILES).map(([name, content]) => ({ name, content }));
    const r = (await validateFile(readFileSync(lta), { trustAnchors: [root], revocation: { mode: 'hard-fail' }, content: documents })).signatures[0]!;
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
    expect(r.timestamps!.every((t) => t.valid)).toBe(true);
    expect(r.signedData!.filter((d) => d.detached).map((d) => [d.file, d.matchedBy, d.digestMatches])).toEqual(Object.keys(FILES).map((n) => [n, 'uri', true]));
    // a file changed after: the archive time-stamp and the reference both fail
    const changed = documents.map((d) => (d.name === 'bang-ke.csv' ? { ...d, content: Buffer.from(d.content.toString().replace('250000000', '260000000')) } : d));
    expect((await validateFile(readFileSync(lta), { trustAnchors: [root], content: changed })).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
  }, 120_000);

  it('an ISO-8859-2 document: truc sign xades and truc augment keep its bytes and encoding; xmlsec1 verifies, TOTAL-PASSED', async () => {
    const doc = join(dir, 'latin2.xml');
    const bytes = Buffer.concat([Buffer.from('<?xml version="1.0" encoding="ISO-8859-2"?>\n<Irat><Nev>Sz', 'latin1'), Buffer.from([0xfb]), Buffer.from('cs ', 'latin1'), Buffer.from([0xd5]), Buffer.from('d', 'latin1'), Buffer.from([0xf6]), Buffer.from('n</Nev></Irat>\n', 'latin1')]);
    writeFileSync(doc, bytes); // Szűcs Ődön in ISO-8859-2 (FB ű, D5 Ő, F6 ö)
    const body = bytes.subarray(0, bytes.indexOf('</Irat>'));
    const signed = join(dir, 'latin2.signed.xml');
    const s = truc('sign', 'xades', doc, '--out', signed, '--key-pem', keyPath, '--cert-pem', cert);
    expect(s.status, s.stderr).toBe(0);
    const bt = join(dir, 'latin2.bt.xml');
    const a = truc('augment', 'xades', signed, '--out', bt, '--level', 'B-T');
    expect(a.status, a.stderr).toBe(0);
    for (const f of [signed, bt]) {
      const out = readFileSync(f);
      expect(out.subarray(0, body.length).equals(body), `${f}: the document's bytes`).toBe(true);
      const j = judgeXades(trust, out);
      expect(j.ok, j.out).toBe(true);
      const r = (await validateFile(out, { trustAnchors: [root], revocation: { mode: 'soft-fail' } })).signatures[0]!;
      expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: f === bt ? 'B-T' : 'B-B' });
    }
  }, 60_000);

  it('refuses B-LTA with a file missing, and several files without --detached: exit 3, nothing written', () => {
    const sig = join(dir, 'ho-so.sig.xml');
    const out = join(dir, 'refused.xml');
    const a = truc('augment', 'xades', sig, '--out', out, '--level', 'B-LTA', '--content', paths[0], '--content', paths[1]);
    expect(a.status, a.stderr).toBe(3);
    expect(a.stderr).toMatch(/error \[bad_request\]: the signed content is needed for B-LTA on a detached XAdES signature: a reference of it matches none of the files given/);
    expect(existsSync(out)).toBe(false);
    const s = truc('sign', 'xades', ...paths, '--out', out, '--key-pem', keyPath, '--cert-pem', cert);
    expect(s.status).toBe(3);
    expect(s.stderr).toMatch(/several files are signed together only as one detached XAdES signature/);
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
