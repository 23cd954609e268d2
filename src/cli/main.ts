#!/usr/bin/env node
/**
 * `truc`: the command line. Operator commands work on the local platform directly (the data folder or the
 * configured PostgreSQL and key stores), as the CA's own administrators do; `start` runs every role in
 * one process. Each command's --help says what it does and what it needs.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Config } from '../config.js';
import type * as ConfigApi from '../config.js';
import type { Platform } from '../platform.js';
import type { Db } from '../store/index.js';
import type { LocalServer } from './beside.js';
import type { CertRow } from '../pki/index.js';
import type { CertificateJson } from '../http/ca/routes.js';
import { pemBlocks, toPem } from '../asn1/der.js';
import type * as PkiApi from '../pki/index.js';
import type * as AuthStoreApi from '../http/auth/store.js';
import type { CaSpec } from '../pki/index.js';
import { ROLES as PROCESS_ROLES, parseRoles, type Role } from '../roles.js';
import { ROLES } from '../http/auth/roles.js';
import { parseKeyAlgorithm } from '../crypto/algorithms.js';
import { DEFAULT_HIERARCHY } from './bootstrap.js';
import { fail, readInput, table } from './output.js';
import { bilingualUsageError } from './usage-errors.js';
import { TrucError } from '../errors.js';
import { loadBefore } from './lazy.js';
import { ocspCommand } from './ocsp.js';
import { runUntilSignal } from './serve.js';
import { verifyCertCommand } from './verify-cert.js';
import { monitorCommands } from './monitor.js';
import { huntCommand } from './hunt.js';
import { labCommands } from './lab.js';
import { signCommands } from './sign.js';
import { vaultCommands } from './vault.js';
import { keyAgreementCommands } from './key-agreement.js';
import { centralCommands } from './central.js';
import { docCommands } from './doc.js';
import { ssCommands } from './ss.js';
import { logCommands } from './log.js';
import { agentCommands } from './agent.js';

// Only the commander definitions load at start: each command's part is imported when it runs (./lazy.ts),
// so `truc --help` reads no more than this folder and `truc ca list` no more than the CA.
let loadConfig: typeof ConfigApi.loadConfig; // YAML and the schema validator: loaded before any action, not for --help
let pki: typeof PkiApi;
let auth: typeof AuthStoreApi;
const loadPki = async () => void (pki = await import('../pki/index.js'));
const loadAuth = async () => void (auth = await import('../http/auth/store.js'));
/** What `ca list` and `ca show` read with: the CA's tables, not the CA. */
const pkiRead = async () => {
  const [{ searchCerts, getCert }, { normalizeSerial }, { reasonName }] = await Promise.all([import('../pki/store.js'), import('../pki/serial.js'), import('../pki/revoke.js')]);
  return { searchCerts, getCert, normalizeSerial, reasonName };
};

/**
 * A certificate as `ca list` and `ca show` print it. A certificate released from hold keeps removeFromCRL
 * as its stored reason (for the delta CRL); it is not revoked for any reason, and says none — as the table,
 * the text of `ca show` and the API say.
 */
const printable = (c: CertRow) => ({ ...c, der: undefined, reason: c.status === 'good' ? null : c.reason });

/** The API's certificate back into the row the CA's tables give, in the same order, so that both print alike. */
async function certFromApi(): Promise<(j: CertificateJson) => CertRow> {
  const { REASONS } = await import('../pki/revoke.js');
  const date = (v: string | null) => (v ? new Date(v) : null);
  return (j) => ({
    serial: j.serial,
    caId: j.ca,
    profile: j.profile,
    subject: j.subject,
    keyAlgorithm: j.keyAlgorithm,
    notBefore: new Date(j.notBefore),
    notAfter: new Date(j.notAfter),
    status: j.status,
    revokedAt: date(j.revokedAt),
    reason: j.reason === null ? null : (REASONS[j.reason as keyof typeof REASONS] ?? null),
    invalidityDate: date(j.invalidityDate),
    requestId: j.requestId,
    requestedBy: j.requestedBy,
    issuedAt: new Date(j.issuedAt),
    der: Buffer.from(j.certificate.replace(/-----[^-]+-----|\s+/g, ''), 'base64'),
  });
}

