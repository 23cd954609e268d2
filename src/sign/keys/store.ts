/**
 * Signing keys the platform holds for its principals (server-side signing): one row per principal names
 * the key in a key store and the certificate our CA issued to it. `createSignKey` generates the key,
 * requests the certificate with a PKCS#10 signed by the store, and records both; `keySigner` turns a row
 * into the ExternalSigner the formats ask for. The private key is only ever used by handle.
 */
import { defaultScheme, type KeyAlgorithm, type SignatureScheme } from '../../crypto/algorithms.js';
import type { KeyStores } from '../../crypto/keystore.js';
import { TrucError } from '../../errors.js';
import { caChain, parseNameString, type Issuer, type PkiContext } from '../../pki/index.js';
import type { Db, Sql } from '../../store/index.js';
import type { ExternalSigner } from '../signer.js';
import { keyStoreCsr } from './request.js';

export { signKeyMigrations } from './migrations.js';

export const SIGN_PROFILES = ['official-signing', 'agency-signing'] as const;

export interface SignKey {
  principal: string;
  keyStore: string;
  keyId: string;
  scheme: SignatureScheme;
  serial: string;
  caId: string;
  certificate: Buffer;
  profile: string;
  createdAt: Date;
}

interface Row {
  principal: string;
  key_store: string;
  key_id: string;
  scheme: string;
  serial: string;
  ca_id: string;
  certificate: Uint8Array;
  profile: string;
  created_at: Date | string;
}

const fromRow = (r: Row): SignKey => ({
  principal: r.principal,
  keyStore: r.key_store,
  keyId: r.key_id,
  scheme: r.scheme as SignatureScheme,
  serial: r.serial,
  caId: r.ca_id,
  certificate: Buffer.from(r.certificate),
  profile: r.profile,
  createdAt: new Date(r.created_at),
});

export async function getSignKey(sql: Sql, principal: string): Promise<SignKey | null> {
  const [r] = await sql.query<Row>('SELECT * FROM sign_key WHERE principal = $1', [principal]);
  return r ? fromRow(r) : null;
}

export async function listSignKeys(sql: Sql): Promise<SignKey[]> {
  return (await sql.query<Row>('SELECT * FROM sign_key ORDER BY principal')).map(fromRow);
}

export interface CreateSignKey {
  principal: string;
  /** the vetted subject DN, e.g. "C=VN, O=Bộ Tư pháp, CN=Nguyễn Văn An" */
  subject: string;
  profile: (typeof SIGN_PROFILES)[number];
  algorithm?: KeyAlgorithm;
  caId?: string;
  actor: string;
}

export async function createSignKey(db: Db, keys: KeyStores, issuer: Issuer, req: CreateSignKey): Promise<SignKey> {
  if (!SIGN_PROFILES.includes(req.profile)) throw new TrucError('bad_request', `profile must be one of ${SIGN_PROFILES.join(', ')}`);
  if (!req.principal || req.principal.length > 200) throw new TrucError('bad_request', 'a principal name of 1 to 200 characters is needed');
  if (await getSignKey(db, req.principal)) throw new TrucError('conflict', `principal "${req.principal}" already has a signing key`);
  const subject = parseNameString(req.subject);
  const algorithm = req.algorithm ?? 'EC-P256';
  const store = keys.default;
  const info = await store.generate(algorithm, `sign:${req.principal}`);
  const scheme = defaultScheme(algorithm);
  const csr = await keyStoreCsr(store, info.ref.id, info.spki, scheme, subject);
  const issued = await issuer.issue({ profile: req.profile, csr, subject, ...(req.caId ? { caId: req.caId } : {}) }, req.actor);
  const [row] = await db.query<Row>(
    `INSERT INTO sign_key (principal, key_store, key_id, scheme, serial, ca_id, certificate, profile) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING *`,
    [req.principal, store.kind, info.ref.id, scheme, issued.serial, issued.caId, issued.der, req.profile],
  );
  return fromRow(row);
}

/** The ExternalSigner over a held key: its certificate, the CA chain above it, signing by the key store. */
export async function keySigner(pki: PkiContext, k: SignKey): Promise<ExternalSigner> {
  const chain = (await caChain(pki, k.caId)).map((c) => Buffer.from(c.certificate));
  const store = pki.keys.get(k.keyStore);
  return { certificate: k.certificate, chain, scheme: k.scheme, sign: (data) => store.sign(k.keyId, k.scheme, data) };
}
