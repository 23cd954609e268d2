/**
 * Agreement with `openssl ocsp -respin` on OCSP responses: whether the response is from an authorised
 * responder with a valid signature, and what it says. Built around the current time, because openssl
 * checks thisUpdate/nextUpdate against the clock.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toPem } from '../../../src/asn1/der.js';
import { validatePath } from '../../../src/pki/path/index.js';
import { issueCert, issueOcsp, newKey, type Party } from './fixtures.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const DAY = 86_400_000;

describe.skipIf(!hasOpenssl)('agreement with openssl ocsp', () => {
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const at = (ms: number) => new Date(now.getTime() + ms);
  const span = { notBefore: at(-30 * DAY), notAfter: at(365 * DAY) };
  const rootKey = newKey();
  const intKey = newKey();
  const rootP: Party = { name: 'C=VN, O=Truc, CN=OCSP Test Root', key: rootKey };
  const intP: Party = { name: 'C=VN, O=Truc, CN=OCSP Test CA', key: intKey };
  const ca = { ca: true, keyUsage: ['keyCertSign', 'cRLSign'] as ('keyCertSign' | 'cRLSign')[], ...span };
  const root = issueCert({ subject: rootP.name, key: rootKey, ...ca });
  const int = issueCert({ subject: intP.name, key: intKey, issuer: rootP, ...ca });
  const leaf = issueCert({
    subject: 'C=VN, O=Truc, CN=leaf.example.vn',
    key: newKey(),
    issuer: intP,
    ...span,
  });
  const rKey = newKey();
  const RESP = 'C=VN, O=Truc, CN=OCSP Test Responder';
  const responder = issueCert({
    subject: RESP,
    key: rKey,
    issuer: intP,
    eku: ['1.3.6.1.5.5.7.3.9'],
    ...span,
  });
  const noEku = issueCert({ subject: RESP, key: rKey, issuer: intP, eku: ['1.3.6.1.5.5.7.3.2'], ...span });
  const otherIntKey = newKey();
  const foreign = issueCert({
    subject: RESP,
    key: rKey,
    issuer: { name: intP.name, key: otherIntKey },
    eku: ['1.3.6.1.5.5.7.3.9'],
    ...span,
  });
  const times = { thisUpdate: at(-3_600_000), nextUpdate: at(DAY) };
  const delegated = (status: 'good' | 'revoked', signerCert = responder) =>
    issueOcsp({
      cert: leaf,
      issuerCert: int,
      signer: rKey,
      signerCert,
      responderName: RESP,
      status,
      ...times,
    });
  const cases: { name: string; der: Buffer; status: 'good' | 'revoked' | 'rejected' }[] = [
    { name: 'good from a delegated responder', der: delegated('good'), status: 'good' },
    { name: 'revoked from a delegated responder', der: delegated('revoked'), status: 'revoked' },
    {
      name: 'good signed by the CA',
      der: issueOcsp({
        cert: leaf,
        issuerCert: int,
        signer: intKey,
        responderName: intP.name,
        status: 'good',
        ...times,
      }),
      status: 'good',
    },
    { name: 'responder without OCSPSigning', der: delegated('good', noEku), status: 'rejected' },
    { name: 'responder certified by another CA', der: delegated('good', foreign), status: 'rejected' },
    {
      name: 'signed by the root instead of the CA',
      der: issueOcsp({
        cert: leaf,
        issuerCert: int,
        signer: rootKey,
        responderName: rootP.name,
        status: 'good',
        ...times,
      }),
      status: 'rejected',
    },
  ];
  const dir = mkdtempSync(join(tmpdir(), 'truc-ocsp-'));
  const write = (n: string, label: string, ders: Buffer[]) => {
    const p = join(dir, n);
    writeFileSync(p, ders.map((d) => toPem(label, d)).join(''));
    return p;
  };
  const rootPem = write('root.pem', 'CERTIFICATE', [root]);
  const intPem = write('int.pem', 'CERTIFICATE', [int]);
  const leafPem = write('leaf.pem', 'CERTIFICATE', [leaf]);

  for (const c of cases) {
    it(`${c.name}: ${c.status}`, async () => {
      const resp = join(dir, 'resp.der');
      writeFileSync(resp, c.der);
      const o = spawnSync(
        'openssl',
        [
          'ocsp',
          '-respin',
          resp,
          '-issuer',
          intPem,
          '-cert',
          leafPem,
          '-CAfile',
          rootPem,
          '-verify_other',
          intPem,
        ],
        { encoding: 'utf8' },
      );
      const out = `${o.stdout}${o.stderr}`;
      const theirs = /Response verify OK/.test(out)
        ? /: revoked/.test(out)
          ? 'revoked'
          : /: good/.test(out)
            ? 'good'
            : 'other'
        : 'rejected';
      const r = await validatePath({
        target: leaf,
        intermediates: [int],
        trustAnchors: [root],
        time: now,
        revocation: { mode: 'hard-fail', ocspResponses: [c.der], targetOnly: true },
      });
      const ours = r.valid
        ? 'good'
        : r.reason === 'revoked'
          ? 'revoked'
          : r.reason === 'revocation_unknown'
            ? 'rejected'
            : `other: ${r.reason}`;
      expect(theirs, out).toBe(c.status);
      expect(ours, r.valid ? '' : r.message).toBe(c.status);
    });
  }
});
