/**
 * The central server's storage authority: the only module that reads or writes the `xc_` tables. The
 * registry (members and their encryption certificates, subsystems, security servers with their
 * authentication certificates and clients, global groups, approved CAs and TSAs, settings), the
 * registration requests, and the generated configuration versions with their parts. Every change to what
 * the configuration says bumps one revision counter (`xc_state`), in the same transaction, so the generator
 * knows something changed whichever central process made the change.
 */
import type { Migration, Sql } from '../../store/index.js';

export const centralMigrations: Migration[] = [
  {
    id: 'exchange/central_001_registry',
    sql: `
      CREATE TABLE xc_state (
        id int PRIMARY KEY CHECK (id = 1),
        revision bigint NOT NULL
      );
      INSERT INTO xc_state (id, revision) VALUES (1, 1);
      CREATE TABLE xc_member (
        member_class text NOT NULL,
        member_code text NOT NULL,
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (member_class, member_code)
      );
      CREATE TABLE xc_subsystem (
        member_class text NOT NULL,
        member_code text NOT NULL,
        subsystem_code text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (member_class, member_code, subsystem_code),
        FOREIGN KEY (member_class, member_code) REFERENCES xc_member ON DELETE CASCADE
      );
      CREATE TABLE xc_server (
        owner_class text NOT NULL,
        owner_code text NOT NULL,
        server_code text NOT NULL,
        address text NOT NULL,
        maintenance boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (owner_class, owner_code, server_code),
        FOREIGN KEY (owner_class, owner_code) REFERENCES xc_member ON DELETE CASCADE
      );
      CREATE TABLE xc_server_auth_cert (
        hash text PRIMARY KEY,
        owner_class text NOT NULL,
        owner_code text NOT NULL,
        server_code text NOT NULL,
        certificate bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (owner_class, owner_code, server_code) REFERENCES xc_server ON DELETE CASCADE
      );
      CREATE TABLE xc_server_client (
        owner_class text NOT NULL,
        owner_code text NOT NULL,
        server_code text NOT NULL,
        member_class text NOT NULL,
        member_code text NOT NULL,
        subsystem_code text NOT NULL,
        PRIMARY KEY (owner_class, owner_code, server_code, member_class, member_code, subsystem_code),
        FOREIGN KEY (owner_class, owner_code, server_code) REFERENCES xc_server ON DELETE CASCADE,
        FOREIGN KEY (member_class, member_code, subsystem_code) REFERENCES xc_subsystem ON DELETE CASCADE
      );
      CREATE TABLE xc_group (
        code text PRIMARY KEY,
        description text NOT NULL
      );
      CREATE TABLE xc_group_member (
        group_code text NOT NULL REFERENCES xc_group ON DELETE CASCADE,
        member_class text NOT NULL,
        member_code text NOT NULL,
        subsystem_code text NOT NULL,
        PRIMARY KEY (group_code, member_class, member_code, subsystem_code),
        FOREIGN KEY (member_class, member_code, subsystem_code) REFERENCES xc_subsystem ON DELETE CASCADE
      );
      CREATE TABLE xc_ca (
        name text PRIMARY KEY,
        certificate bytea NOT NULL,
        intermediates jsonb NOT NULL,
        ocsp_urls jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE xc_tsa (
        name text PRIMARY KEY,
        url text NOT NULL,
        certificate bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE xc_setting (
        key text PRIMARY KEY,
        value jsonb NOT NULL
      );
      CREATE TABLE xc_request (
        id text PRIMARY KEY,
        type text NOT NULL,
        server text NOT NULL,
        payload bytea NOT NULL,
        request jsonb NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
        received_at timestamptz NOT NULL,
        decided_by text,
        decided_at timestamptz,
        reason text
      );
      CREATE INDEX xc_request_status ON xc_request (status, received_at);
      CREATE TABLE xc_signing_key (
        id int PRIMARY KEY CHECK (id = 1),
        key_store text NOT NULL,
        key_id text NOT NULL,
        scheme text NOT NULL,
        certificate bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE xc_conf_part (
        hash text PRIMARY KEY,
        bytes bytea NOT NULL
      );
      CREATE TABLE xc_conf_version (
        version bigint PRIMARY KEY,
        revision bigint NOT NULL,
        directory bytea NOT NULL,
        signature bytea NOT NULL,
        signature_algorithm text NOT NULL,
        certificate_hash text NOT NULL,
        generated_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      );
    `,
  },
  {
    // members' encryption certificates (agency-encryption), registered by signed requests and published
    // in the configuration's shared parameters; a member may hold a few at once (rotation)
    id: 'exchange/central_002_encryption_cert',
    sql: `
      CREATE TABLE xc_member_encryption_cert (
        hash text PRIMARY KEY,
        member_class text NOT NULL,
        member_code text NOT NULL,
        certificate bytea NOT NULL,
        not_before timestamptz NOT NULL,
        not_after timestamptz NOT NULL,
        request_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (member_class, member_code) REFERENCES xc_member ON DELETE CASCADE
      );
      CREATE INDEX xc_member_encryption_cert_member ON xc_member_encryption_cert (member_class, member_code);
    `,
  },
  {
    // what a server in maintenance mode tells the clients it is not available to (X-Road's maintenance message)
    id: 'exchange/central_003_maintenance_message',
    sql: `ALTER TABLE xc_server ADD COLUMN maintenance_message text;`,
  },
];