const program = new Command();
program
  .name('truc')
  .description('Trục — trust and secure-exchange platform for e-government')
  .option('-c, --config <file>', 'configuration file (YAML or JSON); also TRUC_CONFIG')
  .option('--data-dir <dir>', 'data folder for the embedded default (PGlite, sealed keys); also TRUC_DATA_DIR')
  .option('--json', 'print results as JSON')
  .showHelpAfterError()
  // commander's own refusals in Vietnamese too (set before the commands are added: each inherits it)
  .configureOutput({ outputError: (text, write) => write(bilingualUsageError(text)) })
  .exitOverride((err) => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
    process.exit(2);
  });

/** The command running, as `ca list` (refusals name the API doing the same: ./beside.ts). */
let running = '';
program.hook('preAction', async (_program, action) => {
  const names: string[] = [];
  for (let c: Command | null = action; c?.parent; c = c.parent) names.unshift(c.name());
  running = names.join(' ');
  ({ loadConfig } = await import('../config.js'));
});

const operator = () => `cli:${userInfo().username}`;

function config(): Config {
  const o = program.opts();
  return loadConfig({ file: o.config, overrides: o.dataDir ? { dataDir: o.dataDir } : undefined });
}

async function withPlatform(fn: (p: Platform) => Promise<unknown>): Promise<void> {
  let p: Platform | undefined;
  try {
    const [{ openPlatform }, { pino }] = await Promise.all([import('../platform.js'), import('pino')]);
    p = await openPlatform(config(), { log: pino({ level: 'warn' }, process.stderr), oneShot: true });
    await fn(p);
  } catch (e) {
    await p?.close().catch(() => {});
    fail(p ? e : (await import('./beside.js')).refusalFor(e, running));
  }
  const { closeKeeping } = await import('./anchors.js');
  await closeKeeping(p.config, p.db, () => p!.close());
}

/**
 * For commands that only read the database (lists, `truc verify`'s trust anchors): the database alone,
 * migrated, without the key store (no passphrase asked, no key derivation), bus or profiles — the
 * platform's open cost such a command about a second more (src/database.ts).
 *
 * `viaServer`: what the command does instead through the API of the `truc start` holding the embedded
 * database, when its lock refuses the opening (./beside.ts).
 */
async function withDb(fn: (db: Db) => Promise<unknown>, viaServer?: (s: LocalServer) => Promise<unknown>): Promise<void> {
  let db: Db | undefined;
  const cfg = config();
  try {
    const { openDatabase } = await import('../database.js');
    db = await openDatabase(cfg, { oneShot: 'read' });
    await fn(db);
  } catch (e) {
    if (db) {
      await db.close().catch(() => {});
      fail(e);
    }
    return throughServer(e, viaServer);
  }
  const { closeKeeping } = await import('./anchors.js');
  await closeKeeping(cfg, db, () => db!.close());
}

/** The database could not be opened: through the running server holding it when `viaServer` can go, else the refusal (naming the API) or the error. */
async function throughServer(e: unknown, viaServer?: (s: LocalServer) => Promise<unknown>): Promise<void> {
  const { serverHolding, refusalFor, viaServerNotice } = await import('./beside.js');
  const s = viaServer ? serverHolding(config(), e, running) : undefined;
  if (!s || !('url' in s)) fail(refusalFor(e, running, s?.why));
  process.stderr.write(viaServerNotice(s));
  try {
    await viaServer!(s);
  } catch (err) {
    fail(err);
  }
}

