/**
 * What the consumer and provider halves of a security server share: its identity, the verified global
 * configuration, trust and status checks, the batch signer, the message log, the replay guard, the
 * verified-root cache, health per service, and the events it publishes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { TrucError, isTrucError } from '../../errors.js';
import { makeEvent, type Bus } from '../../bus/index.js';
import type { GlobalConf } from '../conf/global.js';
import type { MessageLogApi } from '../log/types.js';
import type { ServerId } from '../ids.js';
import type { ServerStore } from './store.js';
import type { PeerTrust, TrustedCert } from './trust.js';
import type { OwnStatus } from './own-status.js';
import type { BatchSigner } from './batch-sign.js';
import type { Peers } from './peers.js';
import type { OpRecorder } from './oprecords.js';
import { BodyCollector, type BodyMemory, type CollectedBody } from './body.js';
import { FRAME_ABORT, FRAME_BODY, FRAME_HEADER, FRAME_MATERIAL, FRAME_SIGNATURE, messageDigest, parseSignature, readFrames, readWhole, senderAborted, splitWhole, wholeMessageLimit, type Frame, type MessageHeader, type MessageSignature, type WholeMessage } from './message.js';
import { rootFromPath, verifyRoot } from './batch-sign.js';
import { decodeMaterial, materialHex } from './material.js';
import { sha256 } from '../../crypto/digest.js';
import { bodyHash as hashBody } from '../log/format.js';
import type { MimeParts } from './mime-parts.js';

export interface ServerLimits {
  /** largest body accepted, either way (default 1 GiB) */
  maxBodyBytes: number;
  /** bodies up to this size are kept in memory on their way; larger ones are spooled (default 64 KiB) */
  inlineBodyBytes: number;
  /**
   * spooled bodies are also held in memory, for delivery without reading the log back, while all such bodies
   * together stay under this many bytes (default 64 MiB); past it a body is delivered from its log file
   */
  heldBodyBytes: number;
  /** a peer or service silent for this long is given up (default 60 s) */
  timeoutMs: number;
  /**
   * how long the client's server waits for the provider's answer once the request is sent (default 15 min):
   * the provider's server bounds it first by the service's own time-out (60 s unless set otherwise), which
   * the client's server does not know — `timeoutMs` would cut off a service allowed longer
   */
  answerTimeoutMs: number;
  /** how far a message's time may be from ours (default 5 min) */
  clockSkewMs: number;
  /**
   * operational records one getSecurityServerOperationalData answer reads at most when it filters them (for a
   * client that sees only its own exchanges, or one partner's): the rest through nextRecordsFrom, so that no
   * query walks the whole table on the database the message path writes to (default 50,000)
   */
  opmonScanRows: number;
}

export const DEFAULT_LIMITS: ServerLimits = { maxBodyBytes: 1024 ** 3, inlineBodyBytes: 64 * 1024, heldBodyBytes: 64 * 1024 * 1024, timeoutMs: 60_000, answerTimeoutMs: 15 * 60_000, clockSkewMs: 5 * 60_000, opmonScanRows: 50_000 };

export interface ServiceHealth {
  service: string;
  requests: number;
  failures: number;
  lastSuccessAt?: string;
  lastFailureAt?: string;
  lastError?: string;
  /** as the provider's server (X-Road's health data, getSecurityServerHealthData): last answered and failed, ms */
  served?: { lastSuccessAt?: number; lastFailureAt?: number; window: ServedWindow };
}

/** minimum, maximum, sum and sum of squares: what the mean and standard deviation come from */
interface Agg {
  min: number;
  max: number;
  sum: number;
  sq: number;
}
const agg = (): Agg => ({ min: Infinity, max: -Infinity, sum: 0, sq: 0 });
const put = (a: Agg, v: number) => {
  if (v < a.min) a.min = v;
  if (v > a.max) a.max = v;
  a.sum += v;
  a.sq += v * v;
};
const merge = (a: Agg, b: Agg) => {
  a.min = Math.min(a.min, b.min);
  a.max = Math.max(a.max, b.max);
  a.sum += b.sum;
  a.sq += b.sq;
};

