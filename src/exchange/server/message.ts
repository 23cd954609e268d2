/**
 * The protocol between security servers: one HTTP/1.1 request (and its response) over mutually
 * authenticated TLS carries one framed message, streamed:
 *
 *   frame := type (1 byte) · length (4 bytes, big-endian) · payload
 *   message := [M (material)] · H (header, canonical JSON) · B* (body chunks) · S (signature, JSON)
 *
 * The header names the exchange (id, client, service, method, path, the information system's headers, time,
 * sender, the sender's signing certificate and the OCSP responses proving its certificates' status — in
 * version 2 by their SHA-256, the items themselves in an M frame once per connection: `./material.ts`); the
 * body follows as it arrives, so nothing is held whole; the signature comes last, because it covers the
 * body's hash. What is signed is the message digest
 *
 *   SHA-256("TRUC-MSG-1" · 0x00 · SHA-256(header bytes) · SHA-256(body) · u64 body length)
 *
 * usually as one leaf of a hash tree whose root the sender's signing key signed once for many messages
 * (`./batch-sign.ts`). A response's header carries its request's digest, binding the two. An `X` frame
 * instead of `S` aborts a message (the sender failed mid-stream): the receiver drops it.
 */
import type { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { sha256 } from '../../crypto/digest.js';
import type { BatchSigner } from './batch-sign.js';

export const FRAME_HEADER = 0x48; // 'H'
export const FRAME_BODY = 0x42; // 'B'
export const FRAME_SIGNATURE = 0x53; // 'S'
export const FRAME_ABORT = 0x58; // 'X'
export const FRAME_MATERIAL = 0x4d; // 'M'

export const MAX_HEADER_BYTES = 64 * 1024;
export const MAX_SIGNATURE_BYTES = 16 * 1024;
export const MAX_CHUNK_BYTES = 1024 * 1024;
export const MESSAGE_CONTENT_TYPE = 'application/vnd.truc.message';

export interface MessageHeader {
  /** 2: certificate and OCSP responses named by hash (sent); 1: carried inline (still read) */
  v: 1 | 2;
  kind: 'request' | 'response';
  /** X-Road-Id */
  id: string;
  /** ISO time the sender signed it */
  time: string;
  client: string;
  service: string;
  /** request: HTTP method and path below the service (with query); response: the status */
  method?: string;
  path?: string;
  status?: number;
  /** the information system's headers carried across (lower-case names; a repeated one combined, RFC 9110 §5.3) */
  headers: Record<string, string>;
  /**
   * response only: the service's Set-Cookie lines, one each — the one header that cannot be combined into one
   * line (RFC 6265 §3, RFC 9110 §5.3); absent when it sent none. Servers of earlier releases ignore it.
   */
  setCookie?: string[];
  /** SERVER:… of the sending security server */
  sender: string;
  /** v1: the sender's signing certificate, base64 DER, and OCSP responses for it and for its TLS certificate */
  signCert?: string;
  signOcsp?: string;
  authOcsp?: string;
  /** v2: the same items by SHA-256 hex of their DER ('' for an OCSP response the sender does not have) */
  signCertHash?: string;
  signOcspHash?: string;
  authOcspHash?: string;
  /** response only: the request's message digest, hex */
  requestHash?: string;
  /**
   * 'soap': the body is a message of X-Road's SOAP protocol (PR-MESS 4.0) as the client's information system
   * sent it (`./soap.ts`); absent: X-Road's REST protocol. Servers of earlier releases do not know it.
   */
  protocol?: 'soap';
  /** a SOAP request: the requestHash its response must carry (SHA-512 of the SOAP part, base64) */
  soapHash?: string;
}

export interface MessageSignature {
  /** signature scheme of the signing key (src/crypto/algorithms.ts) */
  scheme: string;
  /** SHA-256 of the body, hex, and its length */
  bodyHash: string;
  bodyLength: number;
  /** position of this message's digest among the leaves of the signed tree, and the sibling path up */
  index: number;
  count: number;
  path: string[];
  /** signature over "TRUC-BATCH-1" · root, base64 */
  value: string;
}

const MSG_TAG = Buffer.from('TRUC-MSG-1\0', 'latin1');

export function messageDigest(headerBytes: Buffer, bodyHash: Buffer, bodyLength: number): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64BE(BigInt(bodyLength));
  return sha256(MSG_TAG, sha256(headerBytes), bodyHash, len);
}

/**
 * Signs a message with the member's signing key through the batch signer and returns its signature as it
 * travels and is logged (JSON of {@link MessageSignature}): the batch signature over the message's digest,
 * the message's place in the batch's tree, and the body's hash and length; with the digest signed.
 */
