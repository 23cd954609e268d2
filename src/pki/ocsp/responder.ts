/**
 * The OCSP responder: answers OCSPRequests for every CA of the platform from an in-memory status map,
 * signs with a delegated responder certificate per issuing CA (provisioned at start and renewed when two
 * thirds of its life is gone) or with the CA's own key (the root, or `signWith: 'ca'`).
 *
 * Fast path (RFC 5019): every known certificate's response is signed ahead, in the single-CertID SHA-1
 * and SHA-256 forms clients send, and re-signed before nextUpdate; a request whose bytes match one is
 * answered with the cached DER and no parsing. Status changes arrive as bus events (the version bump is
 * synchronous with the revoking call) and, for changes made by other processes, from polling the status
 * sequence; the certificate's responses are re-signed at once. Everything else — nonces, several CertIDs,
 * unusual encodings, certificates issued elsewhere — is parsed and signed on demand.
 *
 * `respond` never throws: malformed input answers malformedRequest, an unknown issuer unauthorized, a
 * failure internalError.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { NULL, octets, oid, seq, uintFromBytes } from '../../asn1/der.js';
import { SCHEMES } from '../../crypto/algorithms.js';
import { isTrucError } from '../../errors.js';
import type { SecurityEvent } from '../../bus/index.js';
import { parseCertificate } from '../path/certificate.js';
import { listCas, type CaRow } from '../store.js';
import type { Issuer } from '../issue.js';
import type { PkiContext } from '../context.js';
import { ensureServiceCert, needsRenewal, serviceSigner, type ServiceCertRow } from '../service-cert.js';
import { CERT_ID_HASH_OIDS, MAX_REQUEST_BYTES, parseOcspRequest, type RequestedCertId } from './request.js';
import {
  certsField,
  INTERNAL_ERROR,
  MALFORMED,
  responderIdByKey,
  signResponse,
  signResponseSync,
  UNAUTHORIZED,
  type ResponseSigner,
  type SingleStatus,
} from './respond.js';
import { ResponseCache, type CachedResponse, type CertState } from './cache.js';
import { OcspEvents } from './events.js';
import {
  currentStatuses,
  statusChangesSince,
  statusOf,
  type StatusRow,
} from './store.js';

export interface OcspOptions {
  validityMinutes: number;
  refreshBeforeMinutes: number;
  signWith: 'delegated' | 'ca';
  /** how often to look for status changes made by other processes */
  pollSeconds: number;
  /** pre-sign responses for every known certificate (default true) */
  presign?: boolean;
}

export interface OcspReply {
  der: Buffer;
  /** present when the response may be cached by HTTP caches (no nonce) */
  cache?: { nextUpdateMs: number; etag: string; lastModified: string; expires: string };
}

export interface RequestMeta {
  ip?: string;
}

interface CaEntry {
  row: CaRow;
  signer: ResponseSigner;
  sync: boolean;
  delegated: ServiceCertRow | null;
  hashes: { hashOid: string; nameHash: Buffer; keyHash: Buffer; prefix: Buffer }[];
}

const PRESIGN_HASHES = ['sha1', 'sha256'] as const;
const NEGATIVE_TTL_MS = 5000;
const SLICE = 128;

const yieldToIo = () => new Promise<void>((r) => setImmediate(r));

/** OCSPRequest { tbsRequest { requestList { Request { certId } } } }: what RFC 5019 clients send. */
export const canonicalRequest = (certId: Buffer) => seq(seq(seq(seq(certId))));

export class OcspResponder {
  readonly cache = new ResponseCache();
  private readonly events: OcspEvents;
  private cas = new Map<string, CaEntry>();
  private issuerIndex = new Map<string, CaEntry>();
  private readonly negative = new Map<string, number>();
  private readonly lookups = new Map<string, Promise<CertState | null>>();
  private readonly lastSeq = new Map<string, number>();
  private readonly unsubscribe: (() => void)[] = [];
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private refreshing: Promise<void> | null = null;