/** The name-constraint options of commands that create CAs. */
function withNameConstraintOptions(cmd: Command): Command {
  return cmd
    .option('--permitted-dns <domain>', 'name constraint: permitted DNS subtree (repeatable)', collect)
    .option('--excluded-dns <domain>', 'name constraint: excluded DNS subtree (repeatable)', collect)
    .option('--permitted-email <domain>', 'name constraint: permitted e-mail domain (repeatable)', collect)
    .option('--permitted-dn <dn>', 'name constraint: permitted directory name subtree (repeatable)', collect);
}

function nameConstraintsFrom(o: any): CaSpec['nameConstraints'] {
  if (!(o.permittedDns || o.excludedDns || o.permittedEmail || o.permittedDn)) return undefined;
  return {
    permitted: { dns: o.permittedDns ?? [], email: o.permittedEmail ?? [], directoryName: o.permittedDn ?? [] },
    excluded: { dns: o.excludedDns ?? [] },
  };
}

/** Commander argument parser for counts, days and ports: a mistyped number is a usage error (exit 2). */
function wholeNumber(v: string): number {
  if (!/^\d{1,9}$/.test(v)) throw new InvalidArgumentError('expected a whole number');
  return Number(v);
}

/** An ISO 8601 date given on the command line; anything else is bad input (exit 3), not a database error. */
function dateArg(v: string, option: string): Date {
  const d = new Date(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(d.getTime())) throw new TrucError('bad_request', `${option} wants an ISO 8601 date, got "${v}"`);
  return d;
}

const json = () => !!program.opts().json;
const out = (v: unknown, text: () => string) => process.stdout.write((json() ? JSON.stringify(v, null, 2) : text()) + '\n');
const collect = (v: string, prev: string[] = []) => [...prev, v];

// ---- start
program
  .command('start')
  .description(
    'Run every role (CA/RA API, CRLs, …) in one process. On a first start with an empty data folder it creates a CA hierarchy and one API token per role, written to <data>/bootstrap-tokens.txt.',
  )
  .option('--port <port>', 'HTTP port (default 8080; also TRUC_HTTP_PORT)', wholeNumber)
  .option('--host <host>', 'address to listen on (default 127.0.0.1)')
  .option('--tls [names]', "serve HTTPS (TLS 1.3) on a certificate from the platform's own CA, renewed before it expires; names comma-separated (default localhost, 127.0.0.1, ::1 and the listen/public host; also http.autoTls)")
  .option('--insecure-http', 'allow plain HTTP (no http.tls) on an address other than loopback, e.g. behind a TLS reverse proxy (also http.allowPlainHttp)')
  .option('--roles <list>', `roles this process runs, comma-separated: ${PROCESS_ROLES.join(', ')} (default all; also TRUC_ROLES)`)
  .action(async (o) => {
    let roles: Role[];
    try {
      roles = parseRoles(o.roles ?? process.env.TRUC_ROLES);
    } catch (e) {
      fail(e);
    }
    const cfg = loadConfig({
      file: program.opts().config,
      overrides: {
        ...(program.opts().dataDir ? { dataDir: program.opts().dataDir } : {}),
        ...(o.port !== undefined || o.host || o.insecureHttp || o.tls
          ? {
              http: {
                ...(o.port !== undefined ? { port: o.port } : {}),
                ...(o.host ? { host: o.host } : {}),
                ...(o.insecureHttp ? { allowPlainHttp: true } : {}),
                ...(o.tls ? { autoTls: typeof o.tls === 'string' ? { names: o.tls.split(',').map((n: string) => n.trim()).filter(Boolean) } : {} } : {}),
              },
            }
          : {}),
      } as any,
    });
    const [{ bootstrap }, { startServer }, { openMessageLog }, { announceServer }] = await Promise.all([
      import('./bootstrap.js'),
      import('../http/server.js'),
      import('../exchange/server/log-open.js'),
      import('./server-file.js'),
    ]);
    // refused before the first start's CA hierarchy is made, not after
    try {
      (await import('../http/server.js')).assertTransportAllowed(cfg.http);
    } catch (e) {
      fail(e);
    }
    await runUntilSignal(
      cfg,
      async (p) => {
      // the first start's CA hierarchy and API tokens are made by a process with the ca role
      const b = roles.includes('ca') ? await bootstrap(p) : { createdCa: false, tokensFile: undefined };
      if (b.createdCa) p.log.info('created the default CA hierarchy (root, issuing)');
      if (b.tokensFile) p.log.info({ file: b.tokensFile }, 'bootstrap API tokens written (one per role)');
      const server = await startServer(p, { openLog: (db, dir, lo) => openMessageLog(db, dir, lo) });
      // truc verify and truc ca list on this data folder go through this server (./server-file.ts)
      const withdraw = await announceServer(p, server.app.server.address());
      p.log.info({ url: server.url, database: p.db.kind, data: cfg.dataDir, roles }, 'Trục is running');
      return async () => {
        await withdraw();
        await server.close();
      };
      },
      { roles },
    );
  });

