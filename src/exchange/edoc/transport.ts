/**
 * The desk's side of X-Road REST: a POST to its own security server's information-system endpoint
 * (`{ssUrl}/r1/{instance}/{class}/{member}/{subsystem}/edoc/…` with `X-Road-Client`), the body streamed
 * from the desk folder, the answer read whole up to a bound (it is a small JSON or problem document).
 */
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

export interface XroadAnswer {
  status: number;
  /** the `X-Road-Error` header: X-Road's fault type when the axis refused (Trục's stable code is the body's `code`) */
  xroadError?: string;
  body: unknown;
}

const MAX_ANSWER = 1024 * 1024;

export function servicePath(provider: string, service: string): string {
  return `/r1/${provider.split('/').map(encodeURIComponent).join('/')}/${service}`;
}

/** POSTs `body` and resolves with the answer; rejects on network failures (which are retried). */
export function post(url: string, headers: Record<string, string>, body: Buffer | AsyncIterable<Buffer>, timeoutMs: number): Promise<XroadAnswer> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise<XroadAnswer>((resolve, reject) => {
    let settled = false;
    const done = (f: () => void) => {
      if (!settled) {
        settled = true;
        f();
      }
    };
    const req = mod.request(u, { method: 'POST', headers: Buffer.isBuffer(body) ? { ...headers, 'content-length': String(body.length) } : { ...headers, 'transfer-encoding': 'chunked' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n <= MAX_ANSWER) chunks.push(c);
      });
      res.on('error', (e) => done(() => reject(e)));
      res.on('end', () =>
        done(() => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            /* not JSON: kept as text */
          }
          const xe = res.headers['x-road-error'];
          // a refusal by the axis comes with X-Road's 400/500; the body's `status` keeps Trục's finer one
          // (403 access denied, 404 unknown service, …), which tells a permanent refusal from a passing one
          const own = typeof xe === 'string' && parsed && typeof parsed === 'object' && Number.isInteger((parsed as { status?: unknown }).status) ? (parsed as { status: number }).status : undefined;
          resolve({ status: own ?? res.statusCode ?? 0, ...(typeof xe === 'string' ? { xroadError: xe } : {}), body: parsed });
        }),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    // an early answer (a refusal before the whole body was read) is still the answer
    req.on('error', (e) => done(() => reject(e)));
    if (Buffer.isBuffer(body)) req.end(body);
    else {
      const src = Readable.from(body);
      src.on('error', (e) => req.destroy(e));
      src.pipe(req);
    }
  });
}
