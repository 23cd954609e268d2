/**
 * The parameters of a two-phase signature, checked and brought to one form. They are recorded with the
 * handle when the data to be signed is made and used again, unchanged, to complete the signature: the
 * claimed signing time in particular is fixed at step one, so the same parameters give the same bytes.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { TrucError } from '../../errors.js';
import type { SignatureScheme } from '../../crypto/algorithms.js';
import { parseLevel, type Level } from '../level.js';

export type TwoPhaseFormat = 'pades' | 'cades' | 'xades';

export interface TwoPhaseParams {
  format: TwoPhaseFormat;
  level: Level;
  /** the claimed signing time, ISO 8601 (PAdES /M, CAdES signing-time, XAdES SigningTime) */
  signingTime: string;
  /** PAdES */
  reason?: string;
  location?: string;
  /** PAdES: index of the page (0 the first) */
  page?: number;
  /** PAdES: a visible seal, its rectangle in points as the reader sees the page, and optional lines of text */
  visible?: { rect: [number, number, number, number]; lines?: string[] };
  fieldName?: string;
  /** CAdES detached|enveloping; XAdES enveloped|enveloping|detached */
  packaging?: string;
  /** XAdES detached: the name the reference gives the content */
  contentUri?: string;
  /** the signature scheme; by default the certificate's key's usual one */
  scheme?: SignatureScheme;
}

const FORMATS: TwoPhaseFormat[] = ['pades', 'cades', 'xades'];
const PACKAGINGS: Record<TwoPhaseFormat, string[]> = { pades: [], cades: ['detached', 'enveloping'], xades: ['enveloped', 'enveloping', 'detached'] };

const text = (v: unknown, what: string, max = 500): string | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') throw new TrucError('bad_request', `${what} must be text`);
  const s = String(v);
  if (s.length > max) throw new TrucError('bad_request', `${what} is longer than ${max} characters`);
  return s;
};

/** Checks what a caller sent and fills the defaults: the claimed time is `now` to the second. */
export function normaliseParams(input: Record<string, unknown>, now: Date): TwoPhaseParams {
  const format = String(input.format ?? '') as TwoPhaseFormat;
  if (!FORMATS.includes(format)) throw new TrucError('bad_request', `format is one of ${FORMATS.join(', ')}`, { allowed: FORMATS });
  const level = parseLevel(String(input.level ?? 'B-B'));
  let signingTime: string;
  if (input.signingTime === undefined || input.signingTime === null || input.signingTime === '') signingTime = new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString();
  else {
    const t = new Date(String(input.signingTime));
    if (Number.isNaN(t.getTime())) throw new TrucError('bad_request', 'signingTime is not a date (ISO 8601)');
    signingTime = new Date(Math.floor(t.getTime() / 1000) * 1000).toISOString();
  }
  const p: TwoPhaseParams = { format, level, signingTime };
  const packaging = text(input.packaging, 'packaging', 20);
  if (packaging !== undefined) {
    if (!PACKAGINGS[format].includes(packaging)) throw new TrucError('bad_request', `packaging for ${format} is one of ${PACKAGINGS[format].join(', ') || '(none)'}`);
    p.packaging = packaging;
  }
  for (const k of ['reason', 'location', 'fieldName', 'contentUri'] as const) {
    const v = text(input[k], k);
    if (v !== undefined) p[k] = v;
  }
  if (format !== 'pades' && (p.reason || p.location || p.fieldName || input.visible || input.page !== undefined))
    throw new TrucError('bad_request', 'reason, location, page, fieldName and a visible seal belong to PDF (PAdES) signatures');
  if (input.page !== undefined && input.page !== null) {
    const n = Number(input.page);
    if (!Number.isInteger(n) || n < 0 || n > 100_000) throw new TrucError('bad_request', 'page is a page index from 0');
    p.page = n;
  }
  if (input.visible !== undefined && input.visible !== null) {
    const v = input.visible as { rect?: unknown; lines?: unknown };
    const rect = Array.isArray(v.rect) ? v.rect.map(Number) : [];
    if (rect.length !== 4 || rect.some((n) => !Number.isFinite(n) || Math.abs(n) > 14_400)) throw new TrucError('bad_request', 'visible.rect is [x1, y1, x2, y2] in points');
    p.visible = { rect: rect as [number, number, number, number] };
    if (v.lines !== undefined) {
      if (!Array.isArray(v.lines) || v.lines.length > 8) throw new TrucError('bad_request', 'visible.lines is a list of at most 8 lines');
      p.visible.lines = v.lines.map((l, i) => text(l, `visible.lines[${i}]`, 200) ?? '');
    }
  }
  if (input.scheme !== undefined) p.scheme = String(input.scheme) as SignatureScheme;
  return p;
}

/** The usual scheme of the certificate's key: RSA PKCS#1 v1.5 with SHA-256, ECDSA with the curve's hash. */
export function schemeOf(certificate: Uint8Array): SignatureScheme {
  let key;
  try {
    key = new X509Certificate(Buffer.from(certificate)).publicKey;
  } catch (e) {
    throw new TrucError('bad_request', `the signer's certificate cannot be read: ${(e as Error).message}`);
  }
  if (key.asymmetricKeyType === 'rsa') return 'rsa-pkcs1-sha256';
  if (key.asymmetricKeyType === 'rsa-pss') return 'rsa-pss-sha256';
  if (key.asymmetricKeyType === 'ec') {
    const c = key.asymmetricKeyDetails?.namedCurve;
    return c === 'secp384r1' ? 'ecdsa-sha384' : c === 'secp521r1' ? 'ecdsa-sha512' : 'ecdsa-sha256';
  }
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  throw new TrucError('unsupported', `${key.asymmetricKeyType} keys cannot sign documents`);
}

/** A stable text of the parameters (keys sorted), what the handle records and the XAdES Id derives from. */
export function paramsText(p: TwoPhaseParams): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sorted) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sorted(p));
}

/** An Id for the XAdES signature that the same document, certificate and parameters always give. */
export function derivedId(document: Uint8Array, certificate: Uint8Array, p: TwoPhaseParams): string {
  return `id-${createHash('sha256').update(document).update(certificate).update(paramsText(p)).digest('hex').slice(0, 24)}`;
}
