/**
 * A product behind an HTTP/JSON endpoint that takes ACVP-shaped prompts: `POST {url}/acvp` with a vector
 * set, answered with the ACVP response (`{vsId, testGroups: [{tgId, tests: [{tcId, …}]}]}`), and
 * `GET {url}/info` naming the product. Whole ACVP sets go through as they are; Wycheproof questions the
 * ACVP shapes can carry (AES-GCM, HMAC, SHA) become one-test prompts.
 */
import { fromHex, toHex } from '../hex.js';
import { adapterError, type HashName, type ProductAdapter, unsupported } from '../product.js';

export interface HttpProductOptions {
  url: string;
  timeoutMs?: number;
  concurrency?: number;
  headers?: Record<string, string>;
}

const MAX_RESPONSE = 32 * 1024 * 1024;
const ACVP_SHA: Partial<Record<HashName, string>> = { 'SHA-1': 'SHA-1', 'SHA-224': 'SHA2-224', 'SHA-256': 'SHA2-256', 'SHA-384': 'SHA2-384', 'SHA-512': 'SHA2-512' };

export async function openHttpProduct(o: HttpProductOptions): Promise<ProductAdapter> {
  const base = o.url.replace(/\/+$/, '');
  const timeoutMs = o.timeoutMs ?? 30_000;

  const request = async (path: string, body?: unknown): Promise<Record<string, unknown>> => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json', ...o.headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw adapterError(`HTTP ${path}: ${(e as Error).message}`, undefined, e);
    }
    const text = await res.text();
    if (text.length > MAX_RESPONSE) throw adapterError(`HTTP ${path}: response too large`);
    if (res.status === 501) throw unsupported(text.slice(0, 200) || path);
    if (!res.ok) throw adapterError(`HTTP ${path}: status ${res.status}`, { body: text.slice(0, 500) });
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw adapterError(`HTTP ${path}: response is not JSON`);
    }
  };

  /** One test in, its answer out. */
  const one = async (algorithm: string, group: Record<string, unknown>, test: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const resp = (await request('/acvp', { vsId: 0, algorithm, revision: '1.0', testGroups: [{ tgId: 1, testType: 'AFT', ...group, tests: [{ tcId: 1, ...test }] }] })) as {
      testGroups?: { tests?: Record<string, unknown>[] }[];
    };
    const t = resp.testGroups?.[0]?.tests?.[0];
    if (!t) throw adapterError(`HTTP /acvp: no answer for the test`);
    return t;
  };

  const info = await request('/info');
  return {
    info: { name: String(info.name ?? base), version: String(info.version ?? 'unknown'), adapter: 'http', concurrency: o.concurrency ?? 16 },

    async acvp(prompt) {
      return request('/acvp', prompt);
    },

    async aeadEncrypt(p) {
      if (p.alg !== 'AES-GCM') throw unsupported(`AEAD ${p.alg} over ACVP`);
      const g = { direction: 'encrypt', keyLen: p.key.length * 8, ivLen: p.iv.length * 8, payloadLen: p.msg.length * 8, aadLen: p.aad.length * 8, tagLen: p.tagSize * 8, ivGen: 'external' };
      const t = await one('ACVP-AES-GCM', g, { key: toHex(p.key), iv: toHex(p.iv), pt: toHex(p.msg), aad: toHex(p.aad) });
      if (t.testPassed === false) throw new Error('product refused');
      return { ct: fromHex(String(t.ct ?? ''), 'ct'), tag: fromHex(String(t.tag ?? ''), 'tag') };
    },

    async aeadDecrypt(p) {
      if (p.alg !== 'AES-GCM') throw unsupported(`AEAD ${p.alg} over ACVP`);
      const g = { direction: 'decrypt', keyLen: p.key.length * 8, ivLen: p.iv.length * 8, payloadLen: p.ct.length * 8, aadLen: p.aad.length * 8, tagLen: p.tagSize * 8, ivGen: 'external' };
      const t = await one('ACVP-AES-GCM', g, { key: toHex(p.key), iv: toHex(p.iv), ct: toHex(p.ct), aad: toHex(p.aad), tag: toHex(p.tag) });
      if (t.testPassed === false) throw new Error('authentication failed');
      return fromHex(String(t.pt ?? ''), 'pt');
    },

    async macCompute(p) {
      const sha = p.alg.startsWith('HMAC-') ? ACVP_SHA[p.alg.slice(5) as HashName] : undefined;
      if (!sha) throw unsupported(`MAC ${p.alg} over ACVP`);
      const algorithm = `HMAC-${sha}`;
      const t = await one(algorithm, { keyLen: p.key.length * 8, msgLen: p.msg.length * 8, macLen: p.tagSize * 8 }, { key: toHex(p.key), msg: toHex(p.msg) });
      return fromHex(String(t.mac ?? ''), 'mac');
    },

    async hash(p) {
      const algorithm = ACVP_SHA[p.alg];
      if (!algorithm) throw unsupported(`hash ${p.alg} over ACVP`);
      const t = await one(algorithm, {}, { msg: toHex(p.msg), len: p.msg.length * 8 });
      return fromHex(String(t.md ?? ''), 'md');
    },
  };
}
