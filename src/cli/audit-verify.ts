/**
 * `truc audit verify` for an auditor: reads the audit chain with nothing but read access to the database —
 * no key store, no PIN or passphrase, no bus, no migrations, nothing written. One REPEATABLE READ, READ ONLY
 * transaction, so that records appended meanwhile by running processes neither break nor extend what is
 * checked. Exit codes: 0 intact, 1 broken, 3 cannot check (database unreachable, tables missing, the
 * embedded database in use).
 */
import { openDb, type Db } from '../store/index.js';
import { verifyAuditChain, type ChainReport } from '../audit/index.js';
import type { Config } from '../config.js';

export const AUDIT_EXIT = { intact: 0, broken: 1, cannotCheck: 3 } as const;

export type AuditVerifyOutcome = { ok: true; report: ChainReport } | { ok: false; report: ChainReport } | { error: string };

/** Verifies the chain of the database at `url`; never throws. */
export async function verifyAuditReadOnly(url: string): Promise<AuditVerifyOutcome> {
  let db: Db | undefined;
  try {
    db = await openDb({ url, poolSize: 1 });
  } catch (e) {
    return { error: `cannot open the database: ${(e as Error).message}` };
  }
  try {
    const report = await db.tx(async (sql) => {
      await sql.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      return verifyAuditChain(sql);
    });
    return report.ok ? { ok: true, report } : { ok: false, report };
  } catch (e) {
    return { error: `cannot read the audit log: ${(e as Error).message}` };
  } finally {
    await db.close().catch(() => {});
  }
}

/** Runs the command: prints the result (Vietnamese first, English beside) and sets the exit code. */
export async function auditVerifyCommand(cfg: Config, opts: { databaseUrl?: string; json?: boolean }): Promise<void> {
  const r = await verifyAuditReadOnly(opts.databaseUrl ?? cfg.database.url);
  const write = (s: string, err = false) => (err ? process.stderr : process.stdout).write(s + '\n');
  if ('error' in r) {
    if (opts.json) write(JSON.stringify({ ok: null, checked: false, error: r.error }));
    write(`không kiểm tra được chuỗi nhật ký kiểm toán / cannot check the audit chain: ${r.error}`, true);
    process.exitCode = AUDIT_EXIT.cannotCheck;
    return;
  }
  const rep = r.report;
  if (opts.json) write(JSON.stringify({ ...rep, checked: true }));
  else if (rep.ok) write(`chuỗi nhật ký kiểm toán nguyên vẹn / audit chain intact: ${rep.records} records`);
  else write(`CHUỖI NHẬT KÝ KIỂM TOÁN BỊ PHÁ VỠ / AUDIT CHAIN BROKEN at record ${rep.brokenAt}: ${rep.reason}`);
  process.exitCode = rep.ok ? AUDIT_EXIT.intact : AUDIT_EXIT.broken;
}
