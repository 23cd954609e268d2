/**
 * CAdES-X (TS 101 733 §6.3.5, §6.3.6): a CAdES-C-time-stamp (escTimeStamp) and a time-stamped-certs-crls-references
 * (certCRLTimestamp) added by this test to signatures of ours, with complete-certificate-references and
 * complete-revocation-references it encodes itself (each reference then matched against the values at hand); the imprints are computed here (the signature value's octets,
 * then each attribute's attrType and attrValues) and openssl ts checks each token against them; openssl cms still
 * verifies the signature. A valid CAdES-C-time-stamp is the proof of existence of a signature that has no other.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ctx as tagged, octets, oid, seq, set, toPem } from '../../src/asn1/der.js';
import { revoke } from '../../src/pki/index.js';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { buildOcspRequest } from '../../src/pki/path/index.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { addUnsignedAttributes } from '../../src/sign/cades/unsigned.js';
import { inspectCms, localTimeStamper, platformEvidence, signCades, validateCades, type LevelContext } from '../../src/sign/index.js';
import { opensslStatus } from '../helpers/openssl.js';
import { openLab, save, type Lab } from './fixtures.js';

const CONTENT = Buffer.from('Báo cáo tổng hợp số 7/BC-UBND', 'utf8');
const OCSP_OPTS = { validityMinutes: 60, refreshBeforeMinutes: 10, signWith: 'delegated' as const, pollSeconds: 60 };
const OID = {
  signatureTimeStamp: '1.2.840.113549.1.9.16.2.14',
  certRefs: '1.2.840.113549.1.9.16.2.21',
  revRefs: '1.2.840.113549.1.9.16.2.22',
  esc: '1.2.840.113549.1.9.16.2.25',
  certCrl: '1.2.840.113549.1.9.16.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
};

describe('CAdES-X: CAdES-C-time-stamp and time-stamped-certs-crls-references', () => {
  let lab: Lab;
  let responder: OcspResponder;
  let tsa: TimeStampAuthority;
  let ctx: LevelContext;
  let tsaChain: string;
  beforeAll(async () => {
    lab = await openLab();
    tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
    await tsa.start();
    responder = new OcspResponder(lab.p.pki, lab.p.issuer, OCSP_OPTS);
    await responder.start();
    ctx = { timeStamper: localTimeStamper(tsa), evidence: platformEvidence(lab.p.pki, responder), trustAnchors: [lab.root] };
    tsaChain = join(lab.dir, 'tsa-chain.pem');
    writeFileSync(tsaChain, toPem('CERTIFICATE', tsa.certificate()) + toPem('CERTIFICATE', lab.issuing));
  }, 60_000);
  afterAll(async () => {
    await responder?.stop();
    await lab?.p.close();
  });

  const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();
  /** OtherHash as OtherHashAlgAndValue (SHA-256) */
  const otherHash = (der: Uint8Array) => seq(seq(oid(OID.sha256)), octets(sha256(der)));
  /** the attribute's attrType and attrValues, as the X time-stamps hash them */
  const typeAndValues = (type: string, value: Buffer) => Buffer.concat([oid(type), set(value)]);
  const attribute = (type: string, value: Buffer) => seq(oid(type), set(value));

  /** the references: the issuing CA's certificate (OtherCertID) and the signer's OCSP response (CrlOcspRef ocspids) */
  async function references(signerCert: Uint8Array) {
    const ocsp = Buffer.from((await responder.respond(buildOcspRequest(signerCert, lab.issuing))).der);
    const certRefs = seq(seq(otherHash(lab.issuing)));
    // CrlOcspRef ::= SEQUENCE { ocspids [1] OcspListID }; OcspListID ::= SEQUENCE { ocspResponses SEQUENCE OF OcspResponsesID };
    // OcspResponsesID ::= SEQUENCE { ocspIdentifier OcspIdentifier, ocspRepHash OtherHash } (the identifier: a
    // responder by key hash [2] and the production time)
    const producedAt = Buffer.from([0x18, 0x0f, ...Buffer.from('20260101000000Z')]);
    const revRefs = seq(seq(tagged(1, seq(seq(seq(seq(tagged(2, octets(sha256(lab.issuing))), producedAt), otherHash(ocsp)))))));
    return { certRefs, revRefs, ocsp };
  }

  const verifyToken = (name: string, token: Buffer, imprint: Buffer) =>
    opensslStatus(['ts', '-verify', '-in', save(lab.dir, name, token), '-token_in', '-digest', imprint.toString('hex'), '-CAfile', lab.rootPath, '-untrusted', tsaChain]).out;

  it('a B-T signature with both X time-stamps: imprints computed here hold, openssl ts and openssl cms agree, both reported valid', async () => {
    const signer = await lab.signer('/CN=Ngô Thanh Vân/O=UBND tỉnh/C=VN');
    const bt = await signCades(CONTENT, signer, { level: 'B-T', context: ctx });
    const s = inspectCms(bt, CONTENT).signers[0]!;
    const { certRefs, revRefs } = await references(signer.certificate);
    const sigTs = typeAndValues(OID.signatureTimeStamp, s.unsignedAttributes.get(OID.signatureTimeStamp)![0]!);
    const refs = Buffer.concat([typeAndValues(OID.certRefs, certRefs), typeAndValues(OID.revRefs, revRefs)]);
    const escImprint = sha256(Buffer.concat([s.signatureValue, sigTs, refs]));
    const refsImprint = sha256(refs);
    const esc = await localTimeStamper(tsa).stamp(escImprint, 'sha256');
    const certCrl = await localTimeStamper(tsa).stamp(refsImprint, 'sha256');
    expect(verifyToken('esc.tst', esc, escImprint)).toMatch(/Verification: OK/);
    expect(verifyToken('certcrl.tst', certCrl, refsImprint)).toMatch(/Verification: OK/);
    const x = addUnsignedAttributes(bt, [attribute(OID.certRefs, certRefs), attribute(OID.revRefs, revRefs), attribute(OID.esc, esc), attribute(OID.certCrl, certCrl)]);
    const cms = opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-in', save(lab.dir, 'x.p7s', x), '-content', save(lab.dir, 'x.txt', CONTENT), '-CAfile', lab.rootPath, '-certfile', lab.issuingPath, '-purpose', 'any', '-out', '/dev/null']);
    expect(cms.out).toMatch(/Verification successful/);
    const r = (await validateCades(x, { content: CONTENT, trustAnchors: [lab.root] })).signatures[0]!;
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-T' });
    expect(r.timestamps!.map((t) => [t.type, t.valid])).toEqual([
      ['signature', true],
      ['sig-and-refs', true],
      ['refs-only', true],
    ]);
    // the references themselves: the issuing CA's certificate is in the CMS; the OCSP response only once validation has it
    const esc0 = r.timestamps!.find((t) => t.type === 'sig-and-refs')!.genTime;
    expect(r.validationDataReferences!.map((v) => [v.kind, v.matches, v.source ?? null, v.poe])).toEqual([
      ['certificate', true, 'signature', esc0],
      ['ocsp', null, null, esc0],
    ]);
    expect(r.warnings.join('\n')).toMatch(/validation data reference 2 \(ocsp, OCSP produced 2026-01-01T00:00:00.000Z\): no OCSP at hand/);
    const { ocsp } = await references(signer.certificate);
    const withOcsp = (await validateCades(x, { content: CONTENT, trustAnchors: [lab.root], revocation: { mode: 'soft-fail', ocspResponses: [ocsp] } })).signatures[0]!;
    expect(withOcsp.validationDataReferences!.map((v) => [v.kind, v.matches, v.source])).toEqual([
      ['certificate', true, 'signature'],
      ['ocsp', true, 'validation'],
    ]);
    // the references changed after the time-stamps: neither imprint holds, warnings, the verdict unchanged
    const other = await references(signer.certificate);
    const changed = addUnsignedAttributes(bt, [attribute(OID.certRefs, seq(seq(otherHash(signer.certificate)))), attribute(OID.revRefs, other.revRefs), attribute(OID.esc, esc), attribute(OID.certCrl, certCrl)]);
    const c = (await validateCades(changed, { content: CONTENT, trustAnchors: [lab.root] })).signatures[0]!;
    expect(c.indication).toBe('TOTAL-PASSED');
    expect(c.timestamps!.filter((t) => t.type !== 'signature').map((t) => [t.type, t.valid, t.problem])).toEqual([
      ['sig-and-refs', false, expect.stringMatching(/imprint/)],
      ['refs-only', false, expect.stringMatching(/imprint/)],
    ]);
    expect(c.warnings.join('\n')).toMatch(/dấu thời gian CAdES-X không hợp lệ \/ a CAdES-C-time-stamp is not valid/);
  });

  it('a CAdES-C-time-stamp is the proof of existence of a signature without a signature time-stamp: its signer revoked after it passes', async () => {
    const signer = await lab.signer('/CN=Mai Quốc Bảo/O=UBND tỉnh/C=VN');
    const bb = await signCades(CONTENT, signer);
    const s = inspectCms(bb, CONTENT).signers[0]!;
    const { certRefs, revRefs } = await references(signer.certificate);
    const imprint = sha256(Buffer.concat([s.signatureValue, typeAndValues(OID.certRefs, certRefs), typeAndValues(OID.revRefs, revRefs)]));
    const esc = await localTimeStamper(tsa).stamp(imprint, 'sha256');
    expect(verifyToken('esc-bb.tst', esc, imprint)).toMatch(/Verification: OK/);
    const x = addUnsignedAttributes(bb, [attribute(OID.certRefs, certRefs), attribute(OID.revRefs, revRefs), attribute(OID.esc, esc)]);
    await new Promise((r) => setTimeout(r, 1100));
    await revoke(lab.p.pki, { serial: signer.serial, reason: 'keyCompromise' }, 'ra1');
    const revoked = (await responder.respond(buildOcspRequest(signer.certificate, lab.issuing))).der;
    const tsaOcsp = (await responder.respond(buildOcspRequest(tsa.certificate(), lab.issuing))).der;
    const opts = { content: CONTENT, trustAnchors: [lab.root], revocation: { mode: 'hard-fail' as const, ocspResponses: [revoked, tsaOcsp], targetOnly: true } };
    const r = (await validateCades(x, opts)).signatures[0]!;
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', timestamps: [{ type: 'sig-and-refs', valid: true }] });
    expect(r.bestSignatureTime).toBe(r.timestamps![0]!.genTime);
    const none = (await validateCades(bb, opts)).signatures[0]!;
    expect(none).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'REVOKED_NO_POE' });
  });
});
