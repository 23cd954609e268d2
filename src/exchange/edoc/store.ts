/**
 * The document desk's tables (`xd_`), in the desk's database: documents sent and received (the signed
 * envelope, its header as JSON, the signature report), their attachments (on disk in the desk folder; the
 * rows hold name, type, size, hash, path and the PDF signature report), each sent document's recipients
 * with their latest business status, status packets both ways, and the delivery queue (one row per package
 * or status per recipient: pending with its attempts and next try, delivered once the recipient's side
 * answered 2xx, failed when it refused for good). Queue rows survive a restart and are resumed.
 *
 * A desk that keeps its documents encrypted at rest (`edoc_002`) writes a document's signed envelope, its
 * whole header and its attachments' names, descriptions and PDF reports sealed in `sealed` (one vault
 * object a document), and leaves readable only what the desk looks rows up by and lists: the public
 * header (`PublicHeader`: sender, DocumentId with its number and date, business kind, classification) and
 * the columns beside it. Rows written before, or by a desk without a cipher, have `sealed` NULL and their
 * fields in clear; both are read.
 */
import type { Migration, Sql } from '../../store/index.js';
import type { Level } from '../../vault/labels/levels.js';
import type { PackageHeader, Attachment, Organ } from './package.js';
import type { StaffInfo, StatusCode, StatusState } from './status.js';

export const edocMigrations: Migration[] = [
  {
    id: 'exchange/edoc_001',
    sql: `
      CREATE TABLE IF NOT EXISTS xd_document (
        id text PRIMARY KEY,
        direction text NOT NULL CHECK (direction IN ('in', 'out')),
        sender text NOT NULL,
        sender_client text,
        document_id text NOT NULL,
        doc_type integer NOT NULL,
        parent_id text REFERENCES xd_document(id),
        envelope_sha256 text NOT NULL,
        envelope text NOT NULL,
        header jsonb NOT NULL,
        validation jsonb,
        state jsonb NOT NULL DEFAULT '{"code":null}',
        actor text,
        x_road_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        acked_at timestamptz,
        acked_by text,
        UNIQUE (direction, sender, document_id, doc_type, envelope_sha256)
      );
      CREATE INDEX IF NOT EXISTS xd_document_lookup ON xd_document (direction, sender, document_id);
      CREATE TABLE IF NOT EXISTS xd_attachment (
        doc_id text NOT NULL REFERENCES xd_document(id) ON DELETE CASCADE,
        content_id text NOT NULL,
        name text NOT NULL,
        content_type text NOT NULL,
        description text,
        size bigint NOT NULL,
        sha256 text NOT NULL,
        path text NOT NULL,
        report jsonb,
        PRIMARY KEY (doc_id, content_id)
      );
      CREATE TABLE IF NOT EXISTS xd_recipient (
        doc_id text NOT NULL REFERENCES xd_document(id) ON DELETE CASCADE,
        organ_id text NOT NULL,
        organ_name text NOT NULL,
        client text NOT NULL,
        state jsonb NOT NULL DEFAULT '{"code":null}',
        status_at timestamptz,
        PRIMARY KEY (doc_id, organ_id)
      );
      CREATE TABLE IF NOT EXISTS xd_status (
        id text PRIMARY KEY,
        direction text NOT NULL CHECK (direction IN ('in', 'out')),
        doc_id text NOT NULL REFERENCES xd_document(id) ON DELETE CASCADE,
        organ_id text NOT NULL,
        code text NOT NULL,
        description text,
        staff jsonb,
        stamp text NOT NULL,
        xml text NOT NULL,
        validation jsonb,
        actor text,
        created_at timestamptz NOT NULL DEFAULT now(),
        acked_at timestamptz,
        UNIQUE (direction, doc_id, organ_id, code, stamp)
      );
      CREATE TABLE IF NOT EXISTS xd_delivery (
        id bigserial PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('package', 'status')),
        ref text NOT NULL,
        organ_id text NOT NULL,
        client text NOT NULL,
        state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        next_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        delivered_at timestamptz,
        response jsonb
      );
      CREATE INDEX IF NOT EXISTS xd_delivery_pending ON xd_delivery (client, id) WHERE state = 'pending';
      CREATE INDEX IF NOT EXISTS xd_delivery_ref ON xd_delivery (ref);
    `,
  },
  {
    id: 'exchange/edoc_002',
    sql: `
      ALTER TABLE xd_document ALTER COLUMN envelope DROP NOT NULL;
      ALTER TABLE xd_document ADD COLUMN IF NOT EXISTS sealed bytea;
      ALTER TABLE xd_document ADD COLUMN IF NOT EXISTS classification text;
      ALTER TABLE xd_document ADD COLUMN IF NOT EXISTS shredded_at timestamptz;
      ALTER TABLE xd_attachment ALTER COLUMN name DROP NOT NULL;
    `,
  },
  {
    // status packets sealed at rest like documents; a package's deliveries remember the certificate it is
    // encrypted to end to end (the one the release check approved at sending)
    id: 'exchange/edoc_003',
    sql: `
      ALTER TABLE xd_status ALTER COLUMN xml DROP NOT NULL;
      ALTER TABLE xd_status ADD COLUMN IF NOT EXISTS sealed bytea;
      ALTER TABLE xd_status ADD COLUMN IF NOT EXISTS shredded_at timestamptz;
      ALTER TABLE xd_delivery ADD COLUMN IF NOT EXISTS encrypt_to bytea;
    `,
  },
];

