/**
 * Signers for the signature tests: real certificates issued by the test platform's CA to keys made by
 * openssl, a signer over each key (node:crypto, hashing per scheme), the CA certificates as files for the
 * external judges (openssl, pdfsig, xmlsec1), and PDFs written by pdf-lib in both cross-reference forms.
 */
import { constants, createPrivateKey, sign as nodeSign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { toPem } from '../../src/asn1/der.js';
import { listCas } from '../../src/pki/index.js';
import { SCHEMES, type SignatureScheme } from '../../src/crypto/algorithms.js';
import type { ExternalSigner } from '../../src/sign/signer.js';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { localTimeStamper, platformEvidence, type LevelContext } from '../../src/sign/index.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { opensslCsr, tmp, writePem } from '../helpers/openssl.js';

export interface Lab {
  p: TestPlatform;
  dir: string;
  root: Buffer;
  issuing: Buffer;
  rootPath: string;
  issuingPath: string;
  signer(subject: string, opts?: { profile?: string; keyArgs?: string[]; scheme?: SignatureScheme }): Promise<ExternalSigner & { keyPath: string; certPath: string; serial: string }>;
}

export async function openLab(): Promise<Lab> {
  const p = await testPlatform('memory://');
  const dir = tmp('truc-sign-');
  const cas = await listCas(p.db);
  const root = Buffer.from(cas.find((c) => c.id === 'root')!.certificate);
  const issuing = Buffer.from(cas.find((c) => c.id === 'issuing')!.certificate);
  const rootPath = writePem(dir, 'root.pem', toPem('CERTIFICATE', root));
  const issuingPath = writePem(dir, 'issuing.pem', toPem('CERTIFICATE', issuing));
  return {
    p,
    dir,
    root,
    issuing,
    rootPath,
    issuingPath,
    async signer(subject, opts = {}) {
      const { csr, keyPath } = opensslCsr(dir, subject, opts.keyArgs);
      const issued = await p.issuer.issue({ profile: opts.profile ?? 'official-signing', csr }, 'ra1');
      const key = createPrivateKey(readFileSync(keyPath));
      const scheme: SignatureScheme = opts.scheme ?? (key.asymmetricKeyType === 'rsa' ? 'rsa-pkcs1-sha256' : 'ecdsa-sha256');
      const info = SCHEMES[scheme];
      const certPath = writePem(dir, `${issued.serial}.pem`, toPem('CERTIFICATE', issued.der));
      return {
        certificate: issued.der,
        chain: [issuing],
        scheme,
        keyPath,
        certPath,
        serial: issued.serial,
        sign: (data: Uint8Array) =>
          nodeSign(
            info.hash,
            data,
            info.family === 'rsa-pss' ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : info.family === 'ecdsa' ? { key, dsaEncoding: 'der' } : key,
          ),
      };
    },
  };
}

export const OCSP_OPTS = { validityMinutes: 60, refreshBeforeMinutes: 10, signWith: 'delegated' as const, pollSeconds: 60 };

export interface LabServices {
  tsa: TimeStampAuthority;
  responder: OcspResponder;
  /** what signers raise levels with: the lab's TSA, its OCSP answers, its root */
  ctx: LevelContext;
  /** the TSA's certificate then the issuing CA, PEM, for `openssl ts -verify -untrusted` */
  tsaChain: string;
}

/** The lab's time-stamping authority and OCSP responder, started (stop the responder after). */
export async function labServices(lab: Lab): Promise<LabServices> {
  const tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
  await tsa.start();
  const responder = new OcspResponder(lab.p.pki, lab.p.issuer, OCSP_OPTS);
  await responder.start();
  const ctx: LevelContext = { timeStamper: localTimeStamper(tsa), evidence: platformEvidence(lab.p.pki, responder), trustAnchors: [lab.root] };
  const tsaChain = writePem(lab.dir, 'tsa-chain.pem', toPem('CERTIFICATE', tsa.certificate()) + toPem('CERTIFICATE', lab.issuing));
  return { tsa, responder, ctx, tsaChain };
}

/**
 * An enveloped XAdES-BES over a small notice, with empty digest and signature values for xmlsec1 to fill
 * (`--sign`): SigningTime now, SigningCertificateV2 naming the certificate by its SHA-256 (base64).
 */
export function xadesTemplate(certDigest: string, notice = 'Thông báo số 12/TB-CT'): string {
  const DS = 'http://www.w3.org/2000/09/xmldsig#';
  const XA = 'http://uri.etsi.org/01903/v1.3.2#';
  const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ThongBao><NoiDung>${notice}</NoiDung>` +
    `<ds:Signature xmlns:ds="${DS}" Id="sig-1"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>` +
    `<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>` +
    `<ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="${DS}enveloped-signature"/></ds:Transforms><ds:DigestMethod Algorithm="${SHA256}"/><ds:DigestValue/></ds:Reference>` +
    `<ds:Reference URI="#sp-1" Type="http://uri.etsi.org/01903#SignedProperties"><ds:DigestMethod Algorithm="${SHA256}"/><ds:DigestValue/></ds:Reference>` +
    `</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo>` +
    `<ds:Object><xades:QualifyingProperties xmlns:xades="${XA}" Target="#sig-1"><xades:SignedProperties Id="sp-1"><xades:SignedSignatureProperties>` +
    `<xades:SigningTime>${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}</xades:SigningTime>` +
    `<xades:SigningCertificateV2><xades:Cert><xades:CertDigest><ds:DigestMethod Algorithm="${SHA256}"/><ds:DigestValue>${certDigest}</ds:DigestValue></xades:CertDigest></xades:Cert></xades:SigningCertificateV2>` +
    `</xades:SignedSignatureProperties></xades:SignedProperties></xades:QualifyingProperties></ds:Object></ds:Signature></ThongBao>`
  );
}

/** A two-page PDF by pdf-lib: with object and cross-reference streams, or a classic table. */
export async function samplePdf(objectStreams: boolean, text = 'Công văn số 123/UBND'): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (let i = 0; i < 2; i++) {
    const page = doc.addPage([595, 842]);
    page.drawText(`${text.normalize('NFD').replace(/[^\x20-\x7e]/g, '')} - page ${i + 1}`, { x: 50, y: 780, size: 14, font });
  }
  return Buffer.from(await doc.save({ useObjectStreams: objectStreams }));
}

/** A one-page form by pdf-lib: document number, recipient, and a note. */
export async function formPdf(objectStreams: boolean): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const page = doc.addPage([595, 842]);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  page.drawText('Phieu trinh', { x: 50, y: 780, size: 16, font });
  const form = doc.getForm();
  for (const [i, [name, value]] of [['soHieu', '12/PT-UBND'], ['nguoiNhan', 'Van phong UBND'], ['ghiChu', '']].entries()) {
    const f = form.createTextField(name);
    f.setText(value);
    f.addToPage(page, { x: 50, y: 700 - i * 40, width: 300, height: 24, font });
  }
  return Buffer.from(await doc.save({ useObjectStreams: objectStreams }));
}

export function save(dir: string, name: string, data: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

/** A small PDF written by hand, so each test can break one thing; offsets computed, not guessed. */
export function handPdf(objects: string[], trailerExtra = '', opts: { prevSelf?: boolean } = {}): Buffer {
  let out = '%PDF-1.7\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xrefAt = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) out += `${String(off).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<</Size ${objects.length + 1}/Root 1 0 R${opts.prevSelf ? `/Prev ${xrefAt}` : ''}${trailerExtra}>>\nstartxref\n${xrefAt}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

