/**
 * Audit: an append-only, hash-chained record of every operation (who, what, when, outcome), written in the
 * same transaction as the operation, and a verifier that recomputes the chain.
 */
export { type AuditEntry, type AuditRecord, canonicalJson } from './chain.js';
export {
  auditMigrations,
  appendAudit,
  appendChained,
  chainAudit,
  extendAudit,
  AUDIT_COPY_FROM,
  type AuditHead,
  type ChainedAudit,
  recordAudit,
  verifyAuditChain,
  searchAudit,
  assertChainOk,
  type ChainReport,
  type AuditQuery,
} from './log.js';
export { checkAuditChain } from './check.js';