export interface MemberRow {
  memberClass: string;
  memberCode: string;
  name: string;
}
export interface SubsystemRow {
  memberClass: string;
  memberCode: string;
  subsystemCode: string;
}
export interface ServerKey {
  ownerClass: string;
  ownerCode: string;
  serverCode: string;
}
export interface ServerRow extends ServerKey {
  address: string;
  maintenance: boolean;
  /** what clients are told while it is in maintenance, if its owner said anything */
  maintenanceMessage?: string;
  authCertHashes: string[];
  clients: SubsystemRow[];
}
export interface EncryptionCertRow {
  hash: string;
  memberClass: string;
  memberCode: string;
  certificate: Buffer;
  notBefore: Date;
  notAfter: Date;
  requestId: string | null;
  createdAt: Date;
}
export interface GroupRow {
  code: string;
  description: string;
  members: SubsystemRow[];
}
export interface CaEntry {
  name: string;
  certificate: Buffer;
  intermediates: Buffer[];
  ocspUrls: string[];
}
export interface TsaEntry {
  name: string;
  url: string;
  certificate: Buffer;
}
export type RequestStatus = 'pending' | 'approved' | 'rejected';
export interface RequestRow {
  id: string;
  type: string;
  server: string;
  payload: Buffer;
  request: Record<string, unknown>;
  status: RequestStatus;
  receivedAt: Date;
  decidedBy: string | null;
  decidedAt: Date | null;
  reason: string | null;
}
export interface SigningKeyRow {
  keyStore: string;
  keyId: string;
  scheme: string;
  certificate: Buffer;
}
export interface VersionRow {
  version: number;
  revision: number;
  directory: Buffer;
  signature: Buffer;
  signatureAlgorithm: string;
  certificateHash: string;
  generatedAt: Date;
  expiresAt: Date;
}

/** Marks the registry changed: the next generation round builds a new version. */
export async function bumpRevision(sql: Sql): Promise<number> {
  const [r] = await sql.query<{ revision: string }>('UPDATE xc_state SET revision = revision + 1 WHERE id = 1 RETURNING revision');
  return Number(r.revision);
}

export async function currentRevision(sql: Sql): Promise<number> {
  const [r] = await sql.query<{ revision: string }>('SELECT revision FROM xc_state WHERE id = 1');
  return Number(r.revision);
}

// ---- members and subsystems

export async function insertMember(sql: Sql, m: MemberRow): Promise<boolean> {
  const r = await sql.query('INSERT INTO xc_member (member_class, member_code, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING member_code', [m.memberClass, m.memberCode, m.name]);
  return r.length === 1;
}

export async function getMember(sql: Sql, memberClass: string, memberCode: string): Promise<MemberRow | null> {
  const [r] = await sql.query<any>('SELECT member_class, member_code, name FROM xc_member WHERE member_class = $1 AND member_code = $2', [memberClass, memberCode]);
  return r ? { memberClass: r.member_class, memberCode: r.member_code, name: r.name } : null;
}