export interface Summary {
  min?: number;
  avg?: number;
  max?: number;
  sd?: number;
}
const summary = (a: Agg, n: number): Summary => {
  if (!n) return {};
  const avg = a.sum / n;
  return { min: a.min, avg, max: a.max, sd: Math.sqrt(Math.max(0, a.sq / n - avg * avg)) };
};

/**
 * A provided service's last ten minutes, a bucket a minute (X-Road's health data): answered and failed
 * counts, and of the answered ones duration (ms), request and response sizes. A few additions per exchange,
 * nothing read back from the database when a client asks.
 */
export class ServedWindow {
  static readonly MINUTES = 10;
  private readonly buckets: { minute: number; ok: number; failed: number; d: Agg; q: Agg; r: Agg }[] = [];

  add(at: number, ok: boolean, durationMs: number, requestBytes: number, responseBytes: number): void {
    const minute = Math.floor(at / 60_000);
    let b = this.buckets[this.buckets.length - 1];
    if (!b || b.minute !== minute) {
      b = { minute, ok: 0, failed: 0, d: agg(), q: agg(), r: agg() };
      this.buckets.push(b);
      while (this.buckets.length > ServedWindow.MINUTES) this.buckets.shift();
    }
    if (!ok) {
      b.failed++;
      return;
    }
    b.ok++;
    put(b.d, durationMs);
    put(b.q, requestBytes);
    put(b.r, responseBytes);
  }

  /** the minutes within the last `ServedWindow.MINUTES` (the current one included) */
  summary(now: number): { ok: number; failed: number; duration: Summary; requestSize: Summary; responseSize: Summary } {
    const from = Math.floor(now / 60_000) - ServedWindow.MINUTES + 1;
    let ok = 0;
    let failed = 0;
    const d = agg();
    const q = agg();
    const r = agg();
    for (const b of this.buckets) {
      if (b.minute < from) continue;
      ok += b.ok;
      failed += b.failed;
      merge(d, b.d);
      merge(q, b.q);
      merge(r, b.r);
    }
    return { ok, failed, duration: summary(d, ok), requestSize: summary(q, ok), responseSize: summary(r, ok) };
  }
}

export interface ServerContext {
  id: ServerId;
  idText: string;
  /** the usable global configuration, or a `conf_expired` error */
  conf(): GlobalConf;
  store: ServerStore;
  log: MessageLogApi;
  trust: PeerTrust;
  own: OwnStatus;
  signer: BatchSigner;
  signCert: Buffer;
  signCertB64: string;
  authCert: Buffer;
  peers: Peers;
  limits: ServerLimits;
  clock: () => Date;
  logger: Logger;
  bus: Bus;
  replay: ReplayGuard;
  /** while the replay guard is seeded from the log at start (`SecurityServer.start`): replay checks wait for it */
  replaySeeding?: Promise<void>;
  /** why the replay guard could not be seeded, while it cannot (requests are refused until it is) */
  replayUnseeded?: Error;
  roots: RootCache;
  /** the budget of spooled bodies held in memory for delivery */
  bodyMemory: BodyMemory;
  /** exchanges this server is carrying now, as client's and as provider's server (`sendsLogging`) */
  carrying: { count: number };
  health: Map<string, ServiceHealth>;
  ops: OpRecorder;
  /** the address the information systems' listener is bound to, once it listens */
  isHost?: string;
  /** this server's internal TLS key and certificate toward information systems (PEM), when configured */
  isTls?: { key: string; cert: string };
}

/**
 * A set of 128-bit fingerprints in one typed array (open addressing, linear probing, doubled when half
 * full): however many ids it holds, it is one object to the garbage collector.
 */
class FingerprintSet {
  private words: Uint32Array;
  private mask: number;
  size = 0;

  constructor(slots = 1 << 12) {
    this.words = new Uint32Array(slots * 4);
    this.mask = slots - 1;
  }

  /** true when added, false when it was there */
  add(a: number, b: number, c: number, d: number): boolean {
    if (this.find(a, b, c, d) >= 0) return false;
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    this.put(a, b, c, d);
    this.size++;
    return true;
  }

  has(a: number, b: number, c: number, d: number): boolean {
    return this.find(a, b, c, d) >= 0;
  }

