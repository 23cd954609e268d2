/**
 * Who is asking, and may they. Every API request is authenticated (a bearer API token, or a TLS client
 * certificate from our CA that is registered to a principal and not revoked) and checked against the
 * route's permission. Failures are answered 401/403 as problem documents, written to the audit log and
 * published as events, so the monitoring part sees token guessing, denied operations and revoked
 * certificates in use. Successes are published too (for access outside working hours), but only once per
 * principal, source address and minute.
 */
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TrucError } from '../../errors.js';
import { recordAudit } from '../../audit/index.js';
import { makeEvent } from '../../bus/index.js';
import type { Platform } from '../../platform.js';
import { getCert } from '../../pki/index.js';
import { allows, LOCAL_CLI_ROLE, type Permission } from './roles.js';
import { principalForCertificate, principalForToken, type Principal } from './store.js';
import { Throttle } from './throttle.js';
import { DenialAggregator, SourceLimiter, type Denial } from './limit.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /** the permission this request was admitted under, when its every call is audited (auditLocalCalls) */
    auditedCall?: Permission;
  }
}

/** Who was admitted, or why nobody was (a refused certificate's serial and status, for the event). */
type Authenticated =
  | { principal: Principal; via: 'token' | 'certificate' }
  | { principal: null; refused?: { reason: 'certificate_revoked'; serial: string; status: string } };

async function authenticate(p: Platform, req: FastifyRequest): Promise<Authenticated> {
  const h = req.headers.authorization;
  if (h) {
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    const principal = m ? await principalForToken(p.db, m[1]) : null;
    return principal ? { principal, via: 'token' } : { principal: null };
  }
  const socket = req.raw.socket as TLSSocket;
  if (typeof socket.getPeerCertificate === 'function' && socket.authorized) {
    const peer = socket.getPeerCertificate(false);
    if (!peer?.raw) return { principal: null };
    const serial = peer.serialNumber.toLowerCase().replace(/^(00)+/, '');
    const known = await getCert(p.db, serial);
    // a revoked or held certificate authenticates nobody, and its use is worth an alert
    if (known && known.status !== 'good') return { principal: null, refused: { reason: 'certificate_revoked', serial, status: known.status } };
    const principal = await principalForCertificate(p.db, peer.raw);
    return principal ? { principal, via: 'certificate' } : { principal: null };
  }
  return { principal: null };
}

// one throttle per platform (a test process runs several); in memory: a restart only publishes a few more
const throttles = new WeakMap<Platform, Throttle>();

/** Per-platform limiter, denial aggregator and a throttle for rate_limited events. */
interface Limits {
  limiter: SourceLimiter;
  denials: DenialAggregator;
  limitedEvents: Throttle;
}
const limitsOf = new WeakMap<Platform, Limits>();

/** The per-source limiter and denial aggregator of a platform (created on first use from config.http.rateLimit). */
export function platformLimits(p: Platform): Limits {
  let l = limitsOf.get(p);
  if (!l) {
    const limiter = new SourceLimiter(p.config.http.rateLimit ?? {});
    const denials = new DenialAggregator(limiter.opts.denialWindowMs, (d, count, from, to) => writeDenial(p, d, count, from, to));
    l = { limiter, denials, limitedEvents: new Throttle(10_000) };
    limitsOf.set(p, l);
  }
  return l;
}

/** One audit record for a denial, or for `count` more denials of the same source and kind in a window. */
function writeDenial(p: Platform, d: Denial, count: number, from?: number, to?: number): Promise<void> {
  return recordAudit(p.db, {
    actor: d.actor,
    action: d.action,
    target: d.target,
    outcome: 'denied',
    detail: {
      reason: d.reason,
      ip: d.source,
      method: d.method,
      ...(count > 1 || from !== undefined ? { count, from: new Date(from!).toISOString(), to: new Date(to!).toISOString(), aggregated: true } : {}),
    },
  })
    .then(() => undefined)
    .catch((e) => p.log.error({ err: e }, 'audit write failed'));
}

