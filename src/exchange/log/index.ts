/**
 * The message log: every request and response a security server handles, with its signature, written
 * before it is delivered into append-only, hash-chained segment files (group commit: one write and one
 * fdatasync for the records arriving together), bodies streamed to disk with bounded memory, batches of
 * records time-stamped by an approved TSA through a hash tree, closed segments moved into hash-linked
 * archives, per-message evidence as ASiC-E containers, and an offline verifier. A database index (table
 * xl_record) serves search; the files are the truth. See docs/exchange-log.md.
 */
export { MessageLog, type MessageLogOptions, type TimestampingOptions, type LogEvent, type LogLogger } from './log.js';
export { verifyLog, checkToken, type VerifyOptions, type VerifyReport, type VerifyProblem } from './verify.js';
export { checkEvidence, type EvidenceReport, type EvidenceRecordReport } from './check-evidence.js';
export { writeEvidence, writeLiveEvidence, writeArchivedEvidence, asicManifest, ASICE_MIMETYPE, ASIC_MANIFEST, ASIC_SIGNATURE, type EvidenceSeal } from './evidence.js';
export { logMigrations, type LogSearch, type LogSearchHit } from './store.js';
export { merkleRoot, auditPath, rootFromAuditPath, leafHash, nodeHash } from './merkle.js';
export { readArchiveHeader, listArchives, type ArchiveResult, type ArchiveHeader } from './archive.js';
export { readIdentity, listSegments, scanSegment, readStamps } from './reader.js';
export { ZipWriter } from './zip.js';
export { recordSummary } from './format.js';
export type { BodyCipher, BodyCipherStream } from './cipher.js';
export type { BodySpool, SpooledBody, LogMode, LogRecordInput, LoggedRecord, LogHealth, MessageLogApi } from './types.js';
