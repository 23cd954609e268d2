/**
 * The independent judges of a signed file, as the augmentation tests (CLI and HTTP) call them on every
 * level they produce: pdfsig and qpdf for a PDF, `openssl cms -verify` and `openssl ts -verify` (each
 * signature-time-stamp over the signature value, each archive-time-stamp-v3 over its imprint) for CAdES,
 * xmlsec1 for XAdES. Each answers what the tool said, for the test to judge.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspectCms, readTimeStampToken } from '../../src/sign/index.js';
import { UNSIGNED } from '../../src/sign/cades/unsigned.js';
import { archiveImprint, archiveParts, ATS_HASH_INDEX_V3 } from '../../src/sign/cades/archive.js';
import { opensslStatus } from '../helpers/openssl.js';

export interface Trust {
  dir: string;
  /** the root CA (PEM file) */
  rootPath: string;
  /** the issuing CA (PEM file), which issued the signers' and the TSA's certificates */
  issuingPath: string;
}

const scratch = (t: Trust, name: string, data: Uint8Array | string) => {
  const p = join(t.dir, `${randomBytes(4).toString('hex')}-${name}`);
  writeFileSync(p, data);
  return p;
};

/** The root and the issuing CA out of a PEM chain (`truc ca issue --chain`): the self-signed one is the root. */
export function splitChain(pem: string): { root: string; issuing: string } {
  const blocks = [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g)].map((m) => m[0]);
  const certs = blocks.map((b) => ({ b, c: new X509Certificate(b) }));
  const root = certs.find((x) => x.c.subject === x.c.issuer)!;
  const issuing = certs.find((x) => x !== root && x.c.issuer === root.c.subject)!;
  return { root: root.b, issuing: issuing.b };
}

/** pdfsig: signatures it validates (CAdES) and lists (document time-stamps it cannot validate); qpdf --check. */
export function judgePdf(t: Trust, pdf: Uint8Array): { valid: number; listed: number; qpdf: number; out: string } {
  const path = scratch(t, 'judged.pdf', pdf);
  const r = spawnSync('pdfsig', [path], { encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`;
  const q = spawnSync('qpdf', ['--check', path], { encoding: 'utf8' });
  return {
    valid: (out.match(/Signature Validation: Signature is Valid\./g) ?? []).length,
    listed: (out.match(/^Signature #\d+:/gm) ?? []).length,
    qpdf: q.status ?? -1,
    out: out + q.stdout + q.stderr,
  };
}

/**
 * openssl on a CAdES signature: `cms -verify` (with the content of a detached one), then `ts -verify` of
 * every signature-time-stamp (imprint: SHA-256 of the signature value) and archive-time-stamp-v3 (imprint
 * rebuilt from the parts its ats-hash-index-v3 lists) against our root. Answers the count of tokens
 * openssl accepted, and its output.
 */
export function judgeCades(t: Trust, cms: Buffer, content?: Buffer): { cms: boolean; stamps: number; accepted: number; out: string } {
  const args = ['cms', '-verify', '-binary', '-inform', 'DER', '-CAfile', t.rootPath, '-purpose', 'any', '-in', scratch(t, 'judged.p7s', cms), '-out', '/dev/null'];
  if (content) args.push('-content', scratch(t, 'content.bin', content));
  const v = opensslStatus(args);
  let out = v.out;
  const s = inspectCms(cms, content ?? (() => Buffer.alloc(0))).signers[0];
  const stamps: { token: Buffer; digest: Buffer }[] = (s.unsignedAttributes.get(UNSIGNED.signatureTimeStamp) ?? []).map((token) => ({ token, digest: createHash('sha256').update(s.signatureValue).digest() }));
  for (const token of s.unsignedAttributes.get(UNSIGNED.archiveTimeStampV3) ?? []) {
    const index = readTimeStampToken(token).signer.unsignedAttributes.get(ATS_HASH_INDEX_V3)![0];
    stamps.push({ token, digest: archiveImprint(archiveParts(cms), content, index, 'sha256') });
  }
  let accepted = 0;
  for (const st of stamps) {
    const r = opensslStatus(['ts', '-verify', '-in', scratch(t, 'token.tst', st.token), '-token_in', '-digest', st.digest.toString('hex'), '-CAfile', t.rootPath, '-untrusted', t.issuingPath]);
    out += r.out;
    if (/Verification: OK/.test(r.out)) accepted++;
  }
  return { cms: /Verification successful/.test(v.out), stamps: stamps.length, accepted, out };
}

/** xmlsec1 --verify of an enveloped XAdES signature, our root trusted. */
export function judgeXades(t: Trust, xml: Uint8Array | string): { ok: boolean; out: string } {
  // run in the trust folder: xmlsec1 resolves a detached signature's relative URI from its working folder
  const r = spawnSync(
    'xmlsec1',
    ['--verify', '--trusted-pem', t.rootPath, '--untrusted-pem', t.issuingPath, '--id-attr:Id', 'http://uri.etsi.org/01903/v1.3.2#:SignedProperties', '--id-attr:Id', 'http://www.w3.org/2000/09/xmldsig#:Object', scratch(t, 'judged.xml', xml)],
    { encoding: 'utf8', cwd: t.dir },
  );
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}