// ---- ca
const ca = program.command('ca').description('certificate authority: hierarchy, issuance, revocation, CRLs');

withNameConstraintOptions(ca.command('init'))
  .description('Create the root CA (self-signed) and the issuing CAs under it. Without options: the default hierarchy.')
  .option('--root-id <id>', 'root CA id', DEFAULT_HIERARCHY.root.id)
  .option('--root-subject <dn>', 'root subject, e.g. "CN=Root CA, O=Ban Cơ yếu Chính phủ, C=VN"', DEFAULT_HIERARCHY.root.subject)
  .option('--root-key <alg>', 'root key algorithm: EC-P256 EC-P384 RSA-2048 RSA-3072 RSA-4096 Ed25519', 'EC-P384')
  .option('--root-days <n>', 'root validity in days', wholeNumber, 7300)
  .option(
    '--issuing <id=subject>',
    'an issuing CA (repeatable), e.g. --issuing "gov=CN=Gov Issuing CA, O=…, C=VN"',
    collect,
  )
  .option('--issuing-key <alg>', 'issuing CA key algorithm', 'EC-P256')
  .option('--issuing-days <n>', 'issuing CA validity in days', wholeNumber, 3650)
  .option('--path-len <n>', 'path length constraint of issuing CAs', wholeNumber, 0)
  .addOption(new Option('--key-store <kind>', 'key store for the new keys').choices(['software', 'pkcs11']))
  .action(async (o) =>
    withPlatform(async (p) => {
      const issuing: CaSpec[] = (o.issuing ?? [`${DEFAULT_HIERARCHY.issuing[0].id}=${DEFAULT_HIERARCHY.issuing[0].subject}`]).map(
        (s: string) => {
          const eq = s.indexOf('=');
          if (eq < 1) throw new TrucError('bad_request', `--issuing wants id=subject, got "${s}"`);
          return {
            id: s.slice(0, eq),
            subject: s.slice(eq + 1),
            keyAlgorithm: parseKeyAlgorithm(o.issuingKey),
            validityDays: Number(o.issuingDays),
            pathLen: Number(o.pathLen),
            keyStore: o.keyStore,
            nameConstraints: nameConstraintsFrom(o),
          };
        },
      );
      const rows = await pki.initHierarchy(
        p.pki,
        {
          root: {
            id: o.rootId,
            subject: o.rootSubject,
            keyAlgorithm: parseKeyAlgorithm(o.rootKey),
            validityDays: Number(o.rootDays),
            keyStore: o.keyStore,
          },
          issuing,
        },
        operator(),
      );
      out(
        rows.map((r) => ({ id: r.id, parent: r.parentId, subject: r.subject, keyStore: r.keyStore, notAfter: r.notAfter })),
        () =>
          table(
            rows.map((r) => ({ id: r.id, parent: r.parentId ?? '-', subject: r.subject, key: `${r.keyAlgorithm}@${r.keyStore}`, notAfter: r.notAfter.toISOString() })),
            ['id', 'parent', 'subject', 'key', 'notAfter'],
          ),
      );
    }),
  );