export async function listMembers(sql: Sql): Promise<(MemberRow & { subsystems: string[] })[]> {
  const members = await sql.query<any>('SELECT member_class, member_code, name FROM xc_member ORDER BY member_class, member_code');
  const subs = await listSubsystems(sql);
  const byMember = new Map<string, string[]>();
  for (const s of subs) {
    const k = `${s.memberClass}/${s.memberCode}`;
    const l = byMember.get(k);
    if (l) l.push(s.subsystemCode);
    else byMember.set(k, [s.subsystemCode]);
  }
  return members.map((r) => ({ memberClass: r.member_class, memberCode: r.member_code, name: r.name, subsystems: byMember.get(`${r.member_class}/${r.member_code}`) ?? [] }));
}

export async function insertSubsystem(sql: Sql, s: SubsystemRow): Promise<boolean> {
  const r = await sql.query(
    'INSERT INTO xc_subsystem (member_class, member_code, subsystem_code) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING subsystem_code',
    [s.memberClass, s.memberCode, s.subsystemCode],
  );
  return r.length === 1;
}

export async function hasSubsystem(sql: Sql, s: SubsystemRow): Promise<boolean> {
  const r = await sql.query('SELECT 1 FROM xc_subsystem WHERE member_class = $1 AND member_code = $2 AND subsystem_code = $3', [s.memberClass, s.memberCode, s.subsystemCode]);
  return r.length === 1;
}

export async function listSubsystems(sql: Sql): Promise<SubsystemRow[]> {
  const rows = await sql.query<any>('SELECT member_class, member_code, subsystem_code FROM xc_subsystem ORDER BY member_class, member_code, subsystem_code');
  return rows.map((r) => ({ memberClass: r.member_class, memberCode: r.member_code, subsystemCode: r.subsystem_code }));
}

// ---- security servers

const serverArgs = (k: ServerKey) => [k.ownerClass, k.ownerCode, k.serverCode];
const SERVER_WHERE = 'owner_class = $1 AND owner_code = $2 AND server_code = $3';

export async function getServer(sql: Sql, k: ServerKey): Promise<ServerRow | null> {
  const [r] = await sql.query<any>(`SELECT owner_class, owner_code, server_code, address, maintenance, maintenance_message FROM xc_server WHERE ${SERVER_WHERE}`, serverArgs(k));
  if (!r) return null;
  return (await withDetails(sql, [r]))[0];
}

export async function listServers(sql: Sql): Promise<ServerRow[]> {
  const rows = await sql.query<any>('SELECT owner_class, owner_code, server_code, address, maintenance, maintenance_message FROM xc_server ORDER BY owner_class, owner_code, server_code');
  return withDetails(sql, rows);
}

async function withDetails(sql: Sql, rows: any[]): Promise<ServerRow[]> {
  const certs = await sql.query<any>('SELECT owner_class, owner_code, server_code, hash FROM xc_server_auth_cert ORDER BY created_at, hash');
  const clients = await sql.query<any>('SELECT * FROM xc_server_client ORDER BY member_class, member_code, subsystem_code');
  const key = (r: any) => `${r.owner_class}/${r.owner_code}/${r.server_code}`;
  const group = <T>(list: any[], f: (r: any) => T) => {
    const m = new Map<string, T[]>();
    for (const r of list) {
      const k = key(r);
      const l = m.get(k);
      if (l) l.push(f(r));
      else m.set(k, [f(r)]);
    }
    return m;
  };
  const certsOf = group(certs, (c) => c.hash as string);
  const clientsOf = group(clients, (c) => ({ memberClass: c.member_class, memberCode: c.member_code, subsystemCode: c.subsystem_code }));
  return rows.map((r) => ({
    ownerClass: r.owner_class,
    ownerCode: r.owner_code,
    serverCode: r.server_code,
    address: r.address,
    maintenance: r.maintenance,
    ...(r.maintenance && r.maintenance_message ? { maintenanceMessage: r.maintenance_message } : {}),
    authCertHashes: certsOf.get(key(r)) ?? [],
    clients: clientsOf.get(key(r)) ?? [],
  }));
}

