/**
 * The validation report as XML after ETSI TS 119 102-2 v1.2.1 (namespace http://uri.etsi.org/19102/v1.2.1#):
 * a SignatureValidationReport per signature — SignatureIdentifier, ValidationTimeInfo (validation time and
 * best signature time with its type of proof), SignersDocument (digest of what was validated),
 * SignatureAttributes (claimed signing time, time-stamps), SignerInformation, SignatureValidationProcess
 * and SignatureValidationStatus with main and sub-indication URIs — and SignatureValidationObjects for
 * the certificates, CRLs, OCSP responses and time-stamps the validation used, referred to by id
 * (VOReference attributes); a time-stamp's object carries its own ValidationReport (its indication, and the reason
 * and notes of its validation). The reason and the notes (issue 18) are ReportData typed by their code —
 * `urn:truc:reportdata:reason:<sub-indication>`, `urn:truc:reportdata:note:<code>` — with the text in Vietnamese
 * and English as the value. The element order is the schema's. SignatureQuality (QES / AdES qualification) is not written: the platform
 * does not evaluate qualification against a trusted list.
 */
import { createHash } from 'node:crypto';
import type { Indication, SignatureReport, SubIndication, TimestampReport, ValidationReport } from './report.js';
import { uncatalogued, type ReportNote } from './notes.js';

export const VR_NS = 'http://uri.etsi.org/19102/v1.2.1#';
const DS_NS = 'http://www.w3.org/2000/09/xmldsig#';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';

const MAIN: Record<Indication, string> = {
  'TOTAL-PASSED': 'urn:etsi:019102:mainindication:total-passed',
  'TOTAL-FAILED': 'urn:etsi:019102:mainindication:total-failed',
  INDETERMINATE: 'urn:etsi:019102:mainindication:indeterminate',
};
export const mainIndicationUri = (i: Indication): string => MAIN[i];
export const subIndicationUri = (s: string): string => `urn:etsi:019102:subindication:${s}`;

const OBJECT_TYPE = {
  certificate: 'urn:etsi:019102:validationObject:certificate',
  crl: 'urn:etsi:019102:validationObject:CRL',
  ocsp: 'urn:etsi:019102:validationObject:OCSPResponse',
  timestamp: 'urn:etsi:019102:validationObject:timestamp',
} as const;