withNameConstraintOptions(ca.command('add'))
  .description('Add a CA under an existing one (a second issuing CA under the root, or a sub-CA where path length allows)')
  .requiredOption('--parent <id>', 'the parent CA')
  .requiredOption('--id <id>', 'the new CA id (lowercase letters, digits, -)')
  .requiredOption('--subject <dn>', 'e.g. "C=VN, O=Bộ Nội vụ, CN=Bộ Nội vụ CA"')
  .option('--key <alg>', 'key algorithm', 'EC-P256')
  .option('--days <n>', 'validity in days', wholeNumber, 3650)
  .option('--path-len <n>', 'path length constraint', wholeNumber, 0)
  .addOption(new Option('--key-store <kind>', 'key store for the new key').choices(['software', 'pkcs11']))
  .action(async (o) =>
    withPlatform(async (p) => {
      const row = await pki.addCa(
        p.pki,
        o.parent,
        {
          id: o.id,
          subject: o.subject,
          keyAlgorithm: parseKeyAlgorithm(o.key),
          validityDays: Number(o.days),
          pathLen: Number(o.pathLen),
          keyStore: o.keyStore,
          nameConstraints: nameConstraintsFrom(o),
        },
        operator(),
      );
      out({ id: row.id, parent: row.parentId, subject: row.subject, notAfter: row.notAfter }, () => `added ${row.id} under ${row.parentId}: ${row.subject}`);
    }),
  );

ca.command('cas')
  .description('List the CAs')
  .action(async () =>
    withPlatform(async (p) => {
      const rows = await pki.listCas(p.db);
      out(
        rows.map((r) => ({ id: r.id, parent: r.parentId, subject: r.subject, notAfter: r.notAfter, certificate: toPem('CERTIFICATE', r.certificate) })),
        () => table(rows.map((r) => ({ id: r.id, parent: r.parentId ?? '-', subject: r.subject, notAfter: r.notAfter.toISOString() })), ['id', 'parent', 'subject', 'notAfter']),
      );
    }),
  );

ca.command('issue')
  .description('Issue a certificate from a PKCS#10 request (PEM or DER file) under a profile')
  .requiredOption('--csr <file>', 'the certificate request')
  .requiredOption('--profile <name>', 'agency-auth | agency-signing | official-signing | tls-server | ocsp-signing | time-stamping | …')
  .option('--ca <id>', 'issuing CA (default: the only issuing CA)')
  .option('--subject <dn>', 'vetted subject replacing the request’s, e.g. "CN=Nguyễn Văn A, O=Bộ Nội vụ, C=VN"')
  .option('--dns <name>', 'DNS alternative name (repeatable)', collect)
  .option('--email <address>', 'e-mail alternative name (repeatable)', collect)
  .option('--ip <address>', 'IP alternative name (repeatable)', collect)
  .option('--days <n>', 'validity in days (at most the profile’s)', wholeNumber)
  .option('--request-id <id>', 'idempotency key: the same id and request return the same certificate')
  .option('--out <file>', 'write the certificate (PEM) here instead of stdout')
  .option('--chain', 'append the CA chain to the PEM output')
  .action(async (o) =>
    withPlatform(async (p) => {
      const altNames =
        o.dns || o.email || o.ip ? { ...(o.dns ? { dns: o.dns } : {}), ...(o.email ? { email: o.email } : {}), ...(o.ip ? { ip: o.ip } : {}) } : undefined;
      const issued = await p.issuer.issue(
        {
          profile: o.profile,
          csr: readInput(o.csr, '--csr'),
          caId: o.ca,
          subject: o.subject,
          altNames,
          validityDays: o.days,
          requestId: o.requestId,
        },
        operator(),
      );
      let pem = toPem('CERTIFICATE', issued.der);
      if (o.chain) for (const c of await pki.caChain(p.pki, issued.caId)) pem += toPem('CERTIFICATE', c.certificate);
      if (o.out) writeFileSync(o.out, pem);
      out({ ...issued, der: undefined, certificate: o.out ? undefined : pem }, () =>
        o.out ? `issued ${issued.serial} (${issued.subject}) → ${o.out}${issued.replayed ? ' [replayed]' : ''}` : pem.trimEnd(),
      );
    }),
  );