/** What stays readable of a sealed document's header: what the desk looks up and lists by. */
export interface PublicHeader {
  from: Pick<Organ, 'organId' | 'organName'>;
  documentId: string;
  code: { number: string; notation: string };
  promulgation: { date: string };
  business: { docType: number };
  classification?: Level;
}

export function publicHeader(h: PackageHeader): PublicHeader {
  return {
    from: { organId: h.from.organId, organName: h.from.organName },
    documentId: h.documentId,
    code: { number: h.code.number, notation: h.code.notation },
    promulgation: { date: h.promulgation.date },
    business: { docType: h.business.docType },
    ...(h.classification ? { classification: h.classification } : {}),
  };
}

/** What is shown of a header whose document was crypto-shredded: its public part, the rest empty. */
export function shreddedHeader(p: PublicHeader): PackageHeader {
  return {
    from: { organId: p.from.organId, organName: p.from.organName },
    to: [],
    documentId: p.documentId,
    code: p.code,
    promulgation: { place: '', date: p.promulgation.date },
    documentType: { type: 0, typeName: '' },
    subject: '(đã huỷ khoá / shredded)',
    signer: { fullName: '' },
    toPlaces: [],
    otherInfo: { priority: 0, appendixes: [] },
    responseFor: [],
    traces: [],
    business: { docType: p.business.docType as PackageHeader['business']['docType'] },
    ...(p.classification ? { classification: p.classification } : {}),
  };
}

/** The sealed part of a document row. */
export interface SealedRecord {
  envelope: string;
  header: PackageHeader;
  /** by ContentId: what the attachment rows do not hold in clear */
  attachments: Record<string, { attachmentName: string; description?: string; report: unknown }>;
}

export interface DocumentRow {
  id: string;
  direction: 'in' | 'out';
  sender: string;
  senderClient: string | null;
  documentId: string;
  docType: number;
  parentId: string | null;
  envelopeSha256: string;
  /** the signed envelope; null once its key was shredded */
  envelope: string | null;
  /** the whole header; once the document's key was shredded, its public part with the rest empty (`shreddedHeader`) */
  header: PackageHeader;
  /** the declared classification; null when the package declared none */
  classification: Level | null;
  validation: unknown;
  state: StatusState;
  actor: string | null;
  xRoadId: string | null;
  createdAt: string;
  ackedAt: string | null;
  /** how the row is kept: fields in clear, sealed under the vault, or sealed and its key destroyed */
  atRest: 'plaintext' | 'encrypted' | 'shredded';
}

/** A row as the database holds it: a sealed one has its envelope in `sealed` and only the public header. */
export interface StoredDocumentRow extends Omit<DocumentRow, 'atRest' | 'header'> {
  /** the public part only, when sealed */
  header: PackageHeader | PublicHeader;
  sealed: Buffer | null;
  shreddedAt: string | null;
}

export interface AttachmentRow extends Attachment {
  docId: string;
  path: string;
  report: unknown;
}

export interface RecipientRow {
  docId: string;
  organId: string;
  organName: string;
  client: string;
  state: StatusState;
  statusAt: string | null;
}

