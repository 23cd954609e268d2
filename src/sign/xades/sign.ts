/**
 * XAdES baseline B-B (ETSI EN 319 132-1), enveloped: a ds:Signature inside the document's root element
 * whose SignedInfo (exclusive C14N) references the document (enveloped-signature transform, then
 * exclusive C14N) and the SignedProperties (SigningTime, SigningCertificateV2). The KeyInfo carries the
 * signer's certificate and chain. The signature value comes from the ExternalSigner through the engine in
 * `engine.ts`; xadesjs builds and canonicalises the rest.
 */
import { X509Certificate } from 'node:crypto';
import { XMLSerializer } from '@xmldom/xmldom';
import { externalKey, xades } from './engine.js';
import { parseXml } from './parse.js';
import type { ExternalSigner } from '../signer.js';
import { rank, type Level, type LevelContext } from '../level.js';
import { augmentXades } from './levels.js';

export interface XadesOptions {
  signingTime?: Date;
  /** baseline level (default B-B); B-T and B-LT need the context's time-stamper and revocation data */
  level?: Level;
  context?: LevelContext;
}

const CURVES: Record<string, string> = { 'prime256v1': 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

export async function signXades(xml: Uint8Array | string, signer: ExternalSigner, opts: XadesOptions = {}): Promise<string> {
  const x = xades();
  const doc = parseXml(xml);
  const cert = new X509Certificate(Buffer.from(signer.certificate));
  const curve = cert.publicKey.asymmetricKeyDetails?.namedCurve;
  const { algorithm, key } = externalKey(signer, curve ? CURVES[curve] : undefined);
  const b64 = Buffer.from(signer.certificate).toString('base64');
  const hash = (algorithm.hash as { name: string }).name;
  const signed = new x.SignedXml();
  signed.XmlSignature.SignedInfo.CanonicalizationMethod.Algorithm = 'http://www.w3.org/2001/10/xml-exc-c14n#';
  await signed.Sign(algorithm as never, key, doc as never, {
    references: [{ uri: '', hash, transforms: ['enveloped', 'exc-c14n'] }],
    x509: [b64, ...(signer.chain ?? []).map((c) => Buffer.from(c).toString('base64'))],
    signingCertificateV2: b64,
    signingTime: { value: opts.signingTime ?? new Date() },
  } as never);
  doc.documentElement.appendChild(signed.GetXml() as never);
  const bb = new XMLSerializer().serializeToString(doc as never);
  if (rank(opts.level ?? 'B-B') === 0) return bb;
  const sigs = doc.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature').length;
  return augmentXades(bb, opts.level!, opts.context ?? {}, sigs - 1);
}
