/**
 * Signatures: CMS signed data for files kept beside their signature. Today the detached CMS SignedData
 * (RFC 5652) with ESS signingCertificateV2 that the lab signs its reports with, and its verifier; the
 * CAdES, PAdES and XAdES levels of the signatures part build on these.
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
export { signPdf } from './pades/sign.js';
export { preparePdf, pdfDate, type PadesOptions, type PreparedPdf } from './pades/prepare.js';
export { embedSignature, embedCms } from './pades/embed.js';
export { readPdfSignatures, type PdfSignature } from './pades/verify.js';
export { validateCades } from './validate/cades.js';
export { validatePdf } from './validate/pades.js';
export { reportText, vietnamTime } from './validate/text.js';
export type { ValidationOptions } from './validate/signer.js';
export type { ValidationReport, SignatureReport, Indication, SubIndication } from './validate/report.js';
export { signXades, type XadesOptions } from './xades/sign.js';
