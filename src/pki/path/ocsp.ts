/**
 * OCSP responses (RFC 6960) read as revocation evidence: a successful BasicOCSPResponse, signed by the CA
 * itself or by a responder certificate the CA issued for id-kp-OCSPSigning (valid at the validation time),
 * naming that signer in its responderID, with a SingleResponse whose CertID matches the certificate and
 * whose thisUpdate/nextUpdate bracket the validation time. The delegated responder's own revocation status
 * is not checked (RFC 6960 4.2.2.2.1 lets CAs mark them id-pkix-ocsp-nocheck; we treat all that way).
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Asn1Schema from '@peculiar/asn1-schema';
import type * as Asn1Ocsp from '@peculiar/asn1-ocsp';
import type { BasicOCSPResponse } from '@peculiar/asn1-ocsp';
import { children, checkTree, parseOne } from '../../asn1/reader.js';
import { parseCertificate, type Certificate } from './certificate.js';
import { checkSignature } from './signature.js';
import { certIdParts, CERT_ID_HASH_OIDS, type CertIdHash } from './ocsp-request.js';
import { parseName } from './name.js';
import { readOid, readBitString, serialKey } from './primitives.js';
import type { IssuerInfo } from './issuer.js';
import { MAX_OCSP_BYTES, OCSP_MAX_AGE_MS, OCSP_SKEW_MS } from './limits.js';
import { OID, UNDERSTOOD_CERT_EXTENSIONS } from './oids.js';

// the ASN.1 schema classes load with the first OCSP response read: a signature that carries none (B-B,
// B-T) is checked without them, which spared `truc verify` about a tenth of its start
const require = createRequire(import.meta.url);
const asn1 = () => ({
  AsnConvert: (require('@peculiar/asn1-schema') as typeof Asn1Schema).AsnConvert,
  BasicOCSPResponse: (require('@peculiar/asn1-ocsp') as typeof Asn1Ocsp).BasicOCSPResponse,
});

export interface OcspAnswer {
  status: 'good' | 'revoked' | 'unknown';
  thisUpdate: Date;
  nextUpdate?: Date;
  revocationTime?: Date;
  revocationReason?: number;
}

export type OcspOutcome = { ok: true; answer: OcspAnswer } | { ok: false; why: string; noMatch?: boolean };

interface ParsedResponse {
  basic: BasicOCSPResponse;
  tbs: Buffer;
  signatureAlgorithm: Buffer;
  signature: Buffer;
  certs: Buffer[];
}

/** Parses an OCSPResponse down to its BasicOCSPResponse; null with a reason when it is not a usable one. */
export function parseOcspResponse(der: Buffer): ParsedResponse | string {
  try {
    checkTree(der, 'OCSP response', 32);
    const root = parseOne(der, 'OCSP response', MAX_OCSP_BYTES);
    const [statusEl, bytesEl] = children(root, 'OCSP response', 2);
    if (statusEl?.tag !== 0x0a || statusEl.value.length !== 1) return 'malformed OCSP response';
    if (statusEl.value[0] !== 0) return `OCSP responder answered status ${statusEl.value[0]}`;
    const [rb] = bytesEl ? children(bytesEl, 'responseBytes', 1) : [];
    const [typeEl, octs] = rb ? children(rb, 'responseBytes', 2) : [];
    if (!typeEl || !octs || readOid(typeEl, 'responseType') !== OID.ocspBasic || octs.tag !== 0x04)
      return 'not a basic OCSP response';
    const basicEl = parseOne(octs.value, 'BasicOCSPResponse', MAX_OCSP_BYTES);
    const [tbsEl, algEl, sigEl, certsEl] = children(basicEl, 'BasicOCSPResponse', 4);
    if (!tbsEl || !algEl || !sigEl) return 'malformed BasicOCSPResponse';
    const certs: Buffer[] = [];
    if (certsEl) {
      const [list] = children(certsEl, 'BasicOCSPResponse certs', 1);
      if (list) for (const c of children(list, 'BasicOCSPResponse certs', 20)) certs.push(Buffer.from(c.raw));
    }
    return {
      basic: asn1().AsnConvert.parse(basicEl.raw, asn1().BasicOCSPResponse),
      tbs: tbsEl.raw,
      signatureAlgorithm: algEl.raw,
      signature: readBitString(sigEl, 'OCSP signature').bytes,
      certs,
    };
  } catch (e) {
    return `malformed OCSP response: ${(e as Error).message}`;
  }
}

