/**
 * Operational records: one row per exchange this server took part in (message id, side, client, service,
 * when it came in and went out, body sizes, success, error code), written in batches off the message path
 * (a buffer flushed every second with one COPY) so they cost nothing per message. A write that fails (the
 * database restarting or away) keeps its rows for the next flush, so an outage loses none up to the bound;
 * since the database may have committed a write whose answer was lost, those rows are written again only
 * where absent. Health per service is kept in memory for the status API; refusals are events on the bus as
 * they happen.
 */
import type { Logger } from 'pino';
import type { Db, Migration } from '../../store/index.js';
import type { CopyColumn } from '../../store/copy.js';
import { textArray, timestampArray } from '../../store/array-params.js';
import { parseRepresentedPartyHeader, type RepresentedParty } from '../ids.js';
import { headerText } from './message.js';

export const opMigrations: Migration[] = [
  {
    id: 'exchange/server_002_op',
    sql: `
      CREATE TABLE IF NOT EXISTS xs_op (
        message_id text NOT NULL,
        side text NOT NULL,
        client text,
        service text,
        started_at timestamptz NOT NULL,
        finished_at timestamptz NOT NULL,
        request_bytes bigint NOT NULL DEFAULT 0,
        response_bytes bigint NOT NULL DEFAULT 0,
        status integer,
        error text
      );
      CREATE INDEX IF NOT EXISTS xs_op_started ON xs_op (started_at);
      CREATE INDEX IF NOT EXISTS xs_op_message ON xs_op (message_id);
    `,
  },
  {
    // looked up by equality only; a hash index takes a random id without the B-tree's random leaf (as the
    // message log's index, exchange/log_003_message_hash)
    id: 'exchange/server_003_op_message_hash',
    sql: `
      DROP INDEX IF EXISTS xs_op_message;
      CREATE INDEX IF NOT EXISTS xs_op_message_hash ON xs_op USING hash (message_id);
    `,
  },
  {
    // what X-Road's operational data also reports of a message (PR-OPMON Annex B): protocol, the REST method
    // and path (without the query, which may carry personal data), X-Road-Request-Id, user id and issue
    id: 'exchange/server_005_op_message',
    sql: `
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS protocol text;
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS rest_method text;
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS rest_path text;
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS request_id text;
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS user_id text;
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS issue text;
    `,
  },
  {
    // when the request left this server and its response came in (PR-OPMON's requestOutTs, responseInTs)
    id: 'exchange/server_006_op_times',
    sql: `
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS request_out_at timestamptz;
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS response_in_at timestamptz;
    `,
  },
  {
    // the party a client acted for (PR-THIRDPARTY; PR-OPMON's representedPartyClass, representedPartyCode)
    id: 'exchange/server_007_op_represented',
    sql: `
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS represented_class text;
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS represented_code text;
    `,
  },
  {
    // what X-Road Metrics needs to pair a client's record with its producer's (PR-OPMON Annex B): the other
    // security server's address in the global configuration (the provider's on the consumer's side, the
    // client's on the provider's: both addresses in both records); the attachments of a SOAP message with them
    // (multipart/related, counted from its bytes on both servers; 0 for REST and text/xml); and a failure as
    // the client was told it — X-Road's fault code (a provider's refusal keeps its ServerProxy code in the
    // client's server's record too) and its text
    id: 'exchange/server_009_op_pairing',
    sql: `
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS peer_address text;
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS request_attachments integer;
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS response_attachments integer;
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS fault text;
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS fault_string text;
    `,
  },
  {
    // a SOAP message's sizes as X-Road counts them: its SOAP part alone (the envelope), and with attachments
    // the SOAP part's and the attachments' contents together (a multipart message's whole body, with the
    // parts' headers and delimiters, stays request_bytes / response_bytes)
    id: 'exchange/server_010_op_soap_sizes',
    sql: `
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS request_soap_bytes bigint;
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS response_soap_bytes bigint;
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS request_mime_bytes bigint;
      ALTER TABLE xs_op ADD COLUMN IF NOT EXISTS response_mime_bytes bigint;
    `,
  },
  {
    // X-Road's operational monitoring asks for the records of a period by when they were finished
    // (getSecurityServerOperationalData's recordsFrom..recordsTo, monitoringDataTs)
    id: 'exchange/server_004_op_finished',
    sql: `CREATE INDEX IF NOT EXISTS xs_op_finished ON xs_op (finished_at);`,
  },
];