/** Refuse a source whose bucket is empty: 429 with Retry-After, published (throttled) for monitoring. */
/** A source over its per-source limit: a (throttled) security event, Retry-After, and a 429 problem in both languages. */
export function limited(p: Platform, req: FastifyRequest, reply: FastifyReply, wait: number, l: Limits, reason = 'per-source request limit reached before authentication'): never {
  if (l.limitedEvents.allow(req.ip, Date.now())) {
    const event = makeEvent('http', 'rate_limited', 'failure', {
      at: p.pki.clock(),
      category: ['network'],
      source: { ip: req.ip },
      url: { path: req.url.split('?')[0] },
      http: { request: { method: req.method } },
      reason,
    });
    published(p, 'truc.http.rate_limited', event);
  }
  reply.header('Retry-After', String(wait));
  throw new TrucError('rate_limited', `quá nhiều yêu cầu từ ${req.ip}; hãy thử lại sau ${wait} giây / too many requests from ${req.ip}; retry after ${wait} s`, { retryAfter: wait });
}

function published(p: Platform, subject: string, event: ReturnType<typeof makeEvent>): void {
  p.bus.publish(subject, event).catch((err) => p.log.warn({ err, subject }, 'security event not published'));
}

function succeeded(p: Platform, req: FastifyRequest, principal: Principal, via: 'token' | 'certificate'): void {
  const at = p.pki.clock();
  let t = throttles.get(p);
  if (!t) throttles.set(p, (t = new Throttle()));
  if (!t.allow(`${principal.name}\u0000${req.ip}`, at.getTime())) return;
  const event = makeEvent('http', 'auth.succeeded', 'success', {
    at,
    category: ['authentication'],
    user: { name: principal.name, roles: principal.roles },
    source: { ip: req.ip },
    url: { path: req.url.split('?')[0] },
    http: { request: { method: req.method } },
    truc: { via },
  });
  published(p, 'truc.http.auth.succeeded', event);
}

function tokenHint(req: FastifyRequest): string | undefined {
  const m = /^Bearer\s+truc_([0-9a-f]{16})_/i.exec(req.headers.authorization ?? '');
  return m ? `token:${m[1]}` : undefined;
}

/**
 * Whether the route asks for a client certificate only (`http.clientCertRoutes`: path prefixes of routes on
 * which a bearer token does not authenticate — issue 13, client certificates per route).
 */
export function clientCertOnly(prefixes: readonly string[] | undefined, path: string): boolean {
  if (!prefixes?.length) return false;
  return prefixes.some((pre) => path === pre || path.startsWith(pre.endsWith('/') ? pre : `${pre}/`));
}

async function refuse(
  p: Platform,
  req: FastifyRequest,
  kind: 'unauthenticated' | 'forbidden',
  permission: Permission,
  refused?: { reason: string; serial?: string; status?: string },
): Promise<never> {
  const actor = req.principal?.name ?? tokenHint(req) ?? (refused ? `certificate:${refused.serial}` : 'anonymous');
  // the first denial of a source, kind and reason in a window is written now; the rest of the window is
  // counted and written as one record with its count, so that strangers cannot queue writes on the audit
  // chain's head lock (which issuance also takes)
  const denial: Denial = { source: req.ip, kind, actor, action: permission, target: req.url.slice(0, 200), method: req.method, reason: refused?.reason ?? kind };
  if (platformLimits(p).denials.note(denial, Date.now())) {
    if (refused) {
      await recordAudit(p.db, {
        actor,
        action: permission,
        target: denial.target,
        outcome: 'denied',
        detail: { reason: refused.reason, ip: req.ip, method: req.method, ...(refused.serial ? { serial: refused.serial } : {}) },
      }).catch((e) => p.log.error({ err: e }, 'audit write failed'));
    } else await writeDenial(p, denial, 1);
  }
  const event = makeEvent('http', kind === 'unauthenticated' ? 'auth.failed' : 'access.denied', 'failure', {
    at: p.pki.clock(),
    category: kind === 'unauthenticated' ? ['authentication'] : ['iam'],
    user: { name: actor, ...(req.principal ? { roles: req.principal.roles } : {}) },
    source: { ip: req.ip },
    url: { path: req.url.split('?')[0] },
    http: { request: { method: req.method } },
    truc: { permission, ...(refused?.serial ? { certificate: { serial: refused.serial, status: refused.status } } : {}) },
    reason: refused?.reason ?? kind,
  });
  published(p, `truc.http.${event.event.action}`, event);
  if (refused?.reason === 'client_certificate_required')
    throw new TrucError(
      'unauthenticated',
      'tuyến này chỉ nhận chứng thư máy khách do CA của nền tảng cấp, không nhận mã truy cập / this route accepts only a client certificate from the platform\'s CA, not an API token',
      { reason: refused.reason },
    );
  if (kind === 'unauthenticated')
    throw new TrucError('unauthenticated', 'cần mã truy cập API hợp lệ hoặc chứng thư máy khách / a valid API token or client certificate is required');
  const roles = req.principal!.roles.join(', ');
  throw new TrucError('forbidden', `vai trò ${roles} không có quyền ${permission} / role(s) ${roles} may not ${permission}`, { permission });
}