function hashNameOf(oid: string): CertIdHash | undefined {
  return (Object.keys(CERT_ID_HASH_OIDS) as CertIdHash[]).find((h) => CERT_ID_HASH_OIDS[h] === oid);
}

/** A delegated responder: issued by the CA (name and signature), for OCSPSigning, valid at `time`. */
function authorisedDelegate(c: Certificate, issuer: IssuerInfo, time: Date): boolean {
  if (c.issuer.key !== issuer.name.key) return false;
  if (!c.extKeyUsage?.includes(OID.kpOcspSigning)) return false;
  if (time < c.notBefore || time > c.notAfter) return false;
  if (c.keyUsage && !c.keyUsage.has('digitalSignature') && !c.keyUsage.has('nonRepudiation')) return false;
  for (const [oid, ext] of c.extensions)
    if (ext.critical && !UNDERSTOOD_CERT_EXTENSIONS.has(oid)) return false;
  return (
    checkSignature(c.signatureAlgorithm, issuer.spki, c.tbs, c.signature) === 'ok' &&
    c.signatureAlgorithmMatches
  );
}

export function evaluateOcsp(
  parsed: ParsedResponse,
  cert: Certificate,
  issuer: IssuerInfo,
  time: Date,
): OcspOutcome {
  const data = parsed.basic.tbsResponseData;
  // find the SingleResponse for this certificate first: a response about other certificates is no evidence
  const serial = cert.serialHex;
  const single = data.responses.find((r) => {
    const h = hashNameOf(r.certID.hashAlgorithm.algorithm);
    if (!h) return false;
    const want = certIdParts(cert, issuer, h);
    return (
      serialKey(Buffer.from(r.certID.serialNumber)) === serial &&
      Buffer.from(r.certID.issuerNameHash.buffer).equals(want.issuerNameHash) &&
      Buffer.from(r.certID.issuerKeyHash.buffer).equals(want.issuerKeyHash)
    );
  });
  if (!single) return { ok: false, why: 'no response for this certificate', noMatch: true };

  // who signed: the CA itself, or a delegate among the enclosed certificates, as named by responderID
  const rid = data.responderID;
  const ridMatches = (name: IssuerInfo['name'], keyBits: Buffer) => {
    if (rid.byKey) return Buffer.from(rid.byKey.buffer).equals(createHash('sha1').update(keyBits).digest());
    if (rid.byName) {
      try {
        return parseName(Buffer.from(asn1().AsnConvert.serialize(rid.byName))).key === name.key;
      } catch {
        return false;
      }
    }
    return false;
  };
  let signerSpki: Buffer | undefined;
  if (ridMatches(issuer.name, issuer.publicKeyBits)) signerSpki = issuer.spki;
  else
    for (const der of parsed.certs) {
      let c: Certificate;
      try {
        c = parseCertificate(der);
      } catch {
        continue;
      }
      if (ridMatches(c.subject, c.publicKeyBits) && authorisedDelegate(c, issuer, time)) {
        signerSpki = c.spki;
        break;
      }
    }
  if (!signerSpki) return { ok: false, why: 'OCSP response signed by an unauthorised responder' };
  if (checkSignature(parsed.signatureAlgorithm, signerSpki, parsed.tbs, parsed.signature) !== 'ok')
    return { ok: false, why: 'OCSP response signature does not verify' };

  for (const e of single.singleExtensions ?? [])
    if (e.critical) return { ok: false, why: `OCSP single response has critical extension ${e.extnID}` };
  for (const e of data.responseExtensions ?? [])
    if (e.critical) return { ok: false, why: `OCSP response has critical extension ${e.extnID}` };

  const thisUpdate = single.thisUpdate;
  const nextUpdate = single.nextUpdate;
  if (thisUpdate.getTime() > time.getTime() + OCSP_SKEW_MS)
    return { ok: false, why: 'OCSP response is not yet valid' };
  if (nextUpdate ? time > nextUpdate : time.getTime() - thisUpdate.getTime() > OCSP_MAX_AGE_MS)
    return { ok: false, why: 'OCSP response is stale' };

  const st = single.certStatus;
  const base = { thisUpdate, ...(nextUpdate ? { nextUpdate } : {}) };
  if (st.revoked)
    return {
      ok: true,
      answer: {
        status: 'revoked',
        ...base,
        revocationTime: st.revoked.revocationTime,
        ...(st.revoked.revocationReason
          ? { revocationReason: st.revoked.revocationReason.reason as number }
          : {}),
      },
    };
  if (st.good !== undefined) return { ok: true, answer: { status: 'good', ...base } };
  return { ok: true, answer: { status: 'unknown', ...base } };
}
