/**
 * What the CA's operations run against: the database, the key stores, the loaded profiles, the algorithm
 * policy, the public URLs written into certificates, the event bus and a clock. Passed explicitly; the PKI
 * holds no global state.
 */
import type { Db, Sql } from '../store/index.js';
import type { KeyStores } from '../crypto/keystore.js';
import type { AlgorithmPolicy } from '../crypto/algorithms.js';
import type { Bus } from '../bus/index.js';
import { makeEvent } from '../bus/index.js';
import { transactional, type OutgoingEvent } from '../bus/outbox.js';
import { appendAudit, type AuditEntry } from '../audit/index.js';
import type { Profile } from './profile.js';

export interface PkiContext {
  db: Db;
  keys: KeyStores;
  profiles: Map<string, Profile>;
  policy: AlgorithmPolicy;
  /** base URL relying parties reach us at; CDP and AIA URLs are built from it */
  publicUrl: string;
  bus: Bus;
  clock: () => Date;
  crl: { validityHours: number; deltaValidityHours: number; deltas: boolean; publishOnRevocation?: boolean };
}

export const urls = {
  caCert: (ctx: PkiContext, caId: string) => `${ctx.publicUrl}/pki/ca/${caId}.cer`,
  crl: (ctx: PkiContext, caId: string) => `${ctx.publicUrl}/pki/crl/${caId}.crl`,
  deltaCrl: (ctx: PkiContext, caId: string) => `${ctx.publicUrl}/pki/crl/${caId}-delta.crl`,
  ocsp: (ctx: PkiContext) => `${ctx.publicUrl}/ocsp`,
};

/** A PKI event and its subject. */
export function pkiEvent(
  ctx: PkiContext,
  action: string,
  outcome: 'success' | 'failure',
  actor: string,
  truc: Record<string, unknown>,
  reason?: string,
): OutgoingEvent {
  return {
    subject: `truc.pki.${action}`,
    event: makeEvent('pki', action, outcome, {
      category: ['configuration', 'iam'],
      user: { name: actor },
      truc,
      reason,
      at: ctx.clock(),
    }),
  };
}

/** Publishes a PKI event; never lets a bus failure reach the operation that already committed. */
export function emit(
  ctx: PkiContext,
  action: string,
  outcome: 'success' | 'failure',
  actor: string,
  truc: Record<string, unknown>,
  reason?: string,
): void {
  if (!ctx.bus.listening(`truc.pki.${action}`)) return;
  const { subject, event } = pkiEvent(ctx, action, outcome, actor, truc, reason);
  ctx.bus.publish(subject, event).catch(() => {});
}

/**
 * Inside an operation's transaction: writes its events to the outbox when the bus has one, so that they
 * exist exactly when the operation committed. Returns whether it did; when not, the caller publishes with
 * `emit` after its commit. `events` is called only when they are written.
 */
export async function emitInTx(ctx: PkiContext, sql: Sql, events: () => OutgoingEvent[]): Promise<boolean> {
  const bus = transactional(ctx.bus);
  if (!bus) return false;
  await bus.enqueue(sql, events());
  return true;
}

/** After a commit whose events went to the outbox: relay them now. */
export function emitted(ctx: PkiContext): void {
  transactional(ctx.bus)?.kick();
}

/**
 * Audit records of an outcome (a refusal, a failure) and its event, together: with an outbox in one
 * transaction, so that a crash cannot keep one and lose the other; otherwise the records, then the event.
 * When that transaction fails the records are written on their own, then the event is published — each
 * kept if it can be (the database may be what failed: the event may still reach the monitor).
 */
export async function auditWithEvent(ctx: PkiContext, entries: AuditEntry[], event: OutgoingEvent): Promise<void> {
  let inOutbox = false;
  try {
    await ctx.db.tx(async (sql) => {
      await appendAudit(sql, entries, ctx.clock());
      inOutbox = await emitInTx(ctx, sql, () => [event]);
    });
  } catch {
    inOutbox = false;
    await ctx.db.tx((sql) => appendAudit(sql, entries, ctx.clock())).catch(() => {});
  }
  if (inOutbox) emitted(ctx);
  else if (ctx.bus.listening(event.subject)) ctx.bus.publish(event.subject, event.event).catch(() => {});
}
