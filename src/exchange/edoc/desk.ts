/**
 * The document desk of one agency: an information system on the axis that sends and receives official
 * documents as X-Road REST messages, through its own security server only.
 *
 * Sending: the clerk's document becomes an edXML package (header, manifest with each attachment's SHA-256),
 * signed with the agency's key (XAdES, enveloped), stored with its attachments in the desk folder, and
 * queued once per recipient. A pump delivers the queue — concurrency-limited, in order per recipient, with
 * back-off between attempts, resumed after a restart — by POSTing the package (streamed frames) to
 * `{ssUrl}/r1/{recipient subsystem}/edoc/packages`; a delivery is done only when the answer is 2xx (the
 * recipient's security server answers after the recipient desk has taken the package and both servers
 * have logged it), failed for good on a 4xx refusal, and retried on anything else.
 *
 * Receiving (the `edoc` service the security server forwards to): the envelope is read first and checked —
 * schema, the sender being the calling member, this agency among the recipients, the signature — before
 * any attachment is spooled; attachments are streamed to files and their hashes checked against the
 * manifest; a PDF's signatures are validated and the report kept. A retried delivery is recognised by
 * (sender, DocumentId, BussinessDocType, envelope hash) and answered as taken without a second inbox item.
 * Recall, update and replace packages move the original's status to 13; status packets flow back and
 * move the sender's view of each recipient through the machine of `status.ts`.
 *
 * At rest (with a `cipher`): files are encrypted streams, and each document's envelope, header and
 * attachment names are sealed in its row under the vault — what the database keeps readable is what the
 * desk looks rows up by (see `store.ts`). Lists and searches open the rows they show.
 *
 * Classification (with `release`): a package carries its level in our `truc:Classification` extension;
 * before it leaves, the release check of the vault runs per recipient (the clerk's right, the recipient's
 * clearance, the channel, the stamps in its PDFs and texts); a package arriving above what the channel may
 * carry is refused. Without `release`, the built-in policy applies to the declared level: nothing
 * classified leaves, nothing classified is taken in clear.
 *
 * End to end (from the policy's `encryptFrom` on): sign, then encrypt — the signed envelope and each
 * attachment go in their own CMS AuthEnvelopedData to the recipient agency's encryption certificate (from
 * the global configuration — the newest of the member's that validates — or, for a member it lists none
 * for, the directory; checked before anything is stored and again before each retry), made as the files
 * are read at each delivery attempt;
 * the security servers carry and log ciphertext. The recipient decrypts with its `decryption` keys, then
 * checks the package as any other. Status packets are sealed at rest like documents.
 *
 * Every step is an audit record and a `truc.exchange.doc.*` event.
 */
import { createHash, createPublicKey, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, rmSync, renameSync, statSync, type WriteStream } from 'node:fs';
import { join, sep } from 'node:path';
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BodyCipher } from '../../vault/envelope/body-cipher.js';
import { isClassified, rank, type Level } from '../../vault/labels/levels.js';
import { cmsDecryptStream, cmsEncryptStream, type CmsStreamKey } from '../../vault/cms/stream.js';
import type { RecipientKey } from '../../vault/cms/recipient-key.js';
import { parseCertificate, validatePath } from '../../pki/path/index.js';
import { highestMarking, pdfText } from '../../vault/labels/markings.js';
import { enforceRelease, higherLevel } from '../../vault/release/check.js';
import { decideReceipt, enforceReceipt } from '../../vault/release/receipt.js';
import { DEFAULT_POLICY, type ReleasePolicy } from '../../vault/release/policy.js';
import type { Logger } from 'pino';
import { TrucError, isTrucError } from '../../errors.js';
import type { Db, Sql } from '../../store/index.js';
import { migrate } from '../../store/index.js';
import { appendAudit, auditMigrations } from '../../audit/index.js';
import { makeEvent, type Bus } from '../../bus/index.js';
import { signXades, validatePdf, type ValidationOptions } from '../../sign/index.js';
import type { ExternalSigner } from '../../sign/signer.js';
import { clientHeader, parseClientHeader, type SubsystemId } from '../ids.js';
import { bad, checkDate, checkPackage, documentIdOf, type Attachment, type BusinessDocType, type DocumentRef, type EdocPackage, type Organ, type PackageHeader } from './package.js';
import { parseEnvelope, writeEnvelope, xmlToKeep } from './xml.js';
import { FrameReader, FRAMES_MEDIA_TYPE, writeFrames } from './frame.js';
import { advance, advanceReported, parseStatus, STATUS_CODES, writeStatus, type StaffInfo, type StatusCode, type StatusPacket, type StatusState } from './status.js';
import { memberOfCertificate, verifySigned, type SignatureVerdict } from './verify.js';
import { post, servicePath, type XroadAnswer } from './transport.js';
import {
  attachmentRow,
  deliveryRow,
  documentRow,
  edocMigrations,
  enqueue,
  insertAttachment,
  insertDocument,
  insertStatus,
  recipientRow,
  publicHeader,
  recordAd,
  shreddedHeader,
  statusAd,
  statusRow,
  type AttachmentRow,
  type DeliveryRow,
  type DocumentRow,
  type NewDocument,
  type PublicHeader,
  type SealedRecord,
  type SealedStatus,
  type StatusRow,
  type StoredStatusRow,
  type StoredDocumentRow,
} from './store.js';

/** An agency one can send to: its agency code, its name, and its document desk's subsystem (`VN/GOV/000.00.00.G09/vanthu`). */
export interface DeskRecipient {
  id: string;
  name: string;
  client?: string;
  /**
   * the agency's encryption certificate (DER; profile agency-encryption: EC with keyAgreement, or RSA with
   * keyEncipherment; subject serialNumber naming the member): classified packages go encrypted to it
   */
  encryptionCertificate?: Uint8Array;
}

export interface DeskOptions {
  /** the desk's own database (its `xd_` tables and audit log) */
  db: Db;
  bus: Bus;
  log?: Logger;
  /** the desk folder: attachments sent and received, the spool */
  dir: string;
  /** this agency as packages name it (OrganId is its agency code) */
  organ: Organ;
  /** this desk's subsystem (the `X-Road-Client` it sends as) */
  client: SubsystemId | string;
  /** its own security server's information-system endpoint, e.g. http://127.0.0.1:8443 */
  ssUrl: string;
  /** the agency's signing key and certificate (agency-signing profile) */
  signer: ExternalSigner;
  /** how arriving signatures are validated: trust anchors, revocation, algorithm policy */
  validation: ValidationOptions;
  /** the agencies one can send to (fed from the global configuration) */
  recipients: () => DeskRecipient[];
  /**
   * The global configuration the agency's security server holds (`() => confClient.current()`): the
   * recipient agency's encryption certificates are taken from it first — of those that validate, the newest
   * (latest notBefore; on a tie the one registered later). A member it lists none for falls back to the
   * directory's `encryptionCertificate`; one it lists only unusable ones for does not.
   */
  conf?: () => { encryptionCertificates(m: { memberClass: string; memberCode: string }): Uint8Array[] } | undefined;
  /** deliveries at once (default 8) */
  concurrency?: number;
  /** back-off between attempts: first, then doubling up to max (defaults 1 s and 5 min) */
  retry?: { firstMs?: number; maxMs?: number };
  /** one attempt's time limit (default 10 min: a package of hundreds of MB takes a while) */
  timeoutMs?: number;
  /** report 01 (arrived) by itself when a package is taken (default true) */
  autoArrived?: boolean;
  /** the largest attachment taken (default 2 GiB) */
  maxAttachmentBytes?: number;
  /** PDFs up to this size have their signatures validated on arrival (default 64 MiB) */
  maxPdfValidateBytes?: number;
  clock?: () => Date;
  /** start the delivery pump (default true) */
  start?: boolean;
  /**
   * Attachments, received files and uploads encrypted at rest under the vault (`bodyCipher(vault,
   * 'edoc:<agency>')`): each file its own data key (AES-256-GCM, chunked), named `….<object id>.vlt`;
   * refused or failed files have their key shredded. Without it files are kept as they came (`.bin`);
   * a desk reads both kinds.
   */
  cipher?: BodyCipher;
  /**
   * Whether the signer's certificate must name the sending member (subject serialNumber
   * `INSTANCE/CLASS/CODE`, the exchange's convention): `member` (default) refuses a package or status
   * signed by anyone else; `off` only shows the signer (for agencies whose document certificates do not
   * follow the convention yet).
   */
  signerBinding?: 'member' | 'off';
  /**
   * Classification checks: the release policy (e.g. `() => policyStore.current()`; the built-in one, which
   * lets nothing classified leave or arrive, when not given), the channel the desk's packages travel over
   * as the policy names it (default `axis`), and whether the secrecy stamps of PDFs and text attachments
   * are read (pdftotext; default true). Without `release`: the built-in policy on the declared level, no
   * stamps read.
   */
  release?: {
    policy?: () => Promise<ReleasePolicy & { version?: number }>;
    channel?: string;
    /** the channel as the policy names it when a package travels encrypted to the recipient (default `<channel>-e2e`) */
    e2eChannel?: string;
    markings?: boolean;
  };
  /**
   * This agency's encryption keys (its agency-encryption certificate and the key — in the software key
   * store or on a PKCS#11 token, `keyStoreRecipient(store, id)`): packages encrypted end to end to it are
   * decrypted with the one their RecipientInfo names. Several during a renewal.
   */
  decryption?: { certificate: Uint8Array; key: RecipientKey }[];
  /** documents kept encrypted expire after so many days: `truc vault shred-expired` then destroys their keys */
  retentionDays?: number;
}

export interface AttachmentInput {
  name: string;
  contentType?: string;
  description?: string;
  /** a file to read, or the bytes */
  path?: string;
  bytes?: Uint8Array;
}

export interface SendInput {
  /** agency codes of the recipients, from `recipients()` */
  to: string[];
  code: { number: string; notation: string };
  promulgation: { place: string; date?: string };
  documentType: { type: number; typeName: string };
  subject: string;
  content?: string;
  signer: PackageHeader['signer'];
  dueDate?: string;
  toPlaces?: string[];
  otherInfo?: Partial<PackageHeader['otherInfo']>;
  steeringType?: number;
  responseFor?: DocumentRef[];
  attachments?: AttachmentInput[];
  /** the document's classification, carried in the package (default `unclassified`) */
  classification?: Level;
}

export interface SendResult {
  id: string;
  documentId: string;
  recipients: { organId: string; client: string }[];
}

export interface ReceiveResult {
  id: string;
  documentId: string;
  duplicate: boolean;
}

export interface RecipientView {
  organId: string;
  organName: string;
  client: string;
  /** transport of the latest package to this recipient */
  delivery: { state: DeliveryRow['state']; attempts: number; lastError: string | null; deliveredAt: string | null } | null;
  /** the latest business status reported by the recipient */
  status: StatusCode | null;
  statusLabel: string | null;
  statusAt: string | null;
  state: StatusState;
}

export interface DocumentView {
  document: Omit<DocumentRow, 'envelope'>;
  attachments: Omit<AttachmentRow, 'path'>[];
  recipients: RecipientView[];
  statuses: Omit<StatusRow, 'xml'>[];
  /** recall, update and replace packages of this document */
  related: { id: string; docType: number; createdAt: string }[];
}

const NO_STATE: StatusState = { code: null };
const DRAIN_ON_REFUSAL = 8 * 1024 * 1024;
const SYSTEM = 'system:edoc';

/** today in Vietnam (UTC+7), yyyy-MM-dd */
const vnDate = (d: Date) => new Date(d.getTime() + 7 * 3600_000).toISOString().slice(0, 10);

function isUnique(e: unknown): boolean {
  const m = (e as { code?: string; message?: string })?.code ?? '';
  return m === '23505' || /duplicate key|unique constraint/i.test(String((e as Error)?.message ?? ''));
}

/** The words of a search (at most 8, each at most 100 characters), lower-cased. */
function searchWords(q: string | undefined): string[] {
  return (q ?? '').normalize('NFC').trim().toLowerCase().split(/\s+/).filter(Boolean).slice(0, 8).map((w) => w.slice(0, 100));
}

/** Whether every word is in the document's DocumentId, subject, sender or sender's name (case-insensitive, anywhere). */
function matches(d: DocumentRow, words: string[]): boolean {
  const hay = `${d.documentId} ${d.header.subject} ${d.sender} ${d.header.from.organName}`.normalize('NFC').toLowerCase();
  return words.every((w) => hay.includes(w));
}

/** Rows a search reads at most: the subject is sealed, so a search opens the rows it looks at. */
const SEARCH_SCAN = 5000;

async function writeAll(ws: WriteStream, pieces: AsyncIterable<Buffer> | Iterable<Buffer>, onPiece: (b: Buffer) => void): Promise<void> {
  try {
    for await (const p of pieces) {
      onPiece(p);
      if (!ws.write(p)) await once(ws, 'drain');
    }
  } finally {
    ws.end();
    await once(ws, 'close').catch(() => {});
  }
}

