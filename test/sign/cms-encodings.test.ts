/**
 * CMS signatures written the ways real signers write them — legacy and uncommon algorithm encodings,
 * padding, repeated content time-stamps, non-minimal lengths, large CRLs, PDFs inside an enveloping CMS —
 * made here with node:crypto and `openssl cms`, judged by `openssl cms -verify` and by us. A verdict of
 * TOTAL-FAILED is only for a signature proven wrong; what we cannot check is INDETERMINATE, named.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { constants, createHash, createPrivateKey, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ctx, int, NULL, octets, oid, seq, setOf, tlv, time, toPem, TAG } from '../../src/asn1/der.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { localTimeStamper } from '../../src/sign/timestamp/tsa-local.js';
import { parseCertificate } from '../../src/pki/path/index.js';
import { signedAttributes } from '../../src/sign/cades/signed-data.js';
import { attribute } from '../../src/sign/cms/attributes.js';
import { detectFormat, validateCades, validateFile, inspectCms } from '../../src/sign/index.js';
import { openssl, opensslStatus } from '../helpers/openssl.js';
import { openLab, samplePdf, save, type Lab } from './fixtures.js';

const CONTENT = Buffer.from('Quyết định số 15/QĐ-UBND về việc công bố thủ tục hành chính\n');
const NULL_PARAMS = (o: string) => seq(oid(o), NULL);
const NO_PARAMS = (o: string) => seq(oid(o));
const OID = {
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha512: '2.16.840.1.101.3.4.2.3',
  sha3_224: '2.16.840.1.101.3.4.2.7',
  sha3_256: '2.16.840.1.101.3.4.2.8',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  rsaSha1: '1.2.840.113549.1.1.5',
  rsaSha256: '1.2.840.113549.1.1.11',
  rsaSha3_224: '2.16.840.1.101.3.4.3.13',
  rsaSha3_256: '2.16.840.1.101.3.4.3.14',
  contentTimestamp: '1.2.840.113549.1.9.16.2.20',
};

interface Built {
  cert: Buffer;
  chain: Buffer[];
  /** DigestAlgorithmIdentifier as written */
  digestAlg: Buffer;
  /** node:crypto name of the message digest */
  hash: string;
  sigAlg: Buffer;
  sign: (signedAttrs: Buffer) => Buffer;
  content: Buffer;
  enveloping?: boolean;
  extraAttrs?: Buffer[];
  crls?: Buffer[];
  /** replaces the certificates as carried (e.g. one with a non-minimal length) */
  carriedCerts?: Buffer[];
}

/** A SignedData with one signer, assembled field by field so each encoding can be chosen. */
function buildCms(b: Built): Buffer {
  const c = parseCertificate(b.cert);
  const attrs = signedAttributes({ certificate: b.cert, messageDigest: createHash(b.hash).update(b.content).digest(), signingTime: new Date(), extra: b.extraAttrs });
  const implicit = Buffer.from(attrs);
  implicit[0] = 0xa0;
  const si = seq(int(1), seq(c.issuer.der, tlv(TAG.INTEGER, c.serial)), b.digestAlg, implicit, b.sigAlg, octets(b.sign(attrs)));
  const encap = b.enveloping ? seq(oid('1.2.840.113549.1.7.1'), ctx(0, octets(b.content))) : seq(oid('1.2.840.113549.1.7.1'));
  const sd = seq(int(1), setOf([b.digestAlg]), encap, tlv(0xa0, ...(b.carriedCerts ?? [b.cert, ...b.chain])), ...(b.crls ? [tlv(0xa1, ...b.crls)] : []), setOf([si]));
  return seq(oid('1.2.840.113549.1.7.2'), ctx(0, sd));
}

