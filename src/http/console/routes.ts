/**
 * The web console: the single-page app built from `web/` (Vite, into `web/dist`), served at `/console/`.
 * It is a client of the JSON APIs like any other — the browser sends the operator's bearer token on each
 * call — so serving it needs no credentials and adds no authentication of its own. What it adds is the
 * browser's defences: a content security policy that admits scripts and styles from this origin only
 * (no inline script), no framing, no MIME sniffing, no referrer. Hashed assets are cached for a year;
 * the page itself is revalidated each time, so a new build is picked up at the next load. Any other path
 * under `/console/` is a client route and gets the page (the app's router reads the path).
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TrucError } from '../../errors.js';
import { PROJECT_ROOT } from '../../config.js';
import type { Platform } from '../../platform.js';

export const DEFAULT_CONSOLE_DIR = join(PROJECT_ROOT, 'web', 'dist');
export const CONSOLE_PREFIX = '/console/';

/** where `truc agent` listens by default on the official's computer (src/cli/agent.ts) */
export const DEFAULT_SIGNING_AGENT = 'http://127.0.0.1:8477';

/**
 * The console's policy: this origin only, but for the official's signing agent on the loopback address,
 * which the signing page calls (the agent answers only this console's origin in turn).
 */
export function consoleCsp(signingAgent: string = DEFAULT_SIGNING_AGENT): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self' ${new URL(signingAgent).origin}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const SECURITY_HEADERS: Record<string, string> = {
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

export interface ConsoleOptions {
  /** the built app (default `web/dist` in the checkout) */
  dir?: string;
  /** the address of the officials' `truc agent` (default http://127.0.0.1:8477): a loopback http(s) URL */
  signingAgent?: string;
}

/** A loopback address, or a clear refusal: the agent runs on the official's own computer. */
export function signingAgentOrigin(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new TrucError('bad_request', `console.signingAgent is not a URL: ${v}`);
  }
  if (!/^https?:$/.test(u.protocol) || !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname))
    throw new TrucError('bad_request', `console.signingAgent must be a loopback http(s) address (the agent runs on the official's computer): ${v}`);
  return u.origin;
}

function notBuilt(dir: string): TrucError {
  return new TrucError(
    'not_found',
    'the web console is not built: run `npm run build:web` (scripts/start.sh does it when web/dist is missing or stale)',
    {
      dir,
      build: 'npm run build:web',
    },
  );
}

/** A file's bytes with its validator, or null when there is no such regular file. */
async function load(path: string): Promise<{ body: Buffer; etag: string } | null> {
  try {
    const s = await stat(path);
    if (!s.isFile()) return null;
    return {
      body: await readFile(path),
      etag: `W/"${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}"`,
    };
  } catch {
    return null;
  }
}

function send(
  req: FastifyRequest,
  reply: FastifyReply,
  file: { body: Buffer; etag: string },
  type: string,
  cache: string,
) {
  reply.header('cache-control', cache).header('etag', file.etag);
  if (req.headers['if-none-match'] === file.etag) return reply.status(304).send();
  return reply.type(type).send(file.body);
}

export async function consoleRoutes(
  app: FastifyInstance,
  p: Platform,
  opts: ConsoleOptions = {},
): Promise<void> {
  const dir = resolve(opts.dir ?? DEFAULT_CONSOLE_DIR);
  const agent = signingAgentOrigin(opts.signingAgent ?? DEFAULT_SIGNING_AGENT);
  const csp = consoleCsp(agent);
  const agentTag = createHash('sha256').update(agent).digest('hex').slice(0, 8);
  // the page tells the signing page where the agent is (a meta element: the policy admits no inline script)
  const agentMeta = `<meta name="truc-agent" content="${agent}">`;
  const page = (f: { body: Buffer; etag: string }) => ({
    body: Buffer.from(f.body.toString('utf8').replace('</head>', `${agentMeta}</head>`)),
    etag: f.etag.replace(/"$/, `-${agentTag}"`),
  });
  if (!(await load(join(dir, 'index.html'))))
    p.log.warn({ dir }, 'web console not built: /console/ answers 404 until `npm run build:web` has run');

  // every answer under /console — pages, assets, problems — carries the browser's defences
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('content-security-policy', csp);
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
    return payload;
  });

  app.get('/console', { schema: { hide: true } }, async (_req, reply) => reply.redirect(CONSOLE_PREFIX, 301));
  // the platform's address in a browser leads to the console (it answered 404)
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.redirect(CONSOLE_PREFIX, 302));

  app.get<{ Params: { '*': string } }>('/console/*', { schema: { hide: true } }, async (req, reply) => {
    const index = await load(join(dir, 'index.html'));
    if (!index) throw notBuilt(dir);
    const rest = req.params['*'] ?? '';
    const segments = rest.split('/');
    if (rest.includes('\0') || rest.includes('\\') || segments.some((s) => s === '..' || s === '.'))
      throw new TrucError('not_found', `no console file ${rest}`);
    const path = resolve(dir, ...segments.filter(Boolean));
    if (path !== dir && !path.startsWith(dir + sep))
      throw new TrucError('not_found', `no console file ${rest}`);

    if (rest && rest !== 'index.html') {
      const file = await load(path);
      // Vite names what it emits into assets/ by content hash: such a file never changes under its name
      if (file)
        return send(
          req,
          reply,
          file,
          TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
          segments[0] === 'assets' ? IMMUTABLE : REVALIDATE,
        );
      // a missing asset or file is a 404, not the page: a stale page asking for an old chunk must fail visibly
      if (segments[0] === 'assets' || extname(segments[segments.length - 1]!))
        throw new TrucError('not_found', `no console file ${rest}`);
    }
    return send(req, reply, page(index), TYPES['.html']!, REVALIDATE);
  });
}