  /** true when it was there; the entries after it in its run move back, so that no probe stops short */
  delete(a: number, b: number, c: number, d: number): boolean {
    let hole = this.find(a, b, c, d);
    if (hole < 0) return false;
    const w = this.words;
    for (let i = (hole + 1) & this.mask; w[i * 4] !== 0; i = (i + 1) & this.mask) {
      // an entry may fill the hole when its home slot is not in (hole, i], cyclically
      const home = w[i * 4]! & this.mask;
      if (((i - home) & this.mask) >= ((i - hole) & this.mask)) {
        w.copyWithin(hole * 4, i * 4, i * 4 + 4);
        hole = i;
      }
    }
    w.fill(0, hole * 4, hole * 4 + 4);
    this.size--;
    return true;
  }

  private find(a: number, b: number, c: number, d: number): number {
    const w = this.words;
    for (let i = a & this.mask; ; i = (i + 1) & this.mask) {
      const o = i * 4;
      if (w[o] === 0) return -1; // an empty slot (a fingerprint's first word is never 0)
      if (w[o] === a && w[o + 1] === b && w[o + 2] === c && w[o + 3] === d) return i;
    }
  }

  private put(a: number, b: number, c: number, d: number): void {
    const w = this.words;
    let i = a & this.mask;
    while (w[i * 4] !== 0) i = (i + 1) & this.mask;
    const o = i * 4;
    w[o] = a;
    w[o + 1] = b;
    w[o + 2] = c;
    w[o + 3] = d;
  }

  private grow(): void {
    const old = this.words;
    this.words = new Uint32Array(old.length * 2);
    this.mask = this.words.length / 4 - 1;
    for (let o = 0; o < old.length; o += 4) if (old[o] !== 0) this.put(old[o]!, old[o + 1]!, old[o + 2]!, old[o + 3]!);
  }
}

/**
 * Message ids seen recently, per client. A message whose time is outside the clock-skew window is refused
 * by its time, so an id need only be remembered for twice the window: two generations, the older dropped
 * when the newer is that old. Ids are kept as 128-bit fingerprints (SHA-256 of the key) in typed arrays,
 * about 32 bytes an id and no work for the garbage collector: a Map of strings held millions of heap
 * objects at a few thousand messages a second over twenty minutes, and marking them was a large share of
 * a busy server's CPU.
 */
export class ReplayGuard {
  private seen = new FingerprintSet();
  private older = new FingerprintSet();
  private rotatedAt = Date.now();

  constructor(private readonly windowMs: number) {}

  private static fp(key: string): [number, number, number, number] {
    const h = sha256(key);
    // 0 marks an empty slot: the first word is never 0 (one bit of 128 given up)
    return [(h.readUInt32LE(0) | 1) >>> 0, h.readUInt32LE(4), h.readUInt32LE(8), h.readUInt32LE(12)];
  }

  has(key: string): boolean {
    const f = ReplayGuard.fp(key);
    return this.seen.has(...f) || this.older.has(...f);
  }

  /** false when already seen */
  add(key: string, now = Date.now()): boolean {
    if (now - this.rotatedAt > this.windowMs * 2) {
      this.older = this.seen;
      this.seen = new FingerprintSet();
      this.rotatedAt = now;
    }
    const f = ReplayGuard.fp(key);
    if (this.older.has(...f)) return false;
    return this.seen.add(...f);
  }

  /** forgets an id taken for a message that was not delivered after all (its log failed it), so that it may come again */
  forget(key: string): void {
    const f = ReplayGuard.fp(key);
    this.seen.delete(...f);
    this.older.delete(...f);
  }

  /** ids remembered (both generations) */
  get size(): number {
    return this.seen.size + this.older.size;
  }
}

/** Roots whose signature was verified for a certificate: the next message of the same batch costs a hash. */
export class RootCache {
  private readonly m = new Map<string, true>();
  constructor(private readonly max = 20_000) {}
  has(k: string) {
    return this.m.has(k);
  }
  add(k: string) {
    if (this.m.size >= this.max) this.m.delete(this.m.keys().next().value!);
    this.m.set(k, true);
  }
}

/**
 * This server's signing certificate and the OCSP responses for it and its TLS certificate: the v2 header
 * fields naming them by hash, and the items (non-empty) to send once per connection and to log.
 */
