/**
 * OCSP responses for this server's own certificates (authentication and signing). Each server fetches its
 * own, without a nonce so they can be cached, refreshes them before they go stale, and sends them with
 * every message, so that peers never have to reach the CA's responder on the message path.
 */
import type { Logger } from 'pino';
import { TrucError } from '../../errors.js';
import { buildOcspRequest, parseCertificate, type Certificate } from '../../pki/path/index.js';
import { evaluateOcsp, parseOcspResponse } from '../../pki/path/ocsp.js';
import { issuerOfCert } from '../../pki/path/issuer.js';
import type { GlobalConf } from '../conf/global.js';

/** Posts an OCSP request to `url` and answers the response's bytes; throws when there is no usable answer. */
export type OcspFetcher = (url: string, request: Buffer, signal?: AbortSignal) => Promise<Buffer>;

const MAX_OCSP_BYTES = 64 * 1024;

/**
 * The one HTTP OCSP client of the exchange (a server's own responses, the central server's check at approval):
 * 10 s unless the caller's signal says otherwise, and at most 64 KiB read — a responder is trusted for its
 * signature, not for its size, so a larger answer is cut off as it streams, never read whole.
 */
export const httpOcspFetcher: OcspFetcher = async (url, request, signal = AbortSignal.timeout(10_000)) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' }, body: new Uint8Array(request), signal });
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    throw new TrucError('peer_failed', `the OCSP responder ${url} answered ${res.status}`);
  }
  const tooLarge = () => new TrucError('too_large', `the OCSP response from ${url} is too large (more than ${MAX_OCSP_BYTES} bytes)`);
  if (Number(res.headers.get('content-length')) > MAX_OCSP_BYTES) {
    await res.body.cancel().catch(() => undefined);
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    size += value.length;
    if (size > MAX_OCSP_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(Buffer.from(value));
  }
};

interface Held {
  cert: Buffer;
  response: Buffer | null;
  b64: string;
  fetchedAt: number;
  lastError?: string;
}

/** Where the last responses are kept between runs (the server's database: `ServerStore.ownOcsp`). */
export interface OwnStatusCache {
  load(name: string, cert: Buffer): Promise<{ response: Buffer; fetchedAt: Date } | undefined>;
  save(name: string, cert: Buffer, response: Buffer, fetchedAt: Date): Promise<void>;
}