/** A hook (onRequest, so that strangers are refused before their body is read) admitting only principals whose roles grant `permission`. */
export function guard(p: Platform, permission: Permission) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    // per-source limit before the credentials are looked up: a flood costs a map lookup, not a query
    const l = platformLimits(p);
    const wait = l.limiter.take(req.ip, Date.now());
    if (wait) return limited(p, req, reply, wait, l);
    const a = await authenticate(p, req);
    if (!a.principal) {
      l.limiter.charge(req.ip, Date.now());
      return refuse(p, req, 'unauthenticated', permission, a.refused);
    }
    // routes the operator keeps for client certificates (http.clientCertRoutes): a token is not enough
    if (a.via !== 'certificate' && clientCertOnly(p.config.http.clientCertRoutes, req.routeOptions?.url ?? req.url.split('?')[0]!)) {
      l.limiter.charge(req.ip, Date.now());
      return refuse(p, req, 'unauthenticated', permission, { reason: 'client_certificate_required' });
    }
    const principal = (req.principal = a.principal);
    succeeded(p, req, principal, a.via);
    if (!allows(principal.roles, permission)) return refuse(p, req, 'forbidden', permission);
    if (principal.roles.includes(LOCAL_CLI_ROLE)) req.auditedCall = permission;
  };
}

/** The operating-system user a local `truc` command says it runs as (`x-truc-operator`, URI-encoded), as `cli:<user>`. */
function operatorOf(req: FastifyRequest): string | undefined {
  const h = req.headers['x-truc-operator'];
  if (typeof h !== 'string' || !h) return undefined;
  let name = h;
  try {
    name = decodeURIComponent(h);
  } catch {
    // kept as sent
  }
  return `cli:${name.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 64)}`;
}

/**
 * Every call admitted for the local command line's token (role `cli-local`: `truc verify` and `truc ca
 * list` beside a running `truc start`) is written to the audit log before its answer leaves — actor
 * `cli:local`, the permission as the action, the path, the status and the operating-system user the command
 * named — as the same command run on a stopped folder is recorded as `cli:<user>`. Reads by other principals
 * are not audited (their changes audit themselves; their refusals are audited by the guard).
 */
export function auditLocalCalls(app: FastifyInstance, p: Platform): void {
  app.addHook('onSend', async (req, reply, payload) => {
    const action = req.auditedCall;
    if (!action) return payload;
    req.auditedCall = undefined;
    const operator = operatorOf(req);
    await recordAudit(p.db, {
      actor: req.principal!.name,
      action,
      target: req.url.split('?')[0].slice(0, 200),
      outcome: reply.statusCode < 400 ? 'success' : 'failure',
      detail: { method: req.method, status: reply.statusCode, ip: req.ip, ...(operator ? { operator } : {}) },
    }).catch((e) => p.log.error({ err: e }, 'audit write failed'));
    return payload;
  });
}
