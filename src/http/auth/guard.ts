/**
 * Who is asking, and may they. Every API request is authenticated (a bearer API token, or a TLS client
 * certificate from our CA that is registered to a principal and not revoked) and checked against the
 * route's permission. Failures are answered 401/403 as problem documents, written to the audit log and
 * published as events, so the monitoring part sees token guessing and denied operations.
 */
import type { TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TrucError } from '../../errors.js';
import { recordAudit } from '../../audit/index.js';
import { makeEvent } from '../../bus/index.js';
import type { Platform } from '../../platform.js';
import { getCert } from '../../pki/index.js';
import { allows, type Permission } from './roles.js';
import { principalForCertificate, principalForToken, type Principal } from './store.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

async function authenticate(p: Platform, req: FastifyRequest): Promise<Principal | null> {
  const h = req.headers.authorization;
  if (h) {
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    return m ? principalForToken(p.db, m[1]) : null;
  }
  const socket = req.raw.socket as TLSSocket;
  if (typeof socket.getPeerCertificate === 'function' && socket.authorized) {
    const peer = socket.getPeerCertificate(false);
    if (!peer?.raw) return null;
    const known = await getCert(p.db, peer.serialNumber.toLowerCase().replace(/^(00)+/, ''));
    if (known && known.status !== 'good') return null; // a revoked or held certificate authenticates nobody
    return principalForCertificate(p.db, peer.raw);
  }
  return null;
}

function tokenHint(req: FastifyRequest): string | undefined {
  const m = /^Bearer\s+truc_([0-9a-f]{16})_/i.exec(req.headers.authorization ?? '');
  return m ? `token:${m[1]}` : undefined;
}

async function refuse(
  p: Platform,
  req: FastifyRequest,
  kind: 'unauthenticated' | 'forbidden',
  permission: Permission,
): Promise<never> {
  const actor = req.principal?.name ?? tokenHint(req) ?? 'anonymous';
  await recordAudit(p.db, {
    actor,
    action: permission,
    target: req.url.slice(0, 200),
    outcome: 'denied',
    detail: { reason: kind, ip: req.ip, method: req.method },
  }).catch((e) => p.log.error({ err: e }, 'audit write failed'));
  const event = makeEvent('http', kind === 'unauthenticated' ? 'auth.failed' : 'access.denied', 'failure', {
    category: kind === 'unauthenticated' ? ['authentication'] : ['iam'],
    user: { name: actor, ...(req.principal ? { roles: req.principal.roles } : {}) },
    source: { ip: req.ip },
    url: { path: req.url.split('?')[0] },
    http: { request: { method: req.method } },
    truc: { permission },
    reason: kind,
  });
  p.bus.publish(`truc.http.${event.event.action}`, event).catch(() => {});
  if (kind === 'unauthenticated')
    throw new TrucError('unauthenticated', 'a valid API token or client certificate is required');
  throw new TrucError('forbidden', `role(s) ${req.principal!.roles.join(', ')} may not ${permission}`, { permission });
}

/** A preHandler that admits only principals whose roles grant `permission`. */
export function guard(p: Platform, permission: Permission) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const principal = await authenticate(p, req);
    if (!principal) return refuse(p, req, 'unauthenticated', permission);
    req.principal = principal;
    if (!allows(principal.roles, permission)) return refuse(p, req, 'forbidden', permission);
  };
}