const COLUMNS: readonly CopyColumn[] = [
  { name: 'message_id', type: 'text' },
  { name: 'side', type: 'text' },
  { name: 'client', type: 'text' },
  { name: 'service', type: 'text' },
  { name: 'started_at', type: 'timestamptz' },
  { name: 'finished_at', type: 'timestamptz' },
  { name: 'request_bytes', type: 'int8' },
  { name: 'response_bytes', type: 'int8' },
  { name: 'status', type: 'int4' },
  { name: 'error', type: 'text' },
  { name: 'protocol', type: 'text' },
  { name: 'rest_method', type: 'text' },
  { name: 'rest_path', type: 'text' },
  { name: 'request_id', type: 'text' },
  { name: 'user_id', type: 'text' },
  { name: 'issue', type: 'text' },
  { name: 'request_out_at', type: 'timestamptz' },
  { name: 'response_in_at', type: 'timestamptz' },
  { name: 'represented_class', type: 'text' },
  { name: 'represented_code', type: 'text' },
  { name: 'peer_address', type: 'text' },
  { name: 'request_attachments', type: 'int4' },
  { name: 'response_attachments', type: 'int4' },
  { name: 'fault', type: 'text' },
  { name: 'fault_string', type: 'text' },
  { name: 'request_soap_bytes', type: 'int8' },
  { name: 'response_soap_bytes', type: 'int8' },
  { name: 'request_mime_bytes', type: 'int8' },
  { name: 'response_mime_bytes', type: 'int8' },
];
/** the columns of a record, in COLUMNS' order (the COPY's, the re-insert's and the queries') */
const NAMES = COLUMNS.map((c) => c.name).join(', ');

export interface OpRecord {
  messageId: string;
  side: 'consumer' | 'provider';
  client?: string;
  service?: string;
  startedAt: Date;
  finishedAt: Date;
  requestBytes: number;
  responseBytes: number;
  status?: number;
  error?: string;
  /** of the message, when it was read far enough (`opMessage`) */
  protocol?: 'rest' | 'soap';
  method?: string;
  path?: string;
  requestId?: string;
  userId?: string;
  issue?: string;
  /** ms: when the request left this server (to the provider's server, or to the service) and its answer came in */
  requestOutAt?: number;
  responseInAt?: number;
  /** the party the client acted for (X-Road-Represented-Party, or SOAP's representedParty) */
  representedClass?: string;
  representedCode?: string;
  /** the other security server's address in the global configuration, when it was known */
  peerAddress?: string;
  /** attachments of the request and of the response (SOAP multipart; 0 for REST and text/xml), when read through */
  requestAttachments?: number;
  responseAttachments?: number;
  /** a SOAP message's SOAP part (its envelope: the whole body of a text/xml one), in bytes, when it was read */
  requestSoapBytes?: number;
  responseSoapBytes?: number;
  /** a multipart SOAP message's SOAP part and attachments' contents together (X-Road's MIME size), in bytes */
  requestMimeBytes?: number;
  responseMimeBytes?: number;
  /** a failure's X-Road fault code as the client was told it, and its text */
  fault?: string;
  faultString?: string;
}

/**
 * What an exchange fills in as it goes: two times (`OpRecord.requestOutAt`, `responseInAt`), the request's
 * size once its streamed body is read through, and the response's attachments and sizes as X-Road counts them.
 */
