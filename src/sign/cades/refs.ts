/**
 * CAdES-C references to validation data (TS 101 733 §6.2.1, §6.2.2; EN 319 122-2): complete-certificate-references
 * (SEQUENCE OF OtherCertID: a hash of the certificate, SHA-1 as a bare OCTET STRING or any algorithm with
 * OtherHashAlgAndValue, and optionally the issuer and serial) and complete-revocation-references (SEQUENCE OF
 * CrlOcspRef: CRLs by hash and optionally issuer, issue time and number; OCSP responses by responder and production
 * time and optionally hash), read into the references XAdES's are matched with (`xades/refs.ts`). Bounded: at most
 * MAX_REFS references, unreadable ones skipped with a note.
 */
import { children, parseOne, type Element } from '../../asn1/reader.js';
import { parseCertificate, parseCrl } from '../../pki/path/index.js';
import { parseOcspResponse } from '../../pki/path/ocsp.js';
import { readDigestAlgorithm } from '../cms/signature-value.js';
import type { Ref } from '../xades/refs.js';
import type { CmsSigner } from './verify.js';
import { note, type ReportNote } from '../validate/notes.js';

export const COMPLETE_CERTIFICATE_REFS = '1.2.840.113549.1.9.16.2.21';
export const COMPLETE_REVOCATION_REFS = '1.2.840.113549.1.9.16.2.22';
const MAX_REFS = 500;

/** OtherHash ::= CHOICE { sha1Hash OCTET STRING, otherHash SEQUENCE { hashAlgorithm, hashValue OCTET STRING } } */
function otherHash(el: Element | undefined): { hash: string; digest: string } | undefined {
  if (!el) return undefined;
  if (el.tag === 0x04) return { hash: 'sha1', digest: Buffer.from(el.value).toString('base64') };
  if (el.tag !== 0x30) return undefined;
  const [alg, value] = children(el, 'OtherHashAlgAndValue', 2);
  const hash = alg?.tag === 0x30 ? readDigestAlgorithm(Buffer.from(alg.raw)).digest : undefined;
  return hash && value?.tag === 0x04 ? { hash, digest: Buffer.from(value.value).toString('base64') } : undefined;
}

const big = (v: Buffer) => BigInt(`0x${v.toString('hex') || '0'}`);
const time = (el: Element | undefined): Date | undefined => {
  if (!el || (el.tag !== 0x17 && el.tag !== 0x18)) return undefined;
  const m = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(el.value.toString('ascii'));
  if (!m) return undefined;
  const y = m[1].length === 2 ? Number(m[1]) + (Number(m[1]) < 50 ? 2000 : 1900) : Number(m[1]);
  return new Date(Date.UTC(y, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
};
const sameSecond = (a: Date, b: Date) => Math.floor(a.getTime() / 1000) === Math.floor(b.getTime() / 1000);

/** The references of a CAdES signer's complete-certificate-references and complete-revocation-references. */
export function readCadesRefs(s: CmsSigner): { refs: Ref[]; notes: ReportNote[] } {
  const refs: Ref[] = [];
  const notes: ReportNote[] = [];
  const push = (r: Ref) => {
    if (refs.length < MAX_REFS) refs.push(r);
  };
  for (const value of s.unsignedAttributes.get(COMPLETE_CERTIFICATE_REFS) ?? []) {
    try {
      for (const id of children(parseOne(value, 'CompleteCertificateRefs'), 'CompleteCertificateRefs', MAX_REFS)) {
        const [h, issuerSerial] = children(id, 'OtherCertID', 2);
        const d = otherHash(h);
        if (!d) continue;
        const serialEl = issuerSerial ? children(issuerSerial, 'IssuerSerial', 3)[1] : undefined;
        const serial = serialEl?.tag === 0x02 ? big(Buffer.from(serialEl.value)) : undefined;
        push({
          kind: 'certificate',
          algorithm: '',
          ...d,
          ...(serial !== undefined
            ? {
                names: `serial ${serial}`,
                named: (der: Buffer) => {
                  try {
                    return BigInt(`0x${parseCertificate(der).serialHex || '0'}`) === serial;
                  } catch {
                    return false;
                  }
                },
              }
            : {}),
        });
      }
    } catch (e) {
      notes.push(note('CERTIFICATE_REFS_UNREADABLE', { detail: (e as Error).message }));
    }
  }
  for (const value of s.unsignedAttributes.get(COMPLETE_REVOCATION_REFS) ?? []) {
    try {
      for (const ref of children(parseOne(value, 'CompleteRevocationRefs'), 'CompleteRevocationRefs', MAX_REFS)) {
        for (const part of children(ref, 'CrlOcspRef', 3)) {
          const inner = children(part, 'CrlOcspRef choice', 1)[0];
          if (!inner) continue;
          if (part.tag === 0xa0) {
            // CRLListID ::= SEQUENCE { crls SEQUENCE OF CrlValidatedID }
            for (const v of children(children(inner, 'CRLListID', 1)[0] ?? inner, 'crls', MAX_REFS)) {
              const [h, identifier] = children(v, 'CrlValidatedID', 2);
              const d = otherHash(h);
              if (!d) continue;
              const issued = identifier ? time(children(identifier, 'CrlIdentifier', 3)[1]) : undefined;
              push({
                kind: 'crl',
                algorithm: '',
                ...d,
                ...(issued
                  ? {
                      names: `CRL issued ${issued.toISOString()}`,
                      named: (der: Buffer) => {
                        try {
                          return sameSecond(parseCrl(der).thisUpdate, issued);
                        } catch {
                          return false;
                        }
                      },
                    }
                  : {}),
              });
            }
          } else if (part.tag === 0xa1) {
            // OcspListID ::= SEQUENCE { ocspResponses SEQUENCE OF OcspResponsesID }
            for (const v of children(children(inner, 'OcspListID', 1)[0] ?? inner, 'ocspResponses', MAX_REFS)) {
              const [identifier, h] = children(v, 'OcspResponsesID', 2);
              const produced = identifier ? time(children(identifier, 'OcspIdentifier', 2)[1]) : undefined;
              const named = produced
                ? (der: Buffer) => {
                    const parsed = parseOcspResponse(der);
                    return typeof parsed !== 'string' && sameSecond(parsed.basic.tbsResponseData.producedAt, produced);
                  }
                : undefined;
              const d = otherHash(h);
              push({ kind: 'ocsp', algorithm: '', ...(d ?? { digest: '' }), ...(produced ? { names: `OCSP produced ${produced.toISOString()}` } : {}), ...(named ? { named } : {}) });
            }
          } else push({ kind: 'other', algorithm: '', digest: '' });
        }
      }
    } catch (e) {
      notes.push(note('REVOCATION_REFS_UNREADABLE', { detail: (e as Error).message }));
    }
  }
  return { refs, notes };
}

export const hasCadesRefs = (s: CmsSigner) => s.unsignedAttributes.has(COMPLETE_CERTIFICATE_REFS) || s.unsignedAttributes.has(COMPLETE_REVOCATION_REFS);
