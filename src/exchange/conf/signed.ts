/**
 * The signed directory as it travels: `{ directory: base64(bytes), signatureAlgorithm, signature: base64,
 * certificateHash }`. The central server signs the directory's exact bytes with its configuration-signing
 * key; a security server accepts them only when the certificate named by `certificateHash` is one of its
 * anchor's verification certificates and the signature verifies with that certificate's key. Everything is
 * read defensively: sizes bounded, every field checked, nothing trusted before the signature holds.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { SCHEMES, type SignatureScheme } from '../../crypto/algorithms.js';
import { verifyWith } from '../../crypto/sign.js';
import { canonicalJson } from '../../audit/index.js';
import type { ConfDirectory } from './model.js';

export interface SignedDirectory {
  directory: string;
  signatureAlgorithm: SignatureScheme;
  signature: string;
  /** SHA-256 hex of the DER of the certificate whose key signed */
  certificateHash: string;
}

/** bounds on what a client reads from the network */
export const MAX_DIRECTORY_BYTES = 64 * 1024;
export const MAX_PART_BYTES = 32 * 1024 * 1024;
const MAX_PARTS = 8;
const PART_NAMES = new Set(['shared-params', 'private-params']);
const HEX128 = /^[0-9a-f]{128}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The canonical bytes of a JSON value: keys sorted at every level, no white space, UTF-8. */
export const canonicalBytes = (v: unknown): Buffer => Buffer.from(canonicalJson(v), 'utf8');

export const sha512Hex = (b: Uint8Array) => createHash('sha512').update(b).digest('hex');
export const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** a malformed or unverifiable directory: `vi` says it in Vietnamese where it matters to an operator, else a Vietnamese lead-in before the English */
const invalid = (message: string, detail?: Record<string, unknown>, vi?: string) =>
  new TrucError('conf_invalid', message, { ...detail, reason_vi: vi ?? `danh mục cấu hình không hợp lệ: ${message}` });

function b64(field: string, v: unknown, max: number): Buffer {
  if (typeof v !== 'string' || v.length > Math.ceil((max * 4) / 3) + 4 || !BASE64.test(v)) throw invalid(`${field} is not base64 of at most ${max} bytes`);
  return Buffer.from(v, 'base64');
}

const isoTime = (field: string, v: unknown): string => {
  if (typeof v !== 'string' || v.length > 40 || Number.isNaN(Date.parse(v))) throw invalid(`directory ${field} is not a time`);
  return v;
};

/** Reads a directory's bytes into a ConfDirectory, checking every field. */
export function parseDirectory(bytes: Buffer): ConfDirectory {
  if (bytes.length > MAX_DIRECTORY_BYTES) throw invalid(`the directory is larger than ${MAX_DIRECTORY_BYTES} bytes`);
  let d: any;
  try {
    d = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid('the directory is not JSON');
  }
  if (!d || typeof d !== 'object' || Array.isArray(d)) throw invalid('the directory is not an object');
  if (typeof d.instance !== 'string' || d.instance.length === 0 || d.instance.length > 255) throw invalid('directory instance missing');
  if (!Number.isSafeInteger(d.version) || d.version < 1) throw invalid('directory version is not a positive integer');
  if (!Array.isArray(d.parts) || d.parts.length === 0 || d.parts.length > MAX_PARTS) throw invalid('directory parts missing');
  const names = new Set<string>();
  const parts: ConfDirectory['parts'] = d.parts.map((p: any) => {
    if (!p || typeof p !== 'object' || !PART_NAMES.has(p.name) || names.has(p.name)) throw invalid('directory part with an unknown or repeated name');
    if (typeof p.hash !== 'string' || !HEX128.test(p.hash)) throw invalid(`directory part ${p.name}: hash is not SHA-512 hex`);
    if (p.path !== `parts/${p.hash}`) throw invalid(`directory part ${p.name}: unexpected path`);
    names.add(p.name);
    return { name: p.name, hash: p.hash, path: p.path };
  });
  if (!names.has('shared-params')) throw invalid('the directory has no shared parameters');
  const generatedAt = isoTime('generatedAt', d.generatedAt);
  const expiresAt = isoTime('expiresAt', d.expiresAt);
  if (Date.parse(expiresAt) <= Date.parse(generatedAt)) throw invalid(`the directory expires (${expiresAt}) before it was generated (${generatedAt})`);
  return { instance: d.instance, version: d.version, generatedAt, expiresAt, parts };
}

/**
 * Verifies a signed directory against the verification certificates (DER) of an anchor: the named
 * certificate must be one of them and its key must verify the signature over the directory's bytes.
 */
export function verifySignedDirectory(env: unknown, verificationCerts: Buffer[]): { directory: ConfDirectory; bytes: Buffer } {
  if (!env || typeof env !== 'object' || Array.isArray(env)) throw invalid('the signed directory is not an object');
  const e = env as Record<string, unknown>;
  const bytes = b64('directory', e.directory, MAX_DIRECTORY_BYTES);
  const signature = b64('signature', e.signature, 2048);
  if (typeof e.signatureAlgorithm !== 'string' || !Object.hasOwn(SCHEMES, e.signatureAlgorithm)) throw invalid('unknown signature algorithm', { signatureAlgorithm: String(e.signatureAlgorithm).slice(0, 40) });
  if (typeof e.certificateHash !== 'string' || !HEX64.test(e.certificateHash)) throw invalid('certificateHash is not SHA-256 hex');
  const cert = verificationCerts.find((c) => sha256Hex(c) === e.certificateHash);
  if (!cert) throw invalid('the directory is signed by a certificate the anchor does not name', { certificateHash: e.certificateHash }, 'danh mục được ký bằng chứng thư mà mỏ neo không nêu (mỏ neo cũ? hãy nhập mỏ neo mới)');
  let key;
  try {
    key = new X509Certificate(cert).publicKey;
  } catch {
    throw invalid('the anchor certificate cannot be read', undefined, 'không đọc được chứng thư trong mỏ neo');
  }
  if (!verifyWith(key, e.signatureAlgorithm as SignatureScheme, bytes, signature)) throw invalid('the directory signature does not verify against the anchor', undefined, 'chữ ký của danh mục không khớp với mỏ neo');
  return { directory: parseDirectory(bytes), bytes };
}