export async function signMessage(signer: BatchSigner, headerBytes: Buffer, bodyHash: Buffer, bodyLength: number): Promise<{ bytes: Buffer; digest: Buffer }> {
  const digest = messageDigest(headerBytes, bodyHash, bodyLength);
  const bs = await signer.signDigest(digest);
  const sig: MessageSignature = { scheme: signer.scheme, bodyHash: bodyHash.toString('hex'), bodyLength, index: bs.index, count: bs.count, path: bs.path, value: bs.value.toString('base64') };
  return { bytes: Buffer.from(JSON.stringify(sig)), digest };
}

export function frame(type: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = type;
  out.writeUInt32BE(payload.length, 1);
  payload.copy(out, 5);
  return out;
}

/** The 5-byte prefix of a frame (for writing a large payload without copying it). */
export function frameHead(type: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(5);
  out[0] = type;
  out.writeUInt32BE(length, 1);
  return out;
}

export function encodeHeader(h: MessageHeader): Buffer {
  return Buffer.from(JSON.stringify(h), 'utf8');
}

const HEADER_STRINGS = ['id', 'time', 'client', 'service', 'sender'] as const;
const V1_MATERIAL = ['signCert', 'signOcsp', 'authOcsp'] as const;
const V2_MATERIAL = ['signCertHash', 'signOcspHash', 'authOcspHash'] as const;
const HASH_HEX = /^(?:[0-9a-f]{64})?$/;

export function parseHeader(bytes: Buffer): MessageHeader {
  let h: any;
  try {
    h = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new TrucError('bad_message', 'the message header is not JSON');
  }
  if (!h || typeof h !== 'object' || (h.v !== 1 && h.v !== 2) || (h.kind !== 'request' && h.kind !== 'response'))
    throw new TrucError('bad_message', 'the message header has no known version or kind');
  for (const k of HEADER_STRINGS) if (typeof h[k] !== 'string') throw new TrucError('bad_message', `the message header lacks "${k}"`);
  if (h.v === 1) {
    for (const k of V1_MATERIAL) if (typeof h[k] !== 'string') throw new TrucError('bad_message', `the message header lacks "${k}"`);
  } else {
    for (const k of V2_MATERIAL) if (typeof h[k] !== 'string' || !HASH_HEX.test(h[k])) throw new TrucError('bad_message', `the message header lacks "${k}" (SHA-256, hex)`);
    if (!h.signCertHash) throw new TrucError('bad_message', 'the message header names no signing certificate');
  }
  if (!h.headers || typeof h.headers !== 'object' || Array.isArray(h.headers)) throw new TrucError('bad_message', 'the message header lacks "headers"');
  for (const [k, v] of Object.entries(h.headers)) if (typeof v !== 'string') throw new TrucError('bad_message', `header "${k}" is not a string`);
  if (h.setCookie !== undefined && (h.kind !== 'response' || !Array.isArray(h.setCookie) || h.setCookie.some((c: unknown) => typeof c !== 'string')))
    throw new TrucError('bad_message', 'setCookie is a list of strings, in a response');
  if (h.protocol !== undefined && h.protocol !== 'soap') throw new TrucError('bad_message', `the message header names an unknown protocol "${String(h.protocol)}"`);
  if (h.protocol === 'soap' && h.kind === 'request' && (typeof h.soapHash !== 'string' || !/^[A-Za-z0-9+/]{86}==$/.test(h.soapHash)))
    throw new TrucError('bad_message', 'a SOAP request header needs soapHash (SHA-512, base64)');
  if (h.kind === 'request' && (typeof h.method !== 'string' || typeof h.path !== 'string'))
    throw new TrucError('bad_message', 'a request header needs method and path');
  if (h.kind === 'response' && (!Number.isInteger(h.status) || h.status < 200 || h.status > 999 || typeof h.requestHash !== 'string'))
    throw new TrucError('bad_message', 'a response header needs status and requestHash');
  if (Number.isNaN(Date.parse(h.time))) throw new TrucError('bad_message', 'the message time is not a date');
  return h as MessageHeader;
}

export function parseSignature(bytes: Buffer): MessageSignature {
  let s: any;
  try {
    s = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new TrucError('bad_message', 'the message signature is not JSON');
  }
  const ok =
    s &&
    typeof s.scheme === 'string' &&
    typeof s.bodyHash === 'string' &&
    /^[0-9a-f]{64}$/.test(s.bodyHash) &&
    Number.isSafeInteger(s.bodyLength) &&
    s.bodyLength >= 0 &&
    Number.isInteger(s.index) &&
    Number.isInteger(s.count) &&
    s.count >= 1 &&
    s.count <= 1 << 20 &&
    s.index >= 0 &&
    s.index < s.count &&
    Array.isArray(s.path) &&
    s.path.length <= 40 &&
    s.path.every((p: unknown) => typeof p === 'string' && /^[0-9a-f]{64}$/.test(p)) &&
    typeof s.value === 'string';
  if (!ok) throw new TrucError('bad_message', 'the message signature block is malformed');
  return s as MessageSignature;
}

