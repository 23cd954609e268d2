/**
 * Two-phase signing over the one-call signers. Step one runs the format's signer (`signPdf`, `signCades`,
 * `signXades`) with a stand-in that records the bytes it is asked to sign and stops there: that is the data
 * to be signed — the DER of the CMS signed attributes (PAdES, CAdES) or the exclusive-canonical SignedInfo
 * (XAdES). Step two runs the same signer with the same document and parameters and a stand-in that checks
 * it is asked to sign exactly the bytes of step one and answers the value the token made; the format then
 * embeds it and raises the signature to its level with the usual augmentation. Every input of the bytes to
 * be signed is fixed by the parameters (the claimed time, the XAdES Ids), so the two runs agree; if the
 * document changed they do not, and nothing is written.
 *
 * The value is checked against the certificate's public key before step two starts.
 */
import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { SCHEMES, type SignatureScheme } from '../../crypto/algorithms.js';
import { verifyWith } from '../../crypto/sign.js';
import { seq, uintFromBytes } from '../../asn1/der.js';
import type { ExternalSigner, SignerIdentity } from '../signer.js';
import type { LevelContext } from '../level.js';
import { signPdf } from '../pades/sign.js';
import { signCades } from '../cades/sign.js';
import { signXades, type XadesPackaging } from '../xades/sign.js';
import { derivedId, schemeOf, type TwoPhaseParams } from './params.js';

export interface SignerCertificate {
  certificate: Uint8Array;
  chain?: Uint8Array[];
}

export interface DataToBeSigned {
  /** the bytes the token signs (with the scheme's hash) */
  data: Buffer;
  /** their digest with the scheme's hash, for showing and for tokens that sign a digest */
  digest: Buffer;
  hash: string;
  scheme: SignatureScheme;
}

class Captured extends Error {
  constructor(readonly data: Buffer) {
    super('data to be signed captured');
  }
}

function identityOf(signer: SignerCertificate, p: TwoPhaseParams): SignerIdentity {
  const scheme = p.scheme ?? schemeOf(signer.certificate);
  if (!SCHEMES[scheme]) throw new TrucError('bad_request', `unknown signature scheme "${scheme}"`);
  return { certificate: Buffer.from(signer.certificate), chain: (signer.chain ?? []).map((c) => Buffer.from(c)), scheme };
}

async function run(document: Uint8Array, signer: ExternalSigner, p: TwoPhaseParams, ctx: LevelContext): Promise<Buffer> {
  const signingTime = new Date(p.signingTime);
  if (p.format === 'pades')
    return signPdf(document, signer, {
      level: p.level,
      context: ctx,
      signingTime,
      ...(p.reason ? { reason: p.reason } : {}),
      ...(p.location ? { location: p.location } : {}),
      ...(p.page !== undefined ? { page: p.page } : {}),
      ...(p.fieldName ? { fieldName: p.fieldName } : {}),
      ...(p.visible ? { visible: { rect: p.visible.rect, ...(p.visible.lines ? { lines: p.visible.lines } : {}) } } : {}),
    });
  if (p.format === 'cades') return signCades(document, signer, { level: p.level, context: ctx, signingTime, packaging: (p.packaging as 'detached' | 'enveloping') ?? 'detached' });
  const xml = await signXades(document, signer, {
    level: p.level,
    context: ctx,
    signingTime,
    packaging: (p.packaging as XadesPackaging) ?? 'enveloped',
    signatureId: derivedId(document, signer.certificate, p),
    ...(p.contentUri ? { contentUri: p.contentUri } : {}),
  });
  return typeof xml === 'string' ? Buffer.from(xml, 'utf8') : xml;
}

/** Step one: the bytes the signer's token must sign for this document and these parameters. */
export async function dataToBeSigned(document: Uint8Array, signer: SignerCertificate, p: TwoPhaseParams): Promise<DataToBeSigned> {
  const identity = identityOf(signer, p);
  const capture: ExternalSigner = {
    ...identity,
    sign: (data) => {
      throw new Captured(Buffer.from(data));
    },
  };
  try {
    // a stand-in time-stamper: PAdES sizes its placeholder for the level, and is stopped before any stamp
    await run(document, capture, p, { timeStamper: { stamp: () => Promise.reject(new TrucError('internal', 'no time-stamp in step one')) } });
  } catch (e) {
    const c = e instanceof Captured ? e : (e as { cause?: unknown })?.cause instanceof Captured ? ((e as { cause: Captured }).cause) : undefined;
    if (c) return describe(c.data, identity.scheme);
    throw e;
  }
  throw new TrucError('internal', 'the signer was never asked to sign');
}

export function describe(data: Buffer, scheme: SignatureScheme): DataToBeSigned {
  const hash = SCHEMES[scheme].hash ?? 'sha512';
  return { data, digest: createHash(hash).update(data).digest(), hash, scheme };
}

/** An ECDSA value as r‖s (what PKCS#11 and WebCrypto give) brought to DER; anything else as it is. */
function ecdsaDer(value: Buffer, certificate: Uint8Array): Buffer {
  if (value[0] === 0x30 && value.length > 8 && value[1] + 2 === value.length) return value;
  const size = { prime256v1: 32, secp384r1: 48, secp521r1: 66 }[new X509Certificate(Buffer.from(certificate)).publicKey.asymmetricKeyDetails?.namedCurve ?? ''];
  if (!size || value.length !== size * 2) return value;
  return seq(uintFromBytes(value.subarray(0, size)), uintFromBytes(value.subarray(size)));
}

/**
 * Checks a signature value made by the token over `data` with the certificate's key; answers it in the
 * form the formats embed (ECDSA in DER). A value that does not verify is refused: `invalid_signature`.
 */
export function checkValue(data: Buffer, scheme: SignatureScheme, certificate: Uint8Array, value: Uint8Array): Buffer {
  let v: Buffer = Buffer.from(value);
  if (SCHEMES[scheme].family === 'ecdsa') v = ecdsaDer(v, certificate);
  const spki = new X509Certificate(Buffer.from(certificate)).publicKey.export({ type: 'spki', format: 'der' });
  if (!v.length || !verifyWith(spki, scheme, data, v))
    throw new TrucError('invalid_signature', 'the signature value does not verify against the signer\'s certificate over the data to be signed (another key, other data, or a damaged value) — nothing was signed', {
      scheme,
    });
  return v;
}

/**
 * Step two: the signed document at the level of the parameters. `expected` is the data to be signed of
 * step one; the value has been checked (`checkValue`). The same document and parameters must give the
 * same data to be signed, else the document changed: `document_changed`, nothing written.
 */
export async function completeDocument(
  document: Uint8Array,
  signer: SignerCertificate,
  p: TwoPhaseParams,
  expected: Buffer,
  value: Buffer,
  ctx: LevelContext,
): Promise<Buffer> {
  const identity = identityOf(signer, p);
  const fixed: ExternalSigner = {
    ...identity,
    sign: (data) => {
      const d = Buffer.from(data);
      if (d.length !== expected.length || !timingSafeEqual(d, expected))
        throw new TrucError('document_changed', 'the document or its parameters changed since the data to be signed was made: the signature does not cover it — nothing was signed');
      return value;
    },
  };
  return run(document, fixed, p, ctx);
}