export interface StatusRow {
  id: string;
  direction: 'in' | 'out';
  docId: string;
  organId: string;
  code: StatusCode;
  description: string | null;
  staff: StaffInfo | null;
  stamp: string;
  /** the signed packet; null once its key was shredded */
  xml: string | null;
  validation: unknown;
  createdAt: string;
  ackedAt: string | null;
  /** how the row is kept: fields in clear, sealed under the vault, or sealed and its key destroyed */
  atRest: 'plaintext' | 'encrypted' | 'shredded';
}

/** A status row as the database holds it: a sealed one has description, staff and packet in `sealed`. */
export interface StoredStatusRow extends Omit<StatusRow, 'atRest'> {
  sealed: Buffer | null;
  shreddedAt: string | null;
}

/** The sealed part of a status row: what names people and says what was done. */
export interface SealedStatus {
  description: string | null;
  staff: StaffInfo | null;
  xml: string;
}

/**
 * The associated data of a status's sealed record: the row's readable columns — a record moved to another
 * row, or a row whose document, agency, code or time was changed in the database, fails to open.
 */
export function statusAd(s: Pick<StatusRow, 'direction' | 'docId' | 'organId' | 'code' | 'stamp'>): Buffer {
  return Buffer.from(`xd_status\0${s.direction}\0${s.docId}\0${s.organId}\0${s.code}\0${s.stamp}`, 'utf8');
}

/** Inserts a status packet: in clear, or — given its sealed record — with only the readable columns. */
export async function insertStatus(
  sql: Sql,
  s: Omit<StatusRow, 'createdAt' | 'ackedAt' | 'atRest' | 'xml'> & { xml: string; actor: string },
  sealed?: Buffer,
): Promise<void> {
  await sql.query(
    `INSERT INTO xd_status (id, direction, doc_id, organ_id, code, description, staff, stamp, xml, validation, actor, sealed) VALUES ($1,$2,$3,$4,$5,$6,$7::jsonb,$8,$9,$10::jsonb,$11,$12)`,
    [
      s.id, s.direction, s.docId, s.organId, s.code,
      sealed ? null : s.description,
      sealed || !s.staff ? null : JSON.stringify(s.staff),
      s.stamp,
      sealed ? null : s.xml,
      s.validation == null ? null : JSON.stringify(s.validation), s.actor, sealed ?? null,
    ],
  );
}

export interface DeliveryRow {
  id: string;
  kind: 'package' | 'status';
  ref: string;
  organId: string;
  client: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAt: Date;
  lastError: string | null;
  deliveredAt: string | null;
  response: unknown;
  /** the DER certificate a package is encrypted to end to end, or null (sent as it is) */
  encryptTo: Buffer | null;
}

const iso = (v: unknown): string | null => (v == null ? null : v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());
/** jsonb comes back parsed from both drivers; text when stored as a JSON string by an older writer */
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

export function documentRow(r: Record<string, unknown>): StoredDocumentRow {
  return {
    id: r.id as string,
    direction: r.direction as 'in' | 'out',
    sender: r.sender as string,
    senderClient: (r.sender_client as string) ?? null,
    documentId: r.document_id as string,
    docType: Number(r.doc_type),
    parentId: (r.parent_id as string) ?? null,
    envelopeSha256: r.envelope_sha256 as string,
    envelope: (r.envelope as string) ?? null,
    header: json<PackageHeader | PublicHeader>(r.header),
    classification: (r.classification as Level) ?? null,
    sealed: r.sealed == null ? null : Buffer.from(r.sealed as Uint8Array),
    shreddedAt: iso(r.shredded_at),
    validation: json(r.validation ?? null),
    state: json<StatusState>(r.state),
    actor: (r.actor as string) ?? null,
    xRoadId: (r.x_road_id as string) ?? null,
    createdAt: iso(r.created_at)!,
    ackedAt: iso(r.acked_at),
  };
}

export function attachmentRow(r: Record<string, unknown>): AttachmentRow {
  return {
    docId: r.doc_id as string,
    contentId: r.content_id as string,
    attachmentName: r.name as string,
    contentType: r.content_type as string,
    ...(r.description ? { description: r.description as string } : {}),
    size: Number(r.size),
    sha256: r.sha256 as string,
    path: r.path as string,
    report: json(r.report ?? null),
  };
}

