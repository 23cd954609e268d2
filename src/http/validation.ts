/**
 * What the management APIs (the CA's, the central server's, the security servers') share about requests
 * they refuse: how schemas are checked, and how a refused change is audited.
 *
 * Validation: Fastify's default removes the properties a schema does not know and coerces types (`"5000"`
 * for 5000, `["x"]` for `"x"`), so a misspelt or mistyped field is silently dropped or rewritten and the
 * change goes through as something the operator did not ask for. Here a JSON body is checked as it was
 * sent — an unknown member or a wrong type is a 400 naming it — while query strings and path parameters,
 * which are text by nature, may be read as the number or boolean their schema says (one value each: a
 * parameter given twice is refused, not turned into an array).
 */
import { Ajv } from 'ajv';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { recordAudit } from '../audit/index.js';
import { isTrucError, type ErrorCode } from '../errors.js';
import type { Platform } from '../platform.js';
import { isBodyError } from './json-body.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the audit action under which refusals of this (state-changing) route are recorded */
    auditAction?: string;
  }
}

/** RFC 3339 date-time, the one format these routes use. */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** Whether `v` is an RFC 3339 date-time that names a day of the calendar (not 2026-02-30: Date.parse rolls it over). */
export function isDateTime(v: string): boolean {
  const m = DATE_TIME.exec(v);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const last = new Date(0);
  last.setUTCFullYear(y, mo, 0); // day 0 of the next month: the last of this one (years below 100 as written)
  const days = last.getUTCDate();
  if (mo < 1 || mo > 12 || d < 1 || d > days || h > 23 || mi > 59 || s > 60) return false;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return false;
  return !Number.isNaN(Date.parse(v));
}

/**
 * The validator compiler of a management scope (`app.setValidatorCompiler(strictValidator())`): bodies
 * strict (no coercion, no removal, defaults filled), query strings, parameters and headers with scalars
 * coerced from their text. Properties a schema does not know are refused wherever the schema says
 * `additionalProperties: false`.
 */
export function strictValidator() {
  const formats = { 'date-time': isDateTime };
  const bodies = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false, formats });
  const text = new Ajv({ coerceTypes: true, useDefaults: true, removeAdditional: false, allErrors: false, formats });
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) => (httpPart === 'body' ? bodies : text).compile(schema);
}

/** The stable code the problem response will carry for an error the framework raised (see app.ts). */
export function frameworkCode(err: { code?: string }): ErrorCode {
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'too_large';
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'unsupported';
  return 'bad_request';
}

/** refusals the guard audits itself (src/http/auth/guard.ts) */
const GUARD_CODES = new Set(['unauthenticated', 'forbidden', 'rate_limited']);

export interface RefusalAuditOptions {
  /** an error its domain already audited (the central server audits the refusals of its registry) */
  audited?: (err: unknown) => boolean;
  /** what the refused change was about (default: the path) */
  target?: (req: FastifyRequest) => string;
  /** what the audit record carries besides the code, the reason and the address */
  detail?: (req: FastifyRequest) => Record<string, unknown>;
  /** refusals of callers without credentials are recorded too, as `anonymous` (routes open to the public) */
  anonymous?: boolean;
}

/**
 * Audits, under the caller's name, every change refused to an authenticated caller on the scope's routes
 * that name an `auditAction` — refused by the schema, by the body reader, by the route or by the domain —
 * unless the domain audited it already. The guard's own refusals (401, 403, 429) are audited by the guard;
 * faults (5xx that are not ours) are logged, not recorded as refusals.
 */
export function auditRefusals(app: FastifyInstance, p: Platform, o: RefusalAuditOptions = {}): void {
  app.addHook('onError', async (req, _reply, err: Error & { code?: string; statusCode?: number; validation?: unknown }) => {
    const action = req.routeOptions.config.auditAction;
    if (!action || (!req.principal && !o.anonymous)) return;
    if (isTrucError(err) && GUARD_CODES.has(err.code)) return;
    if (o.audited?.(err)) return;
    if (!isTrucError(err) && !isBodyError(err) && !err.validation && !(err.statusCode && err.statusCode >= 400 && err.statusCode < 500)) return;
    await recordAudit(p.db, {
      actor: req.principal?.name ?? 'anonymous',
      action,
      target: (o.target?.(req) ?? req.url.split('?')[0]!).slice(0, 200),
      outcome: 'failure',
      detail: { ...(o.detail?.(req) ?? {}), code: isTrucError(err) ? err.code : frameworkCode(err), reason: err.message.slice(0, 500), ip: req.ip },
    }).catch((e) => p.log.error({ err: e }, 'audit write failed'));
  });
}