/** Creates the server when it is new, or moves it to `address`. */
export async function upsertServer(sql: Sql, k: ServerKey, address: string): Promise<void> {
  await sql.query(
    `INSERT INTO xc_server (owner_class, owner_code, server_code, address) VALUES ($1, $2, $3, $4)
     ON CONFLICT (owner_class, owner_code, server_code) DO UPDATE SET address = EXCLUDED.address`,
    [...serverArgs(k), address],
  );
}

export async function setServerAddress(sql: Sql, k: ServerKey, address: string): Promise<boolean> {
  return (await sql.query(`UPDATE xc_server SET address = $4 WHERE ${SERVER_WHERE} RETURNING server_code`, [...serverArgs(k), address])).length === 1;
}

/** Puts the server in maintenance mode (with what its clients are told, if anything) or takes it out (the message goes). */
export async function setMaintenance(sql: Sql, k: ServerKey, on: boolean, message?: string): Promise<boolean> {
  return (await sql.query(`UPDATE xc_server SET maintenance = $4, maintenance_message = $5 WHERE ${SERVER_WHERE} RETURNING server_code`, [...serverArgs(k), on, on ? (message ?? null) : null])).length === 1;
}

/** Which server holds an authentication certificate (SHA-256 hex of its DER), if any. */
export async function serverOfAuthCert(sql: Sql, hash: string): Promise<ServerKey | null> {
  const [r] = await sql.query<any>('SELECT owner_class, owner_code, server_code FROM xc_server_auth_cert WHERE hash = $1', [hash]);
  return r ? { ownerClass: r.owner_class, ownerCode: r.owner_code, serverCode: r.server_code } : null;
}

export async function addAuthCert(sql: Sql, k: ServerKey, hash: string, der: Buffer): Promise<void> {
  await sql.query('INSERT INTO xc_server_auth_cert (hash, owner_class, owner_code, server_code, certificate) VALUES ($1, $2, $3, $4, $5)', [hash, ...serverArgs(k), der]);
}

export async function deleteAuthCert(sql: Sql, k: ServerKey, hash: string): Promise<boolean> {
  return (await sql.query(`DELETE FROM xc_server_auth_cert WHERE ${SERVER_WHERE} AND hash = $4 RETURNING hash`, [...serverArgs(k), hash])).length === 1;
}

export async function addClient(sql: Sql, k: ServerKey, c: SubsystemRow): Promise<boolean> {
  const r = await sql.query(
    `INSERT INTO xc_server_client (owner_class, owner_code, server_code, member_class, member_code, subsystem_code)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING server_code`,
    [...serverArgs(k), c.memberClass, c.memberCode, c.subsystemCode],
  );
  return r.length === 1;
}

export async function deleteClient(sql: Sql, k: ServerKey, c: SubsystemRow): Promise<boolean> {
  const r = await sql.query(`DELETE FROM xc_server_client WHERE ${SERVER_WHERE} AND member_class = $4 AND member_code = $5 AND subsystem_code = $6 RETURNING server_code`, [
    ...serverArgs(k),
    c.memberClass,
    c.memberCode,
    c.subsystemCode,
  ]);
  return r.length === 1;
}

export async function deleteServer(sql: Sql, k: ServerKey): Promise<boolean> {
  return (await sql.query(`DELETE FROM xc_server WHERE ${SERVER_WHERE} RETURNING server_code`, serverArgs(k))).length === 1;
}

// ---- members' encryption certificates

const encryptionCertFromRow = (r: any): EncryptionCertRow => ({
  hash: r.hash,
  memberClass: r.member_class,
  memberCode: r.member_code,
  certificate: Buffer.from(r.certificate),
  notBefore: new Date(r.not_before),
  notAfter: new Date(r.not_after),
  requestId: r.request_id,
  createdAt: new Date(r.created_at),
});

/** Every member's encryption certificates, in the order they were registered (per member). */
export async function listEncryptionCerts(sql: Sql, member?: { memberClass: string; memberCode: string }): Promise<EncryptionCertRow[]> {
  const rows = member
    ? await sql.query<any>('SELECT * FROM xc_member_encryption_cert WHERE member_class = $1 AND member_code = $2 ORDER BY created_at, hash', [member.memberClass, member.memberCode])
    : await sql.query<any>('SELECT * FROM xc_member_encryption_cert ORDER BY member_class, member_code, created_at, hash');
  return rows.map(encryptionCertFromRow);
}

