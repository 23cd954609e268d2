/**
 * The validation report's shape, after ETSI EN 319 102-1 (indications and sub-indications, §5.1.3) and
 * the ideas of TS 119 102-2 (one entry per signature: signer, claimed signing time, the checks made and
 * their outcome, the certificate path). JSON is the report; `text.ts` renders it for people.
 */
import type { ReportNote } from './notes.js';

export type Indication = 'TOTAL-PASSED' | 'TOTAL-FAILED' | 'INDETERMINATE';

export type SubIndication =
  | 'FORMAT_FAILURE'
  | 'HASH_FAILURE'
  | 'SIG_CRYPTO_FAILURE'
  | 'REVOKED'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'SIG_CONSTRAINTS_FAILURE'
  | 'CHAIN_CONSTRAINTS_FAILURE'
  | 'CERTIFICATE_CHAIN_GENERAL_FAILURE'
  | 'CRYPTO_CONSTRAINTS_FAILURE'
  | 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE'
  | 'NO_SIGNING_CERTIFICATE_FOUND'
  | 'NO_CERTIFICATE_CHAIN_FOUND'
  | 'REVOKED_NO_POE'
  | 'OUT_OF_BOUNDS_NO_POE'
  | 'TRY_LATER'
  | 'SIGNED_DATA_NOT_FOUND';

export interface CertificateSummary {
  subject: string;
  commonName?: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
}

/**
 * A time-stamp token met during validation: over a signature value, over a PDF revision, an archive time-stamp, a
 * content time-stamp over the signed content, or one of XAdES-X / CAdES-X over the references to the validation data
 * (`sig-and-refs`: SigAndRefsTimeStamp(V2), CAdES-C-time-stamp — with the signature value; `refs-only`:
 * RefsOnlyTimeStamp(V2), time-stamped-certs-crls-references — the references alone).
 */
export interface TimestampReport {
  type: 'signature' | 'document' | 'archive' | 'content' | 'sig-and-refs' | 'refs-only';
  valid: boolean;
  /** when the TSA says the data existed */
  genTime?: string;
  tsa?: string;
  serial?: string;
  policy?: string;
  /** set when the token's own algorithms are refused by the algorithm policy: INDETERMINATE, as a signature's would be */
  indication?: 'INDETERMINATE';
  subIndication?: 'CRYPTO_CONSTRAINTS_FAILURE' | 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE';
  problem?: string;
  /** PAdES document time-stamps: the field */
  fieldName?: string;
  /** XAdES data-object time-stamps: the property (AllDataObjectsTimeStamp, IndividualDataObjectsTimeStamp) */
  property?: string;
  /** XAdES data-object time-stamps: the URIs of the ds:References whose data it covers, in the order of its input */
  references?: (string | null)[];
  /** SHA-256 of the token (DER), hex: how the XML report refers to it */
  sha256?: string;
  /** the notes as sentences (English, or Vietnamese / English), one for each of `notes` */
  warnings?: string[];
  /** the token's notes coded (issue 18): its TSA's revocation status missing, an older binding of its certificate… */
  notes?: ReportNote[];
  /** why a token is not valid, coded: the sub-indication its validation ends with (EN 319 102-1 §5.1.3), the problem as detail */
  reason?: ReportNote;
  /** the sub-indication of a failure, as the validator sets it; the report gives it as `reason` */
  failure?: SubIndication;
}

/** XAdES / XML-DSig: one ds:Reference of the signature, what it covers and whether its digest holds. */
export interface SignedReference {
  uri: string | null;
  type?: string;
  /** true: the digest holds; false: it does not; null: not computed (see problem) */
  digestMatches: boolean | null;
  problem?: string;
  /** the elements the reference covers (the apexes of its node-set), by path */
  covers?: string[];
  /** elements cut out of those (the signature itself through the enveloped-signature transform) */
  excludes?: string[];
  /** the document's root element is covered */
  wholeDocument?: boolean;
  /** a file outside the document (detached) */
  detached?: boolean;
  /** the detached document given that the reference took (its name), and how: its URI names it, its digest is the file's, or the one content given for the one detached reference */
  file?: string;
  matchedBy?: 'uri' | 'digest' | 'only';
  /** the references of a ds:Manifest this reference signs */
  manifest?: SignedReference[];
  /** the earliest time a valid data-object time-stamp (AllDataObjectsTimeStamp, IndividualDataObjectsTimeStamp) proves the data existed */
  poe?: string;
}

/**
 * XAdES-C/X/XL: one reference of CompleteCertificateRefs(V2) or CompleteRevocationRefs, checked against the
 * certificates, CRLs and OCSP responses at hand — as EU DSS sorts them into related and orphan references. The
 * references are unsigned and protect nothing by themselves, so a reference that matches nothing is a warning,
 * not a verdict.
 */
