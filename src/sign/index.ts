/**
 * Signatures: officials and agencies sign documents with certificates from our CA, and anyone checks them
 * years later. CAdES (CMS, detached or enveloping), PAdES (PDF by incremental update, visible or not,
 * certification by DocMDP) and XAdES (enveloped XML) at baseline levels B-B, B-T, B-LT and B-LTA, raised
 * later by augmentation without re-signing; validation shaped on EN 319 102-1 with reports as JSON, text
 * (Vietnamese or English), HTML and TS 119 102-2 XML. Signers are "hash in, signature out", so keys can
 * live in our key stores, an HSM or an official's token. The plain detached CMS of the lab's reports is
 * here too.
 */
export { signDetached, type DetachedSigner, type DetachedOptions } from './cms/sign-detached.js';
export { verifyDetached, MAX_CMS_BYTES, type DetachedVerification, type DetachedVerifyOptions } from './cms/verify-detached.js';

/*
 * CAdES, PAdES (and later XAdES) at baseline B-B, and their validation after EN 319 102-1. Signers are
 * "hash in, signature out": each format prepares the DER to be signed (prepareCades, preparePdf), an
 * ExternalSigner (a key store, a token, a remote service) signs it, and the format embeds the value
 * (completeCades, embedSignature); signCades and signPdf do the three steps in one call. PDFs are signed by
 * incremental update — the original bytes stay as they are, so earlier signatures stay valid. Validation
 * answers a report (TOTAL-PASSED / TOTAL-FAILED / INDETERMINATE with a sub-indication per signature),
 * never an exception for a bad signature; reportText renders it with English or Vietnamese labels.
 */
export type { ExternalSigner, SignerIdentity, TimeStamper } from './signer.js';
export { signCades, prepareCades, completeCades, type CadesOptions, type PreparedCades } from './cades/sign.js';
export { inspectCms, type CmsInspection, type CmsSigner } from './cades/verify.js';
export { signPdf, type SignPdfOptions } from './pades/sign.js';
export { drawAppearance, importAppearance, defaultLines, DEFAULT_FONT, type VisibleSignature, type PreparedAppearance } from './pades/appearance.js';
export { preparePdf, pdfDate, type PadesOptions, type PreparedPdf } from './pades/prepare.js';
export { embedSignature, embedCms } from './pades/embed.js';
export { readPdfSignatures, type PdfSignature } from './pades/verify.js';
export { validateCades } from './validate/cades.js';
export { validatePdf } from './validate/pades.js';
export { reportText, vietnamTime } from './validate/text.js';
export { reportXml, mainIndicationUri, subIndicationUri, VR_NS } from './validate/xml-report.js';
export { reportHtml } from './validate/html-report.js';
export type { ValidationOptions } from './validate/signer.js';
export { DEFAULT_ALGORITHM_POLICY, checkAlgorithms, type AlgorithmPolicy } from './validate/algorithms.js';
export type { ValidationReport, SignatureReport, Indication, SubIndication } from './validate/report.js';
export { signXades, signXadesDetached, MAX_DETACHED_FILES, type XadesOptions, type XadesPackaging } from './xades/sign.js';
export { augmentXades, renewXadesArchive } from './xades/levels.js';
export { augmentXadesX, xTimeStampInput, type XadesXOptions, type XTimeStampKind } from './xades/extended.js';
export { type DetachedDocument, type DetachedInput } from './xades/detached.js';
export { validateXades } from './validate/xades.js';
export { validateFile, detectFormat, type SignedKind } from './validate/file.js';

