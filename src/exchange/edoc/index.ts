/**
 * Official documents between agencies over the axis. A package is the Vietnamese edXML envelope
 * (QCVN 102:2016: sender, recipients, number and notation, promulgation, type, subject, signer, priority,
 * business kind — new, recall, update, replace — and the manifest of attachments with their SHA-256),
 * signed by the sending agency with XAdES, its attachments streamed beside it in frames. Status packets
 * (01 arrived … 06 done, 13/15/16 for recalls and updates) flow back under a state machine. Each agency's
 * document desk keeps its outbox (per-recipient delivery, at least once, and latest status), its inbox
 * (documents with their signature verdicts and PDF reports, statuses) and its attachments on disk, and
 * speaks only X-Road REST to its own security server. See docs/documents.md.
 */
export { EDXML_NS, DOCUMENT_ID, PACKAGE_LIMITS, BUSINESS_DOC_TYPES, checkPackage, parseDocumentId, documentIdOf } from './package.js';
export type { EdocPackage, PackageHeader, Organ, DocumentRef, TraceHeader, Business, BusinessDocType, Priority, Attachment } from './package.js';
export { writeEnvelope, parseEnvelope, MAX_ENVELOPE_BYTES } from './xml.js';
export { STATUS_CODES, INITIAL_STATE, isStatusCode, allowedNext, advance, advanceReported, checkStatus, writeStatus, parseStatus } from './status.js';
export type { StatusCode, StatusPacket, StatusState, StaffInfo } from './status.js';
export { FRAMES_MEDIA_TYPE, writeFrames, FrameReader, type FrameSource, type Frame } from './frame.js';
export { verifySigned, memberOfCertificate, type SignatureVerdict } from './verify.js';
export { edocMigrations } from './store.js';
export { DocumentDesk } from './desk.js';
export type { DeskOptions, DeskRecipient, SendInput, AttachmentInput, SendResult, ReceiveResult, RecipientView, DocumentView } from './desk.js';
export { deskHandler, MAX_STATUS_BYTES } from './http.js';
export { post as postXroad, servicePath, type XroadAnswer } from './transport.js';
