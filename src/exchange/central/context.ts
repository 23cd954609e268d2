/**
 * What the central server's operations run against — database, key stores, bus, clock, log, the instance
 * it serves — and the two things every operation does: write an audit record in the transaction of the
 * change, and publish a `truc.exchange.central.*` event after it committed (a bus failure never undoes a
 * committed change). Settings live in the database so that every central process sharing it agrees.
 */
import type { Logger } from 'pino';
import type { Db, Sql } from '../../store/index.js';
import type { KeyStores } from '../../crypto/keystore.js';
import { makeEvent, type Bus } from '../../bus/index.js';
import { appendAudit, recordAudit } from '../../audit/index.js';
import { isTrucError, TrucError } from '../../errors.js';
import { bumpRevision, getSettings } from './store.js';

export interface CentralSettings {
  /** OCSP responses older than this are stale (registration, and security servers through the configuration) */
  ocspFreshnessSeconds: number;
  /** how often security servers should fetch the configuration */
  refreshSeconds: number;
  /** how long a generated configuration may be used */
  validitySeconds: number;
  /** how often the central server looks whether a new version is due */
  generateIntervalSeconds: number;
  /** approve valid registration requests at once (off by default: an operator approves) */
  autoApprove: boolean;
  /** how far a registration request's time may be from ours */
  maxClockSkewSeconds: number;
  /** the registration service's HTTPS URL, published in the private parameters */
  registrationUrl: string;
  /** SHA-256 hex of the central server's TLS certificate, published for security servers to pin */
  centralTlsCertHash: string;
  /** where the configuration is downloaded from: `{confBaseUrl}/conf/{instance}` (written into the anchor) */
  confBaseUrl: string;
  /** the member owning the central server */
  managementMember: { memberClass: string; memberCode: string } | null;
  /**
   * X-Road's central monitoring client: a subsystem that may read every security server's operational
   * data and health (getSecurityServerOperationalData, getSecurityServerHealthData), not only its own
   */
  monitoringClient: { memberClass: string; memberCode: string; subsystemCode: string } | null;
  memberClasses: { code: string; description: string }[];
}

export const DEFAULT_CENTRAL_SETTINGS: CentralSettings = {
  ocspFreshnessSeconds: 3600,
  refreshSeconds: 60,
  validitySeconds: 600,
  generateIntervalSeconds: 60,
  autoApprove: false,
  maxClockSkewSeconds: 300,
  registrationUrl: '',
  centralTlsCertHash: '',
  confBaseUrl: 'http://127.0.0.1:8080',
  managementMember: null,
  monitoringClient: null,
  memberClasses: [
    { code: 'GOV', description: 'Cơ quan nhà nước trung ương (central government)' },
    { code: 'PROV', description: 'Chính quyền địa phương (provincial government)' },
    { code: 'COM', description: 'Doanh nghiệp (companies)' },
    { code: 'ORG', description: 'Tổ chức khác (other organisations)' },
  ],
};

export interface CentralContext {
  db: Db;
  keys: KeyStores;
  bus: Bus;
  clock: () => Date;
  log?: Logger;
  instance: string;
}

export async function loadSettings(sql: Sql): Promise<CentralSettings> {
  const stored = await getSettings(sql);
  const out: Record<string, unknown> = { ...DEFAULT_CENTRAL_SETTINGS };
  for (const k of Object.keys(DEFAULT_CENTRAL_SETTINGS)) if (k in stored) out[k] = stored[k];
  return out as unknown as CentralSettings;
}

/** Publishes a central event; never throws. */
export function emit(ctx: CentralContext, action: string, outcome: 'success' | 'failure', actor: string, truc: Record<string, unknown>, reason?: string, ip?: string): void {
  const subject = `truc.exchange.central.${action}`;
  if (!ctx.bus.listening(subject)) return;
  const event = makeEvent('exchange', action, outcome, {
    category: ['configuration'],
    user: { name: actor },
    truc: { component: 'central', instance: ctx.instance, ...truc },
    reason,
    at: ctx.clock(),
    ...(ip ? { source: { ip } } : {}),
  });
  ctx.bus.publish(subject, event).catch((e) => ctx.log?.warn({ err: e, subject }, 'event not published'));
}

export interface Change<T> {
  actor: string;
  /** audit action and event name, e.g. `member.add` (audited as `central.member.add`) */
  action: string;
  target: string;
  detail?: Record<string, unknown>;
  /** whether the change alters what the configuration says (default true) */
  confChange?: boolean;
  run: (sql: Sql) => Promise<T>;
}

/**
 * Runs a change in one transaction with its audit record (and a revision bump), then publishes its event.
 * A refusal (TrucError) is audited and published as a failure, then thrown on.
 */
export async function change<T>(ctx: CentralContext, c: Change<T>): Promise<T> {
  try {
    const out = await ctx.db.tx(async (sql) => {
      const r = await c.run(sql);
      if (c.confChange !== false) await bumpRevision(sql);
      await appendAudit(sql, [{ actor: c.actor, action: `central.${c.action}`, target: c.target, outcome: 'success', detail: c.detail ?? {} }], ctx.clock());
      return r;
    });
    emit(ctx, c.action, 'success', c.actor, { target: c.target, ...(c.detail ?? {}) });
    return out;
  } catch (e) {
    await refused(ctx, c.actor, c.action, c.target, e);
    throw e;
  }
}

const auditedRefusals = new WeakSet<object>();

/**
 * Whether a refusal was audited here already: the HTTP routes audit what is refused before the central
 * server sees it (the schema, the body, a certificate that is not PEM), and not what it audited itself.
 */
export function auditedRefusal(e: unknown): boolean {
  return typeof e === 'object' && e !== null && auditedRefusals.has(e);
}

/** Audits and publishes a refused operation (TrucErrors only: anything else is a fault, logged by the caller). */
export async function refused(ctx: CentralContext, actor: string, action: string, target: string, e: unknown, ip?: string): Promise<void> {
  if (!isTrucError(e)) return;
  auditedRefusals.add(e);
  await recordAudit(ctx.db, {
    actor,
    action: `central.${action}`,
    target: target.slice(0, 200),
    outcome: 'failure',
    detail: { code: e.code, reason: e.message.slice(0, 500), ...(e.detail && typeof e.detail.reason === 'string' ? { why: e.detail.reason } : {}), ...(ip ? { ip } : {}) },
  }).catch((err) => ctx.log?.error({ err }, 'audit write failed'));
  emit(ctx, `${action}.refused`, 'failure', actor, { target: target.slice(0, 200), code: e.code, ...(e.detail && typeof e.detail.reason === 'string' ? { why: e.detail.reason } : {}) }, e.message.slice(0, 300), ip);
}

/** A change refused because what it would create exists: `message` in Vietnamese with English beside. */
export const conflict = (message: string, detail?: Record<string, unknown>) => new TrucError('conflict', message, detail);