ca.command('revoke <serial>')
  .description('Revoke a certificate. Reasons (RFC 5280): unspecified keyCompromise cACompromise affiliationChanged superseded cessationOfOperation certificateHold privilegeWithdrawn aACompromise')
  .option('--reason <reason>', 'reason name or code', 'unspecified')
  .option('--invalidity-date <iso>', 'when the key is known or suspected to have been compromised')
  .action(async (serial, o) =>
    withPlatform(async (p) => {
      const c = await pki.revoke(p.pki, { serial, reason: o.reason, invalidityDate: o.invalidityDate ? dateArg(o.invalidityDate, '--invalidity-date') : undefined }, operator());
      out({ serial: c.serial, status: c.status, reason: pki.reasonName(c.reason) }, () => `${c.serial}: ${c.status} (${pki.reasonName(c.reason)})`);
    }),
  );

ca.command('release <serial>')
  .description('Release a certificate from hold (certificateHold)')
  .action(async (serial) =>
    withPlatform(async (p) => {
      const c = await pki.release(p.pki, serial, operator());
      out({ serial: c.serial, status: c.status }, () => `${c.serial}: ${c.status}`);
    }),
  );

ca.command('crl')
  .description('Generate a CRL now (full, or --delta) and print or save it')
  .option('--ca <id>', 'the CA (default: every CA)')
  .option('--delta', 'a delta CRL against the latest full CRL')
  .option('--out <file>', 'write the DER CRL here (with one --ca)')
  .action(async (o) =>
    withPlatform(async (p) => {
      // --out takes one CRL: refused before any CRL is made, so a usage mistake changes nothing
      if (o.out && !o.ca) throw new TrucError('bad_request', '--out needs exactly one --ca');
      const ids = o.ca ? [o.ca] : (await pki.listCas(p.db)).map((c) => c.id);
      const made: Awaited<ReturnType<typeof pki.generateCrl>>[] = [];
      for (const id of ids) made.push(await pki.generateCrl(p.pki, id, operator(), { delta: !!o.delta }));
      if (o.out) writeFileSync(o.out, made[0].der);
      out(
        made.map((c) => ({ ca: c.caId, number: c.number, delta: c.delta, entries: c.entries, nextUpdate: c.nextUpdate })),
        () => table(made.map((c) => ({ ca: c.caId, number: c.number, kind: c.delta ? 'delta' : 'full', entries: c.entries, nextUpdate: c.nextUpdate.toISOString() })), ['ca', 'number', 'kind', 'entries', 'nextUpdate']),
      );
    }),
  );

