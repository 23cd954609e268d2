/**
 * The configuration-signing key: a key in the platform's key store (software or PKCS#11), used by handle,
 * with a certificate the anchor carries. An operator may name a key and its certificate (issued by our CA,
 * or any); otherwise the first central process generates one in the default key store with a self-signed
 * certificate, and every central process sharing the database uses the one stored first.
 */
import { randomBytes } from 'node:crypto';
import { defaultScheme, parseScheme, schemeFitsKey, SCHEMES, type SignatureScheme } from '../../crypto/algorithms.js';
import type { KeyRef } from '../../crypto/keystore.js';
import { encodeCertificate, encodeTbs, ext, keyIdentifier } from '../../pki/certificate.js';
import { encodeName } from '../../pki/index.js';
import { TrucError } from '../../errors.js';
import { appendAudit } from '../../audit/index.js';
import type { CentralContext } from './context.js';
import { getSigningKey, putSigningKeyOnce, replaceSigningKey, type SigningKeyRow } from './store.js';
import { X509Certificate } from 'node:crypto';

export interface SigningKeyInput {
  ref: KeyRef;
  /** the key's certificate, DER (issued by our CA, or any); default: a self-signed one made for the key */
  certificate?: Buffer;
  scheme?: SignatureScheme;
}

export interface ConfSigner {
  keyStore: string;
  keyId: string;
  scheme: SignatureScheme;
  certificate: Buffer;
  sign(data: Uint8Array): Promise<Buffer>;
}

const VALIDITY_DAYS = 3650;

function signerOf(ctx: CentralContext, row: SigningKeyRow): ConfSigner {
  const store = ctx.keys.get(row.keyStore);
  const scheme = parseScheme(row.scheme);
  return { keyStore: row.keyStore, keyId: row.keyId, scheme, certificate: row.certificate, sign: (data) => store.sign(row.keyId, scheme, data) };
}

/** The signing key to use: the one given (stored for the other processes), the stored one, or a new one. */
export async function ensureSigningKey(ctx: CentralContext, given?: SigningKeyInput, actor = 'system'): Promise<ConfSigner> {
  if (given) {
    const store = ctx.keys.get(given.ref.store);
    const info = await store.info(given.ref.id);
    const scheme = given.scheme ?? defaultScheme(info.algorithm);
    if (!schemeFitsKey(scheme, info.algorithm)) throw new TrucError('key_not_allowed', `scheme ${scheme} does not fit a ${info.algorithm} key`);
    const have = await getSigningKey(ctx.db);
    let certificate = given.certificate;
    // the same key named again without a certificate keeps the certificate made for it before
    if (!certificate && have && have.keyStore === given.ref.store && have.keyId === given.ref.id) certificate = have.certificate;
    certificate ??= await selfSigned(ctx, given.ref.store, given.ref.id, info.spki, scheme);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certificate);
    } catch {
      throw new TrucError('malformed_der', 'the configuration-signing certificate is not a DER certificate');
    }
    if (!Buffer.from(cert.publicKey.export({ type: 'spki', format: 'der' })).equals(info.spki))
      throw new TrucError('bad_request', 'the configuration-signing certificate is not for that key');
    const row: SigningKeyRow = { keyStore: given.ref.store, keyId: given.ref.id, scheme, certificate };
    if (!have || have.keyId !== row.keyId || have.keyStore !== row.keyStore || !have.certificate.equals(row.certificate) || have.scheme !== scheme)
      await ctx.db.tx(async (sql) => {
        await replaceSigningKey(sql, row);
        await appendAudit(sql, [{ actor, action: 'central.signing-key.set', target: ctx.instance, outcome: 'success', detail: { keyStore: row.keyStore, keyId: row.keyId, scheme } }], ctx.clock());
      });
    return signerOf(ctx, row);
  }
  const have = await getSigningKey(ctx.db);
  if (have) return signerOf(ctx, have);
  const store = ctx.keys.default;
  const info = await store.generate('EC-P256', `central-conf-signing:${ctx.instance}`);
  const scheme = defaultScheme(info.algorithm);
  const certificate = await selfSigned(ctx, store.kind, info.ref.id, info.spki, scheme);
  const kept = await ctx.db.tx(async (sql) => {
    const k = await putSigningKeyOnce(sql, { keyStore: store.kind, keyId: info.ref.id, scheme, certificate });
    if (k.keyId === info.ref.id)
      await appendAudit(sql, [{ actor, action: 'central.signing-key.generate', target: ctx.instance, outcome: 'success', detail: { keyStore: store.kind, keyId: info.ref.id, scheme } }], ctx.clock());
    return k;
  });
  return signerOf(ctx, kept);
}

/**
 * The signer stored now: another central process sharing the database may have replaced the key, and
 * every process must sign with the one the anchors are being moved to.
 */
export async function storedSigner(ctx: CentralContext, cached: ConfSigner): Promise<ConfSigner> {
  const row = await getSigningKey(ctx.db);
  if (!row || (row.keyStore === cached.keyStore && row.keyId === cached.keyId && row.certificate.equals(cached.certificate) && row.scheme === cached.scheme)) return cached;
  return signerOf(ctx, row);
}

/** A self-signed certificate for the configuration-signing key (the anchor carries it; nothing chains to it). */
async function selfSigned(ctx: CentralContext, storeKind: string, keyId: string, spki: Buffer, scheme: SignatureScheme): Promise<Buffer> {
  const now = ctx.clock();
  const subject = encodeName([
    { type: 'C', value: 'VN' },
    { type: 'O', value: `Trục ${ctx.instance}` },
    { type: 'CN', value: `Configuration signing ${ctx.instance}` },
  ]);
  const sigAlg = SCHEMES[scheme].algorithmIdentifier;
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const tbs = encodeTbs(sigAlg, subject, {
    serial,
    notBefore: new Date(Math.floor(now.getTime() / 1000) * 1000 - 60_000),
    notAfter: new Date(now.getTime() + VALIDITY_DAYS * 86_400_000),
    subject,
    spki,
    extensions: [ext.basicConstraints(false), ext.keyUsage(['digitalSignature']), ext.subjectKeyIdentifier(keyIdentifier(spki))],
  });
  return encodeCertificate(tbs, sigAlg, await ctx.keys.get(storeKind).sign(keyId, scheme, tbs));
}
