/**
 * What the register runs against — the database, the key stores, the bus, the PKI (whose issuer makes the
 * lab's signing certificate) — and the one way a register change is committed: the rows and their audit
 * record in one transaction, then an event on the bus (`truc.lab.*`) once it is committed. A `Platform`
 * satisfies `LabContext` as it is.
 */
import { appendAudit, recordAudit } from '../../audit/index.js';
import { makeEvent, type Bus } from '../../bus/index.js';
import type { KeyStores } from '../../crypto/keystore.js';
import { isTrucError } from '../../errors.js';
import type { Issuer, PkiContext } from '../../pki/index.js';
import type { Db, Sql } from '../../store/index.js';

export interface LabContext {
  db: Db;
  keys: KeyStores;
  bus: Bus;
  pki: PkiContext;
  issuer: Issuer;
}

export interface Change {
  /** audit action and event name after `lab.`, e.g. `certificate.revoke` */
  action: string;
  target: string;
  detail?: Record<string, unknown>;
}

/** Runs `fn` and its audit record in one transaction; publishes `truc.lab.<action>` after the commit. */
export async function commit<T>(ctx: LabContext, actor: string, fn: (sql: Sql, now: Date) => Promise<{ result: T; change: Change }>): Promise<T> {
  const now = ctx.pki.clock();
  let change: Change | undefined;
  let result: T;
  try {
    result = await ctx.db.tx(async (sql) => {
      const r = await fn(sql, now);
      change = r.change;
      await appendAudit(sql, [{ actor, action: `lab.${r.change.action}`, target: r.change.target, outcome: 'success', detail: r.change.detail ?? {} }], now);
      return r.result;
    });
  } catch (e) {
    if (isTrucError(e) && e.status < 500 && (e.detail as { action?: string } | undefined)?.action) {
      const d = e.detail as { action: string; target?: string };
      await recordAudit(ctx.db, { actor, action: `lab.${d.action}`, target: d.target ?? null, outcome: 'failure', detail: { code: e.code, reason: e.message } }).catch(() => {});
      publish(ctx, actor, d.action, 'failure', { target: d.target, code: e.code }, e.message, now);
    }
    throw e;
  }
  publish(ctx, actor, change!.action, 'success', { target: change!.target, ...change!.detail }, undefined, now);
  return result;
}

function publish(ctx: LabContext, actor: string, action: string, outcome: 'success' | 'failure', truc: Record<string, unknown>, reason: string | undefined, at: Date): void {
  const event = makeEvent('lab', `lab.${action}`, outcome, { category: ['configuration'], user: { name: actor }, truc, reason, at });
  ctx.bus.publish(`truc.lab.${action}`, event).catch(() => {});
}