ca.command('list')
  .description('Search issued certificates by serial, subject, profile, CA, status and validity')
  .option('--serial <hex>', 'this serial number (hex, colons allowed)')
  .option('--subject <text>', 'subject contains (case-insensitive)')
  .option('--profile <name>', 'issued under this profile')
  .option('--ca <id>', 'issued by this CA')
  .addOption(new Option('--status <status>', 'current status').choices(['good', 'revoked', 'hold']))
  .option('--valid-at <iso>', 'valid at this time (ISO 8601)')
  .option('--expires-before <iso>', 'notAfter before this time (ISO 8601)')
  .option('--limit <n>', 'at most this many (1 to 1000)', wholeNumber, 50)
  .action(async (o) => {
    const query = {
      subject: o.subject as string | undefined,
      profile: o.profile as string | undefined,
      caId: o.ca as string | undefined,
      status: o.status as 'good' | 'revoked' | 'hold' | undefined,
      validAt: o.validAt ? dateArg(o.validAt, '--valid-at') : undefined,
      expiresBefore: o.expiresBefore ? dateArg(o.expiresBefore, '--expires-before') : undefined,
      limit: Math.min(Math.max(Number(o.limit), 1), 1000),
    };
    const print = (rows: CertRow[]) =>
      out(rows.map(printable), () =>
        table(rows.map((r) => ({ serial: r.serial, profile: r.profile, status: r.status, notAfter: r.notAfter.toISOString(), subject: r.subject })), ['serial', 'profile', 'status', 'notAfter', 'subject']),
      );
    await withDb(
      async (db) => {
        const { searchCerts, normalizeSerial } = await pkiRead();
        print(await searchCerts(db, { ...query, serial: o.serial ? normalizeSerial(o.serial) : undefined }));
      },
      async (s) => {
        const q = new URLSearchParams();
        const { caId, validAt, expiresBefore, ...rest } = { ...query, serial: o.serial as string | undefined };
        for (const [k, v] of Object.entries({ ...rest, ca: caId, validAt: validAt?.toISOString(), expiresBefore: expiresBefore?.toISOString() }))
          if (v !== undefined) q.set(k, String(v));
        const { items } = await (await import('./beside.js')).callServer<{ items: CertificateJson[] }>(s, 'GET', `/api/v1/certificates?${q}`);
        print(items.map(await certFromApi()));
      },
    );
  });

ca.command('show <serial>')
  .description('Show one certificate')
  .option('--pem', 'print only the PEM')
  .action(async (serial: string, o) => {
    const show = (c: CertRow, reasonName: (n: number | null) => string | null) => {
      const pem = toPem('CERTIFICATE', c.der);
      if (o.pem) return void process.stdout.write(pem);
      out({ ...printable(c), certificate: pem }, () =>
        [
          `serial      ${c.serial}`,
          `subject     ${c.subject}`,
          `profile     ${c.profile}`,
          `ca          ${c.caId}`,
          `validity    ${c.notBefore.toISOString()} → ${c.notAfter.toISOString()}`,
          `status      ${c.status}${c.status !== 'good' ? ` (${reasonName(c.reason)}, ${c.revokedAt?.toISOString()})` : ''}`,
          `requested   ${c.requestedBy}${c.requestId ? ` (request ${c.requestId})` : ''}`,
          pem.trimEnd(),
        ].join('\n'),
      );
    };
    await withDb(
      async (db) => {
        const { getCert, normalizeSerial, reasonName } = await pkiRead();
        const c = await getCert(db, normalizeSerial(serial));
        if (!c) throw new TrucError('unknown_serial', `no certificate with serial ${serial}`);
        show(c, reasonName);
      },
      async (s) => {
        const j = await (await import('./beside.js')).callServer<CertificateJson>(s, 'GET', `/api/v1/certificates/${encodeURIComponent(serial)}`);
        show((await certFromApi())(j), (await pkiRead()).reasonName);
      },
    );
  });

// the other CA commands load the whole CA (issuance, profiles, CRLs); list and show read two tables
keyAgreementCommands(ca, { withPlatform, out, operator });
for (const cmd of ca.commands) if (!['list', 'show'].includes(cmd.name())) loadBefore(cmd, loadPki);

// ---- audit
const audit = program.command('audit').description('the hash-chained audit log');
audit
  .command('verify')
  .description('Recompute the audit hash chain with read access to the database alone; exits 0 intact, 1 broken, 3 cannot check')
  .option('--database-url <url>', 'the database to read (default: the configuration\'s; also TRUC_DATABASE_URL)')
  .action(async (o) => {
    let cfg: Config;
    try {
      cfg = config();
    } catch (e) {
      process.stderr.write(`không kiểm tra được / cannot check: ${(e as Error).message}\n`);
      process.exitCode = 3;
      return;
    }
    const { auditVerifyCommand } = await import('./audit-verify.js');
    await auditVerifyCommand(cfg, { databaseUrl: o.databaseUrl, json: !!program.opts().json });
  });
