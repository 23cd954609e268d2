/**
 * Certificates for the platform's own services (delegated OCSP responders, the time-stamping authority):
 * a key generated in the key store, a PKCS#10 request signed by that key (so issuance goes through the
 * same checks and audit as any other), issued under a profile by an issuing CA. `needsRenewal` says when
 * one has used up two thirds of its validity — services renew at start and on their refresh timer. Which
 * certificate and key a service uses is kept in one table, `pki_service_cert`, keyed by service and slot
 * (the OCSP responder has one per CA, the TSA one).
 */
import { bitString, ctx as explicit, int, seq } from '../asn1/der.js';
import { defaultScheme, SCHEMES, type KeyAlgorithm, type SignatureScheme } from '../crypto/algorithms.js';
import type { Issuer, Issued } from './issue.js';
import { decodeName, encodeName, type NameAttribute } from './name.js';
import type { CaRow } from './store.js';
import type { AltNames } from './san.js';
import type { PkiContext } from './context.js';
import type { Migration, Sql } from '../store/index.js';

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
  /** the key store the key is made in (default the platform's default store) */
  keyStore?: string;
  /** alternative names (a TLS listener's DNS names and addresses) */
  altNames?: Partial<AltNames>;
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
  const store = req.keyStore ? pki.keys.get(req.keyStore) : pki.keys.default;
  const info = await store.generate(alg, `${req.profile}:${req.ca.id}`);
  const scheme = defaultScheme(alg);
  const subject = serviceSubject(req.ca, req.commonName, req.profile === 'time-stamping');
  // CertificationRequestInfo: version 0, subject, key, no attributes
  const cri = seq(int(0), encodeName(subject), info.spki, explicit(0));
  const signature = await store.sign(info.ref.id, scheme, cri);
  const csr = seq(cri, Buffer.from(SCHEMES[scheme].algorithmIdentifier), bitString(signature));
  const issued = await issuer.issue({ profile: req.profile, csr, caId: req.ca.id, subject, ...(req.altNames ? { altNames: req.altNames } : {}) }, req.actor);
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

export const serviceCertMigrations: Migration[] = [
  {
    id: 'pki/002_service_cert',
    sql: `
      CREATE TABLE pki_service_cert (
        service text NOT NULL,
        slot text NOT NULL,
        ca_id text NOT NULL REFERENCES pki_ca(id),
        key_store text NOT NULL,
        key_id text NOT NULL,
        scheme text NOT NULL,
        serial text NOT NULL,
        certificate bytea NOT NULL,
        not_before timestamptz NOT NULL,
        not_after timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (service, slot)
      );
    `,
  },
];

/** A service's current certificate and the key that goes with it. */
export interface ServiceCertRow {
  caId: string;
  keyStore: string;
  keyId: string;
  scheme: SignatureScheme;
  serial: string;
  certificate: Buffer;
  notBefore: Date;
  notAfter: Date;
}

export async function getServiceCert(sql: Sql, service: string, slot: string): Promise<ServiceCertRow | null> {
  const [r] = await sql.query<any>('SELECT * FROM pki_service_cert WHERE service = $1 AND slot = $2', [service, slot]);
  return r
    ? {
        caId: r.ca_id,
        keyStore: r.key_store,
        keyId: r.key_id,
        scheme: r.scheme,
        serial: r.serial,
        certificate: Buffer.from(r.certificate),
        notBefore: new Date(r.not_before),
        notAfter: new Date(r.not_after),
      }
    : null;
}

async function putServiceCert(sql: Sql, service: string, slot: string, r: ServiceCertRow): Promise<void> {
  await sql.query(
    `INSERT INTO pki_service_cert (service, slot, ca_id, key_store, key_id, scheme, serial, certificate, not_before, not_after)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
     ON CONFLICT (service, slot) DO UPDATE SET ca_id = $3, key_store = $4, key_id = $5, scheme = $6, serial = $7,
       certificate = $8, not_before = $9, not_after = $10, created_at = now()`,
    [service, slot, r.caId, r.keyStore, r.keyId, r.scheme, r.serial, r.certificate, r.notBefore, r.notAfter],
  );
}

/**
 * The service's certificate in `slot`: the stored one while it has a third of its life left (and `renewIf`
 * does not ask for a new one, e.g. a TLS listener's names changed), otherwise a new key and certificate,
 * issued and stored. `issued` says which happened.
 */
export async function ensureServiceCert(
  pki: PkiContext,
  issuer: Issuer,
  service: string,
  slot: string,
  req: () => Promise<ServiceCertRequest>,
  o: { renewIf?: (have: ServiceCertRow) => boolean; now?: Date } = {},
): Promise<{ row: ServiceCertRow; issued: boolean }> {
  const have = await getServiceCert(pki.db, service, slot);
  if (have && !o.renewIf?.(have) && !needsRenewal(have.notBefore, have.notAfter, o.now ?? pki.clock())) return { row: have, issued: false };
  const r = await req();
  const { key, issued } = await issueServiceCert(pki, issuer, r);
  const row: ServiceCertRow = {
    caId: r.ca.id,
    keyStore: key.keyStore,
    keyId: key.keyId,
    scheme: key.scheme,
    serial: issued.serial,
    certificate: issued.der,
    notBefore: issued.notBefore,
    notAfter: issued.notAfter,
  };
  await putServiceCert(pki.db, service, slot, row);
  return { row, issued: true };
}