describe('CMS encodings real signers write', () => {
  let lab: Lab;
  let ec: Awaited<ReturnType<Lab['signer']>>;
  let rsa: Awaited<ReturnType<Lab['signer']>>;
  let ecKey: KeyObject;
  let rsaKey: KeyObject;

  beforeAll(async () => {
    lab = await openLab();
    ec = await lab.signer('/CN=Nguyễn Văn An/O=UBND tỉnh Bắc Ninh/C=VN');
    rsa = await lab.signer('/CN=Phạm Thị Hoa/O=Sở Tư pháp/C=VN', { keyArgs: ['-newkey', 'rsa:2048'] });
    ecKey = createPrivateKey(readFileSync(ec.keyPath));
    rsaKey = createPrivateKey(readFileSync(rsa.keyPath));
  });
  afterAll(async () => lab?.p.close());

  const base = (who: 'ec' | 'rsa') => ({ cert: Buffer.from((who === 'ec' ? ec : rsa).certificate), chain: [lab.issuing], content: CONTENT });
  const rsaSign = (hash: string) => (d: Buffer) => nodeSign(hash, d, { key: rsaKey, padding: constants.RSA_PKCS1_PADDING });
  const opensslVerify = (cms: Buffer, content?: Buffer) =>
    opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-CAfile', lab.rootPath, '-purpose', 'any', '-in', save(lab.dir, `${Math.random()}.p7s`, cms), ...(content ? ['-content', save(lab.dir, 'c.bin', content)] : []), '-out', '/dev/null']);
  const validate = async (cms: Buffer, content: Buffer | undefined = CONTENT) => (await validateCades(cms, { ...(content ? { content } : {}), trustAnchors: [lab.root] })).signatures[0];

  it('ecdsa-with-SHA256 written with NULL parameters verifies (openssl agrees): TOTAL-PASSED, the encoding noted; a wrong value still fails', async () => {
    const good = buildCms({ ...base('ec'), digestAlg: NO_PARAMS(OID.sha256), hash: 'sha256', sigAlg: NULL_PARAMS(OID.ecdsaSha256), sign: (d) => nodeSign('sha256', d, ecKey) });
    expect(opensslVerify(good, CONTENT).out).toMatch(/Verification successful/);
    const r = await validate(good);
    expect(r).toMatchObject({ indication: 'TOTAL-PASSED', checks: { integrity: true, signatureValue: true } });
    expect(r.warnings.join(' ')).toMatch(/ecdsa-with-SHA256 written with NULL parameters/);
    const broken = buildCms({ ...base('ec'), digestAlg: NO_PARAMS(OID.sha256), hash: 'sha256', sigAlg: NULL_PARAMS(OID.ecdsaSha256), sign: (d) => nodeSign('sha256', Buffer.concat([d, Buffer.from('x')]), ecKey) });
    expect(opensslVerify(broken, CONTENT).status).not.toBe(0);
    expect(await validate(broken)).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'SIG_CRYPTO_FAILURE' });
  });

  it('RSA with SHA3-224 and SHA3-256 (digest and signature): openssl and we verify; TOTAL-PASSED', async () => {
    for (const [d, s, h] of [
      [OID.sha3_224, OID.rsaSha3_224, 'sha3-224'],
      [OID.sha3_256, OID.rsaSha3_256, 'sha3-256'],
    ] as const) {
      const cms = buildCms({ ...base('rsa'), digestAlg: NO_PARAMS(d), hash: h, sigAlg: NULL_PARAMS(s), sign: rsaSign(h) });
      expect(opensslVerify(cms, CONTENT).out, h).toMatch(/Verification successful/);
      expect(await validate(cms), h).toMatchObject({ indication: 'TOTAL-PASSED', checks: { integrity: true, signatureValue: true } });
    }
  });

  it('RSA-PSS with SHA3-256 (node:crypto) and with SHA-512 and an MGF1-SHA-256 mask (openssl cms): TOTAL-PASSED', async () => {
    // RSASSA-PSS-params: hash SHA3-256, MGF1 with SHA3-256, salt 32 (openssl 3.0 cannot write this identifier in CMS)
    const sha3 = NO_PARAMS(OID.sha3_256);
    const pssAlg = seq(oid('1.2.840.113549.1.1.10'), seq(ctx(0, sha3), ctx(1, seq(oid('1.2.840.113549.1.1.8'), sha3)), ctx(2, int(32))));
    const pss = buildCms({ ...base('rsa'), digestAlg: sha3, hash: 'sha3-256', sigAlg: pssAlg, sign: (d) => nodeSign('sha3-256', d, { key: rsaKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }) });
    expect(opensslVerify(pss, CONTENT).out).toMatch(/Verification successful/);
    expect(inspectCms(pss, CONTENT).signers[0].signatureAlgorithm).toBe('RSASSA-PSS(sha3-256, MGF1-sha3-256, salt 32)');
    expect(await validate(pss)).toMatchObject({ indication: 'TOTAL-PASSED', checks: { integrity: true, signatureValue: true } });

    const content = save(lab.dir, 'pss.txt', CONTENT);
    const out = join(lab.dir, 'pss-mix.p7s');
    openssl(['cms', '-sign', '-cades', '-binary', '-in', content, '-signer', rsa.certPath, '-inkey', rsa.keyPath, '-certfile', lab.issuingPath, '-md', 'sha512', '-keyopt', 'rsa_padding_mode:pss', '-keyopt', 'rsa_mgf1_md:sha256', '-keyopt', 'rsa_pss_saltlen:20', '-outform', 'DER', '-out', out]);
    const mix = readFileSync(out);
    expect(opensslVerify(mix, CONTENT).out).toMatch(/Verification successful/);
    expect(inspectCms(mix, CONTENT).signers[0].signatureAlgorithm).toBe('RSASSA-PSS(sha512, MGF1-sha256, salt 20)');
    expect(await validate(mix)).toMatchObject({ indication: 'TOTAL-PASSED', checks: { integrity: true, signatureValue: true } });
  });

  it('a SHA-512 digestAlgorithm beside sha256WithRSAEncryption: the value computed either way verifies (openssl reads the digestAlgorithm); neither way is proven wrong', async () => {
    const mixed = buildCms({ ...base('rsa'), digestAlg: NO_PARAMS(OID.sha512), hash: 'sha512', sigAlg: NULL_PARAMS(OID.rsaSha256), sign: rsaSign('sha512') });
    expect(opensslVerify(mixed, CONTENT).out).toMatch(/Verification successful/);
    const r = await validate(mixed);
    expect(r.indication).toBe('TOTAL-PASSED');
    expect(r.warnings.join(' ')).toMatch(/names sha256 but the value was computed with sha512/);
    const asNamed = buildCms({ ...base('rsa'), digestAlg: NO_PARAMS(OID.sha512), hash: 'sha512', sigAlg: NULL_PARAMS(OID.rsaSha256), sign: rsaSign('sha256') });
    // openssl refuses this one (it hashes with the digestAlgorithm only); the signature algorithm the signer named verifies: we are right
    expect(await validate(asNamed)).toMatchObject({ indication: 'TOTAL-PASSED', checks: { signatureValue: true } });
  });

  it('SHA-1 (digest and sha1WithRSAEncryption) verifies: INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE_NO_POE, integrity and value shown true', async () => {
    const cms = buildCms({ ...base('rsa'), digestAlg: NULL_PARAMS(OID.sha1), hash: 'sha1', sigAlg: NULL_PARAMS(OID.rsaSha1), sign: rsaSign('sha1') });
    expect(opensslVerify(cms, CONTENT).out).toMatch(/Verification successful/);
    const r = await validate(cms);
    expect(r).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE', checks: { integrity: true, signatureValue: true } });
    expect(r.message).toMatch(/sha1/);
  });

  it('an unknown signature algorithm is INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE naming its OID, not TOTAL-FAILED; an unknown digest likewise', async () => {
    const odd = buildCms({ ...base('rsa'), digestAlg: NO_PARAMS(OID.sha256), hash: 'sha256', sigAlg: NO_PARAMS('1.2.3.4.5.6'), sign: rsaSign('sha256') });
    const r = await validate(odd);
    expect(r).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE', checks: { signatureValue: null } });
    expect(r.message).toMatch(/1\.2\.3\.4\.5\.6/);
    const oddDigest = buildCms({ ...base('rsa'), digestAlg: NO_PARAMS('1.2.3.4.7'), hash: 'sha256', sigAlg: NULL_PARAMS(OID.rsaSha256), sign: rsaSign('sha256') });
    const d = await validate(oddDigest);
    expect(d).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE' });
    expect(d.message).toMatch(/1\.2\.3\.4\.7/);
  });

  it('an enveloping CMS carrying a PDF is detected as CMS and validated as CAdES (openssl agrees), the PDF given back', async () => {
    const pdf = await samplePdf(false);
    const cms = buildCms({ ...base('ec'), content: pdf, enveloping: true, digestAlg: NO_PARAMS(OID.sha256), hash: 'sha256', sigAlg: NO_PARAMS(OID.ecdsaSha256), sign: (d) => nodeSign('sha256', d, ecKey) });
    expect(cms.subarray(0, 1024).includes('%PDF-')).toBe(true);
    expect(opensslVerify(cms).out).toMatch(/Verification successful/);
    expect(detectFormat(cms)).toBe('cms');
    const report = await validateFile(cms, { trustAnchors: [lab.root] });
    expect(report.document.kind).toBe('cms');
    expect(report.signatures[0]).toMatchObject({ format: 'CAdES', indication: 'TOTAL-PASSED' });
    expect(inspectCms(cms).content?.equals(pdf)).toBe(true);
    // a real PDF is still a PDF, also with junk before its header
    expect(detectFormat(Buffer.concat([Buffer.from('junk\r\n'), pdf]))).toBe('pdf');
  });

  it('zero padding after the DER is ignored and reported; other trailing bytes are refused', async () => {
    const cms = buildCms({ ...base('ec'), digestAlg: NO_PARAMS(OID.sha256), hash: 'sha256', sigAlg: NO_PARAMS(OID.ecdsaSha256), sign: (d) => nodeSign('sha256', d, ecKey) });
    const padded = Buffer.concat([cms, Buffer.alloc(2048)]);
    // openssl cms reads the first DER element and ignores what follows: it agrees
    expect(opensslVerify(padded, CONTENT).out).toMatch(/Verification successful/);
    const r = await validate(padded);
    expect(r.indication).toBe('TOTAL-PASSED');
    expect(r.warnings.join(' ')).toMatch(/2048 zero bytes of padding/);
    const junk = await validate(Buffer.concat([cms, Buffer.from('trailing')]));
    expect(junk).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE' });
  });

  it('an element whose tag is not the one RFC 5652 gives is refused, as openssl refuses it "wrong tag": ContentInfo or SignedData as a SET', async () => {
    const cms = buildCms({ ...base('ec'), digestAlg: NO_PARAMS(OID.sha256), hash: 'sha256', sigAlg: NO_PARAMS(OID.ecdsaSha256), sign: (d) => nodeSign('sha256', d, ecKey) });
    expect(inspectCms(cms, CONTENT).signers[0].signatureValid).toBe(true);
    // ContentInfo: 30 len (06 09 signedData) a0 len 30 …; the lengths here are long forms of two bytes
    const sdAt = cms.indexOf(Buffer.from([0xa0]), 2 + 2 + 11) + 4;
    expect(cms[sdAt]).toBe(0x30);
    for (const at of [0, sdAt]) {
      const flipped = Buffer.from(cms);
      flipped[at] = 0x31;
      expect(opensslVerify(flipped, CONTENT).out, `tag at ${at}`).not.toMatch(/Verification successful/);
      expect(() => inspectCms(flipped, CONTENT), `tag at ${at}`).toThrow(/expected tag 0x30/);
      expect(await validate(flipped), `tag at ${at}`).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE' });
    }
  });

  it('a content-time-stamp attribute present twice is judged, each token over the content (openssl ts agrees), not FORMAT_FAILURE; a message-digest twice is still refused', async () => {
    const tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
    await tsa.start();
    const stamper = localTimeStamper(tsa);
    const good = await stamper.stamp(createHash('sha256').update(CONTENT).digest(), 'sha256');
    const other = await stamper.stamp(createHash('sha256').update('another document').digest(), 'sha256');
    const chain = save(lab.dir, 'tsa-chain.pem', Buffer.from(toPem('CERTIFICATE', tsa.certificate()) + toPem('CERTIFICATE', lab.issuing)));
    const tsVerify = (token: Buffer) => opensslStatus(['ts', '-verify', '-in', save(lab.dir, `${Math.random()}.tst`, token), '-token_in', '-data', save(lab.dir, 'c.bin', CONTENT), '-CAfile', lab.rootPath, '-untrusted', chain]).out;
    expect(tsVerify(Buffer.from(good))).toMatch(/Verification: OK/);
    expect(tsVerify(Buffer.from(other))).not.toMatch(/Verification: OK/);
    const twice = buildCms({ ...base('ec'), extraAttrs: [attribute(OID.contentTimestamp, Buffer.from(good)), attribute(OID.contentTimestamp, Buffer.from(other))], digestAlg: NO_PARAMS(OID.sha256), hash: 'sha256', sigAlg: NO_PARAMS(OID.ecdsaSha256), sign: (d) => nodeSign('sha256', d, ecKey) });
    expect(opensslVerify(twice, CONTENT).out).toMatch(/Verification successful/);
    const r = await validate(twice);
    expect(r.subIndication).not.toBe('FORMAT_FAILURE');
    expect(r.checks).toMatchObject({ integrity: true, signatureValue: true });
    expect(r.warnings.join(' ')).toMatch(/content-time-stamp attribute appears more than once/);
    // DER sorts the signed attributes: the tokens come in encoding order
    expect(r.timestamps?.filter((t) => t.type === 'content').map((t) => t.valid).sort()).toEqual([false, true]);
    expect(r.warnings.join(' ')).toMatch(/a content time-stamp is not valid: the message imprint/);
    const md = attribute('1.2.840.113549.1.9.4', octets(createHash('sha256').update('other').digest()));
    const ambiguous = buildCms({ ...base('ec'), extraAttrs: [md], digestAlg: NO_PARAMS(OID.sha256), hash: 'sha256', sigAlg: NO_PARAMS(OID.ecdsaSha256), sign: (d) => nodeSign('sha256', d, ecKey) });
    expect(await validate(ambiguous)).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE' });
  });

  it('a certificate carried with a non-minimal DER length is read, not dropped: the signer is found (openssl agrees)', async () => {
    const cert = Buffer.from(ec.certificate);
    // 30 82 LL LL → 30 83 00 LL LL: the same certificate, its outer length in one byte too many
    expect(cert[1]).toBe(0x82);
    const loose = Buffer.concat([Buffer.from([0x30, 0x83, 0x00]), cert.subarray(2)]);
    const cms = buildCms({ ...base('ec'), carriedCerts: [loose, lab.issuing], digestAlg: NO_PARAMS(OID.sha256), hash: 'sha256', sigAlg: NO_PARAMS(OID.ecdsaSha256), sign: (d) => nodeSign('sha256', d, ecKey) });
    expect(opensslVerify(cms, CONTENT).out).toMatch(/Verification successful/);
    const r = await validate(cms);
    expect(r).toMatchObject({ indication: 'TOTAL-PASSED', checks: { signingCertificateReference: 'ok' } });
    expect(r.warnings.join(' ')).toMatch(/BER/);
  });

  it('a certificate that cannot be read is reported, not silently dropped: the signer is then not found (INDETERMINATE), and the report says why', async () => {
    // the signer's certificate with its notBefore made unreadable (same length, so the DER stays well formed)
    const broken = Buffer.from(ec.certificate);
    const at = broken.indexOf(Buffer.from('170d', 'hex'));
    expect(at).toBeGreaterThan(0);
    broken.write('XX', at + 2, 'latin1');
    const cms = buildCms({ ...base('ec'), carriedCerts: [broken, lab.issuing], digestAlg: NO_PARAMS(OID.sha256), hash: 'sha256', sigAlg: NO_PARAMS(OID.ecdsaSha256), sign: (d) => nodeSign('sha256', d, ecKey) });
    expect(opensslVerify(cms, CONTENT).out).not.toMatch(/Verification successful/);
    const r = await validate(cms);
    expect(r).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'NO_SIGNING_CERTIFICATE_FOUND' });
    expect(r.warnings.join(' ')).toMatch(/certificate 1 of 2 in the CMS cannot be read/);
  });

  it('a CMS with an embedded CRL of about 2 MB (over 300,000 DER elements) is read and validated, in bounded time', async () => {
    // a CRL of 100,000 entries signed by a key of its own: well formed, not authentic — path validation sets it aside
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const issuer = parseCertificate(lab.issuing).subject.der;
    const when = time(new Date('2026-01-01T00:00:00Z'));
    const entries: Buffer[] = [];
    for (let i = 0; i < 100_000; i++) entries.push(seq(int(1_000_000 + i), when));
    const tbs = seq(int(1), NO_PARAMS(OID.ecdsaSha256), issuer, when, time(new Date('2036-01-01T00:00:00Z')), tlv(TAG.SEQUENCE, Buffer.concat(entries)));
    const crl = seq(tbs, NO_PARAMS(OID.ecdsaSha256), tlv(0x03, Buffer.concat([Buffer.from([0]), nodeSign('sha256', tbs, privateKey)])));
    expect(crl.length).toBeGreaterThan(1_900_000);
    const cms = buildCms({ ...base('ec'), crls: [crl], digestAlg: NO_PARAMS(OID.sha256), hash: 'sha256', sigAlg: NO_PARAMS(OID.ecdsaSha256), sign: (d) => nodeSign('sha256', d, ecKey) });
    const t0 = performance.now();
    const r = await validate(cms);
    const ms = performance.now() - t0;
    expect(r.subIndication).not.toBe('FORMAT_FAILURE');
    expect(r.checks).toMatchObject({ integrity: true, signatureValue: true });
    expect(inspectCms(cms, CONTENT).crls[0].length).toBe(crl.length);
    console.log(`CMS of ${cms.length} bytes with a CRL of 100,000 entries validated in ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(15_000);
  });
});
