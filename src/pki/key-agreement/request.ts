/**
 * Certificate requests for keys that cannot sign (an EC key made for key agreement only, an RSA key made
 * for decryption only — on a token: CKA_DERIVE / CKA_DECRYPT without CKA_SIGN). Such a key cannot sign a
 * PKCS#10 request, so its proof of possession comes by other means, as RFC 4210 (CMP, §5.2.8) provides for
 * key-agreement and encryption keys:
 *
 * 1. **The request** names the public key, the profile and the subject, and is signed by the agency's
 *    signing key; its agency-signing certificate (from our CA, in force, not revoked) goes with it and must
 *    name the same member (subject serialNumber `INSTANCE/CLASS/CODE`) as the subject asked for. That is
 *    what authenticates the request: who asks, for which member.
 * 2. **The challenge** (the direct method, challenge-response): the CA answers with something only the
 *    holder of the private key can turn into the answer — for EC, an ephemeral public key on the same curve
 *    (the holder computes the ECDH secret); for RSA, a random secret encrypted with RSA-OAEP-SHA-256.
 * 3. **The answer** is HKDF-SHA256 of that secret, salted with the request's id and bound to the key
 *    (`info` = a label of our own ‖ SHA-256 of the SubjectPublicKeyInfo). Never the secret itself: a
 *    "challenge" made from a message once sent to the agency (an ephemeral key or a key-transport block
 *    of a CMS it received) yields a value unrelated to that message's key-encryption key.
 *
 * The request and the answer travel as JSON files; the bytes signed are the payload's exact bytes
 * (base64 in the file), so no canonical form is needed.
 */
import { createHash, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, publicEncrypt, randomBytes, constants } from 'node:crypto';
import { TrucError } from '../../errors.js';
import type { SignatureScheme } from '../../crypto/algorithms.js';

export const KA_REQUEST_TYPE = 'truc.pki.key-agreement-request';
const POP_INFO = 'truc/pki key-agreement proof of possession v1';
const MAX_FIELD = 16 * 1024;

export interface KaRequestPayload {
  type: typeof KA_REQUEST_TYPE;
  /** unique: the CA refuses an id it has seen */
  id: string;
  profile: string;
  /** the subject asked for, e.g. "CN=Bộ Nội vụ (mã hoá), O=Bộ Nội vụ, C=VN, serialNumber=VN/GOV/000.00.00.G09" */
  subject: string;
  /** SubjectPublicKeyInfo, base64 DER */
  publicKey: string;
  createdAt: string;
}

/** The request as it travels (JSON file or HTTP body). */
export interface KaRequest {
  payload: string;
  signatureAlgorithm: SignatureScheme;
  signature: string;
  /** the agency's signing certificate, base64 DER */
  signingCert: string;
}

/** What the CA sends back: the challenge for the request `id`. */
export interface KaChallenge {
  id: string;
  /** EC: the CA's ephemeral SubjectPublicKeyInfo; RSA: RSA-OAEP-SHA-256 ciphertext of a random secret (base64) */
  kind: 'ecdh' | 'rsa-oaep-sha256';
  challenge: string;
  expiresAt: string;
}

/** What the key's holder can do with it: the same shape as the vault's RecipientKey. */
export interface PopKey {
  ecdh(peerSpki: Uint8Array): Promise<Buffer>;
  rsaDecrypt(padding: { oaep: 'sha256' }, data: Uint8Array): Promise<Buffer>;
}

export async function signKaRequest(
  fields: { id?: string; profile: string; subject: string; publicKey: Buffer; createdAt?: Date },
  signer: { scheme: SignatureScheme; certificate: Buffer; sign: (data: Buffer) => Promise<Buffer> },
): Promise<KaRequest> {
  const payload: KaRequestPayload = {
    type: KA_REQUEST_TYPE,
    id: fields.id ?? randomBytes(16).toString('hex'),
    profile: fields.profile,
    subject: fields.subject,
    publicKey: fields.publicKey.toString('base64'),
    createdAt: (fields.createdAt ?? new Date()).toISOString(),
  };
  const bytes = Buffer.from(JSON.stringify(payload), 'utf8');
  return { payload: bytes.toString('base64'), signatureAlgorithm: signer.scheme, signature: (await signer.sign(bytes)).toString('base64'), signingCert: signer.certificate.toString('base64') };
}

