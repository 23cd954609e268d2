/**
 * CRLs a conforming validator does not use (RFC 5280 5.2.3): one without a CRL number, and one whose CRL
 * number is marked critical (an extension we do not process as written). Their status is unknown, never
 * "good": hard-fail refuses the path, soft-fail warns.
 */
import { describe, it, expect } from 'vitest';
import { validatePath } from '../../../src/pki/path/index.js';
import { issueCert, issueCrl, newKey, type Party } from './fixtures.js';
import { hasOpenssl, opensslVerify } from './openssl-verify.js';

const T = new Date(Date.UTC(2025, 5, 1, 12));
const DAY = 86_400_000;
const span = { notBefore: new Date(T.getTime() - 300 * DAY), notAfter: new Date(T.getTime() + 300 * DAY) };
const rootKey = newKey();
const rootP: Party = { name: 'C=VN, O=Truc, CN=CRL Root', key: rootKey };
const root = issueCert({ subject: rootP.name, key: rootKey, ca: true, keyUsage: ['keyCertSign', 'cRLSign'], ...span });
const leaf = issueCert({ subject: 'C=VN, CN=leaf', key: newKey(), issuer: rootP, keyUsage: ['digitalSignature'], crlDp: ['http://crl.truc.test/root.crl'], ...span });
const crl = (extra: { crlNumber?: number; crlNumberCritical?: boolean }) =>
  issueCrl({ issuer: rootP, thisUpdate: new Date(T.getTime() - DAY), nextUpdate: new Date(T.getTime() + 7 * DAY), ...extra });
const run = (c: Buffer, mode: 'hard-fail' | 'soft-fail' = 'hard-fail') =>
  validatePath({ target: leaf, trustAnchors: [root], time: T, revocation: { mode, crls: [c] } });

describe('CRLs that prove nothing', () => {
  it('a CRL with its number is evidence of good status', async () => {
    const r = await run(crl({ crlNumber: 7 }));
    expect(r).toMatchObject({ valid: true });
    if (r.valid) expect(r.revocationEvidence[0]).toMatchObject({ kind: 'crl', status: 'good' });
    if (hasOpenssl) expect(opensslVerify({ target: leaf, anchors: [root], time: T, crls: [crl({ crlNumber: 7 })] }).ok).toBe(true);
  });

  it('a CRL without a CRL number: status unknown (OpenSSL uses it: RFC 5280 5.2.3 makes the number mandatory)', async () => {
    const c = crl({});
    const r = await run(c);
    expect(r).toMatchObject({ valid: false, reason: 'revocation_unknown', index: 0 });
    if (!r.valid) expect(r.message).toMatch(/không có số CRL \/ CRL from .* has no CRL number/);
    const soft = await run(c, 'soft-fail');
    expect(soft).toMatchObject({ valid: true, revocationEvidence: [] });
    if (soft.valid) expect(soft.warnings.join()).toMatch(/no CRL number/);
    // OpenSSL accepts it as complete evidence; without a number a CRL cannot be ordered against a newer
    // one nor paired with its deltas, so a replayed old CRL would pass for a current one
    if (hasOpenssl) expect(opensslVerify({ target: leaf, anchors: [root], time: T, crls: [c] }).ok).toBe(true);
  });

  it('a CRL whose CRL number is critical: status unknown', async () => {
    const c = crl({ crlNumber: 8, crlNumberCritical: true });
    const r = await run(c);
    expect(r).toMatchObject({ valid: false, reason: 'revocation_unknown', index: 0 });
    if (!r.valid) expect(r.message).toMatch(/critical cRLNumber/);
    // OpenSSL agrees: it refuses the CRL (unhandled critical CRL extension) and with it the certificate
    if (hasOpenssl) expect(opensslVerify({ target: leaf, anchors: [root], time: T, crls: [c] }).ok).toBe(false);
  });
});
