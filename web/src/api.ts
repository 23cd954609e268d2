import { tr } from './i18n';
/**
 * The console's only way to the platform: JSON over fetch with the operator's bearer token. Errors come
 * back as RFC 9457 problem documents; they are thrown as `ApiProblem` so a page can show what the API said.
 * A 401 means the token no longer works (revoked, or the server forgot it): the session is ended and the
 * sign-in page says why.
 */
import { session } from './session';
import { dispositionName } from './disposition';

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  code?: string;
  instance?: string;
  [k: string]: unknown;
}

export class ApiProblem extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${problem.status}`);
  }
  get status(): number {
    return this.problem.status;
  }
}

type Query = Record<string, string | number | boolean | undefined | null>;

export function queryString(q: Query = {}): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

async function problemOf(r: Response): Promise<Problem> {
  const text = await r.text().catch(() => '');
  try {
    const j = JSON.parse(text);
    if (j && typeof j === 'object')
      return { ...j, status: typeof j.status === 'number' ? j.status : r.status };
  } catch {
    // not JSON: a proxy's page, a network error page
  }
  return {
    status: r.status,
    title: r.statusText || 'error',
    detail: text.slice(0, 300) || `HTTP ${r.status}`,
  };
}

const unreachable = (e: unknown) =>
  new ApiProblem({
    status: 0,
    title: 'network',
    code: 'network',
    detail: `${tr('không kết nối được máy chủ', 'cannot reach the server')}: ${(e as Error).message}`,
  });

/** Calls the API; `token` overrides the session's (the sign-in page checks a token before keeping it). */
export async function api<T>(
  path: string,
  /** `text`: a body sent as it is, with `contentType` (a document the API keeps as given), instead of JSON */
  init: { method?: string; body?: unknown; text?: string; contentType?: string; query?: Query; token?: string } = {},
): Promise<T> {
  const token = init.token ?? session.token();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.text !== undefined) headers['content-type'] = init.contentType ?? 'text/plain; charset=utf-8';
  else if (init.body !== undefined) headers['content-type'] = 'application/json';
  let r: Response;
  try {
    r = await fetch(path + queryString(init.query), {
      method: init.method ?? 'GET',
      headers,
      body: init.text !== undefined ? init.text : init.body === undefined ? undefined : JSON.stringify(init.body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    throw unreachable(e);
  }
  if (!r.ok) {
    const problem = await problemOf(r);
    if (r.status === 401 && !init.token) session.expire(problem.detail ?? 'unauthenticated');
    throw new ApiProblem(problem);
  }
  if (r.status === 204) return undefined as T;
  return (await r.json()) as T;
}

export const post = <T>(path: string, body: unknown = {}) => api<T>(path, { method: 'POST', body });
export const patch = <T>(path: string, body: unknown) => api<T>(path, { method: 'PATCH', body });

/**
 * Downloads a file the API serves (with the session's token, so not a plain link): saved under the name the
 * server gives in Content-Disposition, else `fallbackName`. A refusal is thrown as `ApiProblem`, as `api()` does.
 */
export async function download(path: string, fallbackName: string): Promise<void> {
  const token = session.token();
  let r: Response;
  try {
    r = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {}, credentials: 'omit', cache: 'no-store' });
  } catch (e) {
    throw unreachable(e);
  }
  if (!r.ok) {
    const problem = await problemOf(r);
    if (r.status === 401) session.expire(problem.detail ?? 'unauthenticated');
    throw new ApiProblem(problem);
  }
  const url = URL.createObjectURL(await r.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = dispositionName(r.headers.get('content-disposition')) ?? fallbackName;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