export function ownMaterial(ctx: ServerContext): { fields: Pick<MessageHeader, 'signCertHash' | 'signOcspHash' | 'authOcspHash'>; items: Buffer[] } {
  const signOcsp = ctx.own.response('sign');
  const authOcsp = ctx.own.response('auth');
  return {
    fields: { signCertHash: materialHex(ctx.signCert), signOcspHash: signOcsp.length ? materialHex(signOcsp) : '', authOcspHash: authOcsp.length ? materialHex(authOcsp) : '' },
    items: [ctx.signCert, signOcsp, authOcsp].filter((b) => b.length > 0),
  };
}

export function checkTime(ctx: ServerContext, h: MessageHeader): void {
  const skew = Math.abs(Date.parse(h.time) - ctx.clock().getTime());
  if (skew > ctx.limits.clockSkewMs)
    throw new TrucError('bad_message', `the message time ${h.time} is ${Math.round(skew / 1000)} s away from this server's clock (limit ${ctx.limits.clockSkewMs / 1000} s)`, {
      reason_vi: `thời điểm của thông điệp (${h.time}) lệch ${Math.round(skew / 1000)} giây so với đồng hồ của máy chủ này (giới hạn ${ctx.limits.clockSkewMs / 1000} giây): hãy kiểm tra đồng bộ thời gian (NTP)`,
    });
}

export interface ReceivedRest {
  body: CollectedBody;
  signature: MessageSignature;
  signatureBytes: Buffer;
  digest: Buffer;
}

/**
 * The body is the one the sender signed, and the signature over the message digest verifies with the
 * sender's trusted signing certificate (a root already verified for this certificate costs hashing only).
 * Returns the message digest.
 */
function checkSigned(ctx: ServerContext, headerBytes: Buffer, body: { hash: Buffer; length: number }, signature: MessageSignature, signer: TrustedCert): Buffer {
  if (signature.bodyHash !== body.hash.toString('hex') || signature.bodyLength !== body.length)
    throw new TrucError('bad_message_signature', 'the body does not match the hash the sender signed (altered or truncated)', { reason_vi: 'thân thông điệp không khớp với giá trị băm bên gửi đã ký (bị sửa hoặc bị cắt)' });
  const digest = messageDigest(headerBytes, body.hash, body.length);
  const root = rootFromPath(digest, signature.index, signature.count, signature.path);
  if (!root) throw new TrucError('bad_message_signature', 'the signature path does not fit its tree');
  const key = `${signer.hash}:${root.toString('hex')}:${signature.value}`;
  if (!ctx.roots.has(key)) {
    if (!verifyRoot(signer.key, signature.scheme, root, Buffer.from(signature.value, 'base64')))
      throw new TrucError('bad_message_signature', "the message signature does not verify with the sender's signing certificate", { reason_vi: 'chữ ký thông điệp không khớp với chứng thư ký số của bên gửi' });
    ctx.roots.add(key);
  }
  return digest;
}

const keep = () => {};

/** A small message read whole (`splitWhole`): its body hashed and its signature checked, as `receiveRest` does for a stream. */
export function receiveWhole(ctx: ServerContext, m: WholeMessage, signer: TrustedCert, parts?: MimeParts | null): ReceivedRest {
  parts?.feed(m.body);
  const signature = parseSignature(m.signature);
  const body: CollectedBody = { hash: hashBody(m.body), length: m.body.length, body: m.body, release: keep };
  const digest = checkSigned(ctx, m.header, body, signature, signer);
  return { body, signature, signatureBytes: m.signature, digest };
}

/** A message arriving from a peer, its header read: whole when small and sent with its length, else a stream of frames. */
export interface Incoming {
  headerBytes: Buffer;
  /** certificates and OCSP responses that came in an M frame before the header (`./material.ts`) */
  material: Buffer[];
  whole: WholeMessage | null;
  frames: AsyncGenerator<Frame> | null;
}

/** Where an incoming message's bytes are: held whole (a framed channel's `L` message), or a stream with the length its sender declared (NaN: none). */
export type InboundSource = { whole: Buffer } | { stream: Readable; declared: number };

