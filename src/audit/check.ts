/**
 * Verifying the chain on request: the report, plus an event on the bus when the chain is broken, so that
 * tampering with the audit log raises an alert in the monitoring part.
 */
import type { Sql } from '../store/index.js';
import { makeEvent, type Bus } from '../bus/index.js';
import { verifyAuditChain, type ChainReport } from './log.js';

export async function checkAuditChain(db: Sql, bus: Bus, actor: string): Promise<ChainReport> {
  const r = await verifyAuditChain(db);
  const event = makeEvent('audit', r.ok ? 'audit.chain.verified' : 'audit.chain.broken', r.ok ? 'success' : 'failure', {
    category: ['configuration'],
    user: { name: actor },
    truc: { records: r.records, brokenAt: r.brokenAt },
    reason: r.reason,
  });
  await bus.publish(`truc.audit.${event.event.action.slice('audit.'.length)}`, event).catch(() => {});
  return r;
}