export interface Frame {
  type: number;
  payload: Buffer;
}

/** A frame's type is one of ours and its length within that type's bound. */
function checkFrameHead(t: number, len: number): void {
  if (t !== FRAME_BODY && t !== FRAME_HEADER && t !== FRAME_SIGNATURE && t !== FRAME_ABORT && t !== FRAME_MATERIAL) throw new TrucError('bad_message', `unknown frame type ${t}`);
  const max = t === FRAME_BODY ? MAX_CHUNK_BYTES : t === FRAME_HEADER || t === FRAME_MATERIAL ? MAX_HEADER_BYTES : MAX_SIGNATURE_BYTES;
  if (len > max) throw new TrucError('bad_message', `a frame of ${len} bytes exceeds ${max}`);
}

/** A small message read whole: header, body (its frames joined) and signature frame payloads. */
export interface WholeMessage {
  /** the M frame's payload, when the message brought one */
  material: Buffer | null;
  header: Buffer;
  body: Buffer;
  signature: Buffer;
}

/** The most a whole message (sent with its length because its body is small) may be: larger ones stream. */
export const wholeMessageLimit = (inlineBodyBytes: number) => inlineBodyBytes + 2 * MAX_HEADER_BYTES + MAX_SIGNATURE_BYTES + 64 * 5;

/**
 * The error for an X frame: the sender ended its message early, giving its reason (one of our codes). The
 * message is over on the wire — the channel's reader ends it at the X frame — so the connection it came on is
 * clean for the next one; `detail.senderAborted` carries the reason so that the receiver can keep it.
 */
export function senderAborted(payload: Buffer): TrucError {
  const why = payload.toString('utf8').slice(0, 200);
  return new TrucError('peer_failed', `the sender aborted the message: ${why}`, { senderAborted: why });
}

/**
 * Splits a message held whole in memory into its frames, with the checks `readFrames` and the receiver
 * make on a stream: H first, then B*, then S and nothing after; an X frame is the sender's abort.
 */
export function splitWhole(buf: Buffer): WholeMessage {
  let off = 0;
  let header: Buffer | null = null;
  let material: Buffer | null = null;
  let signature: Buffer | null = null;
  const body: Buffer[] = [];
  while (off < buf.length) {
    if (buf.length - off < 5) throw new TrucError('bad_message', 'the message ended inside a frame (truncated)');
    const t = buf[off]!;
    const len = buf.readUInt32BE(off + 1);
    checkFrameHead(t, len);
    off += 5;
    if (buf.length - off < len) throw new TrucError('bad_message', 'the message ended inside a frame (truncated)');
    const payload = buf.subarray(off, off + len);
    off += len;
    if (!header) {
      if (t === FRAME_MATERIAL && !material) {
        material = payload;
        continue;
      }
      if (t !== FRAME_HEADER) throw new TrucError('bad_message', 'the message does not start with its header');
      header = payload;
      continue;
    }
    if (signature) throw new TrucError('bad_message', 'frames after the signature');
    if (t === FRAME_BODY) body.push(payload);
    else if (t === FRAME_SIGNATURE) signature = payload;
    else if (t === FRAME_ABORT) throw senderAborted(payload);
    else throw new TrucError('bad_message', 'a header or material frame after the header');
  }
  if (!header) throw new TrucError('bad_message', 'the message does not start with its header');
  if (!signature) throw new TrucError('bad_message', 'the message ended without its signature (truncated)');
  return { material, header, body: body.length === 1 ? body[0]! : Buffer.concat(body), signature };
}

/**
 * The whole body of a stream whose length is known and small, gathered from its events (an async iterator
 * per message cost a handful of promises and listeners per chunk). Any failure — more bytes than declared,
 * the stream ending short, an error, the connection closing — rejects with `fail(why)`.
 */
export function readWhole(s: Readable, length: number, fail: (why: string) => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const done = () => {
      s.off('data', onData);
      s.off('end', onEnd);
      s.off('error', onError);
      s.off('close', onClose);
    };
    const onData = (c: Buffer) => {
      n += c.length;
      if (n > length) {
        done();
        s.resume(); // the rest is not gathered
        reject(fail(`more than the ${length} bytes declared`));
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      done();
      if (n !== length) reject(fail(`it ended after ${n} of its ${length} bytes`));
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n));
    };
    const onError = (e: Error) => {
      done();
      reject(e instanceof TrucError ? e : fail(e.message));
    };
    const onClose = () => {
      done();
      reject(fail(`the connection closed after ${n} of ${length} bytes`));
    };
    s.on('data', onData);
    s.on('end', onEnd);
    s.on('error', onError);
    s.on('close', onClose);
  });
}

