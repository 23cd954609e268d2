/**
 * The HTTP application: one Fastify instance carrying the roles this process runs. Shared behaviour lives
 * here — body limits, bounded JSON, binary content types, RFC 9457 problem responses for every error, the OpenAPI
 * document — and each role registers its routes from its own folder.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import { readFileSync } from 'node:fs';
import { TrucError, isTrucError, parserRefusal, toProblem } from '../errors.js';
import { isDataException } from '../store/text.js';
import type { Platform } from '../platform.js';
import { authRoutes } from './auth/routes.js';
import { auditLocalCalls } from './auth/guard.js';
import { caRoutes } from './ca/routes.js';
import { consoleRoutes } from './console/routes.js';
import { labRoutes } from './lab/routes.js';
import { ocspRoutes } from './ocsp/routes.js';
import { tsaRoutes } from './tsa/routes.js';
import type { OcspResponder } from '../pki/ocsp/index.js';
import type { TimeStampAuthority } from '../pki/tsa/index.js';
import { monitorRoutes } from './monitor/routes.js';
import type { MonitorService } from '../monitor/index.js';
import { centralRoutes } from './central/routes.js';
import type { CentralServer } from '../exchange/central/index.js';
import type { SecurityServer } from '../exchange/server/server.js';
import { exchangeRoutes } from './exchange/routes.js';
import { docRoutes, type DocRouteOptions } from './doc/routes.js';
import type { DocumentDesk } from '../exchange/edoc/desk.js';
import type { Scanner } from '../monitor/scan/index.js';
import { signRoutes } from './sign/routes.js';
import { vaultRoutes } from './vault/routes.js';
import { pathRedactor, redactProblem } from './redact.js';
import { bodyTooLarge, jsonBodyParser } from './json-body.js';
import { TRUC_VERSION } from '../version.js';

/** A route as the router holds it: what the abuse suite and the docs enumerate. */
export interface RouteSummary {
  method: string;
  url: string;
  /** bytes a body may carry on this route */
  bodyLimit: number;
  /** left out of the OpenAPI document */
  hidden: boolean;
}
const ROUTES = new WeakMap<FastifyInstance, RouteSummary[]>();

/** Every route `buildApp` registered on `app`, in registration order (HEAD routes Fastify adds included). */
export function routeTable(app: FastifyInstance): readonly RouteSummary[] {
  return ROUTES.get(app) ?? [];
}

export const BINARY_TYPES = [
  'application/pkcs10',
  'application/pkix-cert',
  'application/pkix-crl',
  'application/ocsp-request',
  'application/timestamp-query',
  'application/octet-stream',
  'application/pdf',
];

/** the longest path parameter the router takes (a 255-character message id, percent-encoded, fits) */
const MAX_PARAM_LENGTH = 1024;

export interface AppOptions {
  logger?: FastifyServerOptions['logger'];
  /** started services whose routes this app carries (startServer passes them) */
  ocsp?: OcspResponder;
  tsa?: TimeStampAuthority;
  monitor?: MonitorService;
  /** the exchange's central server: its management API, registration service and configuration download */
  central?: CentralServer;
  /** the security servers this process runs (their management API and message log) */
  securityServers?: () => SecurityServer[];
  /** the document desk of this process: its API (/api/v1/doc) and the provider endpoints its security server forwards to (/edoc) */
  docDesk?: DocumentDesk;
  docOptions?: DocRouteOptions;
  /** malware scanner for uploaded files (default: the monitor's, when it has one) */
  scanner?: Scanner;
  /** the built web console served at /console/ (default web/dist in the checkout) */
  consoleDir?: string;
  /**
   * parts this process starts after it listens (the demonstration axis and its desks): their state, shown by
   * /healthz and awaited by /readyz
   */
  startup?: () => Record<string, 'starting' | 'running' | 'failed'>;
  /** Node TLS options of a listener whose certificate the platform issues itself (./listener-tls.ts), instead of http.tls's files */
  https?: Record<string, unknown>;
}

