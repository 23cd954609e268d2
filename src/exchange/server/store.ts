/**
 * A security server's own configuration, in its own database: the subsystems it serves (its clients), the
 * services those subsystems provide (where the information system answers), the access rights to them
 * (deny by default; granted per service, optionally per REST method and path, to subsystems, local groups
 * or global groups), local groups, and its identity (authentication and signing certificates with the
 * keys' handles). Reads are served from a snapshot reloaded after each change.
 */
import type { Migration, Sql } from '../../store/index.js';
import { createHash, X509Certificate } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { parseService, parseSubsystem, serviceText, subsystemText, subsystemOf, type ServiceId, type SubsystemId } from '../ids.js';

import { opMigrations } from './oprecords.js';
import { parseServiceDescription, type ServiceDescription } from './openapi.js';
import { describesService, looksLikeXml, parseWsdl, type WsdlDescription } from './wsdl.js';
import type { GlobalConf } from '../conf/global.js';

export const serverMigrations: Migration[] = [
  {
    id: 'exchange/server_001',
    sql: `
      CREATE TABLE IF NOT EXISTS xs_client (
        subsystem text PRIMARY KEY,
        added_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE IF NOT EXISTS xs_service (
        service text PRIMARY KEY,
        url text NOT NULL,
        timeout_ms integer NOT NULL DEFAULT 60000,
        disabled boolean NOT NULL DEFAULT false
      );
      CREATE TABLE IF NOT EXISTS xs_access (
        service text NOT NULL REFERENCES xs_service(service) ON DELETE CASCADE,
        subject text NOT NULL,
        method text NOT NULL DEFAULT '*',
        path text NOT NULL DEFAULT '*',
        granted_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (service, subject, method, path)
      );
      CREATE TABLE IF NOT EXISTS xs_local_group (
        code text NOT NULL,
        member text NOT NULL,
        PRIMARY KEY (code, member)
      );
      CREATE TABLE IF NOT EXISTS xs_identity (
        name text PRIMARY KEY,
        cert bytea NOT NULL,
        key_store text NOT NULL,
        key_id text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  ...opMigrations,
  {
    // how each client's information system must connect (X-Road's connection types), and the TLS
    // certificates of the agencies' information systems: the clients' (HTTPS with authentication) and the
    // providers' (pinned when the security server calls an https service URL)
    id: 'exchange/server_002_is_tls',
    sql: `
      ALTER TABLE xs_client ADD COLUMN IF NOT EXISTS connection text NOT NULL DEFAULT 'http';
      CREATE TABLE IF NOT EXISTS xs_is_cert (
        subsystem text NOT NULL,
        hash text NOT NULL,
        cert bytea NOT NULL,
        added_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (subsystem, hash)
      );
    `,
  },
  {
    // OpenAPI 3 descriptions of REST services (X-Road's OPENAPI3 service type): getOpenAPI answers them,
    // listMethods lists their operations
    id: 'exchange/server_004_openapi',
    sql: `
      CREATE TABLE IF NOT EXISTS xs_service_description (
        service text PRIMARY KEY REFERENCES xs_service(service) ON DELETE CASCADE,
        format text NOT NULL,
        document text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    // the last OCSP responses of this server's own certificates: a server restarted while the CA's responder
    // is away still has the answer it held (usable by peers until their freshness limit), as X-Road's signer
    // keeps its responses on disk
    id: 'exchange/server_008_own_ocsp',
    sql: `
      CREATE TABLE IF NOT EXISTS xs_own_ocsp (
        name text PRIMARY KEY,
        cert_sha256 bytea NOT NULL,
        response bytea NOT NULL,
        fetched_at timestamptz NOT NULL
      );
    `,
  },
];

/** the formats a service description is kept in: OpenAPI 3 (JSON or YAML) or WSDL 1.1 */
export type DescriptionFormat = ServiceDescription['format'] | WsdlDescription['format'];

function storedDescription(d: { format: DescriptionFormat; document: string }): { openapi: ServiceDescription } | { wsdl: WsdlDescription } {
  if (d.format === 'wsdl') {
    try {
      return { wsdl: parseWsdl(d.document) };
    } catch {
      return { wsdl: { format: 'wsdl', operations: [] } };
    }
  }
  try {
    return { openapi: parseServiceDescription(d.document) };
  } catch {
    return { openapi: { format: d.format, endpoints: [] } };
  }
}

/**
 * How a client's information system must reach this server (X-Road's connection types): `http` — plain HTTP
 * or HTTPS; `https-noauth` — over TLS; `https` — over TLS with a client certificate registered for it.
 */
export type IsConnection = 'http' | 'https-noauth' | 'https';
export const IS_CONNECTIONS: readonly IsConnection[] = ['http', 'https-noauth', 'https'];

export interface ServiceRow {
  service: ServiceId;
  text: string;
  url: string;
  timeoutMs: number;
  disabled: boolean;
  /** an OpenAPI 3 description's summary, when the service has one (X-Road's service type OPENAPI) */
  openapi?: ServiceDescription;
  /** a WSDL 1.1 description's summary, when the service has one (X-Road's service type WSDL) */
  wsdl?: WsdlDescription;
}

/** X-Road's service type: OPENAPI or WSDL when such a description is registered, REST otherwise. */
export function serviceType(row: ServiceRow): 'OPENAPI' | 'WSDL' | 'REST' {
  return row.openapi ? 'OPENAPI' : row.wsdl ? 'WSDL' : 'REST';
}

export interface AccessRight {
  service: string;
  /** SUBSYSTEM:…, GLOBALGROUP:INSTANCE/code or LOCALGROUP:code */
  subject: string;
  /** HTTP method or `*` */
  method: string;
  /** a path below the service: exact, a prefix ending in `*`, or `*` for all */
  path: string;
}

export interface Identity {
  name: string;
  cert: Buffer;
  keyStore: string;
  keyId: string;
}

export interface ServerSnapshot {
  clients: Set<string>;
  services: Map<string, ServiceRow>;
  access: Map<string, AccessRight[]>;
  localGroups: Map<string, Set<string>>;
  /** clients whose connection type is not `http` */
  connections: Map<string, IsConnection>;
  /** the information systems' TLS certificates by subsystem: SHA-256 hex → DER */
  isCerts: Map<string, Map<string, Buffer>>;
  /** services' descriptions as registered (format and text), for getOpenAPI and getWsdl */
  descriptions: Map<string, { format: DescriptionFormat; document: string }>;
}

/** An access right's subject, checked: a subsystem (in its canonical text), a global group or a local group. */
export function checkSubject(subject: string): string {
  if (subject.startsWith('SUBSYSTEM:')) return subsystemText(parseSubsystem(subject));
  const g = /^(GLOBALGROUP:[^/\s\p{Cc}\p{Cf}]+\/[^/\s\p{Cc}\p{Cf}]+|LOCALGROUP:[^/\s:\p{Cc}\p{Cf}]+)$/u.exec(subject);
  if (g) return subject;
  const shown = subject.slice(0, 80).replace(/[\p{Cc}\p{Cf}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  throw new TrucError(
    'bad_identifier',
    `chủ thể của quyền truy cập là định danh SUBSYSTEM:, GLOBALGROUP:INSTANCE/mã hoặc LOCALGROUP:mã, không phải "${shown}" / an access right's subject is a SUBSYSTEM:, GLOBALGROUP:INSTANCE/code or LOCALGROUP:code identifier, not "${shown}"`,
  );
}

function checkUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TrucError('bad_request', `"${url.slice(0, 200)}" không phải URL / "${url.slice(0, 200)}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TrucError('bad_request', `URL của dịch vụ phải là http: hoặc https:, không phải ${u.protocol} / a service URL is http: or https:, not ${u.protocol}`);
  return url.replace(/\/$/, '');
}

const notAClient = (s: SubsystemId) =>
  new TrucError('not_found', `${subsystemText(s)} không phải phân hệ khách của máy chủ này / ${subsystemText(s)} is not a client of this server`);
const noService = (text: string) => new TrucError('unknown_service', `máy chủ này không có dịch vụ ${text} / no service ${text} on this server`);

export class ServerStore {
  private snap: ServerSnapshot | null = null;

  constructor(private readonly db: Sql) {}

  async snapshot(): Promise<ServerSnapshot> {
    if (this.snap) return this.snap;
    const [clients, services, access, groups, certs, descriptions] = await Promise.all([
      this.db.query<{ subsystem: string; connection: IsConnection }>('SELECT subsystem, connection FROM xs_client'),
      this.db.query<{ service: string; url: string; timeout_ms: number; disabled: boolean }>('SELECT * FROM xs_service'),
      this.db.query<AccessRight>('SELECT service, subject, method, path FROM xs_access'),
      this.db.query<{ code: string; member: string }>('SELECT code, member FROM xs_local_group'),
      this.db.query<{ subsystem: string; hash: string; cert: Buffer }>('SELECT subsystem, hash, cert FROM xs_is_cert'),
      this.db.query<{ service: string; format: 'json' | 'yaml'; document: string }>('SELECT service, format, document FROM xs_service_description'),
    ]);
    const snap: ServerSnapshot = {
      clients: new Set(clients.map((c) => c.subsystem)),
      services: new Map(),
      access: new Map(),
      localGroups: new Map(),
      connections: new Map(),
      isCerts: new Map(),
      descriptions: new Map(descriptions.map((d) => [d.service, { format: d.format, document: d.document }])),
    };
    for (const c of clients) if (c.connection && c.connection !== 'http') snap.connections.set(c.subsystem, c.connection);
    for (const c of certs) {
      const m = snap.isCerts.get(c.subsystem) ?? new Map<string, Buffer>();
      m.set(c.hash, Buffer.from(c.cert));
      snap.isCerts.set(c.subsystem, m);
    }
    for (const s of services) {
      const d = snap.descriptions.get(s.service);
      snap.services.set(s.service, {
        service: parseService(s.service),
        text: s.service,
        url: s.url,
        timeoutMs: Number(s.timeout_ms),
        disabled: s.disabled,
        // a description stored by this server was checked when it came; read again for its operations (one
        // a later release reads stricter still serves as it was, with no operations listed, never stops the server)
        ...(d ? storedDescription(d) : {}),
      });
    }
    for (const a of access) {
      const list = snap.access.get(a.service) ?? [];
      list.push(a);
      snap.access.set(a.service, list);
    }
    for (const g of groups) {
      const set = snap.localGroups.get(g.code) ?? new Set();
      set.add(g.member);
      snap.localGroups.set(g.code, set);
    }
    this.snap = snap;
    return snap;
  }

  private changed() {
    this.snap = null;
  }

  /** Adds a client subsystem; false when it is one already (nothing changed). */
  async addClient(s: SubsystemId): Promise<boolean> {
    const r = await this.db.query('INSERT INTO xs_client (subsystem) VALUES ($1) ON CONFLICT DO NOTHING RETURNING subsystem', [subsystemText(s)]);
    this.changed();
    return r.length === 1;
  }

  async removeClient(s: SubsystemId): Promise<void> {
    await this.db.query('DELETE FROM xs_client WHERE subsystem = $1', [subsystemText(s)]);
    this.changed();
  }

  /** How the client's information system must connect (`http`, `https-noauth`, `https`). */
  async setConnection(s: SubsystemId, connection: IsConnection): Promise<void> {
    if (!IS_CONNECTIONS.includes(connection)) throw new TrucError('bad_request', `kiểu kết nối là một trong / a connection type is one of: ${IS_CONNECTIONS.join(', ')}`);
    const r = await this.db.query<{ subsystem: string }>('UPDATE xs_client SET connection = $2 WHERE subsystem = $1 RETURNING subsystem', [subsystemText(s), connection]);
    if (!r.length) throw notAClient(s);
    this.changed();
  }

  /**
   * Registers an information system's TLS certificate (DER) for a client subsystem of this server (`not_found`
   * for any other, as its connection type); its SHA-256, hex.
   */
  async addIsCert(s: SubsystemId, der: Buffer): Promise<string> {
    const hash = createHash('sha256').update(der).digest('hex');
    try {
      new X509Certificate(der);
    } catch {
      throw new TrucError('bad_request', 'chứng thư TLS của hệ thống thông tin không phải chứng thư X.509 (DER hoặc PEM) / the information system\'s TLS certificate is not an X.509 certificate (DER or PEM)');
    }
    if (!(await this.snapshot()).clients.has(subsystemText(s))) throw notAClient(s);
    await this.db.query('INSERT INTO xs_is_cert (subsystem, hash, cert) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [subsystemText(s), hash, der]);
    this.changed();
    return hash;
  }

  async removeIsCert(s: SubsystemId, hash: string): Promise<number> {
    const r = await this.db.query('DELETE FROM xs_is_cert WHERE subsystem = $1 AND hash = $2 RETURNING hash', [subsystemText(s), hash.toLowerCase()]);
    this.changed();
    return r.length;
  }

  /** Adds or updates a service of one of this server's clients. */
  async putService(service: ServiceId, url: string, timeoutMs = 60_000): Promise<void> {
    const snap = await this.snapshot();
    // not found, as for the client's connection type or certificates
    if (!snap.clients.has(subsystemText(subsystemOf(service)))) throw notAClient(subsystemOf(service));
    await this.db.query(
      `INSERT INTO xs_service (service, url, timeout_ms) VALUES ($1, $2, $3)
       ON CONFLICT (service) DO UPDATE SET url = EXCLUDED.url, timeout_ms = EXCLUDED.timeout_ms`,
      [serviceText(service), checkUrl(url), timeoutMs],
    );
    this.changed();
  }

  /**
   * Registers the description of a service — OpenAPI 3 (JSON or YAML) for a REST service, WSDL 1.1 (XML,
   * which must define the service's code as an operation) for a SOAP one — checked (`bad_request` saying
   * what is wrong), replacing an earlier one; `null` removes it. The service must be this server's.
   */
  async describeService(service: ServiceId, document: string | null): Promise<ServiceDescription | WsdlDescription | null> {
    const text = serviceText(service);
    if (!(await this.snapshot()).services.has(text)) throw noService(text);
    if (document === null) {
      await this.db.query('DELETE FROM xs_service_description WHERE service = $1', [text]);
      this.changed();
      return null;
    }
    let d: ServiceDescription | WsdlDescription;
    if (looksLikeXml(document)) {
      const w = parseWsdl(document);
      if (!describesService(w, service.serviceCode, service.serviceVersion))
        throw new TrucError(
          'bad_request',
          `mô tả WSDL không có thao tác ${service.serviceCode}${service.serviceVersion ? ` phiên bản ${service.serviceVersion}` : ''} / the WSDL defines no operation ${service.serviceCode}${service.serviceVersion ? ` of version ${service.serviceVersion}` : ''} (it defines ${w.operations.map((o) => o.name + (o.version ? ` ${o.version}` : '')).slice(0, 20).join(', ')})`,
        );
      d = w;
    } else d = parseServiceDescription(document);
    await this.db.query(
      `INSERT INTO xs_service_description (service, format, document) VALUES ($1, $2, $3)
       ON CONFLICT (service) DO UPDATE SET format = EXCLUDED.format, document = EXCLUDED.document, updated_at = now()`,
      [text, d.format, document],
    );
    this.changed();
    return d;
  }

  /**
   * Removes a service's description of one kind (OpenAPI, JSON or YAML; or WSDL); false when the service has
   * no description of that kind (`unknown_service` when it is not this server's).
   */
  async removeDescription(service: ServiceId, kind: 'openapi' | 'wsdl'): Promise<boolean> {
    const text = serviceText(service);
    if (!(await this.snapshot()).services.has(text)) throw noService(text);
    const r = await this.db.query(`DELETE FROM xs_service_description WHERE service = $1 AND ${kind === 'wsdl' ? "format = 'wsdl'" : "format <> 'wsdl'"} RETURNING service`, [text]);
    this.changed();
    return r.length === 1;
  }

  async setServiceDisabled(service: ServiceId, disabled: boolean): Promise<void> {
    const r = await this.db.query('UPDATE xs_service SET disabled = $2 WHERE service = $1 RETURNING service', [serviceText(service), disabled]);
    if (!r.length) throw noService(serviceText(service));
    this.changed();
  }

  /** Grants an access right; false when it is granted already (nothing changed). */
  async grant(a: AccessRight): Promise<boolean> {
    const service = serviceText(parseService(a.service));
    const subject = checkSubject(a.subject);
    const method = a.method === '*' ? '*' : a.method.toUpperCase();
    if (!/^(\*|[A-Z]{1,16})$/.test(method)) throw new TrucError('bad_request', `"${a.method.slice(0, 20)}" không phải phương thức HTTP / "${a.method.slice(0, 20)}" is not an HTTP method`);
    if (a.path !== '*' && a.path !== '**' && !a.path.startsWith('/'))
      throw new TrucError('bad_request', 'đường dẫn của quyền truy cập là "*" hoặc bắt đầu bằng "/" / an access right path is "*" or starts with "/"');
    // wildcards: `*` within a segment, `**` for anything; matching takes path × pattern, so the pattern is bounded
    if (a.path.length > 1000) throw new TrucError('bad_request', 'đường dẫn của quyền truy cập dài tối đa 1000 ký tự / an access right path is at most 1000 characters');
    if (a.path.includes('***')) throw new TrucError('bad_request', 'đường dẫn của quyền truy cập chứa "*" hoặc "**", không chứa "***" / an access right path holds "*" or "**", not "***"');
    // a request whose path another system could read as another path is refused (pathAmbiguity, on both
    // sides), so a right for such a path could never match: refused here rather than kept unusable
    const why = a.path === '*' || a.path === '**' ? undefined : pathAmbiguity(a.path);
    if (why) throw new TrucError('bad_request', `đường dẫn của quyền truy cập ${why.vi} / an access right path ${why.en}`);
    if (!(await this.snapshot()).services.has(service)) throw noService(service);
    const r = await this.db.query('INSERT INTO xs_access (service, subject, method, path) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING service', [service, subject, method, a.path]);
    this.changed();
    return r.length === 1;
  }

  async revoke(a: AccessRight): Promise<number> {
    const r = await this.db.query('DELETE FROM xs_access WHERE service = $1 AND subject = $2 AND method = $3 AND path = $4 RETURNING service', [a.service, a.subject, a.method === '*' ? '*' : a.method.toUpperCase(), a.path]);
    this.changed();
    return r.length;
  }

  async addToLocalGroup(code: string, member: SubsystemId): Promise<void> {
    if (!/^[^/\s:\p{Cc}\p{Cf}]{1,255}$/u.test(code)) throw new TrucError('bad_identifier', `"${code.slice(0, 80)}" không phải mã nhóm cục bộ / "${code.slice(0, 80)}" is not a local group code`);
    await this.db.query('INSERT INTO xs_local_group (code, member) VALUES ($1, $2) ON CONFLICT DO NOTHING', [code, subsystemText(member)]);
    this.changed();
  }

  async putIdentity(id: Identity): Promise<void> {
    await this.db.query(
      `INSERT INTO xs_identity (name, cert, key_store, key_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET cert = EXCLUDED.cert, key_store = EXCLUDED.key_store, key_id = EXCLUDED.key_id, updated_at = now()`,
      [id.name, id.cert, id.keyStore, id.keyId],
    );
  }

  /** The OCSP response last held for an own certificate (`name`: auth, sign), when it is for this certificate. */
  async ownOcsp(name: string, cert: Buffer): Promise<{ response: Buffer; fetchedAt: Date } | undefined> {
    const r = await this.db.query<{ cert_sha256: Buffer; response: Buffer; fetched_at: string }>('SELECT cert_sha256, response, fetched_at FROM xs_own_ocsp WHERE name = $1', [name]);
    const x = r[0];
    if (!x || !Buffer.from(x.cert_sha256).equals(createHash('sha256').update(cert).digest())) return undefined;
    return { response: Buffer.from(x.response), fetchedAt: new Date(x.fetched_at) };
  }

  async saveOwnOcsp(name: string, cert: Buffer, response: Buffer, fetchedAt: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO xs_own_ocsp (name, cert_sha256, response, fetched_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET cert_sha256 = EXCLUDED.cert_sha256, response = EXCLUDED.response, fetched_at = EXCLUDED.fetched_at`,
      [name, createHash('sha256').update(cert).digest(), response, fetchedAt],
    );
  }

  async identity(name: string): Promise<Identity | undefined> {
    const r = await this.db.query<{ name: string; cert: Buffer; key_store: string; key_id: string }>('SELECT * FROM xs_identity WHERE name = $1', [name]);
    const x = r[0];
    return x ? { name: x.name, cert: Buffer.from(x.cert), keyStore: x.key_store, keyId: x.key_id } : undefined;
  }

  async listServices(): Promise<ServiceRow[]> {
    return [...(await this.snapshot()).services.values()];
  }

  async listAccess(service?: string): Promise<AccessRight[]> {
    const snap = await this.snapshot();
    return service ? (snap.access.get(service) ?? []) : [...snap.access.values()].flat();
  }
}

/** Whether an access right's subject names this client: itself, a local group or a global group it is in. */
export function subjectCovers(snap: ServerSnapshot, conf: GlobalConf, subject: string, client: SubsystemId): boolean {
  const clientText = subsystemText(client);
  if (subject === clientText) return true;
  if (subject.startsWith('LOCALGROUP:')) return snap.localGroups.get(subject.slice(11))?.has(clientText) ?? false;
  if (subject.startsWith('GLOBALGROUP:')) {
    const [instance, code] = subject.slice(12).split('/') as [string, string];
    return instance === conf.instance && conf.inGlobalGroup(code, client);
  }
  return false;
}

/**
 * The first segment of a request path (query excluded) that a web server or framework behind the provider's
 * server could read as `.` or `..` — plain, percent-encoded (`%2e%2e`, also encoded twice), after an encoded
 * slash or backslash (`..%2f`, `..\`), or with path parameters (`..;x`, as Tomcat reads them) — or
 * undefined when there is none. Access rights are matched on the path as sent: a path that climbs out of the
 * granted one (`/public/../admin`) would be granted as `/public/…` and served as `/admin` by a system that
 * resolves it, so such paths are refused rather than matched.
 */
export function dotSegment(path: string): string | undefined {
  const q = path.indexOf('?');
  const pathname = q < 0 ? path : path.slice(0, q);
  // the common case: no dot can make a dot segment
  if (!pathname.includes('.') && !pathname.includes('%')) return undefined;
  for (const raw of pathname.split('/')) {
    let seg = raw;
    // up to three rounds of percent-decoding: some systems decode twice
    for (let round = 0; round < 4; round++) {
      for (const part of seg.split(/[/\\]/)) {
        const name = part.split(';')[0]!;
        if (name === '.' || name === '..') return raw;
      }
      if (round === 3 || !seg.includes('%')) break;
      const next = seg.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
      if (next === seg) break;
      seg = next;
    }
  }
  return undefined;
}

/**
 * Why a system behind the provider's server could read a request path (query included) as another path than
 * the one access rights are matched on, in English and Vietnamese — or undefined when it could not: a character
 * outside printable ASCII, a dot
 * segment (`dotSegment`), a `#` (never part of a request target, RFC 9112 §3.2: URL parsers cut the path there,
 * `/ho-so/1#.pdf` served as `/ho-so/1`) or a backslash in the path (read as `/` by many servers and URL parsers,
 * `/ho-so/1\2/tep` served as `/ho-so/1/2/tep`).
 */
export function pathAmbiguity(path: string): { en: string; vi: string } | undefined {
  // what an HTTP request line cannot carry as it is (a message from a server that is not Trục's)
  if (/[^\x21-\x7e]/.test(path)) return { en: 'holds a space, a control or a non-ASCII character, which a request line cannot carry unencoded', vi: 'có dấu cách, ký tự điều khiển hoặc ký tự ngoài ASCII, dòng yêu cầu không mang được khi chưa mã hoá' };
  if (path.includes('#')) return { en: 'holds "#", which a system reads as the start of a fragment and cuts the path there', vi: 'có ký tự "#", hệ thống hiểu là bắt đầu phân đoạn (fragment) và cắt đường dẫn tại đó' };
  const q = path.indexOf('?');
  if ((q < 0 ? path : path.slice(0, q)).includes('\\')) return { en: 'holds a backslash, which many systems read as "/"', vi: 'có dấu "\\", nhiều hệ thống hiểu là "/"' };
  const dot = dotSegment(path);
  if (dot !== undefined) return { en: `holds the segment "${dot}", which a system may read as "." or ".."`, vi: `có đoạn "${dot}", hệ thống có thể hiểu là "." hoặc ".."` };
  return undefined;
}

/**
 * Whether a path pattern with wildcards covers a path: `**` stands for anything (slashes included), `*` for
 * anything within one segment — as X-Road writes endpoints (`/ho-so/*.pdf`, `/ho-so/**`) — except a single `*`
 * at the end, which stands for anything below, as `**` does (Trục's `/ho-so/*`, kept as it was). Matched by
 * one pass over the path with a row of states per pattern position (time: path × pattern, never more: a
 * backtracking matcher — a regular expression — takes exponential time on `*a*a*a*b` against a long run of `a`).
 */
function globCovers(pattern: string, path: string): boolean {
  const glob = /[^*]\*$/.test(pattern) ? `${pattern}*` : pattern;
  // the common shape without the general pass: a prefix (`/ho-so/*`, `/ho-so/**`)
  if (glob.indexOf('*') === glob.length - 2 && glob.endsWith('**')) return path.startsWith(glob.slice(0, -2));
  // tokens: a character, '*' (within a segment) or '**' (anything)
  const tokens: string[] = [];
  for (let i = 0; i < glob.length; i++) {
    if (glob[i] === '*' && glob[i + 1] === '*') {
      tokens.push('**');
      i++;
    } else tokens.push(glob[i]!);
  }
  const m = tokens.length;
  let row = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  row[0] = 1;
  for (let j = 1; j <= m; j++) row[j] = row[j - 1]! && (tokens[j - 1] === '*' || tokens[j - 1] === '**') ? 1 : 0;
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    next[0] = 0;
    let any = 0;
    for (let j = 1; j <= m; j++) {
      const t = tokens[j - 1]!;
      const v = t === '**' ? next[j - 1]! || row[j]! : t === '*' ? next[j - 1]! || (row[j]! && c !== '/' ? 1 : 0) : row[j - 1]! && t === c ? 1 : 0;
      next[j] = v;
      any |= v;
    }
    if (!any) return false;
    [row, next] = [next, row];
  }
  return row[m] === 1;
}

/** Whether an access right's path pattern covers a request path (query excluded). */
export function pathCovered(pattern: string, path: string): boolean {
  if (pattern === '*' || pattern === '**') return true;
  const p = path.split('?')[0] || '/';
  if (!pattern.includes('*')) return p === pattern;
  return globCovers(pattern, p);
}
