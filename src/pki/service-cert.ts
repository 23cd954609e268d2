/**
 * Certificates for the platform's own services (delegated OCSP responders, the time-stamping authority):
 * a key generated in the key store, a PKCS#10 request signed by that key (so issuance goes through the
 * same checks and audit as any other), issued under a profile by an issuing CA. `needsRenewal` says when
 * one has used up two thirds of its validity — services renew at start and on their refresh timer.
 */
import { bitString, ctx as explicit, int, seq } from '../asn1/der.js';
import { defaultScheme, SCHEMES, type KeyAlgorithm, type SignatureScheme } from '../crypto/algorithms.js';
import type { Issuer, Issued } from './issue.js';
import { decodeName, encodeName, type NameAttribute } from './name.js';
import type { CaRow } from './store.js';
import type { PkiContext } from './context.js';

export interface ServiceKey {
  keyStore: string;
  keyId: string;
  scheme: SignatureScheme;
  spki: Buffer;
}

export interface ServiceCertRequest {
  ca: CaRow;
  profile: string;
  /** the CN; O and C come from the CA's subject (fallbacks: Trục, VN) */
  commonName: string;
  keyAlgorithm?: KeyAlgorithm;
  actor: string;
}

/** Subject for a service of a CA: CN given, organisation and country as the CA's. */
export function serviceSubject(ca: CaRow, commonName: string, withCountry: boolean): NameAttribute[] {
  const caName = decodeName(ca.subjectDer);
  const o = caName.find((a) => a.type === 'O')?.value ?? 'Trục';
  const c = caName.find((a) => a.type === 'C')?.value ?? 'VN';
  return [...(withCountry ? [{ type: 'C', value: c }] : []), { type: 'O', value: o }, { type: 'CN', value: commonName }];
}

export async function issueServiceCert(
  pki: PkiContext,
  issuer: Issuer,
  req: ServiceCertRequest,
): Promise<{ key: ServiceKey; issued: Issued }> {
  const alg = req.keyAlgorithm ?? 'EC-P256';
  const store = pki.keys.default;
  const info = await store.generate(alg, `${req.profile}:${req.ca.id}`);
  const scheme = defaultScheme(alg);
  const subject = serviceSubject(req.ca, req.commonName, req.profile === 'time-stamping');
  // CertificationRequestInfo: version 0, subject, key, no attributes
  const cri = seq(int(0), encodeName(subject), info.spki, explicit(0));
  const signature = await store.sign(info.ref.id, scheme, cri);
  const csr = seq(cri, Buffer.from(SCHEMES[scheme].algorithmIdentifier), bitString(signature));
  const issued = await issuer.issue({ profile: req.profile, csr, caId: req.ca.id, subject }, req.actor);
  return { key: { keyStore: store.kind, keyId: info.ref.id, scheme, spki: info.spki }, issued };
}

/** True when less than a third of the certificate's validity is left (or it is gone). */
export function needsRenewal(notBefore: Date, notAfter: Date, now: Date): boolean {
  const life = notAfter.getTime() - notBefore.getTime();
  return notAfter.getTime() - now.getTime() < life / 3;
}

/** A signing function for a service key: synchronous where the store offers it (software keys). */
export async function serviceSigner(
  pki: PkiContext,
  key: { keyStore: string; keyId: string; scheme: SignatureScheme },
): Promise<{ sign: (data: Uint8Array) => Buffer | Promise<Buffer>; sync: boolean }> {
  const store = pki.keys.get(key.keyStore);
  const sync = store.syncSigner ? await store.syncSigner(key.keyId, key.scheme) : null;
  if (sync) return { sign: sync, sync: true };
  return { sign: (data: Uint8Array) => store.sign(key.keyId, key.scheme, data), sync: false };
}
