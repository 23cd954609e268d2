/**
 * Principals of the APIs: API tokens (only their SHA-256 is stored; the secret is shown once) and client
 * certificates from our own CA (matched by the certificate's SHA-256), each holding roles.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db, Migration, Sql } from '../../store/index.js';
import { appendAudit } from '../../audit/index.js';
import { TrucError } from '../../errors.js';
import { LOCAL_CLI_ROLE, ROLES, type Role } from './roles.js';

export const authMigrations: Migration[] = [
  {
    id: 'auth/001_principal',
    sql: `
      CREATE TABLE auth_principal (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        kind text NOT NULL CHECK (kind IN ('token', 'certificate')),
        secret_sha256 bytea,
        cert_sha256 bytea UNIQUE,
        roles text[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      );
    `,
  },
];

export interface Principal {
  id: string;
  name: string;
  kind: 'token' | 'certificate';
  roles: Role[];
}

function checkRoles(roles: string[]): Role[] {
  if (roles.length === 0) throw new TrucError('bad_request', 'a principal needs at least one role');
  for (const r of roles)
    if (!(ROLES as readonly string[]).includes(r))
      throw new TrucError('bad_request', `unknown role "${r}"`, { allowed: ROLES });
  return roles as Role[];
}

const NAME = /^[\p{L}\p{N} ._@-]{1,100}$/u;

/** Creates an API token; returns the secret once (`truc_<id>_<secret>`). */
export async function createToken(
  db: Db,
  name: string,
  roles: string[],
  actor = 'system',
): Promise<{ principal: Principal; token: string }> {
  if (!NAME.test(name)) throw new TrucError('bad_request', 'principal name must be 1 to 100 letters, digits, . _ @ - or spaces');
  const r = checkRoles(roles);
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  try {
    await db.tx(async (sql) => {
      await sql.query(
        `INSERT INTO auth_principal (id, name, kind, secret_sha256, roles) VALUES ($1, $2, 'token', $3, $4)`,
        [id, name, createHash('sha256').update(secret).digest(), r],
      );
      await appendAudit(sql, [{ actor, action: 'auth.token.create', target: name, outcome: 'success', detail: { id, roles: r } }]);
    });
  } catch (e) {
    if (/unique|duplicate/i.test((e as Error).message)) throw new TrucError('conflict', `a principal named "${name}" exists`);
    throw e;
  }
  return { principal: { id, name, kind: 'token', roles: r }, token: `truc_${id}_${secret}` };
}

/** The principal of the token `truc start` makes for the local command line; no token create may take the name (no `:`). */
export const LOCAL_CLI_PRINCIPAL = 'cli:local';

/**
 * A new token for `cli:local` (role `cli-local`), made at every `truc start` on the embedded database: the
 * one principal row is given a new id and secret and made active again, so that a token left by a server
 * that died (never revoked) stops working at the next start, and the name stays one row.
 */
export async function issueLocalCliToken(db: Db, actor = 'system'): Promise<string> {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const hash = createHash('sha256').update(secret).digest();
  const roles = [LOCAL_CLI_ROLE];
  await db.tx(async (sql) => {
    const renewed = await sql.query(
      `UPDATE auth_principal SET id = $1, kind = 'token', secret_sha256 = $2, cert_sha256 = NULL, roles = $3, created_at = now(), revoked_at = NULL
       WHERE name = $4 RETURNING id`,
      [id, hash, roles, LOCAL_CLI_PRINCIPAL],
    );
    if (!renewed.length)
      await sql.query(`INSERT INTO auth_principal (id, name, kind, secret_sha256, roles) VALUES ($1, $2, 'token', $3, $4)`, [id, LOCAL_CLI_PRINCIPAL, hash, roles]);
    await appendAudit(sql, [{ actor, action: 'auth.token.create', target: LOCAL_CLI_PRINCIPAL, outcome: 'success', detail: { id, roles } }]);
  });
  return `truc_${id}_${secret}`;
}

export async function registerCertificate(
  db: Db,
  name: string,
  certDer: Buffer,
  roles: string[],
  actor = 'system',
): Promise<Principal> {
  if (!NAME.test(name)) throw new TrucError('bad_request', 'principal name must be 1 to 100 letters, digits, . _ @ - or spaces');
  const r = checkRoles(roles);
  const id = randomBytes(8).toString('hex');
  const fingerprint = createHash('sha256').update(certDer).digest();
  await db.tx(async (sql) => {
    await sql.query(
      `INSERT INTO auth_principal (id, name, kind, cert_sha256, roles) VALUES ($1, $2, 'certificate', $3, $4)`,
      [id, name, fingerprint, r],
    );
    await appendAudit(sql, [
      { actor, action: 'auth.cert.register', target: name, outcome: 'success', detail: { id, roles: r, sha256: fingerprint.toString('hex') } },
    ]);
  });
  return { id, name, kind: 'certificate', roles: r };
}

const TOKEN = /^truc_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export async function principalForToken(sql: Sql, token: string): Promise<Principal | null> {
  const m = TOKEN.exec(token);
  if (!m) return null;
  const [row] = await sql.query<any>(
    `SELECT id, name, kind, roles, secret_sha256 FROM auth_principal WHERE id = $1 AND kind = 'token' AND revoked_at IS NULL`,
    [m[1]],
  );
  const given = createHash('sha256').update(m[2]).digest();
  // compare even when no row matched, so timing says nothing about which ids exist
  const stored = row ? Buffer.from(row.secret_sha256) : Buffer.alloc(32);
  const ok = timingSafeEqual(given, stored);
  return row && ok ? { id: row.id, name: row.name, kind: 'token', roles: row.roles } : null;
}

export async function principalForCertificate(sql: Sql, certDer: Buffer): Promise<Principal | null> {
  const [row] = await sql.query<any>(
    `SELECT id, name, kind, roles FROM auth_principal WHERE cert_sha256 = $1 AND revoked_at IS NULL`,
    [createHash('sha256').update(certDer).digest()],
  );
  return row ? { id: row.id, name: row.name, kind: 'certificate', roles: row.roles } : null;
}

export async function revokePrincipal(db: Db, name: string, actor = 'system'): Promise<boolean> {
  return db.tx(async (sql) => {
    const rows = await sql.query(
      `UPDATE auth_principal SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING id`,
      [name],
    );
    if (rows.length) await appendAudit(sql, [{ actor, action: 'auth.principal.revoke', target: name, outcome: 'success' }]);
    return rows.length > 0;
  });
}

export async function listPrincipals(sql: Sql): Promise<(Principal & { createdAt: Date; revokedAt: Date | null })[]> {
  const rows = await sql.query<any>('SELECT id, name, kind, roles, created_at, revoked_at FROM auth_principal ORDER BY created_at');
  return rows.map((r) => ({ id: r.id, name: r.name, kind: r.kind, roles: r.roles, createdAt: r.created_at, revokedAt: r.revoked_at }));
}
