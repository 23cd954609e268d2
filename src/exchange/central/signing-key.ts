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
  /** the key's certificate, DER */
  certificate: Buffer;
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
    const info = await ctx.keys.get(given.ref.store).info(given.ref.id);
    const scheme = given.scheme ?? defaultScheme(info.algorithm);
    if (!schemeFitsKey(scheme, info.algorithm)) throw new TrucError('key_not_allowed', `scheme ${scheme} does not fit a ${info.algorithm} key`);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(given.certificate);
    } catch {
      throw new TrucError('malformed_der', 'the configuration-signing certificate is not a DER certificate');
    }
    if (!Buffer.from(cert.publicKey.export({ type: 'spki', format: 'der' })).equals(info.spki))
      throw new TrucError('bad_request', 'the configuration-signing certificate is not for that key');
    const row: SigningKeyRow = { keyStore: given.ref.store, keyId: given.ref.id, scheme, certificate: given.certificate };
    const have = await getSigningKey(ctx.db);
    if (!have || have.keyId !== row.keyId || have.keyStore !== row.keyStore || !have.certificate.equals(row.certificate))
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
    spki: info.spki,
    extensions: [ext.basicConstraints(false), ext.keyUsage(['digitalSignature']), ext.subjectKeyIdentifier(keyIdentifier(info.spki))],
  });
  const certificate = encodeCertificate(tbs, sigAlg, await store.sign(info.ref.id, scheme, tbs));
  const kept = await ctx.db.tx(async (sql) => {
    const k = await putSigningKeyOnce(sql, { keyStore: store.kind, keyId: info.ref.id, scheme, certificate });
    if (k.keyId === info.ref.id)
      await appendAudit(sql, [{ actor, action: 'central.signing-key.generate', target: ctx.instance, outcome: 'success', detail: { keyStore: store.kind, keyId: info.ref.id, scheme } }], ctx.clock());
    return k;
  });
  return signerOf(ctx, kept);
}