/** An HTTP request's or response's body as an inbound message (its Content-Length, unless chunked). */
export function httpInbound(s: IncomingMessage): InboundSource {
  const declared = !s.headers['transfer-encoding'] && s.headers['content-length'] !== undefined ? Number(s.headers['content-length']) : NaN;
  return { stream: s, declared };
}

/** `what` names the message in errors ("the message from SERVER:…"); `detail` goes with them. */
export async function readIncoming(ctx: ServerContext, src: InboundSource, what: string, detail?: Record<string, unknown>): Promise<Incoming> {
  let bytes: Buffer | null = null;
  if ('whole' in src) bytes = src.whole;
  else if (Number.isSafeInteger(src.declared) && src.declared <= wholeMessageLimit(ctx.limits.inlineBodyBytes))
    bytes = await readWhole(src.stream, src.declared, (why) => new TrucError('peer_failed', `${what} could not be read: ${why}`, detail));
  if (bytes) {
    const whole = splitWhole(bytes);
    return { headerBytes: whole.header, material: whole.material ? decodeMaterial(whole.material) : [], whole, frames: null };
  }
  const frames = readFrames((src as { stream: Readable }).stream);
  let first = await frames.next();
  let material: Buffer[] = [];
  if (!first.done && first.value.type === FRAME_MATERIAL) {
    material = decodeMaterial(first.value.payload);
    first = await frames.next();
  }
  if (first.done || first.value.type !== FRAME_HEADER) throw new TrucError('bad_message', `${what} does not start with its header`, detail);
  return { headerBytes: Buffer.from(first.value.payload), material, whole: null, frames };
}

/**
 * The rest of an incoming message (body and signature), checked against the sender's signing certificate;
 * `parts` counts a SOAP message's attachments from its body.
 */
export function receiveBody(ctx: ServerContext, m: Incoming, signer: TrustedCert, parts?: MimeParts | null): Promise<ReceivedRest> {
  return m.whole ? Promise.resolve(receiveWhole(ctx, m.whole, signer, parts)) : receiveRest(ctx, m.frames!, m.headerBytes, signer, parts);
}

/**
 * Reads a message's body frames and its signature frame, then checks the signature against the sender's
 * trusted signing certificate. The body is discarded on any failure.
 */
export async function receiveRest(
  ctx: ServerContext,
  frames: AsyncGenerator<Frame>,
  headerBytes: Buffer,
  signer: TrustedCert,
  parts?: MimeParts | null,
): Promise<ReceivedRest> {
  const collector = new BodyCollector(ctx.log, ctx.limits.inlineBodyBytes, ctx.limits.maxBodyBytes, ctx.bodyMemory);
  try {
    let sigFrame: Buffer | null = null;
    for (;;) {
      const r = await frames.next();
      if (r.done) break;
      const f = r.value;
      if (sigFrame) throw new TrucError('bad_message', 'frames after the signature');
      if (f.type === FRAME_BODY) {
        parts?.feed(f.payload);
        await collector.add(f.payload);
      }
      else if (f.type === FRAME_SIGNATURE) sigFrame = Buffer.from(f.payload);
      else if (f.type === FRAME_ABORT) throw senderAborted(f.payload);
      else throw new TrucError('bad_message', 'a header or material frame after the header');
    }
    if (!sigFrame) throw new TrucError('bad_message', 'the message ended without its signature (truncated)');
    const signature = parseSignature(sigFrame);
    const body = await collector.finish();
    try {
      const digest = checkSigned(ctx, headerBytes, body, signature, signer);
      return { body, signature, signatureBytes: sigFrame, digest };
    } catch (e) {
      body.release();
      if (!Buffer.isBuffer(body.body)) await body.body.discard?.().catch(() => {});
      throw e;
    }
  } catch (e) {
    await collector.discard();
    throw e;
  }
}

export function recordHealth(ctx: ServerContext, service: string, error?: unknown, served?: { startedAt: Date; requestBytes: number; responseBytes: number }): void {
  let h = ctx.health.get(service);
  if (!h) {
    h = { service, requests: 0, failures: 0 };
    ctx.health.set(service, h);
  }
  h.requests++;
  const now = ctx.clock();
  const at = now.toISOString();
  if (error) {
    h.failures++;
    h.lastFailureAt = at;
    h.lastError = isTrucError(error) ? error.code : 'internal';
  } else h.lastSuccessAt = at;
  if (served) {
    const ms = now.getTime();
    h.served ??= { window: new ServedWindow() };
    h.served[error ? 'lastFailureAt' : 'lastSuccessAt'] = ms;
    h.served.window.add(ms, !error, ms - served.startedAt.getTime(), served.requestBytes, served.responseBytes);
  }
}