audit
  .command('list')
  .description('Show audit records, oldest first')
  .option('--actor <name>', 'only this actor (e.g. cli:root, a principal name)')
  .option('--action <action>', 'only this action (e.g. ca.issue, ca.revoke, ca.crl)')
  .option('--limit <n>', 'at most this many (1 to 1000)', wholeNumber, 50)
  .option('--after <seq>', 'records after this sequence number', wholeNumber)
  .action(async (o) =>
    withDb(async (db) => {
      const { searchAudit } = await import('../audit/index.js');
      const rows = await searchAudit(db, { actor: o.actor, action: o.action, limit: Number(o.limit), afterSeq: o.after });
      out(
        rows.map((r) => ({ ...r, prevHash: r.prevHash.toString('hex'), hash: r.hash.toString('hex') })),
        () => table(rows.map((r) => ({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, target: r.target ?? '', outcome: r.outcome })), ['seq', 'at', 'actor', 'action', 'target', 'outcome']),
      );
    }),
  );

// ---- tokens
const token = program.command('token').description('API principals: tokens and client certificates with roles');
loadBefore(token, loadAuth);
token
  .command('create')
  .description('Create an API token; the secret is printed once')
  .requiredOption('--name <name>', 'principal name (letters, digits, spaces, . _ @ -)')
  .requiredOption('--role <role>', `${ROLES.join(' | ')} (repeatable)`, collect)
  .action(async (o) =>
    withPlatform(async (p) => {
      const { principal, token: t } = await auth.createToken(p.db, o.name, o.role, operator());
      out({ ...principal, token: t }, () => t);
    }),
  );
token
  .command('add-cert')
  .description('Register a client certificate (PEM or DER, issued by our CA) as a principal')
  .requiredOption('--name <name>', 'principal name (letters, digits, spaces, . _ @ -)')
  .requiredOption('--cert <file>', 'the client certificate, PEM or DER')
  .requiredOption('--role <role>', `${ROLES.join(' | ')} (repeatable)`, collect)
  .action(async (o) =>
    withPlatform(async (p) => {
      const raw = readInput(o.cert, '--cert');
      const der = pemBlocks(raw.toString('latin1'), 'CERTIFICATE', 1)[0] ?? raw;
      const principal = await auth.registerCertificate(p.db, o.name, der, o.role, operator());
      out(principal, () => `registered ${principal.name} (${principal.roles.join(', ')})`);
    }),
  );
token
  .command('list')
  .description('List principals')
  .action(async () =>
    withDb(async (db) => {
      const rows = await auth.listPrincipals(db);
      out(rows, () => table(rows.map((r) => ({ name: r.name, kind: r.kind, roles: r.roles.join(','), revoked: r.revokedAt ? 'yes' : '' })), ['name', 'kind', 'roles', 'revoked']));
    }),
  );
token
  .command('revoke <name>')
  .description('Revoke a principal')
  .action(async (name) =>
    withPlatform(async (p) => {
      if (!(await auth.revokePrincipal(p.db, name, operator()))) throw new TrucError('not_found', `no active principal "${name}"`);
      out({ name, revoked: true }, () => `revoked ${name}`);
    }),
  );

labCommands(program, { withPlatform, out, operator });
monitorCommands(program);
huntCommand(program);
ocspCommand(program, config);
verifyCertCommand(program, config);
signCommands(program, { withPlatform, withDb, out, config });
vaultCommands(program, { withPlatform, out });
centralCommands(program, { withPlatform, out, operator, config });
docCommands(program, { out, config });
ssCommands(program, { withPlatform, out, operator, config, openLog: async (p, dir, lo) => (await import('../exchange/server/log-open.js')).openMessageLog(p.db, dir, { mode: p.config.exchange?.server?.logMode ?? 'full', ...lo }) });
logCommands(program, { withPlatform });
agentCommands(program);
program.parseAsync(process.argv).catch(fail);