export function recipientRow(r: Record<string, unknown>): RecipientRow {
  return { docId: r.doc_id as string, organId: r.organ_id as string, organName: r.organ_name as string, client: r.client as string, state: json<StatusState>(r.state), statusAt: iso(r.status_at) };
}

export function statusRow(r: Record<string, unknown>): StoredStatusRow {
  return {
    id: r.id as string,
    direction: r.direction as 'in' | 'out',
    docId: r.doc_id as string,
    organId: r.organ_id as string,
    code: r.code as StatusCode,
    description: (r.description as string) ?? null,
    staff: json<StaffInfo | null>(r.staff ?? null),
    stamp: r.stamp as string,
    xml: (r.xml as string) ?? null,
    validation: json(r.validation ?? null),
    createdAt: iso(r.created_at)!,
    ackedAt: iso(r.acked_at),
    sealed: r.sealed == null ? null : Buffer.from(r.sealed as Uint8Array),
    shreddedAt: iso(r.shredded_at),
  };
}

export function deliveryRow(r: Record<string, unknown>): DeliveryRow {
  return {
    id: String(r.id),
    kind: r.kind as 'package' | 'status',
    ref: r.ref as string,
    organId: r.organ_id as string,
    client: r.client as string,
    state: r.state as DeliveryRow['state'],
    attempts: Number(r.attempts),
    nextAt: r.next_at instanceof Date ? r.next_at : new Date(String(r.next_at)),
    lastError: (r.last_error as string) ?? null,
    deliveredAt: iso(r.delivered_at),
    response: json(r.response ?? null),
    encryptTo: r.encrypt_to == null ? null : Buffer.from(r.encrypt_to as Uint8Array),
  };
}

/**
 * The associated data of a document's sealed record: the row's readable columns it must agree with — a
 * record moved to another row, or a row whose DocumentId, sender, kind or classification was changed in
 * the database, fails to open.
 */
export function recordAd(d: Pick<StoredDocumentRow, 'direction' | 'sender' | 'documentId' | 'docType' | 'envelopeSha256' | 'classification'>): Buffer {
  return Buffer.from(`xd_document\0${d.direction}\0${d.sender}\0${d.documentId}\0${d.docType}\0${d.envelopeSha256}\0${d.classification ?? ''}`, 'utf8');
}

/** Inserts a document: in clear, or — given its sealed record — with only the public header readable. */
export type NewDocument = Omit<DocumentRow, 'createdAt' | 'ackedAt' | 'atRest' | 'header' | 'envelope'> & { header: PackageHeader; envelope: string };

export async function insertDocument(sql: Sql, d: NewDocument, sealed?: Buffer): Promise<void> {
  await sql.query(
    `INSERT INTO xd_document (id, direction, sender, sender_client, document_id, doc_type, parent_id, envelope_sha256, envelope, header, validation, state, actor, x_road_id, classification, sealed)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10::jsonb,$11::jsonb,$12::jsonb,$13,$14,$15,$16)`,
    [
      d.id, d.direction, d.sender, d.senderClient, d.documentId, d.docType, d.parentId, d.envelopeSha256,
      sealed ? null : d.envelope,
      JSON.stringify(sealed ? publicHeader(d.header) : d.header),
      d.validation == null ? null : JSON.stringify(d.validation), JSON.stringify(d.state), d.actor, d.xRoadId, d.classification, sealed ?? null,
    ],
  );
}

/** Inserts an attachment; of a sealed document only what is not secret (its name and report are in the record). */
export async function insertAttachment(sql: Sql, a: AttachmentRow, sealed = false): Promise<void> {
  await sql.query(
    `INSERT INTO xd_attachment (doc_id, content_id, name, content_type, description, size, sha256, path, report) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::jsonb)`,
    [a.docId, a.contentId, sealed ? null : a.attachmentName, a.contentType, sealed ? null : (a.description ?? null), a.size, a.sha256, a.path, sealed || a.report == null ? null : JSON.stringify(a.report)],
  );
}

export async function enqueue(sql: Sql, kind: 'package' | 'status', ref: string, organId: string, client: string, encryptTo?: Uint8Array | null): Promise<void> {
  await sql.query('INSERT INTO xd_delivery (kind, ref, organ_id, client, encrypt_to) VALUES ($1,$2,$3,$4,$5)', [kind, ref, organId, client, encryptTo ? Buffer.from(encryptTo) : null]);
}