export async function getEncryptionCert(sql: Sql, hash: string): Promise<EncryptionCertRow | null> {
  const [r] = await sql.query<any>('SELECT * FROM xc_member_encryption_cert WHERE hash = $1', [hash]);
  return r ? encryptionCertFromRow(r) : null;
}

export async function addEncryptionCert(sql: Sql, c: Omit<EncryptionCertRow, 'createdAt'>, at: Date): Promise<void> {
  await sql.query(
    'INSERT INTO xc_member_encryption_cert (hash, member_class, member_code, certificate, not_before, not_after, request_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
    [c.hash, c.memberClass, c.memberCode, c.certificate, c.notBefore, c.notAfter, c.requestId, at],
  );
}

export async function deleteEncryptionCert(sql: Sql, member: { memberClass: string; memberCode: string }, hash: string): Promise<boolean> {
  const r = await sql.query('DELETE FROM xc_member_encryption_cert WHERE member_class = $1 AND member_code = $2 AND hash = $3 RETURNING hash', [member.memberClass, member.memberCode, hash]);
  return r.length === 1;
}

// ---- global groups

export async function insertGroup(sql: Sql, code: string, description: string): Promise<boolean> {
  return (await sql.query('INSERT INTO xc_group (code, description) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING code', [code, description])).length === 1;
}

export async function addGroupMember(sql: Sql, code: string, s: SubsystemRow): Promise<boolean> {
  const r = await sql.query(
    'INSERT INTO xc_group_member (group_code, member_class, member_code, subsystem_code) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING group_code',
    [code, s.memberClass, s.memberCode, s.subsystemCode],
  );
  return r.length === 1;
}

export async function deleteGroupMember(sql: Sql, code: string, s: SubsystemRow): Promise<boolean> {
  const r = await sql.query('DELETE FROM xc_group_member WHERE group_code = $1 AND member_class = $2 AND member_code = $3 AND subsystem_code = $4 RETURNING group_code', [
    code,
    s.memberClass,
    s.memberCode,
    s.subsystemCode,
  ]);
  return r.length === 1;
}

export async function groupExists(sql: Sql, code: string): Promise<boolean> {
  return (await sql.query('SELECT 1 FROM xc_group WHERE code = $1', [code])).length === 1;
}

export async function listGroups(sql: Sql): Promise<GroupRow[]> {
  const groups = await sql.query<any>('SELECT code, description FROM xc_group ORDER BY code');
  const members = await sql.query<any>('SELECT * FROM xc_group_member ORDER BY member_class, member_code, subsystem_code');
  const byGroup = new Map<string, SubsystemRow[]>();
  for (const m of members) {
    const s: SubsystemRow = { memberClass: m.member_class, memberCode: m.member_code, subsystemCode: m.subsystem_code };
    const l = byGroup.get(m.group_code);
    if (l) l.push(s);
    else byGroup.set(m.group_code, [s]);
  }
  return groups.map((g) => ({ code: g.code, description: g.description, members: byGroup.get(g.code) ?? [] }));
}

// ---- approved CAs and TSAs

const caParams = (ca: CaEntry) => [ca.name, ca.certificate, JSON.stringify(ca.intermediates.map((b) => b.toString('base64'))), JSON.stringify(ca.ocspUrls)];
const caEntry = (r: any): CaEntry => ({
  name: r.name,
  certificate: Buffer.from(r.certificate),
  intermediates: (typeof r.intermediates === 'string' ? JSON.parse(r.intermediates) : r.intermediates).map((s: string) => Buffer.from(s, 'base64')),
  ocspUrls: typeof r.ocsp_urls === 'string' ? JSON.parse(r.ocsp_urls) : r.ocsp_urls,
});

/** Approves a CA under a name not yet taken; false when the name is taken (nothing changed). */
export async function insertCa(sql: Sql, ca: CaEntry): Promise<boolean> {
  const r = await sql.query('INSERT INTO xc_ca (name, certificate, intermediates, ocsp_urls) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING RETURNING name', caParams(ca));
  return r.length === 1;
}