const b64 = (v: unknown, what: string): Buffer => {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_FIELD || !/^[A-Za-z0-9+/=\s]+$/.test(v))
    throw new TrucError('bad_request', `Yêu cầu: trường ${what} không hợp lệ / request: ${what} must be base64 (at most ${MAX_FIELD} characters)`, { field: what });
  return Buffer.from(v, 'base64');
};

/** The request's parts, decoded and bounded; nothing is trusted yet. */
export function readKaRequest(r: unknown): { bytes: Buffer; payload: KaRequestPayload; publicKey: Buffer; scheme: SignatureScheme; signature: Buffer; signingCert: Buffer } {
  if (!r || typeof r !== 'object') throw new TrucError('bad_request', 'Yêu cầu không hợp lệ / the request must be a JSON object');
  const o = r as Record<string, unknown>;
  const bytes = b64(o.payload, 'payload');
  let payload: KaRequestPayload;
  try {
    payload = JSON.parse(bytes.toString('utf8')) as KaRequestPayload;
  } catch {
    throw new TrucError('bad_request', 'Yêu cầu: nội dung không phải JSON / request: the payload is not JSON');
  }
  if (!payload || payload.type !== KA_REQUEST_TYPE) throw new TrucError('bad_request', `request: the payload's type must be ${KA_REQUEST_TYPE}`);
  if (typeof payload.id !== 'string' || !/^[A-Za-z0-9._-]{8,64}$/.test(payload.id)) throw new TrucError('bad_request', 'request: id must be 8 to 64 letters, digits, ".", "_" or "-"');
  for (const k of ['profile', 'subject', 'createdAt'] as const)
    if (typeof payload[k] !== 'string' || payload[k].length === 0 || payload[k].length > 4096) throw new TrucError('bad_request', `request: ${k} is missing or too long`, { field: k });
  if (Number.isNaN(Date.parse(payload.createdAt))) throw new TrucError('bad_request', 'request: createdAt is not a time');
  if (typeof o.signatureAlgorithm !== 'string') throw new TrucError('bad_request', 'request: signatureAlgorithm is missing');
  return { bytes, payload, publicKey: b64(payload.publicKey, 'publicKey'), scheme: o.signatureAlgorithm as SignatureScheme, signature: b64(o.signature, 'signature'), signingCert: b64(o.signingCert, 'signingCert') };
}

function answerOf(secret: Buffer, id: string, spki: Buffer): Buffer {
  const info = Buffer.concat([Buffer.from(POP_INFO), createHash('sha256').update(spki).digest()]);
  return Buffer.from(hkdfSync('sha256', secret, Buffer.from(id), info, 32));
}

/** The CA's side: a challenge for the key, and the SHA-256 of the answer expected (kept instead of the answer). */
export function makeChallenge(id: string, spki: Buffer): { kind: KaChallenge['kind']; challenge: Buffer; expectedHash: Buffer } {
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  let secret: Buffer;
  let challenge: Buffer;
  let kind: KaChallenge['kind'];
  if (key.asymmetricKeyType === 'ec') {
    const eph = generateKeyPairSync('ec', { namedCurve: key.asymmetricKeyDetails!.namedCurve! });
    secret = diffieHellman({ privateKey: eph.privateKey, publicKey: key });
    challenge = eph.publicKey.export({ format: 'der', type: 'spki' });
    kind = 'ecdh';
  } else if (key.asymmetricKeyType === 'rsa') {
    secret = randomBytes(32);
    challenge = publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, secret);
    kind = 'rsa-oaep-sha256';
  } else {
    throw new TrucError('key_not_allowed', `Khoá ${key.asymmetricKeyType} không dùng để thoả thuận khoá hay giải mã / a ${key.asymmetricKeyType} key neither agrees nor decrypts keys`);
  }
  const expectedHash = createHash('sha256').update(answerOf(secret, id, spki)).digest();
  secret.fill(0);
  return { kind, challenge, expectedHash };
}

/** The key holder's side: the answer to a challenge, computed with the private key (on a token: there). */
export async function answerChallenge(c: KaChallenge, spki: Buffer, key: PopKey): Promise<Buffer> {
  const challenge = Buffer.from(c.challenge, 'base64');
  const secret = c.kind === 'ecdh' ? await key.ecdh(challenge) : await key.rsaDecrypt({ oaep: 'sha256' }, challenge);
  const answer = answerOf(secret, c.id, spki);
  secret.fill(0);
  return answer;
}
