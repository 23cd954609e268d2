import { describe, it, expect, vi } from 'vitest';
import { validatePath, parseCertificate } from '../../../src/pki/path/index.js';
import { issueCert, issueCrl, issueOcsp, newKey, serialOf, type Party } from './fixtures.js';
import { T, hierarchy, leafSpec } from './scenarios.js';

const DAY = 86_400_000;
const at = (ms: number) => new Date(T.getTime() + ms);

describe('revocation evidence and fetching', () => {
  const h = hierarchy();
  const responderKey = newKey();
  const responder = issueCert({
    subject: 'C=VN, O=Truc, CN=Truc OCSP',
    key: responderKey,
    issuer: h.intP,
    notBefore: at(-30 * DAY),
    notAfter: at(365 * DAY),
    eku: ['1.3.6.1.5.5.7.3.9'],
  });
  const goodOcsp = issueOcsp({
    cert: h.leaf,
    issuerCert: h.int,
    signer: responderKey,
    signerCert: responder,
    responderName: 'C=VN, O=Truc, CN=Truc OCSP',
    status: 'good',
    thisUpdate: at(-3_600_000),
    nextUpdate: at(DAY),
  });

  it('fetches OCSP from the AIA URL with a request for this certificate, and keeps the response as evidence', async () => {
    const fetchOcsp = vi.fn(async (url: string, req: Buffer) => {
      expect(url).toBe('http://ocsp.truc.test');
      expect(req.includes(parseCertificate(h.leaf).serial)).toBe(true);
      return goodOcsp;
    });
    const r = await validatePath({
      target: h.leaf,
      intermediates: [h.int],
      trustAnchors: [h.root],
      time: T,
      revocation: { mode: 'hard-fail', fetchOcsp, crls: [h.rootCrl] },
    });
    expect(r).toMatchObject({ valid: true, warnings: [] });
    expect(fetchOcsp).toHaveBeenCalledTimes(1);
    if (r.valid) {
      expect(r.revocationEvidence.map((e) => [e.kind, e.status])).toEqual([
        ['ocsp', 'good'],
        ['crl', 'good'],
      ]);
      expect(r.revocationEvidence[0].der.equals(goodOcsp)).toBe(true);
      expect(r.revocationEvidence[0].serial).toBe(parseCertificate(h.leaf).serialHex);
    }
  });

  it('fetches CRLs from the distribution points of each certificate', async () => {
    const byUrl: Record<string, Buffer> = {
      'http://crl.truc.test/issuing.crl': h.intCrl,
      'http://crl.truc.test/root.crl': h.rootCrl,
    };
    const fetchCrl = vi.fn(async (url: string) => byUrl[url]);
    const r = await validatePath({
      target: h.leaf,
      intermediates: [h.int],
      trustAnchors: [h.root],
      time: T,
      revocation: { mode: 'hard-fail', fetchCrl },
    });
    expect(r).toMatchObject({ valid: true });
    expect(fetchCrl.mock.calls.map((c) => c[0]).sort()).toEqual(Object.keys(byUrl).sort());
    if (r.valid)
      expect(r.revocationEvidence.every((e) => e.kind === 'crl' && e.status === 'good')).toBe(true);
  });

  it('turns a failing fetcher into revocation_unknown in hard-fail, a warning in soft-fail', async () => {
    const fetchOcsp = async () => {
      throw new Error('connection refused');
    };
    const input = { target: h.leaf, intermediates: [h.int], trustAnchors: [h.root], time: T };
    const hard = await validatePath({
      ...input,
      revocation: { mode: 'hard-fail', fetchOcsp, crls: [h.rootCrl] },
    });
    expect(hard).toMatchObject({ valid: false, reason: 'revocation_unknown', index: 0 });
    if (!hard.valid) expect(hard.message).toMatch(/connection refused/);
    const intOnly = await validatePath({
      ...input,
      revocation: { mode: 'hard-fail', fetchOcsp: async () => goodOcsp },
    });
    expect(intOnly).toMatchObject({ valid: false, reason: 'revocation_unknown', index: 1 });
    const soft = await validatePath({ ...input, revocation: { mode: 'soft-fail', fetchOcsp } });
    expect(soft).toMatchObject({ valid: true });
    if (soft.valid) expect(soft.warnings.length).toBe(2);
  });

  it('checks only the target when asked', async () => {
    const r = await validatePath({
      target: h.leaf,
      intermediates: [h.int],
      trustAnchors: [h.root],
      time: T,
      revocation: { mode: 'hard-fail', ocspResponses: [goodOcsp], targetOnly: true },
    });
    expect(r).toMatchObject({ valid: true });
  });

  it('does not check revocation with mode off', async () => {
    const fetchCrl = vi.fn();
    const r = await validatePath({
      target: h.leaf,
      intermediates: [h.int],
      trustAnchors: [h.root],
      time: T,
      revocation: { mode: 'off', fetchCrl },
    });
    expect(r).toMatchObject({ valid: true, revocationEvidence: [] });
    expect(fetchCrl).not.toHaveBeenCalled();
  });
});

describe('indirect CRLs', () => {
  const h = hierarchy();
  const SIGNER = 'C=VN, O=Truc, CN=Truc CRL Signer';
  const signerKey = newKey();
  const mkSigner = (keyUsage: ('cRLSign' | 'digitalSignature')[]) =>
    issueCert({
      subject: SIGNER,
      key: signerKey,
      issuer: h.rootP,
      notBefore: at(-DAY * 30),
      notAfter: at(365 * DAY),
      keyUsage,
    });
  const leaf = issueCert(
    leafSpec(h.intP, newKey(), { crlDp: ['http://crl.truc.test/indirect.crl'], crlDpIssuer: SIGNER }),
  );
  const signerP: Party = { name: SIGNER, key: signerKey };
  const crl = issueCrl({
    issuer: signerP,
    thisUpdate: at(-DAY),
    nextUpdate: at(7 * DAY),
    crlNumber: 1,
    idp: { uri: 'http://crl.truc.test/indirect.crl', indirect: true },
    revoked: [
      { serial: serialOf(leaf), date: at(-2 * DAY), certificateIssuer: 'C=VN, O=Truc, CN=Truc Issuing CA' },
    ],
  });
  const run = (signer: Buffer) =>
    validatePath({
      target: leaf,
      intermediates: [h.int, signer],
      trustAnchors: [h.root],
      time: T,
      revocation: { mode: 'hard-fail', crls: [crl, h.rootCrl] },
    });

  it('revokes through an indirect CRL signed by a CRL issuer with cRLSign', async () => {
    expect(await run(mkSigner(['cRLSign']))).toMatchObject({ valid: false, reason: 'revoked', index: 0 });
  });

  it('ignores an indirect CRL whose issuer may not sign CRLs', async () => {
    expect(await run(mkSigner(['digitalSignature']))).toMatchObject({
      valid: false,
      reason: 'revocation_unknown',
      index: 0,
    });
  });
});
