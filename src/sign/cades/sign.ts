/**
 * CAdES baseline B-B (ETSI EN 319 122-1): a CMS SignedData with one signer whose signed attributes are
 * content-type, message-digest, signing-certificate-v2 and signing-time, detached (the `.p7s` beside the
 * file) or enveloping (the content inside, a `.p7m`). Two phases for external signers — `prepareCades`
 * gives the DER to sign, `completeCades` wraps the signature value — and `signCades` doing both.
 */
import { createHash } from 'node:crypto';
import { digestFor, type DigestName } from '../cms/attributes.js';
import type { ExternalSigner, SignerIdentity } from '../signer.js';
import { rank, type Level, type LevelContext } from '../level.js';
import { augmentCades } from './augment.js';
import { signedAttributes, signedData } from './signed-data.js';

export interface CadesOptions {
  /** detached (default) or enveloping */
  packaging?: 'detached' | 'enveloping';
  /** claimed signing time (default now) */
  signingTime?: Date;
  /** eContentType OID (default id-data) */
  contentType?: string;
  /** baseline level (default B-B); above B-B the context supplies the time-stamper and revocation data */
  level?: Level;
  context?: LevelContext;
  /** further signed attributes, DER `Attribute`s — e.g. the vault's `securityLabelAttribute(level)` */
  extraAttributes?: Buffer[];
}

export interface PreparedCades {
  identity: SignerIdentity;
  digest: DigestName;
  /** the DER the signer signs */
  signedAttributes: Buffer;
  contentType?: string;
  /** kept for an enveloping signature */
  content?: Buffer;
}

export function prepareCades(content: Uint8Array, identity: SignerIdentity, opts: CadesOptions = {}): PreparedCades {
  const digest = digestFor(identity.scheme);
  const messageDigest = createHash(digest).update(content).digest();
  return {
    identity,
    digest,
    signedAttributes: signedAttributes({ certificate: identity.certificate, messageDigest, contentType: opts.contentType, signingTime: opts.signingTime ?? new Date(), extra: opts.extraAttributes }),
    contentType: opts.contentType,
    content: opts.packaging === 'enveloping' ? Buffer.from(content) : undefined,
  };
}

export function completeCades(prepared: PreparedCades, signature: Buffer, unsignedAttrs: Buffer[] = []): Buffer {
  return signedData({ ...prepared, signedAttrs: prepared.signedAttributes, signature, unsignedAttrs });
}

export async function signCades(content: Uint8Array, signer: ExternalSigner, opts: CadesOptions = {}): Promise<Buffer> {
  const prepared = prepareCades(content, signer, opts);
  const bb = completeCades(prepared, await signer.sign(prepared.signedAttributes));
  return rank(opts.level ?? 'B-B') > 0 ? augmentCades(bb, opts.level!, opts.context ?? {}, 0, content) : bb;
}