async function collect(g: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of g) out.push(c);
  return Buffer.concat(out);
}

async function* single(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The clerk's document (send, replace) shaped before anything is made of it: a missing or mistyped part is
 * `bad_package` naming its field (what the values hold is `checkPackage`'s to judge, on the package made).
 */
function checkSendInput(input: unknown): asserts input is SendInput {
  if (!isObject(input)) throw new TrucError('bad_request', 'thân yêu cầu phải là một đối tượng JSON / the body must be a JSON object');
  if (!isObject(input.code)) throw bad('Code', 'is required: {"number": …, "notation": …}', 'bắt buộc phải có: {"number": …, "notation": …}');
  if (!isObject(input.promulgation)) throw bad('PromulgationInfo', 'is required: {"place": …, "date": "yyyy-MM-dd"}', 'bắt buộc phải có: {"place": …, "date": "yyyy-MM-dd"}');
  if (input.promulgation.date !== undefined) checkDate('PromulgationInfo.PromulgationDate', input.promulgation.date);
  if (!isObject(input.documentType)) throw bad('DocumentType', 'is required: {"type": …, "typeName": …}', 'bắt buộc phải có: {"type": …, "typeName": …}');
  if (!isObject(input.signer)) throw bad('SignerInfo', 'is required: {"fullName": …}', 'bắt buộc phải có: {"fullName": …}');
  if (input.otherInfo !== undefined && !isObject(input.otherInfo)) throw bad('OtherInfo', 'must be an object', 'phải là một đối tượng');
  if (input.toPlaces !== undefined && !Array.isArray(input.toPlaces)) throw bad('ToPlaces', 'must be a list', 'phải là danh sách');
  if (input.responseFor !== undefined && !Array.isArray(input.responseFor)) throw bad('ResponseFor', 'must be a list', 'phải là danh sách');
}

/** how long an upload no send has taken is kept (a send refused for its fields may be tried again with it) */
export const UPLOAD_KEEP_MS = 24 * 3_600_000;

/** The name of an upload's file in uploads/: its id, with `.vlt` when kept encrypted. */
const UPLOAD_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(\.vlt)?$/;

/** A file kept encrypted: its vault object id (a UUID) before `.vlt`. */
const SEALED = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.vlt$/;

/** `encryption_certificate_missing` for an agency, with the reason in both languages. */
function noEncryptionCertificate(organId: string, why: string, detail: Record<string, unknown> = {}): TrucError {
  return new TrucError('encryption_certificate_missing', `cơ quan ${organId} không có chứng thư mã hoá dùng được (${why}) / agency ${organId} has no usable encryption certificate (${why})`, { organId, reason: why, ...detail });
}

export class DocumentDesk {
  readonly organ: Organ;
  readonly client: SubsystemId;
  private readonly o: Required<Pick<DeskOptions, 'concurrency' | 'timeoutMs' | 'autoArrived' | 'maxAttachmentBytes' | 'maxPdfValidateBytes'>> & DeskOptions;
  private readonly clock: () => Date;
  private readonly inflight = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** when stale uploads were last looked for (ms; `sweepUploads`) */
  private sweptAt = -Infinity;
  private pumping = false;
  private again = false;
  private closed = false;
  private readonly working = new Set<Promise<unknown>>();

  private constructor(o: DeskOptions) {
    this.o = { concurrency: 8, timeoutMs: 600_000, autoArrived: true, maxAttachmentBytes: 2 * 1024 ** 3, maxPdfValidateBytes: 64 * 1024 ** 2, ...o };
    this.organ = o.organ;
    this.client = typeof o.client === 'string' ? parseClientHeader(o.client) : o.client;
    this.clock = o.clock ?? (() => new Date());
  }

  /** Migrates the desk's tables, makes its folders and (by default) resumes the delivery queue. */
  static async open(o: DeskOptions): Promise<DocumentDesk> {
    await migrate(o.db, [...auditMigrations, ...edocMigrations]);
    for (const d of ['files', 'spool']) mkdirSync(join(o.dir, d), { recursive: true });
    const desk = new DocumentDesk(o);
    if (o.start !== false) desk.kick();
    if (o.cipher) {
      const w: Promise<unknown> = desk
        .sealExisting()
        .catch((e) => o.log?.error({ err: e }, 'sealing existing documents failed'))
        .finally(() => desk.working.delete(w));
      desk.working.add(w);
    }
    return desk;
  }

  get db(): Db {
    return this.o.db;
  }

  recipients(): DeskRecipient[] {
    return this.o.recipients().filter((r) => r.id !== this.organ.organId);
  }

  private recipientClient(r: DeskRecipient): string {
    // the lead's directory names each agency's desk subsystem; without it, the same class and subsystem code as ours
    return r.client ?? `${this.client.instance}/${this.client.memberClass}/${r.id}/${this.client.subsystemCode}`;
  }

  // ---------- files at rest ----------

  /** The name of a new stored file: `<base>.<uuid>.vlt` when encrypting, `<base>.bin` otherwise. */
  private storedName(base: string): string {
    return this.o.cipher ? `${base}.${randomUUID()}.vlt` : `${base}.bin`;
  }

  /** When what is written now expires (retention), if the desk has a retention. */
  private expiry(): { expiresAt?: Date } {
    return this.o.retentionDays ? { expiresAt: new Date(this.clock().getTime() + this.o.retentionDays * 86_400_000) } : {};
  }

  /** Writes pieces to a stored file (encrypted when its name says so), `onPiece` seeing the plaintext. */
  private async writeStored(path: string, pieces: AsyncIterable<Buffer> | Iterable<Buffer>, onPiece: (b: Buffer) => void): Promise<void> {
    const m = SEALED.exec(path);
    if (!m || !this.o.cipher) return writeAll(createWriteStream(path), pieces, onPiece);
    const enc = await this.o.cipher.encrypt(m[1]!, undefined, this.expiry());
    await pipeline(
      async function* () {
        for await (const p of pieces) {
          onPiece(p);
          yield p;
        }
      },
      enc,
      createWriteStream(path),
    );
  }

  /** A stored file's plaintext as a stream (decrypted, checked chunk by chunk, when it is kept encrypted). */
  openStored(path: string): Readable {
    const m = SEALED.exec(path);
    if (!m) return createReadStream(path);
    const out = new PassThrough();
    const cipher = this.o.cipher;
    void (async () => {
      if (!cipher) throw new TrucError('decrypt_failed', `${path} được mã hoá mà bàn văn thư không có khoá / is encrypted and this desk has no key`);
      await pipeline(createReadStream(path), await cipher.decrypt(m[1]!), out);
    })().catch((e) => out.destroy(e as Error));
    return out;
  }

  private async readStored(path: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of this.openStored(path)) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }

  /** Removes stored files (a file, or every file of a folder), shredding the keys of encrypted ones. */
  private async discard(path: string, why = 'discarded: refused or failed'): Promise<void> {
    let files: string[] = [path];
    try {
      if (statSync(path).isDirectory()) files = readdirSync(path).map((n) => join(path, n));
    } catch {
      // a file whose key was made but which was never opened on disk (its source failed first): the key goes
      const m = SEALED.exec(path);
      if (m && this.o.cipher) await this.o.cipher.shred(m[1]!, why).catch((e) => this.o.log?.warn({ err: e, file: path }, 'key not shredded'));
      return;
    }
    for (const f of files) {
      const m = SEALED.exec(f);
      if (m && this.o.cipher) await this.o.cipher.shred(m[1]!, why).catch((e) => this.o.log?.warn({ err: e, file: f }, 'key not shredded'));
    }
    rmSync(path, { recursive: true, force: true });
  }

  // ---------- document records at rest ----------

  /** The sealed record of a new document row, or undefined when the desk keeps rows in clear (no cipher). */
  private async sealRecord(d: NewDocument, attachments: (Attachment & { report?: unknown })[]): Promise<Buffer | undefined> {
    if (!this.o.cipher) return undefined;
    const rec: SealedRecord = { envelope: d.envelope, header: d.header, attachments: Object.fromEntries(attachments.map((a) => [a.contentId, { attachmentName: a.attachmentName, ...(a.description ? { description: a.description } : {}), report: a.report ?? null }])) };
    return this.o.cipher.seal(`doc:${d.id}`, Buffer.from(JSON.stringify(rec), 'utf8'), recordAd(d), this.expiry());
  }

  /** Destroys the key of a record that was sealed but not stored (a refusal, a failed transaction). */
  private async dropRecord(id: string, reason: string): Promise<void> {
    await this.o.cipher?.shred(`doc:${id}`, reason).catch((e) => this.o.log?.warn({ err: e, id }, 'record key not shredded'));
  }

  /** A row as the desk shows it: opened when sealed; the public part only once its key was destroyed. */
  private async openRow(r: StoredDocumentRow): Promise<{ row: DocumentRow; attachments: SealedRecord['attachments'] | null }> {
    const { sealed, shreddedAt, ...meta } = r;
    if (!sealed && !shreddedAt) return { row: { ...meta, header: r.header as PackageHeader, atRest: 'plaintext' }, attachments: null };
    const shredded = { row: { ...meta, envelope: null, header: shreddedHeader(r.header as PublicHeader), atRest: 'shredded' as const }, attachments: {} };
    if (!sealed) return shredded;
    if (!this.o.cipher) throw new TrucError('decrypt_failed', `văn bản ${r.id} được mã hoá mà bàn văn thư không có khoá / document ${r.id} is encrypted and this desk has no key`, { id: r.id });
    let rec: SealedRecord;
    try {
      rec = JSON.parse((await this.o.cipher.open(`doc:${r.id}`, sealed, recordAd(r))).toString('utf8')) as SealedRecord;
    } catch (e) {
      if (isTrucError(e) && e.code === 'shredded') return shredded;
      throw e;
    }
    return { row: { ...meta, envelope: rec.envelope, header: rec.header, atRest: 'encrypted' }, attachments: rec.attachments };
  }

  /** Attachment rows with what their document's sealed record holds of them (names, descriptions, reports). */
  private static withPrivate(atts: AttachmentRow[], priv: SealedRecord['attachments'] | null): AttachmentRow[] {
    if (!priv) return atts;
    return atts.map((a) => {
      const p = priv[a.contentId];
      return p ? { ...a, attachmentName: p.attachmentName, ...(p.description ? { description: p.description } : {}), report: p.report } : a;
    });
  }

  // ---------- status packets at rest ----------

  /** The sealed record of a new status row (description, staff, signed packet), or undefined without a cipher. */
  private async sealStatus(s: Omit<StatusRow, 'createdAt' | 'ackedAt' | 'atRest' | 'xml'> & { xml: string }): Promise<Buffer | undefined> {
    if (!this.o.cipher) return undefined;
    const rec: SealedStatus = { description: s.description, staff: s.staff, xml: s.xml };
    return this.o.cipher.seal(`status:${s.id}`, Buffer.from(JSON.stringify(rec), 'utf8'), statusAd(s), this.expiry());
  }

  private async dropStatus(id: string, reason: string): Promise<void> {
    await this.o.cipher?.shred(`status:${id}`, reason).catch((e) => this.o.log?.warn({ err: e, id }, 'status key not shredded'));
  }

  /** Status rows as the desk shows them: opened when sealed; without description, staff and packet once shredded. */
  private async openStatuses(rows: StoredStatusRow[]): Promise<StatusRow[]> {
    const out: StatusRow[] = [];
    for (const r of rows) {
      const { sealed, shreddedAt, ...meta } = r;
      const shredded: StatusRow = { ...meta, description: null, staff: null, xml: null, atRest: 'shredded' };
      if (!sealed) {
        out.push(shreddedAt ? shredded : { ...meta, atRest: 'plaintext' });
        continue;
      }
      if (!this.o.cipher) throw new TrucError('decrypt_failed', `trạng thái ${r.id} được mã hoá mà bàn văn thư không có khoá / status ${r.id} is encrypted and this desk has no key`, { id: r.id });
      try {
        const rec = JSON.parse((await this.o.cipher.open(`status:${r.id}`, sealed, statusAd(r))).toString('utf8')) as SealedStatus;
        out.push({ ...meta, description: rec.description, staff: rec.staff, xml: rec.xml, atRest: 'encrypted' });
      } catch (e) {
        if (isTrucError(e) && e.code === 'shredded') out.push(shredded);
        else throw e;
      }
    }
    return out;
  }

  /**
   * Seals rows written in clear, a batch a transaction, until none is left; returns how many. `store` writes
   * one sealed row (false when the row changed meanwhile); the keys of rows not stored are shredded.
   */
  private async sealBatches<R extends { id: string }>(o: {
    next: () => Promise<R[]>;
    seal: (r: R) => Promise<Buffer>;
    store: (sql: Sql, r: R, sealed: Buffer) => Promise<boolean>;
    drop: (id: string) => Promise<void>;
    audit: { target: string; counted: string };
  }): Promise<number> {
    let done = 0;
    for (;;) {
      if (this.closed || !this.o.cipher) return done;
      const rows = await o.next();
      if (!rows.length) return done;
      const sealed = new Map<string, Buffer>();
      for (const r of rows) sealed.set(r.id, await o.seal(r));
      const kept = new Set<string>();
      try {
        await this.o.db.tx(async (sql) => {
          for (const r of rows) if (await o.store(sql, r, sealed.get(r.id)!)) kept.add(r.id);
          if (kept.size) await this.audit(sql, SYSTEM, 'seal', o.audit.target, 'success', { [o.audit.counted]: kept.size });
        });
      } catch (e) {
        kept.clear();
        throw e;
      } finally {
        for (const id of sealed.keys()) if (!kept.has(id)) await o.drop(id);
      }
      done += kept.size;
      if (kept.size === 0) return done;
    }
  }

  /**
   * Seals the rows written in clear (before the desk had a cipher, or before `edoc_002`), a batch a
   * transaction; returns how many. Run by `open` in the background when the desk has a cipher. The old
   * row versions stay in the database files until PostgreSQL reuses their space: see docs/protection.md.
   */
  async sealExisting(opts: { batch?: number } = {}): Promise<number> {
    if (!this.o.cipher) return 0;
    const batch = Math.max(1, Math.min(opts.batch ?? 50, 1000));
    const statuses = await this.sealBatches({
      next: async () => (await this.o.db.query(`SELECT * FROM xd_status WHERE sealed IS NULL AND shredded_at IS NULL AND xml IS NOT NULL ORDER BY created_at, id LIMIT ${batch}`)).map(statusRow),
      seal: async (r) => (await this.sealStatus({ ...r, xml: r.xml! }))!,
      store: async (sql, r, sealed) =>
        (await sql.query(`UPDATE xd_status SET sealed = $2, description = NULL, staff = NULL, xml = NULL WHERE id = $1 AND sealed IS NULL AND xml = $3 RETURNING id`, [r.id, sealed, r.xml])).length > 0,
      drop: (id) => this.dropStatus(id, 'not stored: sealing of existing statuses'),
      audit: { target: '(existing statuses)', counted: 'statuses' },
    });
    const documents = await this.sealBatches({
      next: async () => (await this.o.db.query(`SELECT * FROM xd_document WHERE sealed IS NULL AND shredded_at IS NULL AND envelope IS NOT NULL ORDER BY created_at, id LIMIT ${batch}`)).map(documentRow),
      seal: async (r) => {
        const atts = (await this.o.db.query('SELECT * FROM xd_attachment WHERE doc_id = $1', [r.id])).map(attachmentRow);
        return (await this.sealRecord({ ...r, header: r.header as PackageHeader, envelope: r.envelope! }, atts))!;
      },
      store: async (sql, r, sealed) => {
        const [u] = await sql.query(
          `UPDATE xd_document SET sealed = $2, envelope = NULL, header = $3::jsonb WHERE id = $1 AND sealed IS NULL AND envelope_sha256 = $4 RETURNING id`,
          [r.id, sealed, JSON.stringify(publicHeader(r.header as PackageHeader)), r.envelopeSha256],
        );
        if (!u) return false;
        await sql.query('UPDATE xd_attachment SET name = NULL, description = NULL, report = NULL WHERE doc_id = $1', [r.id]);
        return true;
      },
      drop: (id) => this.dropRecord(id, 'not stored: sealing of existing rows'),
      audit: { target: '(existing)', counted: 'documents' },
    });
    return statuses + documents;
  }

  /**
   * Crypto-shreds a document kept encrypted: the keys of its record and of its files are destroyed, the row
   * keeps only its public part (`atRest: 'shredded'`). Audited; an event.
   */
  async shred(id: string, reason: string, actor: string): Promise<void> {
    const [r] = await this.o.db.query('SELECT * FROM xd_document WHERE id = $1', [id]);
    if (!r) throw new TrucError('unknown_document', `không có văn bản ${id} / no document ${id}`, { id });
    const row = documentRow(r);
    if (!this.o.cipher || (!row.sealed && !row.shreddedAt)) throw new TrucError('conflict', `văn bản ${id} không được mã hoá, không thể huỷ khoá / document ${id} is not kept encrypted: there is no key to shred`, { id });
    await this.o.cipher.shred(`doc:${id}`, reason);
    const atts = (await this.o.db.query('SELECT path FROM xd_attachment WHERE doc_id = $1', [id])).map((a) => a.path as string);
    for (const f of atts) {
      const m = SEALED.exec(f);
      // a file written in clear before the desk had a cipher has no key to destroy: it is removed
      if (m) await this.o.cipher.shred(m[1]!, reason);
      else rmSync(f, { force: true });
    }
    // its status packets name the people who handled it: their keys go too (those written in clear are emptied)
    const sts = (await this.o.db.query('SELECT id, sealed IS NOT NULL AS sealed FROM xd_status WHERE doc_id = $1', [id])) as { id: string; sealed: boolean }[];
    for (const st of sts) if (st.sealed) await this.o.cipher.shred(`status:${st.id}`, reason);
    await this.o.db.tx(async (sql) => {
      await sql.query('UPDATE xd_status SET sealed = NULL, description = NULL, staff = NULL, xml = NULL, shredded_at = coalesce(shredded_at, now()) WHERE doc_id = $1', [id]);
      await sql.query('UPDATE xd_document SET sealed = NULL, envelope = NULL, shredded_at = coalesce(shredded_at, now()) WHERE id = $1', [id]);
      await this.audit(sql, actor, 'shred', row.documentId, 'success', { id, reason, files: atts.length });
    });
    await this.emit('shredded', 'success', { id, document_id: row.documentId, reason }, undefined, actor);
  }

  // ---------- classification ----------

  private async policy(): Promise<ReleasePolicy & { version?: number }> {
    return (await this.o.release?.policy?.()) ?? DEFAULT_POLICY;
  }

  private get channel(): string {
    return this.o.release?.channel ?? 'axis';
  }

  private get e2eChannel(): string {
    return this.o.release?.e2eChannel ?? `${this.channel}-e2e`;
  }

  /**
   * The recipient agency's encryption certificate, checked before anything is encrypted to it. The
   * candidates: the member's certificates in the global configuration (`conf`), or — when it lists none for
   * the member, or the desk has no configuration — the directory's. Each must name that member (subject
   * serialNumber), hold a key for key agreement (EC) or key transport (RSA) with that key usage, and have a
   * valid path to the desk's trust anchors now (revocation as for signatures); of those that pass, the
   * newest (latest notBefore, then the later in the list) is used. None: `encryption_certificate_missing`,
   * and the package cannot go.
   */
  private async encryptionCertificate(organId: string, client: string): Promise<Buffer> {
    const refuse = (why: string, detail: Record<string, unknown> = {}) => noEncryptionCertificate(organId, why, detail);
    const c = parseClientHeader(client);
    const listed = this.o.conf?.()?.encryptionCertificates({ memberClass: c.memberClass, memberCode: c.memberCode }) ?? [];
    const entry = listed.length ? undefined : this.o.recipients().find((r) => r.id === organId)?.encryptionCertificate;
    const candidates = listed.length ? listed.map((b) => Buffer.from(b)) : entry ? [Buffer.from(entry)] : [];
    if (!candidates.length) throw refuse(this.o.conf ? 'none in the global configuration or the directory' : 'none in the directory');
    const source = listed.length ? 'configuration' : 'directory';
    if (candidates.length === 1) return this.checkEncryptionCertificate(organId, client, candidates[0]!);
    let best: { der: Buffer; notBefore: number } | undefined;
    const why: string[] = [];
    for (const der of candidates) {
      try {
        await this.checkEncryptionCertificate(organId, client, der);
      } catch (e) {
        if (!isTrucError(e) || e.code !== 'encryption_certificate_missing') throw e;
        why.push(`${createHash('sha256').update(der).digest('hex').slice(0, 16)}…: ${String((e.detail as { reason?: string } | undefined)?.reason ?? e.message)}`);
        continue;
      }
      const notBefore = parseCertificate(der).notBefore.getTime();
      if (!best || notBefore >= best.notBefore) best = { der, notBefore };
    }
    if (!best) throw refuse(`none of its ${candidates.length} certificates in the ${source} is usable: ${why.join('; ')}`, { candidates: candidates.length, source });
    return best.der;
  }

  /**
   * The checks of `encryptionCertificate` on a certificate already chosen: also made again before every
   * retry of a delivery, so that a certificate revoked or expired after the first attempt is never used.
   */
  private async checkEncryptionCertificate(organId: string, client: string, der: Buffer): Promise<Buffer> {
    const refuse = (why: string, detail: Record<string, unknown> = {}) => noEncryptionCertificate(organId, why, detail);
    let keyType: string;
    try {
      const t = createPublicKey({ key: parseCertificate(der).spki, format: 'der', type: 'spki' }).asymmetricKeyType;
      keyType = t === 'ec' || t === 'rsa' ? t : 'other';
    } catch {
      throw refuse('not a certificate');
    }
    if (keyType === 'other') throw refuse('not an EC or RSA key');
    const c = parseClientHeader(client);
    const member = `${c.instance}/${c.memberClass}/${c.memberCode}`;
    const named = memberOfCertificate(der);
    if (named !== member) throw refuse(`it names ${named ?? 'no member'}, not ${member}`);
    const v = this.o.validation;
    const path = await validatePath({
      target: der,
      intermediates: v.intermediates ?? [],
      trustAnchors: v.trustAnchors,
      time: this.clock(),
      purpose: { keyUsage: [keyType === 'ec' ? 'keyAgreement' : 'keyEncipherment'] },
      ...(v.revocation ? { revocation: v.revocation } : {}),
    });
    if (!path.valid) throw refuse(`not valid: ${path.message}`, { path: path.reason });
    return der;
  }

  /** Whether stamps are read from the text of documents (only with `release`, and unless turned off). */
  private get readsMarkings(): boolean {
    return !!this.o.release && this.o.release.markings !== false;
  }

  /** The highest secrecy stamp in a document's text, or null (text/* read directly, PDFs through pdftotext). */
  private static async markingOf(contentType: string, bytes: Buffer): Promise<Level | null> {
    if (contentType === 'application/pdf') return highestMarking(await pdfText(bytes));
    if (contentType.startsWith('text/')) return highestMarking(bytes.toString('utf8'));
    return null;
  }

  /** The highest stamp of the stored attachments a check can read (PDFs and texts up to the validation bound). */
  private async storedMarkings(atts: Attachment[], files: string[]): Promise<Level | null> {
    let best: Level | null = null;
    for (const [i, a] of atts.entries()) {
      if (a.size > this.o.maxPdfValidateBytes || !(a.contentType === 'application/pdf' || a.contentType.startsWith('text/'))) continue;
      const l = await DocumentDesk.markingOf(a.contentType, await this.readStored(files[i]!));
      if (l) best = best ? higherLevel(best, l) : l;
    }
    return best;
  }

  /**
   * The release check before a package leaves, once per recipient: the clerk (`actor`) may release the
   * level, the recipient agency is cleared for it, the channel may carry it, no stamp in the attachments is
   * above the declared level. A refusal throws (`release_denied`) and is an event the monitor alerts on.
   */
  private async checkRelease(actor: string, pkg: EdocPackage, files: string[], to: { organ: Organ; client: string }[]): Promise<Map<string, Buffer>> {
    const markings = this.readsMarkings ? await this.storedMarkings(pkg.attachments, files) : null;
    const policy = await this.policy();
    const label = pkg.header.classification ?? 'unclassified';
    // from the policy's encryptFrom on, the package travels encrypted to each recipient agency's certificate
    const e2e = isClassified(label) && rank(label) >= rank(policy.encryptFrom);
    const encryptTo = new Map<string, Buffer>();
    // the policy first (a refusal there is what the monitor must see), then the certificate it relies on
    for (const r of to)
      await enforceRelease(
        { documentId: pkg.header.documentId, label, markings, sender: actor, recipient: r.organ.organId, channel: e2e ? this.e2eChannel : this.channel, encrypted: e2e },
        policy,
        { bus: this.o.bus, clock: this.clock },
      );
    if (e2e) for (const r of to) encryptTo.set(r.organ.organId, await this.encryptionCertificate(r.organ.organId, r.client));
    return encryptTo;
  }

  // ---------- events and audit ----------

  /** An event on the bus; `actor` (a clerk, `xroad:<client>` for what arrived, `system:edoc`) is its user.name. */
  private async emit(action: string, outcome: 'success' | 'failure', truc: Record<string, unknown>, reason?: string, actor?: string): Promise<void> {
    await this.o.bus.publish(
      `truc.exchange.doc.${action}`,
      makeEvent('exchange', `doc.${action}`, outcome, { category: ['network'], ...(reason ? { reason } : {}), ...(actor ? { user: { name: actor } } : {}), truc: { agency: this.organ.organId, ...truc }, at: this.clock() }),
    );
  }

  private audit(sql: Sql, actor: string, action: string, target: string, outcome: 'success' | 'failure' | 'denied', detail: Record<string, unknown>) {
    return appendAudit(sql, [{ actor, action: `doc.${action}`, target, outcome, detail }], this.clock());
  }

  private async refused(actor: string, action: string, target: string, e: unknown, truc: Record<string, unknown>): Promise<never> {
    const code = isTrucError(e) ? e.code : 'internal';
    const message = (e as Error)?.message ?? String(e);
    await this.o.db.tx((sql) => this.audit(sql, actor, action, target, 'denied', { code, message, ...truc })).catch((x) => this.o.log?.error({ err: x }, 'audit failed'));
    await this.emit(`${action}.refused`, 'failure', { code, ...truc }, message, actor);
    throw e;
  }

  // ---------- sending ----------

  /** Copies an attachment into the desk folder while hashing it. */
  private async stage(docId: string, index: number, a: AttachmentInput): Promise<{ att: Attachment; path: string }> {
    const folder = join(this.o.dir, 'files', docId);
    mkdirSync(folder, { recursive: true });
    const path = this.storedName(join(folder, `${index}`));
    const h = createHash('sha256');
    let size = 0;
    // an upload of this desk is read through its cipher; any other path as it is
    const own = a.path?.startsWith(join(this.o.dir, 'uploads')) ?? false;
    const src: AsyncIterable<Buffer> | Iterable<Buffer> = a.path ? ((own ? this.openStored(a.path) : createReadStream(a.path)) as AsyncIterable<Buffer>) : a.bytes ? [Buffer.from(a.bytes)] : (() => { throw new TrucError('bad_request', `tệp đính kèm ${a.name}: cần một tệp hoặc nội dung / attachment ${a.name}: a file or bytes`); })();
    try {
      await this.writeStored(path, src, (b) => {
        h.update(b);
        size += b.length;
      });
    } catch (e) {
      await this.discard(path);
      throw e;
    }
    if (size > this.o.maxAttachmentBytes) throw new TrucError('too_large', `tệp đính kèm ${a.name} lớn quá ${this.o.maxAttachmentBytes} byte / attachment ${a.name} has more than ${this.o.maxAttachmentBytes} bytes`);
    const contentType = a.contentType ?? (a.name.toLowerCase().endsWith('.pdf') ? 'application/pdf' : 'application/octet-stream');
    return { att: { contentId: `att${index + 1}`, contentType, attachmentName: a.name, ...(a.description ? { description: a.description } : {}), size, sha256: h.digest('hex') }, path };
  }

  private resolveRecipients(ids: string[]): { organ: Organ; client: string }[] {
    if (!Array.isArray(ids) || !ids.length) throw new TrucError('bad_request', 'phải có ít nhất một nơi nhận (to: danh sách mã cơ quan) / at least one recipient (to: a list of agency codes)');
    const dir = new Map(this.recipients().map((r) => [r.id, r]));
    return [...new Set(ids)].map((id) => {
      const r = dir.get(id);
      if (!r) throw new TrucError('unknown_member', `${String(id).slice(0, 40)} không phải cơ quan mà bàn văn thư này gửi được tới / ${String(id).slice(0, 40)} is not an agency this desk can send to`, { organId: id });
      return { organ: { organId: r.id, organName: r.name }, client: this.recipientClient(r) };
    });
  }

  /** Attachments as the audit log records them: their names only when the desk keeps names in clear. */
  private auditedAttachments(atts: Attachment[]): Record<string, unknown>[] {
    return atts.map((a) => (this.o.cipher ? { contentId: a.contentId, sha256: a.sha256, size: a.size } : { name: a.attachmentName, sha256: a.sha256, size: a.size }));
  }

  /** Signs and stores an outgoing package and queues it for each recipient — one transaction. */
  private async dispatch(
    actor: string,
    docId: string,
    pkg: EdocPackage,
    files: string[],
    to: { organ: Organ; client: string }[],
    parentId: string | null,
    signedXml?: string,
    inTx?: (sql: Sql) => Promise<void>,
  ): Promise<SendResult> {
    // the package's fields first: what the receiving desk would refuse is refused here, before any release check
    checkPackage(pkg);
    const encryptTo = await this.checkRelease(actor, pkg, files, to);
    const xml = signedXml ?? (await signXades(writeEnvelope(pkg), this.o.signer, { signingTime: this.clock() }));
    const sha = createHash('sha256').update(xml).digest('hex');
    const h = pkg.header;
    const doc: NewDocument = { id: docId, direction: 'out', sender: h.from.organId, senderClient: clientHeader(this.client), documentId: h.documentId, docType: h.business.docType, parentId, envelopeSha256: sha, envelope: xml, header: h, classification: h.classification ?? null, validation: null, state: NO_STATE, actor, xRoadId: null };
    // sealed before the transaction: the vault may live in the same database, which PGlite serves one query at a time
    const sealed = await this.sealRecord(doc, pkg.attachments);
    try {
      await this.o.db.tx(async (sql) => {
        if (h.business.docType === 0 || h.business.docType === 3) {
          const [exists] = await sql.query(`SELECT id FROM xd_document WHERE direction = 'out' AND sender = $1 AND document_id = $2 AND doc_type IN (0, 3)`, [h.from.organId, h.documentId]);
          if (exists) throw new TrucError('conflict', `văn bản ${h.documentId} đã được gửi; hãy thu hồi, cập nhật hoặc thay thế nó / ${h.documentId} was already sent; recall, update or replace it instead`, { documentId: h.documentId });
        }
        await insertDocument(sql, doc, sealed);
        for (const [i, a] of pkg.attachments.entries()) await insertAttachment(sql, { ...a, docId, path: files[i]!, report: null }, !!sealed);
        for (const r of to) {
          if (h.business.docType === 0 || h.business.docType === 3)
            await sql.query('INSERT INTO xd_recipient (doc_id, organ_id, organ_name, client) VALUES ($1,$2,$3,$4)', [docId, r.organ.organId, r.organ.organName, r.client]);
          await enqueue(sql, 'package', docId, r.organ.organId, r.client, encryptTo.get(r.organ.organId));
        }
        await inTx?.(sql);
        await this.audit(sql, actor, 'send', h.documentId, 'success', { id: docId, docType: h.business.docType, classification: h.classification ?? null, recipients: to.map((r) => r.organ.organId), attachments: this.auditedAttachments(pkg.attachments), ...(encryptTo.size ? { encryptedTo: [...encryptTo].map(([organId, der]) => ({ organId, certificateSha256: createHash('sha256').update(der).digest('hex') })) } : {}) });
      });
    } catch (e) {
      if (sealed) await this.dropRecord(docId, 'not stored: sending failed');
      throw e;
    }
    await this.emit('sent', 'success', { id: docId, document_id: h.documentId, doc_type: h.business.docType, recipients: to.map((r) => r.organ.organId) }, undefined, actor);
    this.kick();
    return { id: docId, documentId: h.documentId, recipients: to.map((r) => ({ organId: r.organ.organId, client: r.client })) };
  }

  /** The header of a new document of this desk (a first sending or a replacement), numbered from its code and date. */
  private newHeader(input: Omit<SendInput, 'to'>, to: { organ: Organ }[], now: Date, date: string, business: PackageHeader['business'], classification: NonNullable<PackageHeader['classification']>): PackageHeader {
    return {
      from: this.organ,
      to: to.map((r) => r.organ),
      documentId: documentIdOf(this.organ.organId, date, input.code.number, input.code.notation),
      code: input.code,
      promulgation: { place: input.promulgation.place, date },
      documentType: input.documentType,
      subject: input.subject,
      ...(input.content ? { content: input.content } : {}),
      signer: input.signer,
      ...(input.dueDate ? { dueDate: input.dueDate } : {}),
      toPlaces: input.toPlaces ?? to.map((r) => r.organ.organName),
      otherInfo: { priority: 0, appendixes: [], ...(input.otherInfo ?? {}) },
      ...(input.steeringType !== undefined ? { steeringType: input.steeringType } : {}),
      responseFor: input.responseFor ?? [],
      traces: [{ organId: this.organ.organId, timestamp: now.toISOString() }],
      business,
      classification,
    };
  }

  /** Sends a document to one or many agencies: one call, one package, a delivery per recipient. */
  async send(input: SendInput, actor: string): Promise<SendResult> {
    return this.consuming((input as Partial<SendInput> | undefined)?.attachments, () => this.sendNew(input, actor));
  }

  private async sendNew(input: SendInput, actor: string): Promise<SendResult> {
    try {
      checkSendInput(input);
    } catch (e) {
      return this.refused(actor, 'send', '(none)', e, {});
    }
    const to = this.resolveRecipients(input.to);
    const docId = randomUUID();
    try {
      const staged = [];
      for (const [i, a] of (input.attachments ?? []).entries()) staged.push(await this.stage(docId, i, a));
      const now = this.clock();
      const date = input.promulgation.date ?? vnDate(now);
      const header = this.newHeader(input, to, now, date, { docType: 0 }, input.classification ?? 'unclassified');
      return await this.dispatch(actor, docId, { header, attachments: staged.map((s) => s.att) }, staged.map((s) => s.path), to, null);
    } catch (e) {
      await this.discard(join(this.o.dir, 'files', docId));
      return this.refused(actor, 'send', `${String(input.code.number).slice(0, 64)}/${String(input.code.notation).slice(0, 128)}`, e, {});
    }
  }

  /**
   * Sends a package made and signed elsewhere (the agency's document system): the signed envelope and its
   * attachments, which must match the manifest. The recipients are the envelope's `To`.
   */
  async sendPackage(signedEnvelope: string | Uint8Array, attachments: (AttachmentInput & { contentId: string })[], actor: string): Promise<SendResult> {
    return this.consuming(attachments, () => this.sendSigned(signedEnvelope, attachments, actor));
  }

  private async sendSigned(signedEnvelope: string | Uint8Array, attachments: (AttachmentInput & { contentId: string })[], actor: string): Promise<SendResult> {
    const docId = randomUUID();
    const xml = typeof signedEnvelope === 'string' ? signedEnvelope : Buffer.from(signedEnvelope).toString('utf8');
    try {
      const pkg = parseEnvelope(xml);
      if (pkg.header.from.organId !== this.organ.organId) throw new TrucError('forbidden', `gói tin của cơ quan ${pkg.header.from.organId}, không phải của cơ quan này (${this.organ.organId}) / the package is from ${pkg.header.from.organId}, not from this agency (${this.organ.organId})`);
      this.checkSigner(await verifySigned(Buffer.from(xml), this.o.validation), this.client);
      // every attachment given is one the signed manifest names, once — as the receiving desk will check
      const named = new Set(pkg.attachments.map((m) => m.contentId));
      const given = new Set<string>();
      for (const a of attachments) {
        const cid = String(a.contentId).slice(0, 128);
        if (!named.has(a.contentId)) throw new TrucError('attachment_mismatch', `tệp đính kèm "${cid}" không có trong danh mục đã ký / an attachment "${cid}" that the manifest does not name`, { contentId: cid });
        if (given.has(a.contentId)) throw new TrucError('attachment_mismatch', `tệp đính kèm ${cid} được đưa hai lần / attachment ${cid} given twice`, { contentId: cid });
        given.add(a.contentId);
      }
      const to = this.resolveRecipients(pkg.header.to.map((t) => t.organId));
      const files: string[] = [];
      for (const [i, m] of pkg.attachments.entries()) {
        const given = attachments.find((a) => a.contentId === m.contentId);
        if (!given) throw new TrucError('attachment_mismatch', `tệp đính kèm ${m.contentId} ghi trong danh mục không được gửi kèm / attachment ${m.contentId} of the manifest is not given`, { contentId: m.contentId });
        const s = await this.stage(docId, i, given);
        if (s.att.sha256 !== m.sha256 || s.att.size !== m.size) throw new TrucError('attachment_mismatch', `tệp đính kèm ${m.contentId} không khớp giá trị băm trong danh mục / attachment ${m.contentId} does not match the manifest's hash`, { contentId: m.contentId });
        files.push(s.path);
      }
      let parentId: string | null = null;
      if (pkg.header.business.docType === 1 || pkg.header.business.docType === 2) parentId = (await this.baseOut(pkg.header.documentId)).id;
      return await this.dispatch(actor, docId, pkg, files, to, parentId, xml);
    } catch (e) {
      await this.discard(join(this.o.dir, 'files', docId));
      return this.refused(actor, 'send', '(package)', e, {});
    }
  }

  private async baseOut(documentId: string): Promise<StoredDocumentRow> {
    const [r] = await this.o.db.query(`SELECT * FROM xd_document WHERE direction = 'out' AND sender = $1 AND document_id = $2 AND doc_type IN (0, 3)`, [this.organ.organId, documentId]);
    if (!r) throw new TrucError('unknown_document', `không có văn bản ${documentId} nào được gửi từ đây / no document ${documentId} was sent from here`, { documentId });
    return documentRow(r);
  }

  private async outDoc(id: string): Promise<StoredDocumentRow> {
    const [r] = await this.o.db.query(`SELECT * FROM xd_document WHERE id = $1 AND direction = 'out'`, [id]);
    if (!r) throw new TrucError('unknown_document', `không có văn bản đã gửi ${id} / no sent document ${id}`, { id });
    const d = documentRow(r);
    if (d.docType !== 0 && d.docType !== 3) throw new TrucError('bad_request', `${id} là gói ${d.docType === 1 ? 'thu hồi' : 'cập nhật'}, không phải văn bản / ${id} is a ${d.docType === 1 ? 'recall' : 'update'}, not a document`);
    return d;
  }

  /** Recall (1) or update (2) of a sent document: a package to each recipient, and their status to 13. */
  private async follow(id: string, docType: 1 | 2, reason: string, actor: string, change: { subject?: string; content?: string; dueDate?: string; updateInfo?: string[]; attachments?: AttachmentInput[] } = {}): Promise<SendResult> {
    const action = docType === 1 ? 'recall' : 'update';
    const docId = randomUUID();
    try {
      const { row: base } = await this.openRow(await this.outDoc(id));
      if (base.atRest === 'shredded') throw new TrucError('shredded', `văn bản ${id} đã bị huỷ khoá / document ${id} was crypto-shredded`, { id });
      const recips = (await this.o.db.query('SELECT * FROM xd_recipient WHERE doc_id = $1', [id])).map(recipientRow);
      for (const r of recips) advance(r.state, '13', docType === 1 ? 'recall' : 'update');
      const staged = [];
      for (const [i, a] of (change.attachments ?? []).entries()) staged.push(await this.stage(docId, i, a));
      const h: PackageHeader = {
        ...base.header,
        ...(change.subject ? { subject: change.subject } : {}),
        ...(change.content ? { content: change.content } : {}),
        ...(change.dueDate ? { dueDate: change.dueDate } : {}),
        traces: [{ organId: this.organ.organId, timestamp: this.clock().toISOString() }],
        business: { docType, docReason: reason, ...(change.updateInfo?.length ? { updateInfo: change.updateInfo } : {}) },
      };
      // the recipients move to 13 with the package queued, before any answer to it can arrive
      return await this.dispatch(actor, docId, { header: h, attachments: staged.map((s) => s.att) }, staged.map((s) => s.path), recips.map((r) => ({ organ: { organId: r.organId, organName: r.organName }, client: r.client })), id, undefined, (sql) =>
        this.markRequested(sql, id, docType === 1 ? 'recall' : 'update'),
      );
    } catch (e) {
      await this.discard(join(this.o.dir, 'files', docId));
      return this.refused(actor, action, id, e, {});
    }
  }

  /** Each recipient of a sent document to 13 (recall or update requested), under lock. */
  private async markRequested(sql: Sql, id: string, kind: 'recall' | 'update' | 'replace'): Promise<void> {
    const rows = (await sql.query('SELECT * FROM xd_recipient WHERE doc_id = $1 ORDER BY organ_id FOR UPDATE', [id])).map(recipientRow);
    for (const r of rows) await sql.query(`UPDATE xd_recipient SET state = $3::jsonb, status_at = now() WHERE doc_id = $1 AND organ_id = $2`, [id, r.organId, JSON.stringify(advance(r.state, '13', kind))]);
  }

  recall(id: string, reason: string, actor: string): Promise<SendResult> {
    return this.follow(id, 1, reason, actor);
  }

  update(id: string, change: { subject?: string; content?: string; dueDate?: string; updateInfo?: string[]; attachments?: AttachmentInput[] }, reason: string, actor: string): Promise<SendResult> {
    return this.consuming(change?.attachments, () => this.follow(id, 2, reason, actor, change));
  }

  /** A new document (its own number) replacing a sent one; the old one's recipients move to 13. */
  async replace(id: string, input: Omit<SendInput, 'to'> & { to?: string[] }, reason: string, actor: string): Promise<SendResult> {
    return this.consuming((input as Partial<SendInput> | undefined)?.attachments, () => this.replaceWith(id, input, reason, actor));
  }

  private async replaceWith(id: string, input: Omit<SendInput, 'to'> & { to?: string[] }, reason: string, actor: string): Promise<SendResult> {
    const base = await this.outDoc(id);
    try {
      checkSendInput({ to: [], ...input });
    } catch (e) {
      return this.refused(actor, 'replace', id, e, {});
    }
    const recips = (await this.o.db.query('SELECT * FROM xd_recipient WHERE doc_id = $1', [id])).map(recipientRow);
    for (const r of recips) advance(r.state, '13', 'replace');
    const to = this.resolveRecipients(input.to ?? recips.map((r) => r.organId));
    const docId = randomUUID();
    try {
      const staged = [];
      for (const [i, a] of (input.attachments ?? []).entries()) staged.push(await this.stage(docId, i, a));
      const now = this.clock();
      const date = input.promulgation.date ?? vnDate(now);
      const ref: DocumentRef = { organId: this.organ.organId, code: `${base.header.code.number}/${base.header.code.notation}`, promulgationDate: base.header.promulgation.date, documentId: base.documentId };
      const header = this.newHeader(input, to, now, date, { docType: 3, docReason: reason, replaces: [ref] }, input.classification ?? base.classification ?? 'unclassified');
      return await this.dispatch(actor, docId, { header, attachments: staged.map((s) => s.att) }, staged.map((s) => s.path), to, id, undefined, (sql) => this.markRequested(sql, id, 'replace'));
    } catch (e) {
      await this.discard(join(this.o.dir, 'files', docId));
      return this.refused(actor, 'replace', id, e, {});
    }
  }

  // ---------- statuses (as a recipient) ----------

  private async inDoc(sql: Sql, id: string, lock = false): Promise<StoredDocumentRow> {
    const [r] = await sql.query(`SELECT * FROM xd_document WHERE id = $1 AND direction = 'in'${lock ? ' FOR UPDATE' : ''}`, [id]);
    if (!r) throw new TrucError('unknown_document', `không có văn bản đến ${id} / no received document ${id}`, { id });
    const d = documentRow(r);
    if ((d.docType === 1 || d.docType === 2) && d.parentId) return this.inDoc(sql, d.parentId, lock);
    return d;
  }

  /** Reports a business status of a received document to its sender (signed, queued, delivered like a package). */
  async sendStatus(id: string, code: StatusCode, opts: { description?: string; staff?: StaffInfo } = {}, actor: string): Promise<{ id: string; code: StatusCode }> {
    try {
      if (!Object.hasOwn(STATUS_CODES, code)) throw new TrucError('bad_request', `mã trạng thái ${String(code).slice(0, 10)} không tồn tại / unknown status code ${String(code).slice(0, 10)}`);
      if (code === '13') throw new TrucError('bad_request', 'trạng thái 13 đi cùng gói thu hồi hoặc cập nhật của cơ quan gửi, cơ quan nhận không báo trạng thái này / status 13 comes with a recall or update package, not from the recipient');
      const now = this.clock();
      const pre = await this.inDoc(this.o.db, id);
      advance(pre.state, code, pre.state.pending ?? 'recall');
      const encryptTo = await this.statusEncryption(pre);
      const packet: StatusPacket = {
        responseFor: { organId: pre.sender, code: `${pre.header.code.number}/${pre.header.code.notation}`, promulgationDate: pre.header.promulgation.date, documentId: pre.documentId },
        from: this.organ,
        ...(opts.staff ? { staff: opts.staff } : {}),
        code,
        ...(opts.description ? { description: opts.description } : {}),
        timestamp: now.toISOString(),
      };
      const xml = await signXades(writeStatus(packet), this.o.signer, { signingTime: now });
      const sid = randomUUID();
      const row = { id: sid, direction: 'out' as const, docId: pre.id, organId: this.organ.organId, code, description: opts.description ?? null, staff: opts.staff ?? null, stamp: packet.timestamp, xml, validation: null, actor };
      // sealed before the transaction (the vault may share the database); its key dropped if the row is not stored
      const sealed = await this.sealStatus(row);
      let state: StatusState;
      try {
        state = await this.o.db.tx(async (sql) => {
          const d = await this.inDoc(sql, id, true);
          const next = advance(d.state, code, d.state.pending ?? 'recall');
          await sql.query('UPDATE xd_document SET state = $2::jsonb WHERE id = $1', [d.id, JSON.stringify(next)]);
          await insertStatus(sql, row, sealed);
          await enqueue(sql, 'status', sid, d.sender, d.senderClient!, encryptTo);
          await this.audit(sql, actor, 'status', d.documentId, 'success', { id: d.id, status: sid, code, to: d.sender });
          return next;
        });
      } catch (e) {
        if (sealed) await this.dropStatus(sid, 'not stored: sending the status failed');
        throw e;
      }
      await this.emit('status.sent', 'success', { id: pre.id, document_id: pre.documentId, code, to: pre.sender }, undefined, actor);
      this.kick();
      // an accepted update starts the document again: the updated version has arrived
      if (code === '15' && state.code === null && this.o.autoArrived) await this.sendStatus(pre.id, '01', { description: 'Đã nhận bản cập nhật / update received' }, SYSTEM);
      return { id: sid, code };
    } catch (e) {
      return this.refused(actor, 'status', id, e, { code });
    }
  }

  // ---------- receiving (the provider side) ----------

  /**
   * Takes a package the security server forwards (`POST /edoc/packages`). `client` is the `X-Road-Client`
   * header as the security server asserts it; the body is the frames stream.
   */
  async receivePackage(client: string, body: AsyncIterable<Buffer | Uint8Array | string>, xRoadId?: string): Promise<ReceiveResult> {
    const actor = `xroad:${String(client).slice(0, 300)}`;
    const reader = new FrameReader(body);
    const spooled: string[] = [];
    let target = '(unknown)';
    try {
      const caller = parseClientHeader(client);
      let env = await reader.envelope();
      // a package encrypted end to end: the envelope (and then each attachment) opened with this agency's key
      const e2e = reader.envelopeHeader.cms === 'auth-enveloped';
      if (reader.envelopeHeader.cms !== undefined && !e2e) throw new TrucError('bad_package', `phong bì được mã hoá theo kiểu không nhận được / an envelope encrypted as ${String(reader.envelopeHeader.cms).slice(0, 40)}`, { field: 'frames' });
      if (e2e) env = await collect(this.decryptE2e(single(env), env.length));
      const pkg = parseEnvelope(env);
      const h = pkg.header;
      target = h.documentId;
      if (caller.memberCode !== h.from.organId) throw new TrucError('forbidden', `gói tin của cơ quan ${h.from.organId}, nhưng thành viên gọi là ${caller.memberCode} / the package is from ${h.from.organId}, but the calling member is ${caller.memberCode}`, { from: h.from.organId, client });
      if (!h.to.some((t) => t.organId === this.organ.organId)) throw new TrucError('unknown_member', `cơ quan này (${this.organ.organId}) không có trong nơi nhận của gói tin / this agency (${this.organ.organId}) is not among the package's recipients`, { to: h.to.map((t) => t.organId) });
      const verdict = await verifySigned(env, this.o.validation);
      this.checkSigner(verdict, caller);
      // a declared level above what the channel may carry is refused before anything is spooled
      const policy = await this.policy();
      // `encrypted`: a package in clear at or above the policy's encryptFrom is refused (encryption_required)
      const receipt = { documentId: h.documentId, label: h.classification ?? null, sender: h.from.organId, channel: e2e ? this.e2eChannel : this.channel, encrypted: e2e };
      if (!decideReceipt(receipt, policy).allowed) await enforceReceipt(receipt, policy, { bus: this.o.bus, clock: this.clock });
      const sha = createHash('sha256').update(env).digest('hex');
      const dup = await this.findIn(h.from.organId, h.documentId, h.business.docType, sha);
      if (dup) {
        await reader.rest();
        return await this.duplicate(actor, dup, h);
      }
      let parent: StoredDocumentRow | null = null;
      if (h.business.docType === 0) {
        const [other] = await this.o.db.query(`SELECT id FROM xd_document WHERE direction = 'in' AND sender = $1 AND document_id = $2 AND doc_type IN (0, 3)`, [h.from.organId, h.documentId]);
        if (other) throw new TrucError('conflict', `đã nhận một văn bản khác là ${h.documentId}; gói cập nhật hoặc thay thế phải ghi rõ điều đó / another document was already received as ${h.documentId}; an update or replacement must say so`, { documentId: h.documentId });
      } else if (h.business.docType === 1 || h.business.docType === 2) {
        parent = await this.baseIn(h.from.organId, h.documentId);
        advance(parent.state, '13', h.business.docType === 1 ? 'recall' : 'update');
      } else {
        for (const r of h.business.replaces ?? []) {
          const old = await this.baseIn(r.organId, r.documentId);
          advance(old.state, '13', 'replace');
          parent ??= old;
        }
      }
      // the attachments, streamed to the spool while hashed, checked against the signed manifest
      const got = new Map<string, { path: string; size: number; sha256: string }>();
      for (;;) {
        const f = await reader.next();
        if (f.type === 'Z') break;
        const cid = String(f.header.contentId ?? '');
        const m = pkg.attachments.find((a) => a.contentId === cid);
        if (!m) throw new TrucError('attachment_mismatch', `tệp đính kèm "${cid.slice(0, 60)}" không có trong danh mục / an attachment "${cid.slice(0, 60)}" that the manifest does not name`, { contentId: cid.slice(0, 60) });
        if (got.has(cid)) throw new TrucError('attachment_mismatch', `tệp đính kèm ${cid} được gửi hai lần / attachment ${cid} sent twice`, { contentId: cid });
        // an encrypted package's attachments are encrypted too, and nothing else's are
        const encoding = e2e ? 'cms' : 'base64';
        if (f.header.encoding !== encoding) throw new TrucError('bad_package', `tệp đính kèm ${cid}: sai kiểu mã hoá / attachment ${cid}: encoding ${String(f.header.encoding).slice(0, 20)} (${encoding} expected)`, { field: 'frames' });
        const room = e2e ? Math.min(m.size, this.o.maxAttachmentBytes) + 1024 * 1024 : 4 * Math.ceil(Math.min(m.size, this.o.maxAttachmentBytes) / 3);
        if (f.length > room) throw new TrucError('attachment_mismatch', `tệp đính kèm ${cid} dài hơn danh mục ghi (${m.size} byte) / attachment ${cid} is longer than the manifest says (${m.size} bytes)`, { contentId: cid });
        const path = this.o.cipher ? join(this.o.dir, 'spool', `${randomUUID()}.vlt`) : join(this.o.dir, 'spool', randomUUID());
        spooled.push(path);
        const hash = createHash('sha256');
        let size = 0;
        // decrypted pieces are unverified until the stream's tag at the end: they go to the spool only,
        // which is discarded if it fails (and the manifest's signed hash is checked besides)
        await this.writeStored(path, e2e ? this.decryptE2e(reader.raw(), m.size) : reader.body(), (b) => {
          hash.update(b);
          size += b.length;
        });
        got.set(cid, { path, size, sha256: hash.digest('hex') });
      }
      await reader.rest();
      for (const m of pkg.attachments) {
        const g = got.get(m.contentId);
        if (!g) throw new TrucError('attachment_mismatch', `thiếu tệp đính kèm ${m.contentId} / attachment ${m.contentId} (${m.attachmentName}) is missing`, { contentId: m.contentId });
        if (g.size !== m.size || g.sha256 !== m.sha256) throw new TrucError('attachment_mismatch', `tệp đính kèm ${m.contentId} không khớp danh mục đã ký / attachment ${m.contentId} (${m.attachmentName}) does not match the manifest: SHA-256 ${g.sha256}, signed ${m.sha256}`, { contentId: m.contentId, sha256: g.sha256, expected: m.sha256 });
      }
      // the main document is usually a PAdES-signed PDF: its report is kept with it
      const reports = new Map<string, unknown>();
      let markings: Level | null = null;
      for (const m of pkg.attachments)
        if (m.contentType === 'application/pdf') {
          const g = got.get(m.contentId)!;
          if (g.size > this.o.maxPdfValidateBytes) reports.set(m.contentId, { skipped: `larger than ${this.o.maxPdfValidateBytes} bytes: not validated on arrival` });
          else {
            const bytes = await this.readStored(g.path);
            try {
              reports.set(m.contentId, await validatePdf(bytes, this.o.validation));
            } catch (e) {
              reports.set(m.contentId, { error: isTrucError(e) ? e.code : 'internal', message: (e as Error).message });
            }
            if (this.readsMarkings) {
              const l = await DocumentDesk.markingOf(m.contentType, bytes).catch(() => null);
              if (l) markings = markings ? higherLevel(markings, l) : l;
            }
          }
        }
      // what its stamps say, against the channel and its label: refused above the channel, flagged above the label
      if (markings || h.classification) await enforceReceipt({ ...receipt, markings }, policy, { bus: this.o.bus, clock: this.clock });
      const id = randomUUID();
      const folder = join(this.o.dir, 'files', id);
      mkdirSync(folder, { recursive: true });
      // an encrypted spool file keeps its object id (and key) in its final name
      const final = pkg.attachments.map((m, i) => join(folder, SEALED.exec(got.get(m.contentId)!.path)?.[0] ? `${i}.${SEALED.exec(got.get(m.contentId)!.path)![0]}` : `${i}.bin`));
      pkg.attachments.forEach((m, i) => renameSync(got.get(m.contentId)!.path, final[i]!));
      spooled.length = 0;
      const doc: NewDocument = { id, direction: 'in', sender: h.from.organId, senderClient: clientHeader(caller), documentId: h.documentId, docType: h.business.docType, parentId: parent?.id ?? null, envelopeSha256: sha, envelope: xmlToKeep(env), header: h, classification: h.classification ?? null, validation: verdict, state: NO_STATE, actor, xRoadId: xRoadId ?? null };
      let sealed: Buffer | undefined;
      try {
        sealed = await this.sealRecord(doc, pkg.attachments.map((m) => ({ ...m, report: reports.get(m.contentId) ?? null })));
        await this.o.db.tx(async (sql) => {
          await insertDocument(sql, doc, sealed);
          for (const [i, m] of pkg.attachments.entries()) await insertAttachment(sql, { ...m, docId: id, path: final[i]!, report: reports.get(m.contentId) ?? null }, !!sealed);
          if (h.business.docType !== 0) {
            const olds = h.business.docType === 3 ? await Promise.all((h.business.replaces ?? []).map((r) => this.baseIn(r.organId, r.documentId, sql))) : [parent!];
            for (const old of olds) {
              const [locked] = await sql.query(`SELECT state FROM xd_document WHERE id = $1 FOR UPDATE`, [old.id]);
              const st = typeof locked!.state === 'string' ? JSON.parse(locked!.state as string) : locked!.state;
              await sql.query('UPDATE xd_document SET state = $2::jsonb WHERE id = $1', [old.id, JSON.stringify(advance(st as StatusState, '13', h.business.docType === 1 ? 'recall' : h.business.docType === 2 ? 'update' : 'replace'))]);
            }
          }
          await this.audit(sql, actor, 'receive', h.documentId, 'success', { id, from: h.from.organId, docType: h.business.docType, classification: h.classification ?? null, signature: { kind: verdict.kind, indication: verdict.indication, signer: verdict.signer }, attachments: this.auditedAttachments(pkg.attachments), xRoadId });
        });
      } catch (e) {
        await this.discard(folder);
        if (sealed) await this.dropRecord(id, 'not stored: receiving failed');
        if (isUnique(e)) {
          const again = await this.findIn(h.from.organId, h.documentId, h.business.docType, sha);
          if (again) return await this.duplicate(actor, again, h);
        }
        throw e;
      }
      await this.emit('received', 'success', { id, document_id: h.documentId, from: h.from.organId, doc_type: h.business.docType, signature: verdict.indication, signer: verdict.signer }, undefined, actor);
      this.afterReceive(id, h, parent).catch((e) => this.o.log?.error({ err: e }, 'automatic status failed'));
      return { id, documentId: h.documentId, duplicate: false };
    } catch (e) {
      for (const p of spooled) await this.discard(p);
      // read a little of what is left so the sender sees the refusal, not a reset; beyond that the
      // connection is closed rather than a refused package read to its end
      await reader.rest(DRAIN_ON_REFUSAL).catch(() => 0);
      return this.refused(actor, 'receive', target, e, {});
    }
  }

  /**
   * Decrypts a part of a package encrypted end to end with this agency's keys. Another recipient's key or
   * none is `e2e_wrong_key`; an altered, cut or malformed structure `e2e_tampered` — both refuse the
   * package (the sender's delivery fails for good; its document stays, to be sent again when fixed).
   */
  private async *decryptE2e(src: AsyncIterable<Buffer>, maxSize: number): AsyncGenerator<Buffer> {
    const keys: CmsStreamKey[] = this.o.decryption ?? [];
    if (!keys.length) throw new TrucError('e2e_wrong_key', 'gói tin được mã hoá đầu cuối mà cơ quan nhận không có khoá giải mã / the package is encrypted end to end and this desk holds no decryption key', { reason: 'no_key' });
    try {
      yield* cmsDecryptStream(src, keys, { maxSize });
    } catch (e) {
      if (!isTrucError(e) || !['decrypt_failed', 'malformed_cms'].includes(e.code)) throw e;
      const stage = (e.detail as { stage?: string } | undefined)?.stage;
      if (e.code === 'decrypt_failed' && stage === 'recipient')
        throw new TrucError('e2e_wrong_key', `gói tin không được mã hoá tới khoá của cơ quan này / the package is not encrypted to this agency's key: ${e.message}`, { reason: 'wrong_key' });
      throw new TrucError('e2e_tampered', `bản mã của gói tin bị sửa đổi hoặc cắt cụt / the package's ciphertext was altered or cut: ${e.message}`, { reason: stage === 'truncated' ? 'truncated' : e.code === 'malformed_cms' ? 'malformed' : 'altered' });
    }
  }

  /**
   * The certificate a status on a received document is encrypted to: the sending agency's, when the
   * document's level is at or above the policy's `encryptFrom` (the status names the document and the
   * staff who handled it); null otherwise.
   */
  private async statusEncryption(d: StoredDocumentRow): Promise<Buffer | null> {
    const level = d.classification ?? 'unclassified';
    if (!isClassified(level) || rank(level) < rank((await this.policy()).encryptFrom)) return null;
    return this.encryptionCertificate(d.sender, d.senderClient ?? `${this.client.instance}/${this.client.memberClass}/${d.sender}/${this.client.subsystemCode}`);
  }

  /** The signer must be the calling member (its certificate names it), unless the binding is off. */
  private checkSigner(v: SignatureVerdict, caller: SubsystemId): void {
    if (this.o.signerBinding === 'off') return;
    const want = `${caller.instance}/${caller.memberClass}/${caller.memberCode}`;
    if (v.signerMember !== want)
      throw new TrucError('invalid_signature', `chữ ký không phải của cơ quan gửi ${want} / signed by ${v.signer ?? 'an unknown signer'}${v.signerMember ? ` (member ${v.signerMember})` : ', whose certificate names no member'}, not by the sending agency ${want}`, { verdict: v, expected: want });
  }

  /** The automatic statuses: 01 arrived; 16 for a recall of a document already done. */
  private async afterReceive(id: string, h: PackageHeader, parent: StoredDocumentRow | null): Promise<void> {
    if (h.business.docType === 1 && parent) {
      const [r] = await this.o.db.query('SELECT state FROM xd_document WHERE id = $1', [parent.id]);
      const st = (typeof r!.state === 'string' ? JSON.parse(r!.state as string) : r!.state) as StatusState;
      if (st.code === '13' && st.before === '06') await this.sendStatus(parent.id, '16', { description: 'Văn bản đã hoàn thành xử lý (06), không thể thu hồi / the document is already done and cannot be recalled' }, SYSTEM);
      return;
    }
    if ((h.business.docType === 0 || h.business.docType === 3) && this.o.autoArrived) await this.sendStatus(id, '01', { description: 'Văn bản đã đến / the document has arrived' }, SYSTEM);
  }

  private async duplicate(actor: string, dup: StoredDocumentRow, h: PackageHeader): Promise<ReceiveResult> {
    await this.o.db.tx((sql) => this.audit(sql, actor, 'receive.duplicate', h.documentId, 'success', { id: dup.id, docType: h.business.docType }));
    await this.emit('duplicate', 'success', { id: dup.id, document_id: h.documentId, from: h.from.organId }, undefined, actor);
    return { id: dup.id, documentId: h.documentId, duplicate: true };
  }

  private async findIn(sender: string, documentId: string, docType: BusinessDocType, sha: string): Promise<StoredDocumentRow | null> {
    const [r] = await this.o.db.query(`SELECT * FROM xd_document WHERE direction = 'in' AND sender = $1 AND document_id = $2 AND doc_type = $3 AND envelope_sha256 = $4`, [sender, documentId, docType, sha]);
    return r ? documentRow(r) : null;
  }

  private async baseIn(sender: string, documentId: string, sql: Sql = this.o.db): Promise<StoredDocumentRow> {
    const [r] = await sql.query(`SELECT * FROM xd_document WHERE direction = 'in' AND sender = $1 AND document_id = $2 AND doc_type IN (0, 3)`, [sender, documentId]);
    if (!r) throw new TrucError('unknown_document', `không có văn bản ${documentId} của ${sender} được nhận ở đây / no document ${documentId} from ${sender} was received here`, { documentId, sender });
    return documentRow(r);
  }

  /** Takes a status packet the security server forwards (`POST /edoc/statuses`). */
  async receiveStatus(client: string, body: Uint8Array, xRoadId?: string): Promise<{ id: string; duplicate: boolean }> {
    const actor = `xroad:${String(client).slice(0, 300)}`;
    let target = '(unknown)';
    try {
      const caller = parseClientHeader(client);
      // a DER SEQUENCE, not XML: a status encrypted end to end to this agency (a status on a classified document)
      const encrypted = body[0] === 0x30;
      const xml = encrypted ? await collect(this.decryptE2e(single(Buffer.from(body)), body.length)) : Buffer.from(body);
      const p = parseStatus(xml);
      target = p.responseFor.documentId;
      if (caller.memberCode !== p.from.organId) throw new TrucError('forbidden', `trạng thái của cơ quan ${p.from.organId}, nhưng thành viên gọi là ${caller.memberCode} / the status is from ${p.from.organId}, but the calling member is ${caller.memberCode}`);
      if (p.responseFor.organId !== this.organ.organId) throw new TrucError('unknown_document', `trạng thái trả lời văn bản của ${p.responseFor.organId}, không phải của cơ quan này / the status answers a document of ${p.responseFor.organId}, not of this agency`);
      const verdict = await verifySigned(xml, this.o.validation, 'the status packet');
      this.checkSigner(verdict, caller);
      const doc = await this.baseOut(p.responseFor.documentId);
      // a status names the document and the staff who handled it: on a classified document it must come as
      // the document went (the receiving policy's encryptFrom, as for packages: encryption_required)
      if (doc.classification && doc.classification !== 'unclassified') {
        const policy = await this.policy();
        const receipt = { documentId: doc.documentId, label: doc.classification, sender: p.from.organId, channel: encrypted ? this.e2eChannel : this.channel, encrypted };
        if (!decideReceipt(receipt, policy).allowed) await enforceReceipt(receipt, policy, { bus: this.o.bus, clock: this.clock });
      }
      const sid = randomUUID();
      const row = { id: sid, direction: 'in' as const, docId: doc.id, organId: p.from.organId, code: p.code, description: p.description ?? null, staff: p.staff ?? null, stamp: p.timestamp, xml: xmlToKeep(xml), validation: verdict, actor };
      const sealed = await this.sealStatus(row);
      let stored = false;
      let res: { id: string; duplicate: boolean };
      try {
        res = await this.o.db.tx(async (sql) => {
          const [rr] = await sql.query('SELECT * FROM xd_recipient WHERE doc_id = $1 AND organ_id = $2 FOR UPDATE', [doc.id, p.from.organId]);
          if (!rr) throw new TrucError('unknown_document', `văn bản ${p.responseFor.documentId} không được gửi tới ${p.from.organId} / ${p.responseFor.documentId} was not sent to ${p.from.organId}`, { documentId: p.responseFor.documentId });
          const [seen] = await sql.query(`SELECT id FROM xd_status WHERE direction = 'in' AND doc_id = $1 AND organ_id = $2 AND code = $3 AND stamp = $4`, [doc.id, p.from.organId, p.code, p.timestamp]);
          if (seen) return { id: seen.id as string, duplicate: true };
          const r = recipientRow(rr);
          const next = advanceReported(r.state, p.code);
          await insertStatus(sql, row, sealed);
          await sql.query('UPDATE xd_recipient SET state = $3::jsonb, status_at = $4 WHERE doc_id = $1 AND organ_id = $2', [doc.id, p.from.organId, JSON.stringify(next), p.timestamp]);
          await this.audit(sql, actor, 'status.receive', doc.documentId, 'success', { id: doc.id, status: sid, code: p.code, from: p.from.organId, xRoadId });
          return { id: sid, duplicate: false };
        });
        stored = !res.duplicate;
      } finally {
        if (sealed && !stored) await this.dropStatus(sid, 'not stored: a duplicate or a refused status');
      }
      await this.emit(res.duplicate ? 'status.duplicate' : 'status.received', 'success', { id: doc.id, document_id: doc.documentId, code: p.code, from: p.from.organId }, undefined, actor);
      return res;
    } catch (e) {
      return this.refused(actor, 'status.receive', target, e, {});
    }
  }

  // ---------- delivery ----------

  /** Looks at the queue now (after a change, on a timer, after a restart). */
  kick(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    const p = this.pumpOnce()
      .catch((e) => this.o.log?.error({ err: e }, 'delivery pump failed'))
      .finally(() => {
        this.pumping = false;
        this.working.delete(p);
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
    this.working.add(p);
  }

  private async pumpOnce(): Promise<void> {
    // the head of each destination's queue: deliveries to one recipient go in order
    const heads = (await this.o.db.query(`SELECT DISTINCT ON (client) * FROM xd_delivery WHERE state = 'pending' ORDER BY client, id`)).map(deliveryRow);
    const now = this.clock().getTime();
    let soonest = Infinity;
    for (const d of heads) {
      if (this.closed || this.inflight.has(d.client)) continue;
      if (d.nextAt.getTime() > now) {
        soonest = Math.min(soonest, d.nextAt.getTime());
        continue;
      }
      if (this.inflight.size >= this.o.concurrency) break;
      this.inflight.add(d.client);
      const w = this.deliver(d)
        .catch((e) => this.o.log?.error({ err: e }, 'delivery failed'))
        .finally(() => {
          this.inflight.delete(d.client);
          this.working.delete(w);
          this.kick();
        });
      this.working.add(w);
    }
    if (soonest < Infinity && !this.closed) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, Math.max(10, soonest - this.clock().getTime()));
      this.timer.unref?.();
    }
  }

  private backoff(attempts: number): number {
    const first = this.o.retry?.firstMs ?? 1000;
    const max = this.o.retry?.maxMs ?? 300_000;
    const base = Math.min(max, first * 2 ** Math.min(30, attempts - 1));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  /**
   * The certificate an attempt encrypts to: at the first, the one the release check approved; before a
   * retry, the recipient's certificate chosen again as at sending (the configuration's newest that still
   * validates), so that one revoked, expired or deleted from the configuration since is never used and a
   * rotation is followed. A change is kept with the delivery and audited; none usable ends the delivery
   * (`encryption_certificate_missing`).
   */
  private async encryptionForRetry(d: DeliveryRow): Promise<Buffer | null> {
    if (!d.encryptTo || d.attempts === 0) return d.encryptTo;
    const now = await this.encryptionCertificate(d.organId, d.client);
    if (now.equals(d.encryptTo)) return now;
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    await this.o.db.tx(async (sql) => {
      await sql.query('UPDATE xd_delivery SET encrypt_to = $2 WHERE id = $1', [d.id, now]);
      await this.audit(sql, SYSTEM, 'encryption.changed', d.kind === 'package' ? d.ref : `status:${d.ref}`, 'success', { to: d.organId, from: sha(d.encryptTo!), certificateSha256: sha(now) });
    });
    return now;
  }

  private async deliver(d: DeliveryRow): Promise<void> {
    // the queue was read before an earlier attempt for this recipient may have ended: deliver only if the
    // row is still as read (pending, same attempts) — else it was delivered or rescheduled meanwhile
    const [still] = await this.o.db.query(`SELECT 1 AS ok FROM xd_delivery WHERE id = $1 AND state = 'pending' AND attempts = $2`, [d.id, d.attempts]);
    if (!still) return;
    const headers = { 'x-road-client': clientHeader(this.client) };
    let answer: XroadAnswer | undefined;
    let problem: string | undefined;
    let gone = false;
    try {
      if (d.kind === 'package') {
        const envelope = await this.envelope(d.ref);
        const atts = (await this.o.db.query('SELECT * FROM xd_attachment WHERE doc_id = $1 ORDER BY content_id', [d.ref])).map(attachmentRow);
        const open = (a: AttachmentRow) => (SEALED.test(a.path) ? (this.openStored(a.path) as AsyncIterable<Buffer>) : (createReadStream(a.path) as AsyncIterable<Buffer>));
        let frames: AsyncGenerator<Buffer>;
        const encryptTo = await this.encryptionForRetry(d);
        if (encryptTo) {
          // end to end: the signed envelope and each attachment in its own AuthEnvelopedData to the
          // recipient agency's certificate, made afresh for each attempt as the files are read
          const to = [encryptTo];
          const env = Buffer.from(envelope, 'utf8');
          const w = cmsEncryptStream(env.length, to);
          const cmsEnv = await collect(w.encrypt(single(env)));
          frames = writeFrames(
            cmsEnv,
            atts.map((a) => {
              const wa = cmsEncryptStream(a.size, to);
              return { contentId: a.contentId, encoding: 'cms' as const, length: wa.length, open: () => wa.encrypt(open(a)), size: a.size };
            }),
            { envelopeHeader: { cms: 'auth-enveloped' } },
          );
        } else frames = writeFrames(envelope, atts.map((a) => (SEALED.test(a.path) ? { contentId: a.contentId, open: () => open(a), size: a.size } : { contentId: a.contentId, path: a.path, size: a.size })));
        answer = await post(`${this.o.ssUrl.replace(/\/$/, '')}${servicePath(d.client, 'edoc/packages')}`, { ...headers, 'content-type': FRAMES_MEDIA_TYPE }, frames, this.o.timeoutMs);
      } else {
        const encryptTo = await this.encryptionForRetry(d);
        const [s] = await this.openStatuses((await this.o.db.query('SELECT * FROM xd_status WHERE id = $1', [d.ref])).map(statusRow));
        if (s!.xml === null) throw new TrucError('shredded', `trạng thái ${d.ref} đã bị huỷ khoá / status ${d.ref} was crypto-shredded`, { id: d.ref });
        const xml = Buffer.from(s!.xml, 'utf8');
        // a status on a classified document goes encrypted to its sender, as the document came
        const body = encryptTo ? await collect(cmsEncryptStream(xml.length, [encryptTo]).encrypt(single(xml))) : xml;
        answer = await post(`${this.o.ssUrl.replace(/\/$/, '')}${servicePath(d.client, 'edoc/statuses')}`, { ...headers, 'content-type': encryptTo ? 'application/pkcs7-mime; smime-type=authEnveloped-data' : 'application/xml; charset=utf-8' }, body, this.o.timeoutMs);
      }
    } catch (e) {
      // a document whose key was shredded meanwhile can never be sent: not retried
      // nor one whose recipient's encryption certificate is no longer valid
      gone = isTrucError(e) && (e.code === 'shredded' || e.code === 'encryption_certificate_missing');
      problem = gone ? `${(e as TrucError).code}: ${(e as Error).message}` : `network: ${(e as Error).message}`;
    }
    const attempts = d.attempts + 1;
    const ok = answer && answer.status >= 200 && answer.status < 300;
    const permanent = gone || (answer && !ok && answer.status >= 400 && answer.status < 500 && ![408, 425, 429].includes(answer.status));
    if (answer && !ok) {
      const b = answer.body as { message?: string; detail?: string; title?: string; code?: string } | string | null;
      // an axis refusal (X-Road's form) says it in `message`, `detail` being its error id
      problem = `${answer.status} ${answer.xroadError ?? (typeof b === 'object' && b ? b.code : '') ?? ''}: ${typeof b === 'object' && b ? (b.message ?? b.detail ?? b.title ?? '') : String(b ?? '').slice(0, 300)}`;
    }
    const target = d.kind === 'package' ? d.ref : `status:${d.ref}`;
    if (ok) {
      await this.o.db.tx(async (sql) => {
        await sql.query(`UPDATE xd_delivery SET state = 'delivered', attempts = $2, delivered_at = now(), response = $3::jsonb, last_error = NULL WHERE id = $1`, [d.id, attempts, JSON.stringify(answer!.body ?? null)]);
        await this.audit(sql, SYSTEM, d.kind === 'package' ? 'delivered' : 'status.delivered', target, 'success', { to: d.organId, client: d.client, attempts });
      });
      await this.emit(d.kind === 'package' ? 'delivered' : 'status.delivered', 'success', { ref: d.ref, to: d.organId, attempts });
    } else if (permanent) {
      await this.o.db.tx(async (sql) => {
        await sql.query(`UPDATE xd_delivery SET state = 'failed', attempts = $2, last_error = $3, response = $4::jsonb WHERE id = $1`, [d.id, attempts, problem, JSON.stringify(answer?.body ?? null)]);
        await this.audit(sql, SYSTEM, d.kind === 'package' ? 'delivery.failed' : 'status.delivery.failed', target, 'failure', { to: d.organId, client: d.client, attempts, problem });
      });
      await this.emit(d.kind === 'package' ? 'delivery.failed' : 'status.delivery.failed', 'failure', { ref: d.ref, to: d.organId, attempts, code: answer?.xroadError ?? (gone ? 'shredded' : null) }, problem);
    } else {
      const wait = this.backoff(attempts);
      await this.o.db.query(`UPDATE xd_delivery SET attempts = $2, last_error = $3, next_at = $4 WHERE id = $1`, [d.id, attempts, problem, new Date(this.clock().getTime() + wait)]);
      await this.emit('delivery.retry', 'failure', { ref: d.ref, to: d.organId, attempts, next_in_ms: wait }, problem);
    }
  }

  /** Puts failed deliveries of a document (or all) back in the queue. */
  async retryFailed(ref?: string): Promise<number> {
    const r = await this.o.db.query(`UPDATE xd_delivery SET state = 'pending', next_at = now() WHERE state = 'failed'${ref ? ' AND ref = $1' : ''} RETURNING id`, ref ? [ref] : []);
    this.kick();
    return r.length;
  }

  // ---------- uploads (the API's way to hand over large files before sending) ----------

  /** Streams an upload into the desk folder (bounded by the largest attachment); its id names it in `send`. */
  async upload(body: AsyncIterable<Buffer | Uint8Array | string>, actor: string): Promise<{ upload: string; size: number; sha256: string }> {
    const id = randomUUID();
    const folder = join(this.o.dir, 'uploads');
    mkdirSync(folder, { recursive: true });
    const path = join(folder, this.o.cipher ? `${id}.vlt` : id);
    const h = createHash('sha256');
    let size = 0;
    const max = this.o.maxAttachmentBytes;
    async function* bounded(): AsyncGenerator<Buffer> {
      for await (const c of body) {
        const b = typeof c === 'string' ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
        if (size + b.length > max) throw new TrucError('too_large', `tệp tải lên lớn quá ${max} byte / an upload of more than ${max} bytes`);
        yield b;
      }
    }
    try {
      await this.writeStored(path, bounded(), (b) => {
        h.update(b);
        size += b.length;
      });
    } catch (e) {
      await this.discard(path);
      throw e;
    }
    const sha256 = h.digest('hex');
    await this.o.db.tx((sql) => this.audit(sql, actor, 'upload', id, 'success', { size, sha256 }));
    await this.sweepUploads();
    return { upload: id, size, sha256 };
  }

  /**
   * Runs a send that may name uploads, and removes those uploads once it has sent: each was copied into the
   * document's own files (`stage`), so it would otherwise stay in uploads/ for good, a second copy of the
   * document that nobody reads through the API. A refused send keeps them: a document system that uploads
   * once may send again with its fields corrected (another number, a recipient added) — what is never used
   * again is swept after UPLOAD_KEEP_MS (`sweepUploads`).
   */
  private async consuming<T>(attachments: readonly AttachmentInput[] | undefined, run: () => Promise<T>): Promise<T> {
    const result = await run();
    await this.dropUploads(attachments);
    return result;
  }

  /** Uploads no send has taken within UPLOAD_KEEP_MS are removed (keys shredded); looked at most once an hour, when something is uploaded. */
  private async sweepUploads(): Promise<void> {
    const now = this.clock().getTime();
    if (now - this.sweptAt < 3_600_000) return;
    this.sweptAt = now;
    const folder = join(this.o.dir, 'uploads');
    let names: string[];
    try {
      names = readdirSync(folder);
    } catch {
      return;
    }
    for (const n of names) {
      if (!UPLOAD_NAME.test(n)) continue;
      const path = join(folder, n);
      try {
        if (now - statSync(path).mtimeMs <= UPLOAD_KEEP_MS) continue;
      } catch {
        continue;
      }
      await this.discard(path, 'upload not used by any send within a day').catch((e) => this.o.log?.warn({ err: e, file: path }, 'stale upload not removed'));
    }
  }

  /** Discards (shredding the key of an encrypted one) each attachment that is an upload of this desk. */
  private async dropUploads(attachments: readonly AttachmentInput[] | undefined): Promise<void> {
    if (!Array.isArray(attachments)) return;
    const folder = join(this.o.dir, 'uploads') + sep;
    for (const a of attachments as unknown[]) {
      const path = (a as AttachmentInput | null)?.path;
      // only an upload's own file (`<uuid>` or `<uuid>.vlt` in uploads/): a path a library caller gave elsewhere is its file, never ours to remove
      if (typeof path !== 'string' || !path.startsWith(folder) || !UPLOAD_NAME.test(path.slice(folder.length))) continue;
      await this.discard(path, 'upload taken by a document sent').catch((e) => this.o.log?.warn({ err: e, file: path }, 'upload not removed'));
    }
  }

  /** The file of an upload, by its id (never a path the caller chose). */
  uploadPath(id: string): string {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) throw new TrucError('bad_request', 'mã tệp tải lên phải là UUID / an upload id is a UUID');
    for (const path of [join(this.o.dir, 'uploads', `${id}.vlt`), join(this.o.dir, 'uploads', id)]) if (existsSync(path)) return path;
    throw new TrucError('not_found', `không có tệp tải lên ${id} / no upload ${id}`);
  }

  // ---------- reading ----------

  /**
   * Documents of one direction, newest first, opened. With search words, rows are opened and matched in
   * turn (their subjects are sealed) until `limit` match, reading at most `SEARCH_SCAN` rows.
   */
  private async listDocuments(where: string, limit: number, q?: string): Promise<DocumentRow[]> {
    const words = searchWords(q);
    const out: DocumentRow[] = [];
    const page = words.length ? 200 : limit;
    for (let offset = 0; out.length < limit && offset < (words.length ? SEARCH_SCAN : limit); offset += page) {
      const rows = (await this.o.db.query(`SELECT * FROM xd_document WHERE ${where} ORDER BY created_at DESC, id LIMIT ${page} OFFSET ${offset}`)).map(documentRow);
      for (const r of rows) {
        const { row } = await this.openRow(r);
        if (!words.length || matches(row, words)) out.push(row);
        if (out.length >= limit) break;
      }
      if (rows.length < page) break;
    }
    return out;
  }

  async inbox(opts: { all?: boolean; limit?: number; q?: string } = {}): Promise<{ documents: Omit<DocumentRow, 'envelope'>[]; statuses: Omit<StatusRow, 'xml'>[] }> {
    const limit = Math.min(Math.max(1, opts.limit ?? 100), 1000);
    const ack = opts.all ? '' : ' AND acked_at IS NULL';
    const docs = await this.listDocuments(`direction = 'in'${ack}`, limit, opts.q);
    const sts = await this.openStatuses((await this.o.db.query(`SELECT * FROM xd_status WHERE direction = 'in'${ack} ORDER BY created_at DESC, id LIMIT ${limit}`)).map(statusRow));
    return { documents: docs.map(({ envelope: _e, ...d }) => d), statuses: sts.map(({ xml: _x, ...s }) => s) };
  }

  async outbox(opts: { limit?: number; q?: string } = {}): Promise<(Omit<DocumentRow, 'envelope'> & { recipients: RecipientView[] })[]> {
    const limit = Math.min(Math.max(1, opts.limit ?? 100), 1000);
    const docs = await this.listDocuments(`direction = 'out'`, limit, opts.q);
    const out = [];
    for (const { envelope: _e, ...d } of docs) out.push({ ...d, recipients: d.docType === 0 || d.docType === 3 ? await this.recipientViews(d.id) : [] });
    return out;
  }

  /**
   * Each recipient of a sent document: the transport of the latest package and the latest business status
   * (`unknown_document` for no document; none for a received one).
   */
  async recipientStatuses(id: string): Promise<RecipientView[]> {
    await this.stored(id);
    return this.recipientViews(id);
  }

  private async recipientViews(id: string): Promise<RecipientView[]> {
    const recips = (await this.o.db.query('SELECT * FROM xd_recipient WHERE doc_id = $1 ORDER BY organ_id', [id])).map(recipientRow);
    const deliveries = (await this.o.db.query(`SELECT * FROM xd_delivery WHERE kind = 'package' AND (ref = $1 OR ref IN (SELECT id FROM xd_document WHERE parent_id = $1)) ORDER BY id`, [id])).map(deliveryRow);
    return recips.map((r) => {
      const mine = deliveries.filter((x) => x.organId === r.organId);
      const last = mine[mine.length - 1];
      const code = r.state.code;
      return {
        organId: r.organId,
        organName: r.organName,
        client: r.client,
        delivery: last ? { state: last.state, attempts: last.attempts, lastError: last.lastError, deliveredAt: last.deliveredAt } : null,
        status: code,
        statusLabel: code ? `${STATUS_CODES[code].vi} / ${STATUS_CODES[code].en}` : null,
        statusAt: r.statusAt,
        state: r.state,
      };
    });
  }

  /** A document (sent or received) with its attachments, signature report, recipients and statuses. */
  async get(id: string): Promise<DocumentView> {
    const { row, attachments: priv } = await this.openRow(await this.stored(id));
    const { envelope: _e, ...document } = row;
    const attachments = DocumentDesk.withPrivate((await this.o.db.query('SELECT * FROM xd_attachment WHERE doc_id = $1 ORDER BY content_id', [id])).map(attachmentRow), priv).map(({ path: _p, ...a }) => a);
    const statuses = (await this.openStatuses((await this.o.db.query('SELECT * FROM xd_status WHERE doc_id = $1 ORDER BY created_at, id', [id])).map(statusRow))).map(({ xml: _x, ...s }) => s);
    const related = (await this.o.db.query('SELECT id, doc_type, created_at FROM xd_document WHERE parent_id = $1 ORDER BY created_at', [id])).map((x) => ({ id: x.id as string, docType: Number(x.doc_type), createdAt: new Date(x.created_at as string).toISOString() }));
    return { document, attachments, recipients: document.direction === 'out' ? await this.recipientViews(id) : [], statuses, related };
  }

  private async stored(id: string): Promise<StoredDocumentRow> {
    const [r] = await this.o.db.query('SELECT * FROM xd_document WHERE id = $1', [id]);
    if (!r) throw new TrucError('unknown_document', `không có văn bản ${id} / no document ${id}`, { id });
    return documentRow(r);
  }

  /** The signed envelope as it travelled (`shredded` once its key was destroyed). */
  async envelope(id: string): Promise<string> {
    const { row } = await this.openRow(await this.stored(id));
    if (row.envelope === null) throw new TrucError('shredded', `văn bản ${id} đã bị huỷ khoá / document ${id} was crypto-shredded`, { id });
    return row.envelope;
  }

  /** An attachment's row and a stream of its bytes. */
  async attachment(id: string, contentId: string): Promise<{ attachment: AttachmentRow; open: () => NodeJS.ReadableStream }> {
    const [r] = await this.o.db.query('SELECT * FROM xd_attachment WHERE doc_id = $1 AND content_id = $2', [id, contentId]);
    if (!r) throw new TrucError('not_found', `không có tệp đính kèm ${String(contentId).slice(0, 128)} trong văn bản ${id} / no attachment ${String(contentId).slice(0, 128)} in ${id}`);
    const { row, attachments: priv } = await this.openRow(await this.stored(id));
    if (row.atRest === 'shredded') throw new TrucError('shredded', `văn bản ${id} đã bị huỷ khoá / document ${id} was crypto-shredded`, { id });
    const [a] = DocumentDesk.withPrivate([attachmentRow(r)], priv);
    statSync(a!.path);
    return { attachment: a!, open: () => this.openStored(a!.path) };
  }

  /** The desk's acknowledgement that a received document or status was taken by the clerk: it leaves the inbox. */
  async ack(id: string, actor: string): Promise<void> {
    await this.o.db.tx(async (sql) => {
      const a = await sql.query(`UPDATE xd_document SET acked_at = now(), acked_by = $2 WHERE id = $1 AND direction = 'in' AND acked_at IS NULL RETURNING document_id`, [id, actor]);
      const b = a.length ? [] : await sql.query(`UPDATE xd_status SET acked_at = now() WHERE id = $1 AND direction = 'in' AND acked_at IS NULL RETURNING id`, [id]);
      if (!a.length && !b.length) {
        const [known] = await sql.query(`SELECT 1 FROM xd_document WHERE id = $1 AND direction = 'in' UNION ALL SELECT 1 FROM xd_status WHERE id = $1 AND direction = 'in'`, [id]);
        if (!known) throw new TrucError('unknown_document', `không có mục ${id} trong hộp thư đến / no inbox item ${id}`, { id });
        return;
      }
      await this.audit(sql, actor, 'ack', id, 'success', {});
    });
    await this.emit('acked', 'success', { id }, undefined, actor);
  }

  async deliveries(ref?: string): Promise<DeliveryRow[]> {
    return (await this.o.db.query(`SELECT * FROM xd_delivery${ref ? ' WHERE ref = $1' : ''} ORDER BY id`, ref ? [ref] : [])).map(deliveryRow);
  }

  /** Stops the pump and waits for deliveries in flight. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.working.size) await Promise.allSettled([...this.working]);
  }
}

export type { SignatureVerdict };
