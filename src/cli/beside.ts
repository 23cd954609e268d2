/**
 * Commands beside a running `truc start`. PGlite is one process's database: while the server holds the
 * data folder, a command that would open it is refused by the lock (`lockDataDir`, exit 5). `truc verify`
 * and `truc ca list`/`ca show` then go through the server's API instead, with the token the server wrote
 * to `<data>/server.json` (./server-file.ts) — only when the lock's owner is the live process that wrote
 * it, on a loopback URL — and print what they would have printed on a stopped folder, saying on stderr
 * which way they went. Other commands keep the refusal, naming the API that does the same.
 */
import { request } from 'node:http';
import { userInfo } from 'node:os';
import type { Config } from '../config.js';
import { isTrucError, TrucError, type ErrorCode } from '../errors.js';
import { alive } from '../store/process-lock.js';
import { isLoopback, readServerFile, SERVER_FILE } from './server-file.js';

export interface LocalServer {
  url: string;
  token: string;
  pid: number;
  /** the command going through it, as `refusalFor` names it */
  command: string;
  /** the lock's refusal, given again (with the reason) when the server does not answer */
  refusal: TrucError;
}

/** The HTTP API doing what each command does, for the refusal of a command that cannot go through the server. */
const API_OF: Record<string, string> = {
  'ca list': 'GET /api/v1/certificates',
  'ca show': 'GET /api/v1/certificates/{serial}',
  'ca cas': 'GET /pki/ca',
  'ca issue': 'POST /api/v1/certificates',
  'ca revoke': 'POST /api/v1/certificates/{serial}/revoke',
  'ca release': 'POST /api/v1/certificates/{serial}/release',
  'ca crl': 'POST /api/v1/cas/{ca}/crl',
  'audit list': 'GET /api/v1/audit',
  verify: 'POST /api/v1/validate',
  sign: 'POST /api/v1/sign (a key the platform holds), /tsa (time-stamps)',
  'sign prepare': 'POST /api/v1/sign/prepare',
  'sign complete': 'POST /api/v1/sign/complete',
  augment: 'POST /api/v1/augment',
  'vault encrypt': 'POST /api/v1/vault/encrypt',
  'vault decrypt': 'POST /api/v1/vault/decrypt',
};

/** The lock's refusal: the embedded database is open in another live process. */
function lockRefusal(e: unknown): e is TrucError & { detail: { pid: number; lock: string } } {
  return (
    isTrucError(e) &&
    e.code === 'conflict' &&
    typeof e.detail?.pid === 'number' &&
    typeof e.detail?.lock === 'string'
  );
}

/** The lock's refusal of `command`, with the API to use instead (and why the server was not gone through); any other error as it is. */
export function refusalFor(e: unknown, command: string, why?: string): unknown {
  if (!lockRefusal(e)) return e;
  const api = API_OF[command];
  const hint = api
    ? `API của máy chủ cho lệnh này / the server's API for this command: ${api}`
    : 'lệnh này không có API tương ứng: dừng máy chủ trước / this command has no API: stop the server first';
  return new TrucError('conflict', `${e.message}${why ? ` (${why})` : ''} — ${hint}`, e.detail);
}

/**
 * The running server to go through, when `e` is the lock's refusal and `<data>/server.json` names the lock's
 * live owner on a loopback URL; otherwise the reason it is not gone through (undefined for an error that is
 * not the lock's).
 */
export function serverHolding(
  cfg: Config,
  e: unknown,
  command: string,
): LocalServer | { why: string } | undefined {
  if (!lockRefusal(e)) return undefined;
  const info = readServerFile(cfg.dataDir);
  if (!info) return { why: `không có / no ${SERVER_FILE}` };
  if (info.pid !== e.detail.pid || !alive(info.pid))
    return { why: `${SERVER_FILE} của tiến trình khác / is another process's` };
  if (!isLoopback(info.url))
    return { why: `${info.url} không phải địa chỉ loopback / is not a loopback address` };
  return { url: info.url.replace(/\/$/, ''), token: info.token, pid: info.pid, command, refusal: e };
}

/** The operating-system user, for the server's audit record (as `cli:<user>` is recorded on a stopped folder). */
function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** The refusal again: the server did not answer, or no longer takes the token (it is stopping). */
const unreachable = (s: LocalServer, reason: string) =>
  refusalFor(
    s.refusal,
    s.command,
    `máy chủ tại ${s.url} không trả lời / the server at ${s.url} did not answer: ${reason}`,
  ) as TrucError;

const MAX_WAITS = 5;

interface Answer {
  status: number;
  retryAfter: number;
  text: string;
}

/** One HTTP exchange (node:http rather than fetch: a command then does not load undici and its WebAssembly parser). */
function exchange(
  s: LocalServer,
  method: string,
  path: string,
  body?: { data: Buffer | string; type: string },
): Promise<Answer> {
  const data = body ? Buffer.from(body.data) : undefined;
  return new Promise((resolve, reject) => {
    const req = request(`${s.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${s.token}`,
        'x-truc-operator': encodeURIComponent(osUser()),
        ...(body && data ? { 'content-type': body.type, 'content-length': data.length } : {}),
      },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          retryAfter: Number(res.headers['retry-after']) || 1,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.end(data);
  });
}

/**
 * One call to the running server's API. A problem answer is thrown as the TrucError it carries (its code,
 * detail and status, as the same failure would be thrown here); a server that does not answer, or refuses
 * the token, gives the lock's refusal again; `429` is waited out, a few times.
 */
export async function callServer<T>(
  s: LocalServer,
  method: 'GET' | 'POST',
  path: string,
  body?: { data: Buffer | string; type: string },
): Promise<T> {
  for (let waits = 0; ; waits++) {
    let res: Answer;
    try {
      res = await exchange(s, method, path, body);
    } catch (e) {
      throw unreachable(s, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
    }
    if (res.status >= 200 && res.status < 300) return JSON.parse(res.text) as T;
    let problem: { code?: string; detail?: string; title?: string; [k: string]: unknown } = {};
    try {
      problem = JSON.parse(res.text) as typeof problem;
    } catch {
      // not a problem document: said by its status
    }
    if (res.status === 401) throw unreachable(s, `${res.status} ${problem.detail ?? ''}`.trim());
    if (res.status === 429 && waits < MAX_WAITS) {
      await new Promise((r) => setTimeout(r, Math.min(res.retryAfter, 10) * 1000));
      continue;
    }
    const { code, detail, title, status: _s, type: _t, instance: _i, ...rest } = problem;
    throw new TrucError((code as ErrorCode) ?? 'internal', detail ?? title ?? `HTTP ${res.status}`, rest);
  }
}

/** What stderr says when a command goes through the server. */
export const viaServerNotice = (s: LocalServer) =>
  `truc: qua máy chủ đang chạy / via the running server at ${s.url} (pid ${s.pid})\n`;