export class OwnStatus {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly fetcher: OcspFetcher,
    private readonly log: Logger,
    private readonly clock: () => Date = () => new Date(),
    private readonly cache?: OwnStatusCache,
  ) {}

  /**
   * The responses kept from the last run, for certificates that have none yet: a server restarted while the
   * CA's responder is away sends what it held (peers judge its age, as before the restart), and the next
   * refresh replaces it as usual.
   */
  async restore(): Promise<void> {
    if (!this.cache) return;
    for (const [name, h] of this.held) {
      if (h.response) continue;
      try {
        const kept = await this.cache.load(name, h.cert);
        if (!kept) continue;
        h.response = kept.response;
        h.b64 = kept.response.toString('base64');
        h.fetchedAt = kept.fetchedAt.getTime();
      } catch (e) {
        this.log.warn({ err: e, cert: name }, 'the OCSP response kept for an own certificate could not be read');
      }
    }
  }

  set(name: string, cert: Buffer): void {
    const h = this.held.get(name);
    if (!h || !h.cert.equals(cert)) this.held.set(name, { cert, response: null, b64: '', fetchedAt: 0 });
  }

  /** the held response for a certificate (empty when none could be fetched yet) */
  response(name: string): Buffer {
    return this.held.get(name)?.response ?? Buffer.alloc(0);
  }

  /** the held response as it travels in message headers */
  base64(name: string): string {
    return this.held.get(name)?.b64 ?? '';
  }

  status(): { name: string; fetchedAt: string | null; lastError?: string }[] {
    return [...this.held.entries()].map(([name, h]) => ({ name, fetchedAt: h.fetchedAt ? new Date(h.fetchedAt).toISOString() : null, ...(h.lastError ? { lastError: h.lastError } : {}) }));
  }

  /** Fetches responses that are missing or older than half the freshness limit (or all, with `force`). */
  async refresh(conf: GlobalConf, force = false): Promise<void> {
    const now = this.clock().getTime();
    const halfLife = (conf.settings.ocspFreshnessSeconds * 1000) / 2;
    await Promise.all(
      [...this.held.entries()].map(async ([name, h]) => {
        if (!force && h.response && now - h.fetchedAt < halfLife) return;
        try {
          h.response = await this.fetch(conf, h.cert, halfLife);
          h.b64 = h.response.toString('base64');
          h.fetchedAt = this.clock().getTime();
          delete h.lastError;
          await this.cache?.save(name, h.cert, h.response, new Date(h.fetchedAt)).catch((e) => this.log.warn({ err: e, cert: name }, 'the OCSP response of an own certificate could not be kept for the next run'));
        } catch (e) {
          h.lastError = (e as Error).message;
          this.log.warn({ err: e, cert: name }, 'OCSP response for an own certificate could not be fetched');
        }
      }),
    );
  }

  private async fetch(conf: GlobalConf, certDer: Buffer, maxAgeMs: number): Promise<Buffer> {
    const cert = parseCertificate(certDer);
    for (const ca of conf.approvedCAs()) {
      const candidates = [ca.certificate, ...ca.intermediates].map((b) => Buffer.from(b, 'base64'));
      const issuer = candidates.find((c) => parseCertificate(c).subject.der.equals(cert.issuer.der));
      if (!issuer) continue;
      const urls = [...ca.ocspUrls, ...cert.ocspUrls];
      const issuerCert = parseCertificate(issuer);
      const req = buildOcspRequest(certDer, issuer);
      let last: unknown;
      for (const url of urls) {
        try {
          // only an answer peers will accept is held: a responder that says tryLater or internalError, an
          // answer about another certificate, a bad signature or an unknown status would otherwise be sent
          // with every message for half the freshness limit, and every peer would refuse them (ocsp_stale)
          const first = await this.fetcher(url, req);
          const a = checkAnswer(first, cert, issuerCert, this.clock());
          if (typeof a !== 'string' && this.clock().getTime() - a <= maxAgeMs) return first;
          // a pre-signed answer older than peers accept (their freshness limit), or an unusable one: ask
          // again with a nonce, which a responder must answer with a response signed now
          const again = await this.fetcher(url, buildOcspRequest(certDer, issuer, { nonce: true }));
          const b = checkAnswer(again, cert, issuerCert, this.clock());
          if (typeof b === 'string') throw new TrucError('peer_failed', `máy chủ OCSP ${url} trả lời không dùng được / the OCSP responder ${url} gave no usable answer: ${b}`);
          return again;
        } catch (e) {
          last = e;
        }
      }
      throw last ?? new TrucError('peer_failed', 'no OCSP responder is known for the certificate');
    }
    throw new TrucError('cert_invalid', 'the certificate is not issued by a CA the global configuration approves');
  }
}

/**
 * The answer's thisUpdate in ms when the response is one a peer can use as evidence (successful, signed by
 * the CA or its delegate, about this certificate, good or revoked, current); otherwise why not.
 */
function checkAnswer(der: Buffer, cert: Certificate, issuer: Certificate, now: Date): number | string {
  const p = parseOcspResponse(der);
  if (typeof p === 'string') return p;
  const r = evaluateOcsp(p, cert, issuerOfCert(issuer), now);
  if (!r.ok) return r.why;
  if (r.answer.status === 'unknown') return 'the responder does not know the certificate (status unknown)';
  return r.answer.thisUpdate.getTime();
}

/**
 * One fresh OCSP response for a certificate the server does not hold as its own — a member's encryption
 * certificate, a new authentication certificate before it is in use — from the responders of the CA the
 * configuration approves for it, fetched as the server fetches its own (`ocsp_stale`, naming `what`, when
 * none answers).
 */
export async function fetchOcspOnce(conf: GlobalConf, der: Buffer, log: Logger, clock: () => Date, what: { vi: string; en: string }): Promise<Buffer> {
  const own = new OwnStatus(httpOcspFetcher, log, clock);
  own.set('once', der);
  await own.refresh(conf, true);
  const ocsp = own.response('once');
  if (!ocsp.length) throw new TrucError('ocsp_stale', `không lấy được phản hồi OCSP cho ${what.vi} / no OCSP response for ${what.en}: ${own.status()[0]?.lastError ?? 'unknown'}`);
  return ocsp;
}
