/**
 * A security server's identity: an authentication key (software: the TLS stack uses it in process) and
 * the owner member's signing key (any key store, PKCS#11 included), each with a PKCS#10 request signed by
 * the key itself, and the certificates the CA issues for them under the `agency-auth` and
 * `agency-signing` profiles. The signing certificate names its member the exchange's way: subject
 * serialNumber `INSTANCE/CLASS/CODE`. Certificates are checked against their keys before they are kept.
 */
import { bitString, ctx as explicit, int, seq } from '../../asn1/der.js';
import { defaultScheme, SCHEMES, type KeyAlgorithm } from '../../crypto/algorithms.js';
import type { KeyStores, KeyInfo } from '../../crypto/keystore.js';
import { encodeName, type NameAttribute } from '../../pki/name.js';
import { parseCertificate } from '../../pki/path/index.js';
import { TrucError } from '../../errors.js';
import type { ServerId } from '../ids.js';
import type { ServerStore } from './store.js';

export type IdentityKind = 'auth' | 'sign';

export const PROFILE_OF: Record<IdentityKind, string> = { auth: 'agency-auth', sign: 'agency-signing' };

export function identitySubject(kind: IdentityKind, id: ServerId, memberName: string): NameAttribute[] {
  const owner = `${id.instance}/${id.memberClass}/${id.memberCode}`;
  const o = memberName.slice(0, 64);
  return kind === 'sign'
    ? [{ type: 'C', value: 'VN' }, { type: 'O', value: o }, { type: 'CN', value: o }, { type: 'serialNumber', value: owner }]
    : [{ type: 'C', value: 'VN' }, { type: 'O', value: o }, { type: 'OU', value: id.serverCode.slice(0, 64) }, { type: 'CN', value: `${id.serverCode}.${id.memberCode}`.slice(0, 64) }];
}

export async function makeCsr(keys: KeyStores, key: KeyInfo, subject: NameAttribute[]): Promise<Buffer> {
  const scheme = defaultScheme(key.algorithm);
  const cri = seq(int(0), encodeName(subject), key.spki, explicit(0));
  const signature = await keys.get(key.ref.store).sign(key.ref.id, scheme, cri);
  return seq(cri, Buffer.from(SCHEMES[scheme].algorithmIdentifier), bitString(signature));
}

export interface PendingKey {
  kind: IdentityKind;
  key: KeyInfo;
  csr: Buffer;
  subject: NameAttribute[];
}

/** Generates the two keys and their requests (`truc ss init`). */
export async function generateIdentityKeys(
  keys: KeyStores,
  id: ServerId,
  memberName: string,
  opts: { algorithm?: KeyAlgorithm; signKeyStore?: string; only?: IdentityKind } = {},
): Promise<PendingKey[]> {
  const alg = opts.algorithm ?? 'EC-P256';
  const out: PendingKey[] = [];
  for (const kind of opts.only ? [opts.only] : (['auth', 'sign'] as const)) {
    const store = kind === 'auth' ? keys.get('software') : opts.signKeyStore ? keys.get(opts.signKeyStore) : keys.default;
    const key = await store.generate(alg, `exchange:${kind}:${id.memberCode}/${id.serverCode}`);
    const subject = identitySubject(kind, id, memberName);
    out.push({ kind, key, subject, csr: await makeCsr(keys, key, subject) });
  }
  return out;
}

/** Refuses a certificate that cannot be read or is not for `key` (the key generated for it). */
export function checkCertForKey(kind: IdentityKind, key: KeyInfo, certDer: Buffer): void {
  let cert;
  try {
    cert = parseCertificate(certDer);
  } catch (e) {
    throw new TrucError('malformed_der', `the ${kind} certificate cannot be read: ${(e as Error).message}`);
  }
  if (!cert.spki.equals(key.spki)) throw new TrucError('cert_invalid', `the ${kind} certificate is not for the key generated for it`);
}

/** Keeps an issued certificate as the server's identity once it matches the key it was requested for. */
export async function importIdentityCert(store: ServerStore, kind: IdentityKind, key: KeyInfo, certDer: Buffer): Promise<void> {
  checkCertForKey(kind, key, certDer);
  await store.putIdentity({ name: kind, cert: certDer, keyStore: key.ref.store, keyId: key.ref.id });
}

/**
 * The whole identity at once, with a CA at hand (the demonstration axis, tests, an agency running its own
 * CA role): generate, request, issue, import.
 */
export async function provisionIdentity(
  store: ServerStore,
  keys: KeyStores,
  id: ServerId,
  memberName: string,
  issue: (csr: Buffer, profile: string, subject: NameAttribute[]) => Promise<Buffer>,
  opts: { algorithm?: KeyAlgorithm; signKeyStore?: string } = {},
): Promise<void> {
  for (const p of await generateIdentityKeys(keys, id, memberName, opts)) {
    const der = await issue(p.csr, PROFILE_OF[p.kind], p.subject);
    await importIdentityCert(store, p.kind, p.key, der);
  }
}