export async function buildApp(p: Platform, opts: AppOptions = {}): Promise<FastifyInstance> {
  const tls = p.config.http.tls;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: p.config.http.bodyLimit,
    // slow clients (slowloris): a whole request within 2 minutes, its headers within 20 s (set below)
    requestTimeout: 120_000,
    // a path parameter may be as long as what it names: a message id (X-Road-Id) is up to 255 characters,
    // percent-encoded up to three times that; Fastify's 100 made the evidence of longer ids unreachable
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // what the router refuses before any route (a malformed percent-encoding, a parameter over the limit) is
    // a problem document in both languages too, not Fastify's plain JSON
    frameworkErrors: (err: Error & { code?: string }, req: FastifyRequest, reply: FastifyReply) => {
      const e =
        err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new TrucError('too_large', `một phần của đường dẫn dài quá ${MAX_PARAM_LENGTH} ký tự / a part of the path is longer than ${MAX_PARAM_LENGTH} characters`, { max: MAX_PARAM_LENGTH })
          : err.code === 'FST_ERR_BAD_URL'
            ? new TrucError('bad_request', 'đường dẫn có mã hoá phần trăm sai / the path holds a malformed percent-encoding')
            : new TrucError('bad_request', `yêu cầu không hợp lệ / bad request: ${String(err.message).slice(0, 200)}`);
      // 414 URI Too Long for a parameter over the router's limit, as Fastify answers it
      const problem = { ...toProblem(e, req.url.split('?')[0]!.slice(0, 200)), ...(err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? { status: 414, title: 'URI too long' } : {}) };
      void reply.status(problem.status).type('application/problem+json').send(problem);
    },
    // a client error Node answers itself (431 headers too large, 400 malformed, 408 timeout) is a problem document too
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: import('node:net').Socket) => {
      const { status, code } = parserRefusal(err);
      const title = status === 431 ? 'Request header fields too large' : status === 408 ? 'Request timeout' : 'Bad request';
      const body = JSON.stringify({ type: `urn:truc:error:${code}`, title, status, code, detail: title });
      if (socket.writable)
        socket.end(`HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      else socket.destroy(err);
    },
    ...(opts.https
      ? { https: opts.https }
      : tls
      ? {
          https: {
            cert: readFileSync(tls.cert),
            key: readFileSync(tls.key),
            ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}),
            requestCert: tls.requestClientCert,
            rejectUnauthorized: false, // unauthenticated clients get a 401 problem, not a TLS alert
          },
        }
      : {}),
  } as FastifyServerOptions);

  const routes: RouteSummary[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat())
      routes.push({ method, url: r.url ?? r.path, bodyLimit: r.bodyLimit ?? p.config.http.bodyLimit, hidden: (r.schema as { hide?: boolean } | undefined)?.hide === true });
  });
  app.server.headersTimeout = 20_000; // slow headers are cut after 20 s (Node checks every connectionsCheckingInterval)
  app.addContentTypeParser(BINARY_TYPES, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('application/x-pem-file', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  // JSON bodies are measured as they arrive, before they are parsed (./json-body.ts, src/json/scan.ts): the
  // route's byte limit, nesting, the number of values and names repeated in an object bounded, so that no
  // body makes JSON.parse build millions of objects or a structure that breaks the recursive walks after it,
  // and a hostile body is refused where it breaks a bound instead of after being read whole; prototype
  // poisoning (`__proto__`, `constructor.prototype`) refused as Fastify's parser did
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', jsonBodyParser(p.config.http.bodyLimit));

  const cutPaths = pathRedactor([p.config.dataDir, p.config.profilesDir, p.config.keys.software.dir]);
  app.setErrorHandler((err: any, req, reply) => {
    let e: unknown = err;
    // a refusal worded for the message path, English with its Vietnamese beside (`reason_vi`, e.g. an
    // identifier's check in src/exchange/ids.ts), reads in both languages here like the rest
    const vi = isTrucError(err) ? err.detail?.reason_vi : undefined;
    if (isTrucError(err) && typeof vi === 'string' && !err.message.includes(vi)) e = new TrucError(err.code, `${vi} / ${err.message}`, err.detail);
    if (!isTrucError(err)) {
      // what Fastify refuses itself, in both languages like the rest of our problem documents
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = bodyTooLarge(req.routeOptions?.bodyLimit ?? p.config.http.bodyLimit);
      else if (err.validation)
        e = new TrucError('bad_request', `yêu cầu không đúng lược đồ của nó (the request does not match its schema): ${String(err.message).slice(0, 500)}`, { errors: err.validation.slice(0, 20) });
      else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
        e = new TrucError('unsupported', `kiểu nội dung ${String(req.headers['content-type']).slice(0, 100)} không được nhận ở đây (content type ${String(req.headers['content-type']).slice(0, 100)} is not accepted here)`);
      else if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') e = new TrucError('bad_request', 'thân JSON rỗng (the JSON body is empty)');
      else if (err.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH')
        e = new TrucError('bad_request', 'thân yêu cầu không dài như Content-Length của nó (the request body is not as long as its Content-Length)');
      else if (err.statusCode && err.statusCode < 500) e = new TrucError('bad_request', `yêu cầu không hợp lệ (bad request): ${String(err.message).slice(0, 500)}`);
      // SQLSTATE class 22, data exception: a value from the request the database cannot hold (NUL in text,
      // a number out of range): the caller's error, and nothing was stored
      else if (isDataException(err))
        e = new TrucError('bad_request', `a value in the request cannot be stored: ${err.message}`, { sqlstate: err.code });
      else p.log.error({ err, url: req.url }, 'request failed');
    }
    const problem = redactProblem(toProblem(e, req.url.split('?')[0]), cutPaths);
    const retryAfter = isTrucError(e) ? e.detail?.retryAfter : undefined;
    if (typeof retryAfter === 'number') reply.header('Retry-After', String(retryAfter));
    reply.status(problem.status).type('application/problem+json').send(problem);
  });
  app.setNotFoundHandler((req, reply) => {
    const problem = toProblem(new TrucError('not_found', `không có đường dẫn / no route ${req.method} ${req.url.split('?')[0]}`));
    reply.status(404).type('application/problem+json').send(problem);
  });

  auditLocalCalls(app, p); // before the routes: a hook of the root reaches every scope registered after it
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Trục API', version: TRUC_VERSION, description: 'Trust and secure-exchange platform for e-government' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'API token (truc_…)' },
        },
      },
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // liveness: the process answers; its late parts' states beside
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok', ...(opts.startup ? { parts: opts.startup() } : {}) }));
  // readiness: 503 while a part started after listening (the demonstration axis) is still starting — what a
  // script or a newcomer waits for before the first call through the axis; a part that failed does not hold it
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const parts = opts.startup?.() ?? {};
    const starting = Object.entries(parts).filter(([, v]) => v === 'starting').map(([k]) => k);
    if (starting.length)
      return reply.code(503).header('retry-after', '2').send({ status: 'starting', parts, vi: `Đang khởi động: ${starting.join(', ')}`, en: `still starting: ${starting.join(', ')}` });
    return { status: 'ready', parts };
  });

  await app.register(async (scope) => authRoutes(scope, p));
  await app.register(async (scope) => caRoutes(scope, p));
  await app.register(async (scope) => labRoutes(scope, p));
  if (opts.ocsp) await app.register(async (scope) => ocspRoutes(scope, opts.ocsp!));
  if (opts.tsa) await app.register(async (scope) => tsaRoutes(scope, opts.tsa!));
  if (opts.monitor) await app.register(async (scope) => monitorRoutes(scope, p, opts.monitor!));
  if (opts.central) await app.register(async (scope) => centralRoutes(scope, p, opts.central!));
  if (opts.securityServers) await app.register(async (scope) => exchangeRoutes(scope, p, { servers: opts.securityServers! }));
  if (opts.docDesk) await app.register(async (scope) => docRoutes(scope, p, opts.docDesk!, opts.docOptions ?? {}));
  const scanner = opts.scanner ?? opts.monitor?.scanner;
  await app.register(async (scope) => signRoutes(scope, p, { ...(scanner ? { scanner } : {}), ...(opts.tsa ? { tsa: opts.tsa } : {}), ...(opts.ocsp ? { ocsp: opts.ocsp } : {}) }));
  await app.register(async (scope) => vaultRoutes(scope, p));
  await app.register(async (scope) =>
    consoleRoutes(scope, p, { ...(opts.consoleDir ? { dir: opts.consoleDir } : {}), ...(p.config.console?.signingAgent ? { signingAgent: p.config.console.signingAgent } : {}) }),
  );
  return app;
}