/** A refusal or failure as a security event on the bus (never thrown into the message path). */
export function publishRefusal(ctx: ServerContext, side: 'consumer' | 'provider', e: unknown, fields: Record<string, unknown>): void {
  const code = isTrucError(e) ? e.code : 'internal';
  const ev = makeEvent('exchange', `exchange.${side}.refused`, 'failure', {
    category: ['network'],
    reason: code,
    message: isTrucError(e) ? e.message : 'internal error',
    at: ctx.clock(),
    truc: { server: ctx.idText, side, code, ...fields },
  });
  ctx.bus.publish(`truc.exchange.message.refused`, ev).catch((err) => ctx.logger.warn({ err }, 'event not published'));
}

/**
 * A request body that stops flowing is cut off after `ms` without a byte. Node bounds the headers, not the
 * body: an information system that sent part of a body and then nothing held its connection, and the
 * connection to the provider's server its message had begun on, for ever. Only while the body is read: once it
 * is complete, waiting for the answer is the provider's time, bounded by its own limits, and the socket's
 * timeout is let go.
 *
 * `answer` writes the refusal on `res` (the connection closes after it); the request is cut off once it is
 * written, so that whatever was under way with the body fails, and the handler's own answer to that failure
 * finds the response already sent. Without `answer`, or once the response has begun, the connection is cut.
 */
export function bodyIdleBound(req: IncomingMessage, res: ServerResponse, ms: number, who: { en: string; vi: string }, answer?: (e: TrucError) => void): void {
  if (req.complete || ms <= 0) return;
  const socket = req.socket;
  // whole seconds as they are; 1.5 s (Vietnamese: 1,5 giây) otherwise
  const s = ms % 1000 ? (ms / 1000).toFixed(1) : String(ms / 1000);
  // Node emits a socket's timeout on the request while it is incomplete, and on the response; a listener on
  // either keeps Node from destroying the socket itself
  const onTimeout = () => {
    if (req.complete) return void socket.setTimeout(0);
    if (req.destroyed) return;
    const e = new TrucError('bad_request', `${who.en} sent no byte of its request body for ${s} s`, {
      xroadFault: 'BadRequest',
      reason_vi: `${who.vi} không gửi thêm byte nào của thân yêu cầu trong ${s.replace('.', ',')} giây`,
    });
    if (!answer || res.headersSent) return void req.destroy(e);
    socket.setTimeout(0);
    res.setHeader('connection', 'close');
    // a client that reads nothing either: cut off all the same
    const cut = setTimeout(() => req.destroy(e), 5000);
    cut.unref();
    res.once('finish', () => {
      clearTimeout(cut);
      req.destroy(e);
    });
    answer(e);
  };
  socket.setTimeout(ms);
  req.on('timeout', onTimeout);
  res.on('timeout', onTimeout);
  // the body read to its end: the connection's own timeouts again (set anew by Node for keep-alive)
  req.once('end', () => {
    if (!socket.destroyed && !res.writableFinished) socket.setTimeout(0);
  });
}

/**
 * A server carrying at most this many exchanges sends a small message to a peer that confirms (truc/2) while
 * its log writes it, so that the two servers' durable writes of it overlap: one at a time, an exchange waits on
 * two writes instead of four. A busier server logs first, as truc/1 does: its writes are shared by many
 * messages already, and a confirmation would cost both servers a write and a read more per message.
 */
export const SEND_WHILE_LOGGING_MAX = 2;

export function sendsLogging(ctx: ServerContext): boolean {
  return ctx.carrying.count <= SEND_WHILE_LOGGING_MAX;
}

/** Runs one exchange (either side), counted among those the server carries while it runs. */
export async function carryCounted(ctx: ServerContext, run: () => Promise<void>): Promise<void> {
  ctx.carrying.count++;
  try {
    await run();
  } finally {
    ctx.carrying.count--;
  }
}