export interface ValidationDataReference {
  kind: 'certificate' | 'crl' | 'ocsp' | 'other';
  /** what the reference names besides its digest: a serial number, a CRL's issue time, an OCSP response's production time */
  names?: string;
  /** true: a value at hand has the digest; false: the value it names is at hand with another digest; null: not at hand, or not computable */
  matches: boolean | null;
  /** where the matching value is: in the signature (KeyInfo, CertificateValues, RevocationValues) or among those validation used */
  source?: 'signature' | 'validation';
  /** the earliest time a valid time-stamp over the references (XAdES-X, or an archive time-stamp) proves they existed */
  poe?: string;
  problem?: string;
}

export interface SignatureReport {
  /** position in the document or CMS, from 0 */
  index: number;
  format: 'CAdES' | 'PAdES' | 'XAdES';
  /** the baseline level the signature's structure shows (B-B until time-stamps are read) */
  level: 'B-B' | 'B-T' | 'B-LT' | 'B-LTA' | 'unknown';
  indication: Indication;
  subIndication?: SubIndication;
  /** why, in a sentence */
  message?: string;
  /** the same reason coded (issue 18): the sub-indication as code, Vietnamese and English text, the sentence as detail */
  reason?: ReportNote;
  signer?: CertificateSummary;
  /** the signer's claimed signing time (signing-time attribute, PDF /M, XAdES SigningTime) */
  claimedSigningTime?: string;
  /** the earliest time a valid time-stamp proves the signature existed at (its proof of existence) */
  bestSignatureTime?: string;
  /** time-stamps over this signature: its signature-time-stamps and the document time-stamps covering it */
  timestamps?: TimestampReport[];
  /** validation data the signature or document carries (B-LT): counts of certificates, CRLs, OCSP responses */
  embeddedEvidence?: { certificates: number; crls: number; ocspResponses: number };
  checks: {
    /** the signed data's digest matches (HASH_FAILURE when not) */
    integrity: boolean | null;
    /** the signature value verifies with the signer's key */
    signatureValue: boolean | null;
    /** signing-certificate-v2 binds the certificate used */
    signingCertificateReference: 'ok' | 'mismatch' | 'absent' | null;
    /** the chain to a trust anchor validated at the validation time */
    certificateChain: boolean | null;
    /** the chain validated at the claimed signing time (informative: a claim, not a proof of existence) */
    certificateValidAtSigningTime: boolean | null;
  };
  /** CRLs and OCSP responses (DER, base64) the path was judged with, besides those configured */
  revocationData?: { crls: string[]; ocspResponses: string[] };
  /** DER certificates of the validated path, base64, signer first */
  certificatePath: string[];
  /** PAdES: the signature field and what was added to the file after it */
  pdf?: {
    fieldName: string;
    byteRange: number[];
    coversWholeFile: boolean;
    /** later revisions that are not another signature's update (content changed after signing) */
    modifiedAfter: boolean;
    /**
     * what changed after the signature besides validation data, document time-stamps, later signatures and
     * form fills — a page's content, pages, annotations, the catalog — one sentence each, whichever revision
     * carries it (a later signature's own revision included); empty when nothing else changed
     */
    changesAfter: string[];
    laterSignatures: number;
    /** a certification signature (DocMDP P=1|2|3) and the later changes its permissions do not allow */
    certification?: { permissions: 1 | 2 | 3; violations: string[] };
    /** a FieldMDP lock (All, or the fields Included / Excluded) and the later changes to locked fields */
    fieldLock?: { action: 'All' | 'Include' | 'Exclude'; fields?: string[]; violations: string[] };
  };
  /** XAdES: each reference of SignedInfo, with the elements it covers — what the signature really signs */
  signedData?: SignedReference[];
  /** XAdES-C/X/XL: the references to validation data (CompleteCertificateRefs, CompleteRevocationRefs), each checked */
  validationDataReferences?: ValidationDataReference[];
  /** the notes as the validators write them (English, or Vietnamese / English) */
  warnings: string[];
  /** the same notes coded (issue 18), one for each warning in the same order: code, vi, en, params (see notes.ts) */
  notes?: ReportNote[];
}

export interface ValidationReport {
  validationTime: string;
  document: { kind: 'pdf' | 'cms' | 'xml'; bytes: number; sha256: string };
  signatures: SignatureReport[];
  /** PAdES document time-stamps (/DocTimeStamp), oldest first */
  documentTimestamps?: TimestampReport[];
}