/*
 * Levels above B-B: B-T (a signature-time-stamp from a TimeStamper — our TSA in process, or any RFC 3161
 * TSA over HTTP), B-LT (validation data: CAdES certificate-values and revocation-values, the PDF's DSS)
 * and, for PAdES, B-LTA (a document time-stamp over it all). `augmentCades` and `augmentPdf` raise an
 * existing signature without re-signing; validation uses the time-stamps as proofs of existence and the
 * carried validation data offline.
 *
 * Also: CAdES B-LTA (archive-time-stamp-v3 with its ats-hash-index-v3, `cades/archive.ts`, validated by
 * recomputing its imprint); XAdES B-T and B-LT (`augmentXades`: SignatureTimeStamp over the exclusive C14N
 * of ds:SignatureValue, CertificateValues, RevocationValues); PAdES certification signatures (DocMDP,
 * `certify: 1|2|3`) whose validation reports later changes the permissions do not allow; and the report as
 * ETSI TS 119 102-2 XML (`reportXml`) and as an HTML page for people (`reportHtml`).
 *
 * And: XAdES B-LTA (xadesv141:ArchiveTimeStamp over the canonicalised signature, `xades/archive.ts`);
 * renewal of archive time-stamps in all three formats (`renewCadesArchive`, `renewPdfArchive`,
 * `renewXadesArchive`), each new one covering the earlier ones after the validation data for them; BER
 * CMS (`cms/ber.ts`) read as DER, the signed attributes verified over their DER encoding; detached CAdES
 * without its content answered SIGNED_DATA_NOT_FOUND; FieldMDP locks (`lock`, `pades/fieldmdp.ts`); and
 * visible signatures placed upright on rotated pages (`pades/placement.ts`). `augmentFile` is the one
 * entry the CLI and HTTP use: the format told, the file validated, every signature below the level asked
 * raised (or the archive time-stamp renewed), refusals made before any time-stamp is taken.
 */
export { LEVELS, parseLevel, type Level, type LevelContext } from './level.js';
export { augmentCades, renewCadesArchive } from './cades/augment.js';
export { augmentPdf, renewPdfArchive } from './pades/augment.js';
export { augmentFile, type AugmentFileOptions, type AugmentFileResult } from './augment-file.js';
export { addDocumentTimeStamp } from './pades/doc-timestamp.js';
export { appendDss, readDss } from './pades/dss.js';
export { parseLock, type FieldLock, type LockAction } from './pades/fieldmdp.js';
export { localTimeStamper } from './timestamp/tsa-local.js';
export { httpTimeStamper, type HttpTimeStamperOptions } from './timestamp/http.js';
export { verifyTimeStamp, type TimeStampCheck } from './timestamp/verify.js';
export { readTimeStampToken, type TimeStampToken, type TstInfo } from './timestamp/token.js';
export { platformEvidence, networkEvidence, type EvidenceSource, type Evidence, type Fetchers } from './evidence/sources.js';
export { collectEvidence } from './evidence/collect.js';

/*
 * Server-held signing keys: the platform generates a principal's key in its key store, has our CA issue
 * the certificate (a PKCS#10 signed by the store), and signs for that principal on request (HTTP
 * `POST /api/v1/sign`). Visible PAdES signatures draw their appearance with pdf-lib into a scratch PDF
 * whose page is copied, as new objects, into our own incremental update.
 */
export { signKeyMigrations, createSignKey, getSignKey, listSignKeys, keySigner, SIGN_PROFILES, type SignKey, type CreateSignKey } from './keys/store.js';
export { keyStoreCsr } from './keys/request.js';

/*
 * Two-phase signing, for keys on an official's token: `prepareSigning` makes the data to be signed (the
 * DER of the signed attributes, or the canonical SignedInfo) for one document or a batch and keeps a
 * single-use, expiring handle; `completeSigning` takes the token's value, checks it against the
 * certificate, and answers the signed document raised to the level asked (`two-phase/`).
 */
export { prepareSigning, completeSigning, batchOf, DEFAULT_HANDLE_TTL, MAX_BATCH, type PrepareItem, type Prepared, type PreparedItem, type Completed } from './two-phase/service.js';
export { dataToBeSigned, checkValue, completeDocument, type DataToBeSigned, type SignerCertificate } from './two-phase/data.js';
export { normaliseParams, schemeOf, type TwoPhaseParams, type TwoPhaseFormat } from './two-phase/params.js';
export { pendingMigrations, purgePending } from './two-phase/pending.js';
