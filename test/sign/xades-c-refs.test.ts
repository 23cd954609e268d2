/**
 * XAdES-C/X/XL references to validation data (issue 21, item 4): a signature xmlsec1 makes from a template,
 * raised to B-LT (a time-stamp, CertificateValues and RevocationValues from the platform's TSA, OCSP responder
 * and CA), then given CompleteCertificateRefs and CompleteRevocationRefs whose digests, serial numbers, CRL issue
 * times and OCSP production times openssl computes from the values in the file. Each reference is checked
 * against the values at hand and reported: those openssl computed match; one naming a certificate that is there
 * with another digest is a mismatch, one matching nothing is an orphan — both warnings, as EU DSS reports them;
 * the signature's verdict is unchanged and xmlsec1 still verifies it.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import {
  augmentXades,
  localTimeStamper,
  platformEvidence,
  validateXades,
  type LevelContext,
} from '../../src/sign/index.js';
import { openssl } from '../helpers/openssl.js';
import { openLab, save, xadesTemplate, type Lab } from './fixtures.js';

const XA = 'http://uri.etsi.org/01903/v1.3.2#';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const SHA1 = 'http://www.w3.org/2000/09/xmldsig#sha1';


describe('XAdES-C/X/XL: CompleteCertificateRefs and CompleteRevocationRefs checked against the values', () => {
  let lab: Lab;
  let responder: OcspResponder;
  let ctx: LevelContext;
  let signer: Awaited<ReturnType<Lab['signer']>>;
  beforeAll(async () => {
    lab = await openLab();
    const tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, {
      policy: '2.16.704.1.101.1.6.1',
      accuracyMs: 1000,
    });
    await tsa.start();
    responder = new OcspResponder(lab.p.pki, lab.p.issuer, {
      validityMinutes: 60,
      refreshBeforeMinutes: 10,
      signWith: 'delegated',
      pollSeconds: 60,
    });
    await responder.start();
    ctx = {
      timeStamper: localTimeStamper(tsa),
      evidence: platformEvidence(lab.p.pki, responder),
      trustAnchors: [lab.root],
    };
    signer = await lab.signer('/C=VN/O=Cục Thuế/CN=Cơ quan thuế C');
  }, 60_000);
  afterAll(async () => {
    await responder?.stop?.();
    await lab?.p.close();
  });

  const xmlsec = (args: string[]) => spawnSync('xmlsec1', args, { encoding: 'utf8' });
  const ID = ['--id-attr:Id', `${XA}:SignedProperties`];
  /** openssl's digest of a DER value, base64 */
  const dgst = (name: string, der: Buffer, alg: 'sha256' | 'sha1') =>
    Buffer.from(
      openssl(['dgst', `-${alg}`, '-hex', save(lab.dir, name, der)])
        .trim()
        .split('= ')[1]!,
      'hex',
    ).toString('base64');
  const values = (xml: string, tag: string) =>
    [...xml.matchAll(new RegExp(`<(?:\\w+:)?${tag}[^>]*>([^<]+)<`, 'g'))].map((m) =>
      Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'),
    );

  /** xmlsec1 signs the template with the signer's key, its certificate (and `chain`) in KeyInfo */
  function xmlsecSigned(name: string, chain: string[]): Buffer {
    const certDer = Buffer.from(new X509Certificate(readFileSync(signer.certPath)).raw);
    const path = save(
      lab.dir,
      `${name}.tmpl.xml`,
      Buffer.from(xadesTemplate(createHash('sha256').update(certDer).digest('base64'), 'Thông báo số 9/TB-CT')),
    );
    const out = join(lab.dir, `${name}.xml`);
    const r = xmlsec([
      '--sign',
      ...ID,
      '--privkey-pem',
      [signer.keyPath, signer.certPath, ...chain].join(','),
      '--output',
      out,
      path,
    ]);
    expect(r.status, r.stderr).toBe(0);
    return readFileSync(out);
  }

  it('references openssl computed match; a changed digest is a mismatch, an unknown one an orphan — warnings, the verdict unchanged, xmlsec1 agrees', async () => {
    const certDer = Buffer.from(new X509Certificate(readFileSync(signer.certPath)).raw);
    const lt = await augmentXades(xmlsecSigned('c-refs', [lab.issuingPath]).toString('utf8'), 'B-LT', ctx);
    const before = (await validateXades(lt, { trustAnchors: [lab.root] })).signatures[0]!;

    const certs = values(lt, 'EncapsulatedX509Certificate');
    const crls = values(lt, 'EncapsulatedCRLValue');
    const ocsps = values(lt, 'EncapsulatedOCSPValue');
    expect(certs.length).toBeGreaterThan(0);
    expect(crls.length + ocsps.length).toBeGreaterThan(0);
    const serial = (c: Buffer, i: number) =>
      BigInt(
        `0x${
          openssl(['x509', '-inform', 'DER', '-in', save(lab.dir, `s${i}.der`, c), '-noout', '-serial'])
            .trim()
            .split('=')[1]
        }`,
      ).toString();
    const cert = (digest: string, alg: string, serialNo?: string) =>
      `<xades:Cert><xades:CertDigest><ds:DigestMethod Algorithm="${alg}"/><ds:DigestValue>${digest}</ds:DigestValue></xades:CertDigest>` +
      (serialNo
        ? `<xades:IssuerSerial><ds:X509IssuerName>CN=x</ds:X509IssuerName><ds:X509SerialNumber>${serialNo}</ds:X509SerialNumber></xades:IssuerSerial>`
        : '') +
      '</xades:Cert>';
    const certRefs = [
      ...certs.map((c, i) => cert(dgst(`c${i}.der`, c, 'sha256'), SHA256, serial(c, i))),
      cert(dgst('signer.der', certDer, 'sha1'), SHA1),
      // the first value's serial with another certificate's digest: the one it names is there, changed
      cert(
        createHash('sha256').update('không phải chứng thư này').digest('base64'),
        SHA256,
        serial(certs[0]!, 0),
      ),
      // nothing at hand has this digest
      cert(createHash('sha256').update('mồ côi').digest('base64'), SHA256),
    ];
    const crlIssued = (c: Buffer, i: number) =>
      new Date(
        openssl(['crl', '-inform', 'DER', '-in', save(lab.dir, `l${i}.der`, c), '-noout', '-lastupdate'])
          .trim()
          .split('=')[1]!,
      )
        .toISOString()
        .replace(/\.000Z$/, 'Z');
    const produced = (o: Buffer, i: number) => {
      const text = openssl(['ocsp', '-respin', save(lab.dir, `o${i}.der`, o), '-resp_text', '-noverify']);
      return new Date(/Produced At: (.+)/.exec(text)![1]!.trim()).toISOString().replace(/\.000Z$/, 'Z');
    };
    const dav = (digest: string) =>
      `<xades:DigestAlgAndValue><ds:DigestMethod Algorithm="${SHA256}"/><ds:DigestValue>${digest}</ds:DigestValue></xades:DigestAlgAndValue>`;
    const crlRefs = crls.map(
      (c, i) =>
        `<xades:CRLRef>${dav(dgst(`l${i}.der`, c, 'sha256'))}<xades:CRLIdentifier><xades:Issuer>CN=x</xades:Issuer><xades:IssueTime>${crlIssued(c, i)}</xades:IssueTime></xades:CRLIdentifier></xades:CRLRef>`,
    );
    const ocspRefs = ocsps.flatMap((o, i) => [
      `<xades:OCSPRef><xades:OCSPIdentifier><xades:ResponderID><xades:ByName>CN=x</xades:ByName></xades:ResponderID><xades:ProducedAt>${produced(o, i)}</xades:ProducedAt></xades:OCSPIdentifier>${dav(dgst(`o${i}.der`, o, 'sha256'))}</xades:OCSPRef>`,
      // an OCSP reference without its optional digest: named by its production time alone
      `<xades:OCSPRef><xades:OCSPIdentifier><xades:ResponderID><xades:ByName>CN=x</xades:ByName></xades:ResponderID><xades:ProducedAt>${produced(o, i)}</xades:ProducedAt></xades:OCSPIdentifier></xades:OCSPRef>`,
    ]);
    const props =
      `<xades:CompleteCertificateRefs><xades:CertRefs>${certRefs.join('')}</xades:CertRefs></xades:CompleteCertificateRefs>` +
      `<xades:CompleteRevocationRefs>${crlRefs.length ? `<xades:CRLRefs>${crlRefs.join('')}</xades:CRLRefs>` : ''}${ocspRefs.length ? `<xades:OCSPRefs>${ocspRefs.join('')}</xades:OCSPRefs>` : ''}</xades:CompleteRevocationRefs>`;
    const withRefs = lt.replace(/(<\/(?:\w+:)?SignatureTimeStamp>)/, `$1${props}`);
    expect(withRefs).not.toBe(lt);
    const file = save(lab.dir, 'c-refs-x.xml', Buffer.from(withRefs));
    const v = xmlsec([
      '--verify',
      ...ID,
      '--trusted-pem',
      lab.rootPath,
      '--untrusted-pem',
      lab.issuingPath,
      file,
    ]);
    expect(v.status, v.stderr).toBe(0);

    const s = (await validateXades(withRefs, { trustAnchors: [lab.root] })).signatures[0]!;
    expect([s.indication, s.subIndication]).toEqual([before.indication, before.subIndication]);
    expect(s.checks).toMatchObject({
      integrity: true,
      signatureValue: true,
      signingCertificateReference: 'ok',
    });
    const refs = s.validationDataReferences!;
    const n = certs.length;
    expect(refs.map((x) => [x.kind, x.matches])).toEqual([
      ...certs.map(() => ['certificate', true]),
      ['certificate', true],
      ['certificate', false],
      ['certificate', null],
      ...crls.map(() => ['crl', true]),
      ...ocsps.flatMap(() => [
        ['ocsp', true],
        ['ocsp', true],
      ]),
    ]);
    expect(refs.slice(0, n + 1).every((x) => x.source === 'signature')).toBe(true);
    expect(refs[n + 1]!.problem).toMatch(/another digest/);
    expect(refs[n + 2]!.problem).toMatch(/no chứng thư \/ certificate at hand has the referenced digest/);
    const w = s.warnings.join('\n');
    expect(w).toMatch(
      new RegExp(`validation data reference ${n + 2} \\(certificate, serial \\d+\\): .*another digest`),
    );
    expect(w).toMatch(new RegExp(`validation data reference ${n + 3} \\(certificate\\)`));
    expect(w).not.toMatch(/unsigned properties not validated/);

    // a CRL or OCSP response whose reference was made for other content: named by its time, digest differs
    const tampered = withRefs.replace(
      /(<xades:(?:CRLRef|OCSPRef)>[\s\S]*?<ds:DigestValue>)([^<]+)/,
      (_m, head: string) => `${head}${createHash('sha256').update('khác').digest('base64')}`,
    );
    const t = (await validateXades(tampered, { trustAnchors: [lab.root] })).signatures[0]!;
    expect(t.indication).toBe(before.indication);
    expect(t.validationDataReferences![n + 3]).toMatchObject({ matches: false });
  });

  it('references to values only validation had (the certificate path, not carried): matched there', async () => {
    const bt = await augmentXades(xmlsecSigned('c-refs2', []).toString('utf8'), 'B-T', ctx);
    const refs = `<xades:CompleteCertificateRefsV2><xades:CertRefs><xades:Cert><xades:CertDigest><ds:DigestMethod Algorithm="${SHA256}"/><ds:DigestValue>${dgst('root.der', lab.root, 'sha256')}</ds:DigestValue></xades:CertDigest></xades:Cert></xades:CertRefs></xades:CompleteCertificateRefsV2>`;
    const s = (
      await validateXades(bt.replace(/(<\/(?:\w+:)?SignatureTimeStamp>)/, `$1${refs}`), {
        trustAnchors: [lab.root],
        intermediates: [lab.issuing],
      })
    ).signatures[0]!;
    expect(s.validationDataReferences).toEqual([
      { kind: 'certificate', matches: true, source: 'validation' },
    ]);
  });
});