  constructor(
    private readonly pki: PkiContext,
    private readonly issuer: Issuer,
    private readonly opts: OcspOptions,
    private readonly log?: Logger,
  ) {
    this.events = new OcspEvents(pki.bus);
  }

  // ---- lifecycle

  async start(): Promise<void> {
    await this.loadCas();
    for (const s of ['revoked', 'released', 'issued'])
      this.unsubscribe.push(this.pki.bus.subscribe(`truc.pki.certificate.${s}`, (_subject, e) => this.onEvent(e)));
    this.unsubscribe.push(this.pki.bus.subscribe('truc.pki.ca.created', () => void this.reloadCas()));
    await this.loadStatuses();
    if (this.opts.presign !== false) await this.presignAll();
    const refreshMs = Math.max(1000, Math.min(60_000, (this.opts.refreshBeforeMinutes * 60_000) / 4));
    this.timers.push(setInterval(() => void this.refresh(), refreshMs));
    this.timers.push(setInterval(() => void this.poll(), this.opts.pollSeconds * 1000));
    for (const t of this.timers) t.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const u of this.unsubscribe) u();
    await this.refreshing;
  }

  /** The responder certificates in use, by CA (for operators and tests). */
  responders(): { caId: string; certificate: Buffer | null }[] {
    return [...this.cas.values()].map((c) => ({ caId: c.row.id, certificate: c.delegated?.certificate ?? null }));
  }

  // ---- answering

  respond(der: Buffer, meta: RequestMeta = {}): OcspReply | Promise<OcspReply> {
    try {
      if (der.length === 0 || der.length > MAX_REQUEST_BYTES) {
        this.events.malformed(meta.ip, `request of ${der.length} bytes`);
        return { der: MALFORMED };
      }
      if (der.length < 256) {
        const hit = this.cache.get(der.toString('latin1'));
        if (hit && this.cache.isFresh(hit, Date.now())) return this.served(hit, meta);
      }
      return this.slow(der, meta).catch((e) => this.failed(e, meta));
    } catch (e) {
      return this.failed(e, meta);
    }
  }

  private served(hit: CachedResponse, meta: RequestMeta): OcspReply {
    const st = hit.state;
    if (st.status !== 'good') this.events.revokedQueried(meta.ip, st.serial, st.caId, st.status, st.reason);
    return { der: hit.der, cache: hit };
  }

  private failed(e: unknown, meta: RequestMeta): OcspReply {
    this.log?.error({ err: e }, 'OCSP request failed');
    this.events.failed(meta.ip, (e as Error)?.message ?? String(e));
    return { der: INTERNAL_ERROR };
  }

  private async slow(der: Buffer, meta: RequestMeta): Promise<OcspReply> {
    let req;
    try {
      req = parseOcspRequest(der);
    } catch (e) {
      if (!isTrucError(e)) throw e;
      this.events.malformed(meta.ip, e.message);
      return { der: MALFORMED };
    }
    // one response has one signer: every CertID must name the same CA of ours
    let ca: CaEntry | undefined;
    for (const c of req.certIds) {
      const found = this.issuerIndex.get(issuerKey(c.hashOid, c.issuerNameHash, c.issuerKeyHash));
      if (!found || (ca && ca !== found)) return { der: UNAUTHORIZED };
      ca = found;
    }
    if (!ca) return { der: UNAUTHORIZED };
    const single = req.certIds.length === 1 && !req.nonce;
    if (single) {
      const hit = this.cache.get(req.certIds[0].raw.toString('latin1'));
      if (hit && this.cache.isFresh(hit, Date.now())) return this.served(hit, meta);
    }
    const states = await Promise.all(req.certIds.map((c) => this.stateFor(c, ca!)));
    const now = new Date();
    const times = this.times(now);
    const der2 = await signResponse(
      ca.signer,
      req.certIds.map((c, i) => ({ certId: c.raw, status: statusOf_(states[i]) })),
      times,
      req.nonce,
    );
    for (const st of states)
      if (st && st.status !== 'good') this.events.revokedQueried(meta.ip, st.serial, st.caId, st.status, st.reason);
    // the fast path missed a known certificate (stale, or new to us): sign its cached forms again
    if (single && states[0] && this.opts.presign !== false) void this.presign(states[0]).catch(() => {});
    if (req.nonce) return { der: der2 };
    return { der: der2, cache: cacheInfo(der2, times.thisUpdate, times.nextUpdate) };
  }

  private times(now: Date) {
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    return { producedAt: thisUpdate, thisUpdate, nextUpdate: new Date(thisUpdate.getTime() + this.opts.validityMinutes * 60_000) };
  }

  /** The current state of a requested certificate of `ca`, or null (unknown to us). */
  private async stateFor(c: RequestedCertId, ca: CaEntry): Promise<CertState | null> {
    if (!c.serial) return null;
    let st: CertState | null | undefined = this.cache.states.get(c.serial);
    if (!st) {
      const neg = this.negative.get(c.serial);
      if (neg !== undefined && neg > Date.now()) return null;
      st = await this.lookup(c.serial);
    }
    if (st?.pending) await st.pending;
    return st && st.caId === ca.row.id ? st : null;
  }

  /** A certificate we have no state for (issued by another process, or not ours): ask the database once. */
  private lookup(serial: string): Promise<CertState | null> {
    let p = this.lookups.get(serial);
    if (!p) {
      p = statusOf(this.pki.db, serial)
        .then((row) => {
          if (!row) {
            if (this.negative.size > 10_000) this.negative.clear();
            this.negative.set(serial, Date.now() + NEGATIVE_TTL_MS);
            return null;
          }
          return this.apply(row);
        })
        .finally(() => this.lookups.delete(serial));
      this.lookups.set(serial, p);
    }
    return p;
  }

  // ---- status changes

  private apply(row: StatusRow): CertState {
    let st = this.cache.states.get(row.serial);
    if (!st) {
      st = { ...row, version: 0, pending: null, keys: [] };
      this.cache.states.set(row.serial, st);
      this.negative.delete(row.serial);
    } else if (st.status !== row.status || st.revokedAt?.getTime() !== row.revokedAt?.getTime() || st.reason !== row.reason) {
      st.status = row.status;
      st.revokedAt = row.revokedAt;
      st.reason = row.reason;
      st.version++;
    }
    st.notAfter = row.notAfter;
    const last = this.lastSeq.get(row.caId) ?? 0;
    if (row.seq > last) this.lastSeq.set(row.caId, row.seq);
    return st;
  }

  /**
   * A PKI event. Runs synchronously inside the publisher's emit: the certificate's cached responses are
   * invalidated before the revoking call returns; its exact status is then read back and re-signed.
   */
  private onEvent(e: SecurityEvent): void {
    const serial = e.truc?.serial;
    if (typeof serial !== 'string' || this.stopped) return;
    const st = this.cache.states.get(serial);
    this.negative.delete(serial);
    if (st) {
      st.version++;
      if (e.truc?.status === 'revoked' || e.truc?.status === 'hold') st.status = e.truc.status as CertState['status'];
    }
    const reload = statusOf(this.pki.db, serial).then((row) => (row ? this.apply(row) : null));
    if (st) {
      const pending: Promise<void> = reload
        .then(
          () => undefined,
          () => undefined,
        )
        .then(() => {
          if (st.pending === pending) st.pending = null;
        });
      st.pending = pending;
    }
    reload
      .then((s) => (s && this.opts.presign !== false ? this.presign(s) : undefined))
      .catch((err) => this.log?.error({ err, serial }, 'OCSP status reload failed'));
  }

  /** Status changes made by other processes (another `truc` on the same PostgreSQL). */
  private async poll(): Promise<void> {
    if (this.stopped) return;
    try {
      for (const id of this.cas.keys()) {
        const rows = await statusChangesSince(this.pki.db, id, this.lastSeq.get(id) ?? 0);
        for (const row of rows) {
          const before = this.cache.states.get(row.serial)?.version;
          const st = this.apply(row);
          if (before !== st.version && this.opts.presign !== false) await this.presign(st);
        }
      }
    } catch (err) {
      this.log?.error({ err }, 'OCSP status poll failed');
    }
  }

  // ---- CAs and signers

  private async loadCas(): Promise<void> {
    const cas = new Map<string, CaEntry>();
    const index = new Map<string, CaEntry>();
    for (const row of await listCas(this.pki.db)) {
      const entry = await this.caEntry(row);
      cas.set(row.id, entry);
      for (const h of entry.hashes) index.set(issuerKey(h.hashOid, h.nameHash, h.keyHash), entry);
    }
    this.cas = cas;
    this.issuerIndex = index;
    // subordinate CA certificates live in the CA table, not the certificate table: their parent answers
    for (const { row } of cas.values()) {
      if (row.parentId === null || this.cache.states.has(serialOf(row))) continue;
      this.cache.states.set(serialOf(row), {
        serial: serialOf(row),
        caId: row.parentId,
        status: row.status === 'revoked' ? 'revoked' : 'good',
        revokedAt: null,
        reason: null,
        notAfter: row.notAfter,
        version: 0,
        pending: null,
        keys: [],
      });
    }
  }

  private async reloadCas(): Promise<void> {
    try {
      await this.loadCas();
      await this.loadStatuses();
    } catch (err) {
      this.log?.error({ err }, 'OCSP CA reload failed');
    }
  }

  private async caEntry(row: CaRow): Promise<CaEntry> {
    const cert = parseCertificate(row.certificate);
    const hashes = (Object.keys(CERT_ID_HASH_OIDS) as (keyof typeof CERT_ID_HASH_OIDS)[]).map((h) => {
      const hashOid = CERT_ID_HASH_OIDS[h];
      const nameHash = createHash(h).update(row.subjectDer).digest();
      const keyHash = createHash(h).update(cert.publicKeyBits).digest();
      return { hashOid, nameHash, keyHash, prefix: certIdPrefix(hashOid, nameHash, keyHash) };
    });
    let delegated: ServiceCertRow | null = null;
    // the root issues only CA certificates, so it signs its own answers (about its issuing CAs)
    if (this.opts.signWith === 'delegated' && row.parentId !== null && row.status === 'active') {
      try {
        delegated = await this.ensureResponder(row);
      } catch (err) {
        this.log?.warn({ err, ca: row.id }, 'no delegated OCSP responder; the CA signs its own responses');
      }
    }
    const key = delegated ?? { keyStore: row.keyStore, keyId: row.keyId, scheme: row.scheme };
    const { sign, sync } = await serviceSigner(this.pki, key);
    const signer: ResponseSigner = {
      algorithm: Buffer.from(SCHEMES[key.scheme].algorithmIdentifier),
      sign,
      responderId: responderIdByKey(delegated ? parseCertificate(delegated.certificate).publicKeyBits : cert.publicKeyBits),
      certs: certsField(delegated ? [delegated.certificate] : []),
    };
    return { row, signer, sync, delegated, hashes };
  }

  private async ensureResponder(ca: CaRow): Promise<ServiceCertRow> {
    const { row, issued } = await ensureServiceCert(this.pki, this.issuer, 'ocsp', ca.id, async () => ({
      ca,
      profile: 'ocsp-signing',
      commonName: `OCSP Responder ${ca.id}`.slice(0, 64),
      actor: 'ocsp',
    }));
    if (issued)
      this.log?.info({ ca: ca.id, serial: row.serial, notAfter: row.notAfter }, 'OCSP responder certificate issued');
    return row;
  }

  // ---- pre-signing

  private async loadStatuses(): Promise<void> {
    const now = this.pki.clock();
    for (const id of this.cas.keys()) for (const row of await currentStatuses(this.pki.db, id, now)) this.apply(row);
  }

  private async presignAll(): Promise<void> {
    let n = 0;
    for (const st of [...this.cache.states.values()]) {
      if (this.stopped) return;
      await this.presign(st);
      if (++n % SLICE === 0) await yieldToIo();
    }
  }

  /** Signs a certificate's cached responses (SHA-1 and SHA-256 CertIDs) at its current status. */
  async presign(st: CertState): Promise<void> {
    const ca = this.cas.get(st.caId);
    if (!ca) return;
    const now = new Date();
    if (st.notAfter.getTime() < now.getTime()) return this.cache.drop(st);
    const version = st.version;
    const times = this.times(now);
    const serial = uintFromBytes(Buffer.from(st.serial, 'hex'));
    const status = statusOf_(st);
    const entries: { keys: string[]; response: CachedResponse }[] = [];
    for (const name of PRESIGN_HASHES) {
      const h = ca.hashes.find((x) => x.hashOid === CERT_ID_HASH_OIDS[name])!;
      const certId = seq(h.prefix, serial);
      const singles = [{ certId, status }];
      const der = ca.sync ? signResponseSync(ca.signer, singles, times) : await signResponse(ca.signer, singles, times, null);
      const info = cacheInfo(der, times.thisUpdate, times.nextUpdate);
      entries.push({
        keys: [canonicalRequest(certId).toString('latin1'), certId.toString('latin1')],
        response: { der, state: st, version, ...info },
      });
    }
    // a change that arrived while signing makes these stale already: the change's own re-sign wins
    if (st.version === version) this.cache.put(st, entries);
  }

  /** Re-signs responses close to their nextUpdate; renews responder certificates close to expiry. */
  private refresh(): Promise<void> {
    if (this.refreshing || this.stopped) return this.refreshing ?? Promise.resolve();
    this.refreshing = (async () => {
      try {
        const now = this.pki.clock();
        const renew = [...this.cas.values()].some((c) => c.delegated && needsRenewal(c.delegated.notBefore, c.delegated.notAfter, now));
        if (renew) {
          await this.loadCas();
          for (const st of this.cache.states.values()) st.version++;
        }
        const horizon = Date.now() + this.opts.refreshBeforeMinutes * 60_000;
        let n = 0;
        for (const st of [...this.cache.states.values()]) {
          if (this.stopped) break;
          const first = st.keys.length ? this.cache.get(st.keys[0]) : undefined;
          if (first && first.nextUpdateMs > horizon && this.cache.isFresh(first, Date.now())) continue;
          if (!first && st.keys.length === 0 && st.notAfter.getTime() < Date.now()) continue;
          await this.presign(st);
          if (++n % SLICE === 0) await yieldToIo();
        }
      } catch (err) {
        this.log?.error({ err }, 'OCSP refresh failed');
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }
}

const serialOf = (ca: CaRow) => parseCertificate(ca.certificate).serialHex;

function issuerKey(hashOid: string, nameHash: Buffer, keyHash: Buffer): string {
  return `${hashOid}:${nameHash.toString('latin1')}${keyHash.toString('latin1')}`;
}

/** The CertID up to its serial: hashAlgorithm (with NULL parameters, as openssl sends), both hashes. */
function certIdPrefix(hashOid: string, nameHash: Buffer, keyHash: Buffer): Buffer {
  return Buffer.concat([seq(oid(hashOid), NULL), octets(nameHash), octets(keyHash)]);
}

function statusOf_(st: CertState | null): SingleStatus {
  if (!st) return { status: 'unknown' };
  return { status: st.status, revokedAt: st.revokedAt, reason: st.reason };
}

function cacheInfo(der: Buffer, thisUpdate: Date, nextUpdate: Date) {
  return {
    nextUpdateMs: nextUpdate.getTime(),
    etag: `"${createHash('sha1').update(der).digest('hex')}"`,
    lastModified: thisUpdate.toUTCString(),
    expires: nextUpdate.toUTCString(),
  };
}