export type OpProgress = Partial<Pick<OpRecord, 'requestOutAt' | 'responseInAt' | 'requestBytes' | 'responseAttachments' | 'responseSoapBytes' | 'responseMimeBytes'>>;

/** What an operational record keeps of a message's header: REST's method and path (no query), the ids. */
export function opMessage(
  h: { protocol?: string; method?: string; path?: string; headers: Record<string, string> },
): Pick<OpRecord, 'protocol' | 'method' | 'path' | 'requestId' | 'userId' | 'issue' | 'representedClass' | 'representedCode'> {
  const soap = h.protocol === 'soap';
  const q = h.path?.indexOf('?') ?? -1;
  let represented: RepresentedParty | undefined;
  try {
    // checked by the client's server before it signed; one it let through unread is left out, not refused here
    if (h.headers['x-road-represented-party']) represented = parseRepresentedPartyHeader(h.headers['x-road-represented-party']);
  } catch {
    represented = undefined;
  }
  return {
    ...(represented?.partyClass !== undefined ? { representedClass: represented.partyClass } : {}),
    ...(represented ? { representedCode: represented.partyCode } : {}),
    protocol: soap ? 'soap' : 'rest',
    ...(!soap && h.method ? { method: h.method } : {}),
    ...(!soap && h.path ? { path: (q < 0 ? h.path : h.path.slice(0, q)).slice(0, 1000) } : {}),
    ...(h.headers['x-road-request-id'] ? { requestId: h.headers['x-road-request-id'] } : {}),
    ...(h.headers['x-road-userid'] ? { userId: headerText(h.headers['x-road-userid']) } : {}),
    ...(h.headers['x-road-issue'] ? { issue: headerText(h.headers['x-road-issue']) } : {}),
  };
}


const MAX_BUFFERED = 100_000;

const toRow = (r: OpRecord) => [
  r.messageId,
  r.side,
  r.client ?? null,
  r.service ?? null,
  r.startedAt,
  r.finishedAt,
  r.requestBytes,
  r.responseBytes,
  r.status ?? null,
  r.error ?? null,
  r.protocol ?? null,
  r.method ?? null,
  r.path ?? null,
  r.requestId ?? null,
  r.userId ?? null,
  r.issue ?? null,
  r.requestOutAt === undefined ? null : new Date(r.requestOutAt),
  r.responseInAt === undefined ? null : new Date(r.responseInAt),
  r.representedClass ?? null,
  r.representedCode ?? null,
  r.peerAddress ?? null,
  r.requestAttachments ?? null,
  r.responseAttachments ?? null,
  r.fault ?? null,
  r.faultString === undefined ? null : r.faultString.slice(0, 4000),
  r.requestSoapBytes ?? null,
  r.responseSoapBytes ?? null,
  r.requestMimeBytes ?? null,
  r.responseMimeBytes ?? null,
];

/** the record's optional counts and their columns (a null column: the field is left out) */
const COUNTS = {
  requestAttachments: 'request_attachments',
  responseAttachments: 'response_attachments',
  requestSoapBytes: 'request_soap_bytes',
  responseSoapBytes: 'response_soap_bytes',
  requestMimeBytes: 'request_mime_bytes',
  responseMimeBytes: 'response_mime_bytes',
} as const;

function countsOf(row: Record<string, unknown>): Partial<Pick<OpRecord, keyof typeof COUNTS>> {
  const out: Partial<Pick<OpRecord, keyof typeof COUNTS>> = {};
  for (const [field, column] of Object.entries(COUNTS) as [keyof typeof COUNTS, string][]) {
    const v = row[column];
    if (v !== null && v !== undefined) out[field] = Number(v);
  }
  return out;
}

/** One column's values as a PostgreSQL array literal, for unnest. */
function arrayParam(type: CopyColumn['type'], values: unknown[]): string {
  if (type === 'text') return textArray(values as (string | null)[]);
  if (type === 'timestamptz') return timestampArray(values as (Date | null)[]);
  return `{${values.map((v) => (v === null ? 'NULL' : String(v))).join(',')}}`;
}