/**
 * Reads frames from a byte stream. Header, signature and abort frames are yielded whole and bounded; a body
 * frame's bytes are yielded as they arrive (a body frame may come out as several `B` frames, each a piece
 * of the socket's own chunk, never copied: gathering a 1 MiB frame from 16 KiB TLS records cost ~30 MiB of
 * copying). A stream that ends inside a frame is a truncated message.
 */
/** A body of unknown length read whole, refused (`too_large`) past `limit` bytes. */
export async function readAtMost(s: AsyncIterable<Buffer | Uint8Array>, limit: number, what = 'the body'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of s) {
    n += c.length;
    if (n > limit) throw new TrucError('too_large', `${what} is held whole while it passes: at most ${limit} bytes`, { limit });
    chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  }
  return Buffer.concat(chunks, n);
}

export async function* readFrames(source: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<Frame> {
  const head = Buffer.allocUnsafe(5);
  let headHave = 0;
  /** type of the frame whose payload is being read, or -1 between frames */
  let type = -1;
  let left = 0;
  let parts: Buffer[] = [];
  for await (const c of source) {
    const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    let off = 0;
    while (off < chunk.length) {
      if (type < 0) {
        let t: number;
        let len: number;
        if (headHave === 0 && chunk.length - off >= 5) {
          t = chunk[off]!;
          len = chunk.readUInt32BE(off + 1);
          off += 5;
        } else {
          const n = Math.min(5 - headHave, chunk.length - off);
          chunk.copy(head, headHave, off, off + n);
          headHave += n;
          off += n;
          if (headHave < 5) break;
          headHave = 0;
          t = head[0]!;
          len = head.readUInt32BE(1);
        }
        checkFrameHead(t, len);
        if (len === 0) {
          yield { type: t, payload: Buffer.alloc(0) };
          continue;
        }
        type = t;
        left = len;
        continue;
      }
      const n = Math.min(left, chunk.length - off);
      const piece = chunk.subarray(off, off + n);
      off += n;
      left -= n;
      if (type === FRAME_BODY) {
        if (left === 0) type = -1;
        yield { type: FRAME_BODY, payload: piece };
        continue;
      }
      parts.push(piece);
      if (left === 0) {
        const payload = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
        const t = type;
        parts = [];
        type = -1;
        yield { type: t, payload };
      }
    }
  }
  if (type >= 0 || headHave) throw new TrucError('bad_message', 'the message ended inside a frame (truncated)');
}

/**
 * The `X-Road-Request-Hash` of a response: X-Road's algorithm and encoding (SHA-512, base64, 88 characters),
 * taken over the request's signed message digest, so it names exactly the request the response is bound to.
 */
export function xroadRequestHash(requestDigest: Buffer): string {
  return createHash('sha512').update(requestDigest).digest('base64');
}

/** `X-Road-Service` form of a service: `INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE[/VERSION]`. */
export function restServiceHeader(s: { instance: string; memberClass: string; memberCode: string; subsystemCode: string; serviceCode: string; serviceVersion?: string }): string {
  return `${s.instance}/${s.memberClass}/${s.memberCode}/${s.subsystemCode}/${s.serviceCode}${s.serviceVersion ? `/${s.serviceVersion}` : ''}`;
}

/** The names a Connection header lists: hop-by-hop for this connection only (RFC 9110 §7.6.1), lower case. */
export function connectionNamed(connection: string | string[] | undefined): Set<string> {
  const named = new Set<string>();
  for (const v of Array.isArray(connection) ? connection : connection ? [connection] : []) for (const t of v.split(',')) if (t.trim()) named.add(t.trim().toLowerCase());
  return named;
}

/**
 * A header's text for the records (logs, operational records): Node reads a header's bytes as Latin-1, so one
 * sent as raw UTF-8 ("Nguyễn Văn Ánh", not percent-encoded) is read back as the UTF-8 it is when its bytes are
 * valid UTF-8; what travels on is left as it came.
 */
export function headerText(raw: string): string {
  if (!/[\x80-\xff]/.test(raw) || /[^\x00-\xff]/.test(raw)) return raw;
  const utf8 = Buffer.from(raw, 'latin1').toString('utf8');
  return utf8.includes('\ufffd') ? raw : utf8;
}
