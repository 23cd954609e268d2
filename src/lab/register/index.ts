/**
 * The product register of the crypto lab: vendors, products and versions with the algorithms they claim,
 * recorded test runs with their signed reports, certificates of conformity and licences with their
 * status (issued, suspended, revoked). Every change is committed with its audit record and announced on
 * the bus as `truc.lab.*`; the lab's own report-signing certificate comes from our CA.
 */
export { labMigrations, searchProducts, searchVersions, searchRuns, searchCertificates, searchLicences, listVendors, findVendor, findProduct, findVersion, findRun, findCertificate, findLicence, runArtifacts, currentSigner, findSigner } from './store.js';
export type { VendorRow, ProductRow, VersionRow, RunRow, RunSuiteSummary, CertificateRow, LicenceRow, SignerRow, Status, ProductQuery, ConformityQuery } from './store.js';
export { type LabContext } from './context.js';
export { addVendor, addProduct, addVersion, type NewVendor, type NewProduct, type NewVersion } from './catalogue.js';
export { issueCertificate, changeCertificateStatus, issueLicence, changeLicenceStatus, type NewCertificate, type NewLicence, type StatusAction } from './conformity.js';
export { runAndRecord, recordRun, type LabRunInput, type RecordedRun } from './runs.js';
export { labSigner, signReport, signBytes, SIGNING_PROFILE, type SignedReport } from './signer.js';
export { verifyReportSignature, type ReportVerification } from './verify.js';
