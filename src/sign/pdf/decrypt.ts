/**
 * Decryption of the strings of a PDF encrypted with the standard security handler (ISO 32000-1 §7.6.3,
 * ISO 32000-2 §7.6.4) and an empty user password — the usual case of a signed file protected against
 * changes but readable by anyone: RC4 (V1/V2, R2/R3), RC4 or AES-128 crypt filters (V4, R4) and AES-256
 * (V5, R5/R6). Only what the validator shows is decrypted (field names, /M, /Reason): the signature's
 * /Contents is never encrypted, and the reader never writes into an encrypted file. A file whose user
 * password is not empty, or that uses another handler, is answered `undefined`: its strings stay as they are.
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import type { PdfDocument } from './document.js';
import type { PdfDict, PdfObject } from './objects.js';

const PAD = Buffer.from('28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a', 'hex');

/** Decrypts a string found in indirect object `num` `gen`. */
export type StringDecrypter = (bytes: Buffer, num: number, gen: number) => Buffer;

function rc4(key: Buffer, data: Buffer): Buffer {
  const s = new Uint8Array(256);
  for (let i = 0; i < 256; i++) s[i] = i;
  for (let i = 0, j = 0; i < 256; i++) {
    j = (j + s[i] + key[i % key.length]) & 0xff;
    [s[i], s[j]] = [s[j], s[i]];
  }
  const out = Buffer.alloc(data.length);
  for (let k = 0, i = 0, j = 0; k < data.length; k++) {
    i = (i + 1) & 0xff;
    j = (j + s[i]) & 0xff;
    [s[i], s[j]] = [s[j], s[i]];
    out[k] = data[k] ^ s[(s[i] + s[j]) & 0xff];
  }
  return out;
}

function aesCbc(key: Buffer, data: Buffer): Buffer {
  if (data.length < 32 || data.length % 16) return data;
  try {
    const d = createDecipheriv(key.length === 32 ? 'aes-256-cbc' : 'aes-128-cbc', key, data.subarray(0, 16));
    return Buffer.concat([d.update(data.subarray(16)), d.final()]);
  } catch {
    return data;
  }
}

const bytesOf = (o: PdfObject | undefined): Buffer | undefined => (o?.kind === 'str' ? o.bytes : undefined);
const numOf = (o: PdfObject | undefined, dflt: number): number => (o?.kind === 'num' ? o.value : dflt);
const nameOf = (o: PdfObject | undefined): string | undefined => (o?.kind === 'name' ? o.value : undefined);

/** Algorithm 2.B (ISO 32000-2 §7.6.4.3.4): the hash of R6, with the password empty and no user key. */
function hash2B(password: Buffer, salt: Buffer, udata: Buffer, r: number): Buffer {
  let k = createHash('sha256').update(password).update(salt).update(udata).digest();
  if (r === 5) return k;
  for (let i = 0; ; i++) {
    const k1 = Buffer.concat(Array.from({ length: 64 }, () => Buffer.concat([password, k, udata])));
    const c = createCipheriv('aes-128-cbc', k.subarray(0, 16), k.subarray(16, 32)).setAutoPadding(false);
    const e = Buffer.concat([c.update(k1), c.final()]);
    let sum = 0;
    for (let j = 0; j < 16; j++) sum += e[j];
    k = createHash(['sha256', 'sha384', 'sha512'][sum % 3]).update(e).digest();
    // rounds done (i + 1) at least 64, and the last byte of E at most (rounds done) − 32
    if (i >= 63 && e[e.length - 1] <= i + 1 - 32) break;
  }
  return k.subarray(0, 32);
}

/** The string decrypter of `doc`, or undefined when it is not encrypted or cannot be opened without a password. */
export function stringDecrypter(doc: PdfDocument): StringDecrypter | undefined {
  const enc = doc.resolve(doc.xref.trailer.get('Encrypt'));
  if (enc?.kind !== 'dict') return undefined;
  const e: PdfDict = enc.entries;
  if (nameOf(e.get('Filter')) !== 'Standard') return undefined;
  const v = numOf(e.get('V'), 0);
  const r = numOf(e.get('R'), 2);
  const o = bytesOf(e.get('O'));
  const u = bytesOf(e.get('U'));
  if (!o || !u) return undefined;
  const empty = Buffer.alloc(0);
  // the crypt filter strings use: RC4 before V4; for V4 and V5 the one /StrF names
  let method = v >= 5 ? 'AESV3' : 'V2';
  if (v >= 4) {
    const strF = nameOf(e.get('StrF')) ?? 'Identity';
    if (strF === 'Identity') return undefined;
    const cf = doc.resolve(e.get('CF'));
    const f = cf?.kind === 'dict' ? doc.resolve(cf.entries.get(strF)) : undefined;
    method = (f?.kind === 'dict' ? nameOf(f.entries.get('CFM')) : undefined) ?? 'None';
    if (method === 'None') return undefined;
  }
  if (r >= 5) {
    const ue = bytesOf(e.get('UE'));
    if (!ue || u.length < 48 || ue.length < 32 || !hash2B(empty, u.subarray(32, 40), empty, r).equals(u.subarray(0, 32))) return undefined;
    const d = createDecipheriv('aes-256-cbc', hash2B(empty, u.subarray(40, 48), empty, r), Buffer.alloc(16)).setAutoPadding(false);
    const fileKey = Buffer.concat([d.update(ue.subarray(0, 32)), d.final()]);
    return (bytes) => aesCbc(fileKey, bytes);
  }
  const ids = doc.resolve(doc.xref.trailer.get('ID'));
  const id0 = ids?.kind === 'array' ? (bytesOf(ids.items[0]) ?? empty) : empty;
  const n = r === 2 ? 5 : Math.min(16, Math.max(5, numOf(e.get('Length'), 40) / 8));
  const p = Buffer.alloc(4);
  p.writeInt32LE(numOf(e.get('P'), 0) | 0);
  const h = createHash('md5').update(PAD).update(o.subarray(0, 32)).update(p).update(id0);
  if (r >= 4 && e.get('EncryptMetadata')?.kind === 'bool' && !(e.get('EncryptMetadata') as { value: boolean }).value) h.update(Buffer.from('ffffffff', 'hex'));
  let key = h.digest();
  if (r >= 3) for (let i = 0; i < 50; i++) key = createHash('md5').update(key.subarray(0, n)).digest();
  key = key.subarray(0, n);
  // the empty user password is the right one when it reproduces /U (Algorithms 4 and 5)
  let check: Buffer;
  if (r === 2) check = rc4(key, PAD);
  else {
    check = rc4(key, createHash('md5').update(PAD).update(id0).digest());
    for (let i = 1; i <= 19; i++) check = rc4(Buffer.from(key.map((b) => b ^ i)), check);
  }
  if (!check.subarray(0, 16).equals(u.subarray(0, 16))) return undefined;
  const aes = method === 'AESV2';
  return (bytes, num, gen) => {
    const objKey = createHash('md5')
      .update(key)
      .update(Buffer.from([num & 0xff, (num >> 8) & 0xff, (num >> 16) & 0xff, gen & 0xff, (gen >> 8) & 0xff]))
      .update(aes ? Buffer.from('sAlT') : empty)
      .digest()
      .subarray(0, Math.min(n + 5, 16));
    return aes ? aesCbc(objKey, bytes) : rc4(objKey, bytes);
  };
}