/** Updates an approved CA's intermediates and OCSP URLs — never its trust anchor: only where the certificate is the same. */
export async function updateCa(sql: Sql, ca: CaEntry): Promise<boolean> {
  const r = await sql.query('UPDATE xc_ca SET intermediates = $3, ocsp_urls = $4 WHERE name = $1 AND certificate = $2 RETURNING name', caParams(ca));
  return r.length === 1;
}

export async function getCaEntry(sql: Sql, name: string): Promise<CaEntry | undefined> {
  const rows = await sql.query<any>('SELECT name, certificate, intermediates, ocsp_urls FROM xc_ca WHERE name = $1', [name]);
  return rows[0] ? caEntry(rows[0]) : undefined;
}

export async function listCaEntries(sql: Sql): Promise<CaEntry[]> {
  const rows = await sql.query<any>('SELECT name, certificate, intermediates, ocsp_urls FROM xc_ca ORDER BY name');
  return rows.map(caEntry);
}

export async function deleteCa(sql: Sql, name: string): Promise<boolean> {
  return (await sql.query('DELETE FROM xc_ca WHERE name = $1 RETURNING name', [name])).length === 1;
}

export async function deleteTsa(sql: Sql, name: string): Promise<boolean> {
  return (await sql.query('DELETE FROM xc_tsa WHERE name = $1 RETURNING name', [name])).length === 1;
}

/** Approves a TSA under a name not yet taken; false when the name is taken (nothing changed). */
export async function insertTsa(sql: Sql, t: TsaEntry): Promise<boolean> {
  const r = await sql.query('INSERT INTO xc_tsa (name, url, certificate) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING name', [t.name, t.url, t.certificate]);
  return r.length === 1;
}

/** Updates an approved TSA's URL — never its certificate: only where the certificate is the same. */
export async function updateTsa(sql: Sql, t: TsaEntry): Promise<boolean> {
  const r = await sql.query('UPDATE xc_tsa SET url = $2 WHERE name = $1 AND certificate = $3 RETURNING name', [t.name, t.url, t.certificate]);
  return r.length === 1;
}

export async function getTsaEntry(sql: Sql, name: string): Promise<TsaEntry | undefined> {
  const rows = await sql.query<any>('SELECT name, url, certificate FROM xc_tsa WHERE name = $1', [name]);
  return rows[0] ? { name: rows[0].name, url: rows[0].url, certificate: Buffer.from(rows[0].certificate) } : undefined;
}

export async function listTsaEntries(sql: Sql): Promise<TsaEntry[]> {
  const rows = await sql.query<any>('SELECT name, url, certificate FROM xc_tsa ORDER BY name');
  return rows.map((r) => ({ name: r.name, url: r.url, certificate: Buffer.from(r.certificate) }));
}

// ---- settings

