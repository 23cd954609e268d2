/**
 * `truc agent`: the official's local signing agent. It listens on the loopback address only and answers
 * only the console's origin (the Origin header, checked on every request and in CORS preflights); it lists
 * the certificates on the official's token and signs data to be signed (from `POST /api/v1/sign/prepare`)
 * — one document or a batch under one approval — never without the official's confirmation: every request
 * shows what would be signed (titles, hash of each data to be signed, the requesting site, the certificate)
 * and asks for the PIN on the token's terms. A refusal, a wrong or locked PIN, a token removed: each a clear
 * answer, nothing signed.
 *
 * GET  /v1/token                   → { label, manufacturer, model, serial, pin: ok|count_low|final_try|locked, warning? }
 * GET  /v1/certificates            → [{ id, label, certificate, subject, issuer, notAfter }]
 * POST /v1/sign { certificateId, scheme, items: [{ dataToBeSigned, title }] }
 *                                  → { signatures: [base64, …] } in the order of the items
 *
 * A batch the token stops part-way (pulled out): the error's status and code, with `signatures` (base64 for
 * each item signed before, null for the rest), `errors` (null, or why that item is unsigned) and `signed`
 * (how many): what was signed stays usable on its own, the rest is signed by a new request once the token
 * is back — a new approval and PIN, since the token's login went with it.
 */
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { SignatureScheme } from '../crypto/algorithms.js';
import { AgentError, listCertificates, signBatchOnToken, tokenStatus, type PinState, type TokenCertificate, type TokenRef } from './token.js';

export const AGENT_MAX_ITEMS = 100;
const MAX_BODY = 1024 * 1024;

/** What the official is asked to approve. */
export interface SignRequest {
  /** the console that asks (its origin) */
  site: string;
  certificate: TokenCertificate;
  items: { title: string; sha256: string }[];
  /** the token's PIN state: count_low and final_try are to be told before the PIN is typed */
  pin: PinState;
  /** what that state means, Vietnamese / English */
  pinWarning?: string;
}

/** Asks the official: the PIN to sign with, or null to decline. */
export type Confirm = (r: SignRequest) => Promise<{ pin: string } | null>;

export interface AgentOptions {
  token: TokenRef;
  /** the console's origin, e.g. https://truc.bo-noi-vu.gov.vn — the only one answered */
  origin: string;
  /** default 8477; 0 for any free port */
  port?: number;
  confirm: Confirm;
  /** a line per request for the official's terminal (default none) */
  log?: (line: string) => void;
}

export interface RunningAgent {
  url: string;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, body: unknown, cors?: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...(cors ? { 'access-control-allow-origin': cors, vary: 'Origin' } : {}) });
  res.end(JSON.stringify(body));
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > MAX_BODY) throw new AgentError('too_large', 413, `yêu cầu quá lớn / the request is larger than ${MAX_BODY} bytes`);
    parts.push(c as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(parts).toString('utf8'));
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // below
  }
  throw new AgentError('bad_request', 400, 'yêu cầu không phải JSON hợp lệ / the request is not a JSON object');
}

/** Puts words around a "Vietnamese / English" message, each language in its half. */
function both(message: string, viBefore: string, enBefore: string, viAfter = '', enAfter = ''): string {
  const cut = message.indexOf(' / ');
  const [vi, en] = cut < 0 ? [message, message] : [message.slice(0, cut), message.slice(cut + 3)];
  return `${viBefore}${vi}${viAfter} / ${enBefore}${en}${enAfter}`;
}

