/**
 * Certificates and OCSP responses travel once per connection (message protocol v2).
 *
 * A v1 message header carried its sender's signing certificate and two OCSP responses as base64 — about
 * 6 KB in every message, hashed, parsed, logged and chain-hashed on both sides. A v2 header names them by
 * SHA-256 (`signCertHash`, `signOcspHash`, `authOcspHash`), so the signature covers exactly which ones were
 * meant; the items themselves go in an `M` frame before the header, the first time a connection needs them
 * (after an OCSP refresh, the new response once more). The receiver keeps what a connection brought for as
 * long as the connection lives — the same mutually authenticated TLS channel — and finds the items by hash.
 * The message log writes each item once per segment (`LogRecordInput.material`).
 */
import type { Socket } from 'node:net';
import { TrucError } from '../../errors.js';
import { materialHash } from '../log/format.js';
import type { MessageHeader } from './message.js';

/** at most this many items in one M frame, and remembered per connection (the oldest forgotten first) */
export const MAX_MATERIAL_ITEMS = 8;
const KEEP_PER_CONNECTION = 16;

const hexes = new WeakMap<Buffer, string>();
/** SHA-256 hex of a certificate or OCSP response, remembered per Buffer object (never changed after). */
export function materialHex(item: Buffer): string {
  let h = hexes.get(item);
  if (h === undefined) {
    h = materialHash(item).toString('hex');
    hexes.set(item, h);
  }
  return h;
}

/** M frame payload: items as u32 length · bytes. */
export function encodeMaterial(items: Buffer[]): Buffer {
  const out = Buffer.allocUnsafe(items.reduce((n, b) => n + 4 + b.length, 0));
  let o = 0;
  for (const b of items) {
    o = out.writeUInt32BE(b.length, o);
    o += b.copy(out, o);
  }
  return out;
}

export function decodeMaterial(p: Buffer): Buffer[] {
  const items: Buffer[] = [];
  let o = 0;
  while (o < p.length) {
    if (p.length - o < 4) throw new TrucError('bad_message', 'the material frame is truncated');
    const n = p.readUInt32BE(o);
    o += 4;
    if (n === 0 || n > p.length - o) throw new TrucError('bad_message', 'a material item has a bad length');
    if (items.length >= MAX_MATERIAL_ITEMS) throw new TrucError('bad_message', `a material frame holds at most ${MAX_MATERIAL_ITEMS} items`);
    // a copy: the item outlives the message whose buffer it came in
    items.push(Buffer.from(p.subarray(o, o + n)));
    o += n;
  }
  return items;
}

const received = new WeakMap<Socket, Map<string, Buffer>>();
const sent = new WeakMap<Socket, Set<string>>();

/** Keeps what a connection brought, by hash, for later messages on it. */
export function remember(socket: Socket, items: Buffer[]): void {
  if (!items.length) return;
  let m = received.get(socket);
  if (!m) received.set(socket, (m = new Map()));
  for (const it of items) {
    const h = materialHex(it);
    if (m.has(h)) continue;
    if (m.size >= KEEP_PER_CONNECTION) m.delete(m.keys().next().value!);
    m.set(h, it);
  }
}

/**
 * The M frame payload a message on this connection must carry before its header: the items not yet known
 * to have arrived on it (none: null). Nothing is marked: `materialSent` does, once the peer has shown it read
 * them — the consumer after a good response; the provider as it writes, since a consumer that fails to read
 * a response closes the connection.
 */
export function materialToSend(socket: Socket | null | undefined, items: Buffer[]): Buffer | null {
  const s = socket ? sent.get(socket) : undefined;
  const todo = items.filter((b) => b.length > 0 && !s?.has(materialHex(b)));
  return todo.length ? encodeMaterial(todo) : null;
}

/** Marks the items as held by the peer of this connection. */
export function materialSent(socket: Socket | null | undefined, items: Buffer[]): void {
  if (!socket) return;
  let s = sent.get(socket);
  if (!s) sent.set(socket, (s = new Set()));
  // the peer keeps the 16 items it used last; past half that, everything is sent again once
  if (s.size >= KEEP_PER_CONNECTION / 2) s.clear();
  for (const b of items) if (b.length > 0) s.add(materialHex(b));
}

/** The sender's signing certificate and OCSP responses of a checked header, and the items to log with it. */
export interface PeerMaterial {
  signCert: Buffer | string;
  signOcsp: Buffer | string;
  authOcsp: Buffer | string;
  /** for the log (v2): the items the header names */
  log?: Buffer[];
}

/**
 * What a header's sender presents: inline in a v1 header; for v2 found by hash among what this connection
 * brought (this message's M frame included). An item named but never sent is `bad_message`; an empty hash
 * means the sender had none (its OCSP response not yet fetched) and the trust check says what is missing.
 */
export function peerMaterial(socket: Socket | null | undefined, h: MessageHeader, arrived: Buffer[]): PeerMaterial {
  if (h.v === 1) return { signCert: h.signCert!, signOcsp: h.signOcsp!, authOcsp: h.authOcsp! };
  let m: Map<string, Buffer> | undefined;
  if (socket) {
    remember(socket, arrived);
    m = received.get(socket);
  } else m = new Map(arrived.map((b) => [materialHex(b), b]));
  const find = (hex: string, what: string): Buffer => {
    if (hex === '') return Buffer.alloc(0);
    const b = m?.get(hex);
    if (b) {
      // used last, forgotten last
      m!.delete(hex);
      m!.set(hex, b);
    }
    if (!b) throw new TrucError('bad_message', `the message names its ${what} by hash (${hex.slice(0, 16)}…) but it was not sent on this connection`);
    return b;
  };
  const signCert = find(h.signCertHash!, 'signing certificate');
  const signOcsp = find(h.signOcspHash!, 'signing certificate\'s OCSP response');
  const authOcsp = find(h.authOcspHash!, 'authentication certificate\'s OCSP response');
  return { signCert, signOcsp, authOcsp, log: [signCert, signOcsp, authOcsp].filter((b) => b.length > 0) };
}