export async function putSetting(sql: Sql, key: string, value: unknown): Promise<void> {
  await sql.query('INSERT INTO xc_setting (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [key, JSON.stringify({ v: value })]);
}

export async function getSettings(sql: Sql): Promise<Record<string, unknown>> {
  const rows = await sql.query<any>('SELECT key, value FROM xc_setting');
  // wrapped as { v }: a bare JSON string would come back from the drivers already decoded, or not
  return Object.fromEntries(rows.map((r) => [r.key, (typeof r.value === 'string' ? JSON.parse(r.value) : r.value).v]));
}

// ---- registration requests

const requestFromRow = (r: any): RequestRow => ({
  id: r.id,
  type: r.type,
  server: r.server,
  payload: Buffer.from(r.payload),
  request: typeof r.request === 'string' ? JSON.parse(r.request) : r.request,
  status: r.status,
  receivedAt: new Date(r.received_at),
  decidedBy: r.decided_by,
  decidedAt: r.decided_at ? new Date(r.decided_at) : null,
  reason: r.reason,
});

/** Stores a request; false when its id was seen before (a replay). */
export async function insertRequest(sql: Sql, r: Omit<RequestRow, 'decidedBy' | 'decidedAt' | 'reason'>): Promise<boolean> {
  const out = await sql.query(
    `INSERT INTO xc_request (id, type, server, payload, request, status, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (id) DO NOTHING RETURNING id`,
    [r.id, r.type, r.server, r.payload, JSON.stringify(r.request), r.status, r.receivedAt],
  );
  return out.length === 1;
}

export async function getRequest(sql: Sql, id: string, forUpdate = false): Promise<RequestRow | null> {
  const [r] = await sql.query<any>(`SELECT * FROM xc_request WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return r ? requestFromRow(r) : null;
}

export async function listRequests(sql: Sql, status?: RequestStatus, limit = 100): Promise<RequestRow[]> {
  const rows = status
    ? await sql.query<any>('SELECT * FROM xc_request WHERE status = $1 ORDER BY received_at DESC, id LIMIT $2', [status, limit])
    : await sql.query<any>('SELECT * FROM xc_request ORDER BY received_at DESC, id LIMIT $1', [limit]);
  return rows.map(requestFromRow);
}

export async function decideRequest(sql: Sql, id: string, status: 'approved' | 'rejected', by: string, at: Date, reason: string | null): Promise<void> {
  await sql.query('UPDATE xc_request SET status = $2, decided_by = $3, decided_at = $4, reason = $5 WHERE id = $1', [id, status, by, at, reason]);
}

// ---- configuration signing key

export async function getSigningKey(sql: Sql): Promise<SigningKeyRow | null> {
  const [r] = await sql.query<any>('SELECT key_store, key_id, scheme, certificate FROM xc_signing_key WHERE id = 1');
  return r ? { keyStore: r.key_store, keyId: r.key_id, scheme: r.scheme, certificate: Buffer.from(r.certificate) } : null;
}

/** Stores the key unless another process stored one first; returns the one that is kept. */
export async function putSigningKeyOnce(sql: Sql, k: SigningKeyRow): Promise<SigningKeyRow> {
  await sql.query('INSERT INTO xc_signing_key (id, key_store, key_id, scheme, certificate) VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO NOTHING', [
    k.keyStore,
    k.keyId,
    k.scheme,
    k.certificate,
  ]);
  return (await getSigningKey(sql))!;
}

export async function replaceSigningKey(sql: Sql, k: SigningKeyRow): Promise<void> {
  await sql.query(
    `INSERT INTO xc_signing_key (id, key_store, key_id, scheme, certificate) VALUES (1, $1, $2, $3, $4)
     ON CONFLICT (id) DO UPDATE SET key_store = EXCLUDED.key_store, key_id = EXCLUDED.key_id, scheme = EXCLUDED.scheme, certificate = EXCLUDED.certificate, created_at = now()`,
    [k.keyStore, k.keyId, k.scheme, k.certificate],
  );
}

// ---- configuration versions

const versionFromRow = (r: any): VersionRow => ({
  version: Number(r.version),
  revision: Number(r.revision),
  directory: Buffer.from(r.directory),
  signature: Buffer.from(r.signature),
  signatureAlgorithm: r.signature_algorithm,
  certificateHash: r.certificate_hash,
  generatedAt: new Date(r.generated_at),
  expiresAt: new Date(r.expires_at),
});

export async function latestVersion(sql: Sql): Promise<VersionRow | null> {
  const [r] = await sql.query<any>('SELECT * FROM xc_conf_version ORDER BY version DESC LIMIT 1');
  return r ? versionFromRow(r) : null;
}

export async function listVersions(sql: Sql, limit = 20): Promise<VersionRow[]> {
  return (await sql.query<any>('SELECT * FROM xc_conf_version ORDER BY version DESC LIMIT $1', [limit])).map(versionFromRow);
}

export async function insertVersion(sql: Sql, v: VersionRow, parts: { hash: string; bytes: Buffer }[]): Promise<void> {
  for (const p of parts) await sql.query('INSERT INTO xc_conf_part (hash, bytes) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING', [p.hash, p.bytes]);
  await sql.query(
    `INSERT INTO xc_conf_version (version, revision, directory, signature, signature_algorithm, certificate_hash, generated_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [v.version, v.revision, v.directory, v.signature, v.signatureAlgorithm, v.certificateHash, v.generatedAt, v.expiresAt],
  );
}

export async function getPart(sql: Sql, hash: string): Promise<Buffer | null> {
  const [r] = await sql.query<any>('SELECT bytes FROM xc_conf_part WHERE hash = $1', [hash]);
  return r ? Buffer.from(r.bytes) : null;
}