/** Escapes text and attribute values (the five XML specials; control characters other than tab/CR/LF dropped). */
export function xmlEscape(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const el = (name: string, body: string, attrs: Record<string, string> = {}): string =>
  `<${name}${Object.entries(attrs).map(([k, v]) => ` ${k}="${xmlEscape(v)}"`).join('')}>${body}</${name}>`;
const text = (name: string, value: string, attrs?: Record<string, string>) => el(name, xmlEscape(value), attrs);
const digest = (hex: string) => el('vr:DigestAlgAndValue', `<ds:DigestMethod Algorithm="${SHA256}"/>${text('ds:DigestValue', Buffer.from(hex, 'hex').toString('base64'))}`);

/** The validation objects, deduplicated by content; ids are stable (derived from the digest). */
class Objects {
  private readonly byId = new Map<string, string>();
  add(type: keyof typeof OBJECT_TYPE, der: Buffer | undefined, sha256hex?: string, poe?: string, report = ''): string {
    const hex = sha256hex ?? createHash('sha256').update(der!).digest('hex');
    const id = `${{ certificate: 'C', crl: 'R', ocsp: 'O', timestamp: 'T' }[type]}-${hex.slice(0, 40)}`;
    if (!this.byId.has(id)) {
      const repr = der ? text('vr:direct', der.toString('base64')) : digest(hex);
      const proof = poe ? el('vr:POE', text('vr:POETime', poe) + text('vr:TypeOfProof', 'urn:etsi:019102:poetype:validation')) : '';
      this.byId.set(id, el('vr:ValidationObject', text('vr:ObjectType', OBJECT_TYPE[type]) + el('vr:ValidationObjectRepresentation', repr) + proof + report, { id }));
    }
    return id;
  }
  xml(): string {
    return this.byId.size ? el('vr:SignatureValidationObjects', [...this.byId.values()].join('')) : '';
  }
}

/** One coded note or reason as ReportData: its code in the type, its text Vietnamese / English as the value. */
function reportData(kind: 'reason' | 'note', n: ReportNote): string {
  const value = n.vi === n.en ? n.en : `${n.vi} / ${n.en}`;
  return el('vr:ReportData', text('vr:Type', `urn:truc:reportdata:${kind}:${n.code}`) + text('vr:Value', value));
}
const messageData = (m: string) => el('vr:ReportData', text('vr:Type', 'urn:truc:reportdata:message') + text('vr:Value', m));

/** The reason and notes of a signature or a time-stamp (a report without notes, written before codes: its sentences). */
function additionalData(o: { reason?: ReportNote; message?: string; notes?: ReportNote[]; warnings?: string[] }): string {
  const parts = [
    ...(o.reason ? [reportData('reason', o.reason)] : o.message ? [messageData(o.message)] : []),
    ...(o.notes ?? (o.warnings ?? []).map(uncatalogued)).map((n) => (n.code === 'UNCATALOGUED' ? messageData(n.vi) : reportData('note', n))),
  ];
  return parts.length ? el('vr:AdditionalValidationReportData', parts.join('')) : '';
}

/** EN 319 102-1 §5.1.3: the sub-indications of TOTAL-FAILED; the others are INDETERMINATE's. */
const FAILED: ReadonlySet<SubIndication> = new Set(['FORMAT_FAILURE', 'HASH_FAILURE', 'SIG_CRYPTO_FAILURE', 'REVOKED', 'EXPIRED', 'NOT_YET_VALID']);

/** A time-stamp's own validation, as the ValidationReport of its validation object. */
function stampReport(t: TimestampReport): string {
  const sub = t.valid ? undefined : (t.reason?.code as SubIndication | undefined);
  const main: Indication = t.valid ? 'TOTAL-PASSED' : sub && FAILED.has(sub) && !t.indication ? 'TOTAL-FAILED' : 'INDETERMINATE';
  const data = additionalData({ ...(t.valid ? {} : { reason: t.reason, message: t.problem }), notes: t.notes, warnings: t.warnings });
  return el(
    'vr:ValidationReport',
    el('vr:SignatureValidationStatus', text('vr:MainIndication', MAIN[main]) + (sub ? text('vr:SubIndication', subIndicationUri(sub)) : '') + (data ? el('vr:AssociatedValidationReportData', data) : '')),
  );
}

/** VOReferenceType: the reference is an attribute (IDREFS) of the element itself */
const ref = (name: string, id: string) => `<${name} VOReference="${xmlEscape(id)}"/>`;

function processId(s: SignatureReport): string {
  // Basic for B-B, LTVM when time-stamps or validation data were used, LTA with archive time-stamps
  const v = s.level === 'B-LTA' ? 'LTA' : s.level === 'B-T' || s.level === 'B-LT' ? 'LTVM' : 'Basic';
  return `urn:etsi:019102:validationprocess:${v}`;
}

function signatureReport(r: ValidationReport, s: SignatureReport, objects: Objects): string {
  const sid = `S-${s.index}`;
  const ident = el('vr:SignatureIdentifier', text('vr:HashOnly', 'false') + text('vr:DocHashOnly', 'false') + (s.pdf ? text('vr:DAIdentifier', s.pdf.fieldName) : ''), { id: sid });
  const stamps = (s.timestamps ?? []).map((t: TimestampReport) => ({ t, id: t.sha256 ? objects.add('timestamp', undefined, t.sha256, t.valid ? t.genTime : undefined, stampReport(t)) : undefined }));
  const best = s.bestSignatureTime ?? r.validationTime;
  const timeInfo = el(
    'vr:ValidationTimeInfo',
    text('vr:ValidationTime', r.validationTime) + el('vr:BestSignatureTime', text('vr:POETime', best) + text('vr:TypeOfProof', 'urn:etsi:019102:poetype:validation')),
  );
  const doc = el('vr:SignersDocument', digest(r.document.sha256));
  const stampElement = { signature: 'vr:SignatureTimeStamp', document: 'vr:DocTimeStamp', archive: 'vr:ArchiveTimeStamp', content: 'vr:ContentTimeStamp', 'sig-and-refs': 'vr:SigAndRefsTimeStamp', 'refs-only': 'vr:RefsOnlyTimeStamp' } as const;
  const attrs = [
    s.claimedSigningTime ? el('vr:SigningTime', text('vr:Time', s.claimedSigningTime), { Signed: 'true' }) : '',
    // SATimestampType: the token as a validation object, and its genTime (required); content time-stamps (CAdES
    // content-time-stamp, XAdES data-object time-stamps) are signed attributes, the others unsigned
    ...stamps.filter((x) => x.id && x.t.genTime).map((x) => el(stampElement[x.t.type], ref('vr:AttributeObject', x.id!) + text('vr:TimeStampValue', x.t.genTime!), { Signed: x.t.type === 'content' ? 'true' : 'false' })),
  ].join('');
  const path = s.certificatePath.map((b64) => objects.add('certificate', Buffer.from(b64, 'base64'), undefined, s.bestSignatureTime));
  const revocation = [
    ...(s.revocationData?.crls ?? []).map((c) => objects.add('crl', Buffer.from(c, 'base64'))),
    ...(s.revocationData?.ocspResponses ?? []).map((o) => objects.add('ocsp', Buffer.from(o, 'base64'))),
  ];
  // SignerCertificate is required: without a validated path there is no SignerInformation
  const signer = s.signer && path[0] ? el('vr:SignerInformation', ref('vr:SignerCertificate', path[0]) + text('vr:Signer', s.signer.subject), { Pseudonym: 'false' }) : '';
  const process = el('vr:SignatureValidationProcess', text('vr:SignatureValidationProcessID', processId(s)));
  const assoc = el(
    'vr:AssociatedValidationReportData',
    (path.length ? el('vr:CertificateChain', ref('vr:SigningCertificate', path[0]) + path.slice(1, -1).map((id) => ref('vr:IntermediateCertificate', id)).join('') + (path.length > 1 ? ref('vr:TrustAnchor', path[path.length - 1]) : '')) : '') +
      revocation.map((id) => ref('vr:RelatedValidationObject', id)).join('') +
      additionalData(s),
  );
  const status = el(
    'vr:SignatureValidationStatus',
    text('vr:MainIndication', mainIndicationUri(s.indication)) + (s.subIndication ? text('vr:SubIndication', subIndicationUri(s.subIndication)) : '') + assoc,
  );
  return el('vr:SignatureValidationReport', ident + timeInfo + doc + (attrs ? el('vr:SignatureAttributes', attrs) : '') + signer + process + status);
}

/** The report as a TS 119 102-2 XML document (UTF-8). Documents without signatures get an empty report. */
export function reportXml(r: ValidationReport): string {
  const objects = new Objects();
  for (const t of r.documentTimestamps ?? []) if (t.sha256) objects.add('timestamp', undefined, t.sha256, t.valid ? t.genTime : undefined, stampReport(t));
  // the schema wants at least one SignatureValidationReport: a file without signatures is reported as failed
  const sigs = r.signatures.length
    ? r.signatures.map((s) => signatureReport(r, s, objects)).join('')
    : el(
        'vr:SignatureValidationReport',
        el('vr:SignatureValidationStatus', text('vr:MainIndication', MAIN['TOTAL-FAILED']) + text('vr:SubIndication', subIndicationUri('FORMAT_FAILURE')) +
          el('vr:AssociatedValidationReportData', el('vr:AdditionalValidationReportData', messageData('no signature found')))),
      );
  return `<?xml version="1.0" encoding="UTF-8"?>\n<vr:ValidationReport xmlns:vr="${VR_NS}" xmlns:ds="${DS_NS}">${sigs}${objects.xml()}</vr:ValidationReport>\n`;
}
