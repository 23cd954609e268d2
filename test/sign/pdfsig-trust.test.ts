import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { embedCms, localTimeStamper, platformEvidence, signPdf, type LevelContext } from '../../src/sign/index.js';
import { appendSignatureField } from '../../src/sign/pades/prepare.js';
import { openssl } from '../helpers/openssl.js';
import { formPdf, openLab, samplePdf, save, type Lab } from './fixtures.js';
import { sealPng } from './png.js';

interface PdfsigEntry {
  commonName?: string;
  type?: string;
  validation?: string;
  certificate?: string;
}

/**
 * pdfsig's verdicts per signature, read from its text: its exit status is 0 whatever it finds. `nssdir`
 * is an NSS database holding our root CA as a trusted anchor. Online OCSP is switched off: the
 * certificates name the platform's public URL, which no test serves; revocation is our validator's part.
 */
function pdfsig(path: string, nssdir: string): { out: string; entries: PdfsigEntry[] } {
  const r = spawnSync('pdfsig', ['-nssdir', `sql:${nssdir}`, '-no-ocsp', path], { encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`;
  const entries = out
    .split(/^Signature #\d+:$/m)
    .slice(1)
    .map((block) => {
      const field = (label: string) => new RegExp(`^\\s*- ${label}: (.*)$`, 'm').exec(block)?.[1].trim();
      return { commonName: field('Signer Certificate Common Name'), type: field('Signature Type'), validation: field('Signature Validation'), certificate: field('Certificate Validation') };
    });
  return { out, entries };
}

/** An NSS database (certutil) with our root CA trusted for everything ("CT,C,C"), or empty. */
function nssDatabase(dir: string, rootPem?: string): string {
  mkdirSync(dir, { recursive: true });
  execFileSync('certutil', ['-N', '--empty-password', '-d', `sql:${dir}`]);
  if (rootPem) execFileSync('certutil', ['-A', '-t', 'CT,C,C', '-n', 'root', '-i', rootPem, '-d', `sql:${dir}`]);
  return dir;
}

const OCSP_OPTS = { validityMinutes: 60, refreshBeforeMinutes: 10, signWith: 'delegated' as const, pollSeconds: 60 };

describe('pdfsig with an NSS database trusting our root: our PDFs are "Certificate is Trusted"', () => {
  let lab: Lab;
  let nss: string;
  let responder: OcspResponder;
  let ctx: LevelContext;
  beforeAll(async () => {
    lab = await openLab();
    nss = nssDatabase(join(lab.dir, 'nss'), lab.rootPath);
    const tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
    await tsa.start();
    responder = new OcspResponder(lab.p.pki, lab.p.issuer, OCSP_OPTS);
    await responder.start();
    ctx = { timeStamper: localTimeStamper(tsa), evidence: platformEvidence(lab.p.pki, responder), trustAnchors: [lab.root] };
  });
  afterAll(async () => {
    await responder?.stop();
    await lab?.p.close();
  });

  it('B-B (ECDSA, RSA), visible with a seal, certified, field-locked, B-LTA, and a BER signature by openssl: every signature valid and its certificate trusted; a tampered file is flagged', async () => {
    const official = await lab.signer('/CN=Hà Thị Lan/O=Bộ Công Thương/C=VN');
    // the agency's seal (agency-signing) as well as an official's certificate: NSS checks both for the
    // e-mail signer usage, which their emailProtection extended key usage grants
    const seal = await lab.signer('/CN=Bộ Công Thương/O=Bộ Công Thương/C=VN', { profile: 'agency-signing' });
    const rsa = await lab.signer('/CN=Trịnh Văn Nam/O=Bộ Công Thương/C=VN', { keyArgs: ['-newkey', 'rsa:2048'] });
    const files: [string, Buffer, number][] = [];
    const bb = await signPdf(await samplePdf(true), official);
    files.push(['bb-ec.pdf', bb, 1]);
    files.push(['bb-rsa-countersigned.pdf', await signPdf(bb, rsa, { page: 1 }), 2]);
    files.push(['sealed.pdf', await signPdf(await samplePdf(true), seal), 1]);
    files.push(['visible.pdf', await signPdf(await samplePdf(false), rsa, { visible: { rect: [320, 60, 560, 160], image: sealPng() } }), 1]);
    files.push(['certified.pdf', await signPdf(await samplePdf(false), official, { certify: 2 }), 1]);
    files.push(['locked.pdf', await signPdf(await formPdf(true), official, { lock: { action: 'Include', fields: ['soHieu'] } }), 1]);
    files.push(['lta.pdf', await signPdf(await samplePdf(true), official, { level: 'B-LTA', context: ctx }), 1]);
    // openssl's BER CMS (indefinite lengths) over the ByteRange, its encapsulated copy of the content cut out
    const placed = appendSignatureField(await samplePdf(true), { type: 'Sig', subFilter: 'adbe.pkcs7.detached', contentsBytes: 8_000, digest: 'sha256' });
    const [a, b, c, d] = placed.byteRange;
    const covered = save(lab.dir, 'covered.bin', Buffer.concat([placed.pdf.subarray(a, a + b), placed.pdf.subarray(c, c + d)]));
    const streamed = join(lab.dir, 'streamed.der');
    openssl(['cms', '-sign', '-binary', '-stream', '-cades', '-md', 'sha256', '-in', covered, '-signer', official.certPath, '-inkey', official.keyPath, '-certfile', lab.issuingPath, '-outform', 'DER', '-out', streamed]);
    const ber = readFileSync(streamed);
    const parsed = [...openssl(['asn1parse', '-inform', 'DER', '-in', streamed, '-i']).matchAll(/^\s*(\d+):d=(\d+)\s+hl=\d+\s+l=\s*\S+\s+(?:prim|cons):\s*(.*)$/gm)].map((m) => ({ offset: +m[1], depth: +m[2], text: m[3] }));
    const dataAt = parsed.findIndex((e) => e.depth === 4 && /pkcs7-data/.test(e.text));
    const end = parsed.slice(dataAt + 2).find((e) => e.depth <= 4)!;
    files.push(['ber.pdf', embedCms(placed, Buffer.concat([ber.subarray(0, parsed[dataAt + 1].offset), ber.subarray(end.offset)])), 1]);

    for (const [name, pdf, signatures] of files) {
      const { out, entries } = pdfsig(save(lab.dir, name, pdf), nss);
      // poppler lists a document time-stamp as type "unknown" and cannot validate it (our validator does)
      const sigs = entries.filter((e) => e.type !== 'unknown');
      if (name === 'lta.pdf') expect(entries.filter((e) => e.type === 'unknown').map((e) => e.commonName), out).toEqual(['Time-Stamping Authority issuing']);
      expect(sigs.length, `${name}\n${out}`).toBe(signatures);
      for (const e of sigs) {
        expect(e.validation, `${name}\n${out}`).toBe('Signature is Valid.');
        expect(e.certificate, `${name}\n${out}`).toBe('Certificate is Trusted.');
      }
    }

    // the same files with an empty database: signatures still valid, certificates no longer trusted
    const empty = nssDatabase(join(lab.dir, 'nss-empty'));
    const untrusted = pdfsig(save(lab.dir, 'bb-untrusted.pdf', bb), empty);
    expect(untrusted.entries[0].validation, untrusted.out).toBe('Signature is Valid.');
    expect(untrusted.entries[0].certificate, untrusted.out).not.toBe('Certificate is Trusted.');

    // one signed byte changed (in the binary comment after the header: the file still parses): the digest no longer matches
    const tampered = Buffer.from(bb);
    const at = tampered.indexOf('%', 1, 'latin1');
    expect(at).toBeLessThan(20);
    tampered[at + 1] ^= 0x01;
    const t = pdfsig(save(lab.dir, 'tampered.pdf', tampered), nss);
    expect(t.entries[0].validation, t.out).toBe('Digest Mismatch.');
    expect(t.out).not.toMatch(/Signature is Valid/);
  });
});