export class OpRecorder {
  private buf: OpRecord[] = [];
  /** rows of a write that failed: perhaps committed all the same */
  private uncertain: OpRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  /** rows of the write in flight: not known written until it answers */
  private inFlight = 0;
  dropped = 0;
  /** when this server began keeping operational records (X-Road's monitoringStartupTimestamp) */
  readonly since = new Date();

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), 1000);
    this.timer.unref();
  }

  record(r: OpRecord): void {
    // a database that cannot keep up loses operational records, never messages
    if (this.buf.length + this.uncertain.length >= MAX_BUFFERED) {
      this.dropped++;
      return;
    }
    this.buf.push(r);
  }

  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (!this.buf.length && !this.uncertain.length) return;
    const rows = this.buf;
    const again = this.uncertain;
    this.buf = [];
    this.uncertain = [];
    this.inFlight = rows.length + again.length;
    this.flushing = (async () => {
      let settled = 0;
      try {
        for (; settled < again.length; settled += 5000) await this.writeAbsent(again.slice(settled, settled + 5000));
        if (rows.length) await this.db.copyFrom('xs_op', COLUMNS, rows.map(toRow));
      } catch (err) {
        // what is not known written is kept for the next flush, oldest first, within the bound
        const keep = again.slice(settled).concat(rows);
        const room = Math.max(0, MAX_BUFFERED - this.buf.length);
        if (keep.length > room) {
          this.dropped += keep.length - room;
          keep.length = room;
        }
        this.uncertain = keep;
        this.log.warn({ err, rows: keep.length }, 'operational records not written yet: kept for the next attempt');
      } finally {
        this.inFlight = 0;
        this.flushing = null;
      }
    })();
    return this.flushing;
  }

  /** Rows whose earlier write failed, inserted where no row of the same exchange side and start exists. */
  private async writeAbsent(rows: OpRecord[]): Promise<void> {
    const table = rows.map(toRow);
    await this.db.query(
      `INSERT INTO xs_op (${NAMES})
       SELECT * FROM unnest(${COLUMNS.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ')}) AS x(${NAMES})
       WHERE NOT EXISTS (SELECT 1 FROM xs_op o WHERE o.message_id = x.message_id AND o.side = x.side AND o.started_at = x.started_at)`,
      COLUMNS.map((c, i) => arrayParam(c.type, table.map((row) => row[i]))),
    );
  }

  /**
   * Records not known written (waiting for the next flush, for the database to come back, or for the answer
   * to a write in flight — one that hangs on a database gone silent shows here), and those lost to the bound.
   */
  status(): { waiting: number; dropped: number } {
    return { waiting: this.buf.length + this.uncertain.length + this.inFlight, dropped: this.dropped };
  }

  async search(q: { messageId?: string; since?: Date; limit?: number }): Promise<Record<string, unknown>[]> {
    await this.flush();
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.messageId) where.push(`message_id = $${params.push(q.messageId)}`);
    if (q.since) where.push(`started_at >= $${params.push(q.since)}`);
    params.push(Math.min(q.limit ?? 100, 1000));
    return this.db.query(`SELECT * FROM xs_op ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC LIMIT $${params.length}`, params);
  }

  /**
   * The records finished in [from, to) (ms), oldest first, at most `limit`; `who` keeps those where one of the
   * subsystem (or member) texts given is the client or provides the service (`SUBSYSTEM:…` exact or
   * `SUBSYSTEM:I/C/M/` as a prefix, the service by `SERVICE:I/C/M/S/` or `SERVICE:I/C/M/` as a prefix, or a
   * service's whole text — a member's own service, which a prefix of the member would not tell from its
   * subsystems'), every one of the lists having to match. A filtered query reads at most `scan` records of the period (by the time index, no
   * other): `scannedTo` is then the finish time (ms) of the last one read, and what lies after it is not looked
   * at. What waits in the buffer is written first.
   */
  async finishedBetween(
    from: number,
    to: number,
    limit: number,
    who: { clients: string[]; clientPrefixes: string[]; servicePrefixes: string[]; services?: string[] }[] = [],
    scan = Infinity,
  ): Promise<{ rows: OpRecord[]; scannedTo?: number }> {
    await this.flush();
    const params: unknown[] = [new Date(from), new Date(to)];
    const period = 'finished_at >= $1 AND finished_at < $2';
    const filters: string[] = [];
    for (const w of who) {
      const any: string[] = [];
      for (const c of w.clients) any.push(`client = $${params.push(c)}`);
      for (const c of w.clientPrefixes) any.push(`starts_with(client, $${params.push(c)})`);
      for (const sp of w.servicePrefixes) any.push(`starts_with(service, $${params.push(sp)})`);
      for (const sv of w.services ?? []) any.push(`service = $${params.push(sv)}`);
      filters.push(any.length ? `(${any.join(' OR ')})` : 'false');
    }
    let scannedTo: number | undefined;
    let sql: string;
    if (filters.length && Number.isFinite(scan)) {
      const bound = await this.db.query<{ finished_at: string }>(`SELECT finished_at FROM xs_op WHERE ${period} ORDER BY finished_at OFFSET $3 LIMIT 1`, [params[0], params[1], scan - 1]);
      if (bound.length) scannedTo = new Date(bound[0]!.finished_at).getTime();
      sql = `SELECT * FROM (SELECT ${NAMES} FROM xs_op WHERE ${period} ORDER BY finished_at LIMIT $${params.push(scan)}) s WHERE ${filters.join(' AND ')} ORDER BY finished_at LIMIT $${params.push(limit)}`;
    } else sql = `SELECT ${NAMES} FROM xs_op WHERE ${[period, ...filters].join(' AND ')} ORDER BY finished_at LIMIT $${params.push(limit)}`;
    const rows = await this.db.query<Record<string, unknown>>(sql, params);
    return {
      rows: rows.map((r) => ({
        messageId: String(r.message_id),
        side: r.side === 'provider' ? ('provider' as const) : ('consumer' as const),
        ...(r.client ? { client: String(r.client) } : {}),
        ...(r.service ? { service: String(r.service) } : {}),
        startedAt: new Date(r.started_at as string),
        finishedAt: new Date(r.finished_at as string),
        requestBytes: Number(r.request_bytes),
        responseBytes: Number(r.response_bytes),
        ...(r.status !== null && r.status !== undefined ? { status: Number(r.status) } : {}),
        ...(r.error ? { error: String(r.error) } : {}),
        ...(r.protocol === 'rest' || r.protocol === 'soap' ? { protocol: r.protocol } : {}),
        ...(r.rest_method ? { method: String(r.rest_method) } : {}),
        ...(r.rest_path ? { path: String(r.rest_path) } : {}),
        ...(r.request_id ? { requestId: String(r.request_id) } : {}),
        ...(r.user_id ? { userId: String(r.user_id) } : {}),
        ...(r.issue ? { issue: String(r.issue) } : {}),
        ...(r.request_out_at ? { requestOutAt: new Date(r.request_out_at as string).getTime() } : {}),
        ...(r.response_in_at ? { responseInAt: new Date(r.response_in_at as string).getTime() } : {}),
        ...(r.represented_class !== null && r.represented_class !== undefined ? { representedClass: String(r.represented_class) } : {}),
        ...(r.represented_code ? { representedCode: String(r.represented_code) } : {}),
        ...(r.peer_address ? { peerAddress: String(r.peer_address) } : {}),
        ...(r.fault ? { fault: String(r.fault) } : {}),
        ...(r.fault_string ? { faultString: String(r.fault_string) } : {}),
        ...countsOf(r),
      })),
      ...(scannedTo !== undefined ? { scannedTo } : {}),
    };
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}