export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const origin = new URL(o.origin).origin;
  const log = o.log ?? (() => {});
  // one approval at a time: two prompts on one terminal cannot both be answered
  let busy: Promise<unknown> = Promise.resolve();
  const server = http.createServer((req, res) => {
    void (async () => {
      const from = req.headers.origin;
      if (from !== origin) {
        log(`từ chối nguồn gọi / refused origin: ${from ?? '(none)'}`);
        req.resume();
        return send(res, 403, { code: 'origin_not_allowed', message: 'nguồn gọi không được phép / origin not allowed' });
      }
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-origin': origin,
          'access-control-allow-methods': 'GET, POST',
          'access-control-allow-headers': 'content-type',
          'access-control-allow-private-network': 'true',
          'access-control-max-age': '600',
          vary: 'Origin',
        });
        return res.end();
      }
      const path = (req.url ?? '/').split('?')[0];
      try {
        if (req.method === 'GET' && path === '/v1/token') return send(res, 200, tokenStatus(o.token), origin);
        if (req.method === 'GET' && path === '/v1/certificates') return send(res, 200, listCertificates(o.token), origin);
        if (req.method === 'POST' && path === '/v1/sign') {
          const b = await readJson(req);
          const items = Array.isArray(b.items) ? b.items : [];
          if (!items.length || items.length > AGENT_MAX_ITEMS) throw new AgentError('bad_request', 400, `từ 1 đến ${AGENT_MAX_ITEMS} văn bản / 1 to ${AGENT_MAX_ITEMS} items`);
          const data = items.map((it: { dataToBeSigned?: unknown; title?: unknown }, i: number) => {
            if (typeof it?.dataToBeSigned !== 'string' || !/^[A-Za-z0-9+/=]+$/.test(it.dataToBeSigned)) throw new AgentError('bad_request', 400, `items[${i}].dataToBeSigned: base64`);
            return { dtbs: Buffer.from(it.dataToBeSigned, 'base64'), title: typeof it.title === 'string' ? it.title.slice(0, 300) : `(${i + 1})` };
          });
          const cert = listCertificates(o.token).find((c) => c.id === b.certificateId);
          if (!cert) throw new AgentError('unknown_certificate', 404, `không có chứng thư ${String(b.certificateId).slice(0, 80)} trên thiết bị / no such certificate on the token`);
          const scheme = String(b.scheme ?? '') as SignatureScheme;
          const run = async (): Promise<{ status: number; body: Record<string, unknown> }> => {
            // a locked PIN is said at once: asking for a PIN the token will refuse helps no one
            const token = tokenStatus(o.token);
            if (token.pin === 'locked') throw new AgentError('pin_locked', 423, token.warning!, { pin: 'locked' });
            const answer = await o.confirm({ site: origin, certificate: cert, items: data.map((d) => ({ title: d.title, sha256: createHash('sha256').update(d.dtbs).digest('hex') })), pin: token.pin, ...(token.warning ? { pinWarning: token.warning } : {}) });
            if (!answer) {
              log(`người dùng từ chối / declined: ${data.length} văn bản`);
              throw new AgentError('declined', 403, 'người dùng đã từ chối ký / the official declined to sign');
            }
            const r = await signBatchOnToken(o.token, answer.pin, cert.id, scheme, data.map((d) => d.dtbs));
            const signatures = r.signatures.map((s) => s?.toString('base64') ?? null);
            if (!r.error) {
              log(`đã ký / signed: ${data.length} văn bản, ${cert.subject}`);
              return { status: 200, body: { signatures } };
            }
            const e = r.error;
            const signed = signatures.filter((s) => s !== null).length;
            const at = r.failedAt! + 1;
            log(`dừng ở văn bản ${at} / stopped at item ${at}: ${e.code}; đã ký / signed ${signed}/${data.length}`);
            const unsigned = { code: e.code, message: both(e.message, 'chưa ký văn bản này: ', 'this document was not signed: ') };
            return {
              status: e.status,
              body: {
                code: e.code,
                message: both(e.message, `đã ký ${signed}/${data.length} văn bản, dừng ở văn bản ${at} «${data[r.failedAt!]!.title}»: `, `${signed} of ${data.length} signed, stopped at item ${at}: `, ' — các văn bản đã ký vẫn hợp lệ; ký tiếp các văn bản còn lại khi thiết bị sẵn sàng', ' — the signed ones stand; sign the rest once the token is back'),
                ...e.extra,
                signed,
                signatures,
                errors: signatures.map((s) => (s === null ? unsigned : null)),
              },
            };
          };
          const p = busy.then(run, run);
          busy = p.catch(() => {});
          const { status, body } = await p;
          return send(res, status, body, origin);
        }
        req.resume();
        return send(res, 404, { code: 'not_found', message: 'không có / not found' }, origin);
      } catch (e) {
        const a = e instanceof AgentError ? e : new AgentError('internal', 500, (e as Error).message);
        return send(res, a.status, { code: a.code, message: a.message, ...a.extra }, origin);
      }
    })();
  });
  server.headersTimeout = 20_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // loopback only, whatever the caller wishes: the agent is for the machine it runs on
    server.listen(o.port ?? 8477, '127.0.0.1', () => resolve());
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${a.port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
