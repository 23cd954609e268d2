/**
 * The configuration anchor: the file an operator installs on a security server, naming where the global
 * configuration is downloaded from and which certificates may sign it. The central server writes it
 * (`buildAnchor`, through `CentralServer.exportAnchor`); a security server reads it with `parseAnchor`,
 * which refuses anything malformed, oversized or naming an unreadable certificate.
 */
import { X509Certificate } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { checkPart } from '../ids.js';
import { canonicalBytes } from './signed.js';
import type { ConfAnchor } from './model.js';

export const MAX_ANCHOR_BYTES = 256 * 1024;
const MAX_SOURCES = 8;
const MAX_CERTS = 8;
const MAX_CERT_BYTES = 16 * 1024;

export function buildAnchor(a: { instance: string; sources: { url: string; verificationCerts: Buffer[] }[]; now?: Date }): ConfAnchor {
  return {
    instance: a.instance,
    generatedAt: (a.now ?? new Date()).toISOString(),
    sources: a.sources.map((s) => ({ url: s.url.replace(/\/+$/, ''), verificationCerts: s.verificationCerts.map((c) => c.toString('base64')) })),
  };
}

/** The anchor as bytes to write into a file (canonical JSON). */
export const anchorBytes = (a: ConfAnchor): Buffer => canonicalBytes(a);

const bad = (message: string) => new TrucError('bad_request', `neo cấu hình không hợp lệ / configuration anchor: ${message}`);

/** Reads and checks an anchor file. */
export function parseAnchor(bytes: Uint8Array | string): ConfAnchor {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes);
  if (buf.length > MAX_ANCHOR_BYTES) throw bad(`larger than ${MAX_ANCHOR_BYTES} bytes`);
  let a: any;
  try {
    a = JSON.parse(buf.toString('utf8'));
  } catch {
    throw bad(buf.subarray(0, 11).toString('latin1') === '-----BEGIN ' || buf[0] === 0x30 ? 'not JSON (a certificate? the anchor is the file `truc central anchor export` writes)' : 'not JSON');
  }
  if (!a || typeof a !== 'object' || Array.isArray(a)) throw bad('not an object');
  let instance: string;
  try {
    instance = checkPart('instance', a.instance);
  } catch {
    throw bad('instance missing or not an identifier');
  }
  if (typeof a.generatedAt !== 'string' || Number.isNaN(Date.parse(a.generatedAt))) throw bad('generatedAt is not a time');
  if (!Array.isArray(a.sources) || a.sources.length === 0 || a.sources.length > MAX_SOURCES) throw bad(`1–${MAX_SOURCES} sources are needed`);
  const sources = a.sources.map((s: any, i: number) => {
    if (!s || typeof s.url !== 'string' || s.url.length > 2000) throw bad(`source ${i}: url missing`);
    let u: URL;
    try {
      u = new URL(s.url);
    } catch {
      throw bad(`source ${i}: "${s.url.slice(0, 80)}" is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad(`source ${i}: the URL must be http(s)`);
    if (!Array.isArray(s.verificationCerts) || s.verificationCerts.length === 0 || s.verificationCerts.length > MAX_CERTS) throw bad(`source ${i}: 1–${MAX_CERTS} verification certificates are needed`);
    const certs = s.verificationCerts.map((c: unknown, j: number) => {
      if (typeof c !== 'string' || c.length > (MAX_CERT_BYTES * 4) / 3 + 4 || !/^[A-Za-z0-9+/]+={0,2}$/.test(c)) throw bad(`source ${i}: certificate ${j} is not base64`);
      try {
        new X509Certificate(Buffer.from(c, 'base64'));
      } catch {
        throw bad(`source ${i}: certificate ${j} is not a certificate`);
      }
      return c;
    });
    return { url: s.url.replace(/\/+$/, ''), verificationCerts: certs };
  });
  return { instance, generatedAt: a.generatedAt, sources };
}
