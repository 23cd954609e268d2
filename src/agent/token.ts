/**
 * The official's token as `truc agent` sees it: the certificates on it (public objects, read without the
 * PIN) and a signature by the private key with the same CKA_ID, made in a session logged in with the PIN
 * the official typed for that request and logged out right after. Nothing is cached between requests.
 */
import { X509Certificate } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { TrucError } from '../errors.js';
import { SCHEMES, type SignatureScheme } from '../crypto/algorithms.js';
import { acquireModule, releaseModule } from '../crypto/pkcs11/module.js';
import { findObjects, readAttribute } from '../crypto/pkcs11/objects.js';
import { ckrOf } from '../crypto/pkcs11/token-error.js';
import { findSlot, Pkcs11KeyStore, type Pkcs11KeyStoreOptions } from '../crypto/pkcs11-keystore.js';
import { parseCertificate } from '../pki/path/index.js';

export interface TokenRef {
  /** the vendor's PKCS#11 library */
  module: string;
  slot: Pkcs11KeyStoreOptions['slot'];
}

export interface TokenCertificate {
  /** CKA_ID, hex: names the certificate and its private key */
  id: string;
  label: string;
  /** DER, base64 */
  certificate: string;
  subject: string;
  issuer: string;
  notAfter: string;
}

/** Why a signature on the token failed, in words for the official and a stable code for the console. */
export class AgentError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function withSession<T>(t: TokenRef, fn: (lib: pkcs11js.PKCS11, session: Buffer) => T): T {
  const lib = acquireModule(t.module);
  try {
    const slot = findSlot(lib, t.slot);
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      return fn(lib, session);
    } finally {
      lib.C_CloseSession(session);
    }
  } finally {
    releaseModule(t.module);
  }
}

/** The certificates on the token (no PIN needed: certificates are public objects). */
export function listCertificates(t: TokenRef): TokenCertificate[] {
  try {
    return withSession(t, (lib, session) =>
      findObjects(lib, session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE }]).flatMap((o) => {
        const der = readAttribute(lib, session, o, pkcs11js.CKA_VALUE);
        const id = readAttribute(lib, session, o, pkcs11js.CKA_ID);
        if (!der || !id?.length) return [];
        try {
          const x = new X509Certificate(der);
          return [{ id: id.toString('hex'), label: readAttribute(lib, session, o, pkcs11js.CKA_LABEL)?.toString('utf8') ?? '', certificate: der.toString('base64'), subject: x.subject, issuer: x.issuer, notAfter: new Date(x.validTo).toISOString() }];
        } catch {
          return []; // not an X.509 certificate we can read
        }
      }),
    );
  } catch (e) {
    throw agentTokenError(e);
  }
}

/** Puts a certificate on the token beside its key (same CKA_ID): what a CA's issuance tool does. */
export function importCertificate(t: TokenRef, pin: string, idHex: string, der: Buffer, label: string): void {
  const cert = parseCertificate(der); // a certificate, or a throw
  withSession(t, (lib, session) => {
    lib.C_Login(session, pkcs11js.CKU_USER, pin);
    try {
      lib.C_CreateObject(session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE },
        { type: pkcs11js.CKA_CERTIFICATE_TYPE, value: pkcs11js.CKC_X_509 },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: false },
        { type: pkcs11js.CKA_ID, value: Buffer.from(idHex, 'hex') },
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_SUBJECT, value: cert.subject.der },
        { type: pkcs11js.CKA_ISSUER, value: cert.issuer.der },
        { type: pkcs11js.CKA_SERIAL_NUMBER, value: derInteger(cert.serial) },
        { type: pkcs11js.CKA_VALUE, value: der },
      ]);
    } finally {
      lib.C_Logout(session);
    }
  });
}

/** CKA_SERIAL_NUMBER is the DER encoding of the INTEGER, not its bytes. */
function derInteger(content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : Buffer.from([0x81, n]);
  return Buffer.concat([Buffer.from([0x02]), len, content]);
}

/** CKR_ codes the official causes, in the words the agent answers with. */
function agentTokenError(e: unknown): AgentError {
  const ckr = ckrOf(e) ?? ckrOf((e as { cause?: unknown })?.cause);
  switch (ckr) {
    case pkcs11js.CKR_PIN_INCORRECT:
      return new AgentError('pin_incorrect', 401, 'mã PIN không đúng / the token rejected the PIN');
    case pkcs11js.CKR_PIN_LOCKED:
      return new AgentError('pin_locked', 423, 'mã PIN đã bị khoá trên thiết bị / the PIN is locked on the token (ask the CA to unblock it)');
    case pkcs11js.CKR_PIN_LEN_RANGE:
      return new AgentError('pin_incorrect', 401, 'độ dài mã PIN không hợp lệ / the token does not accept a PIN of this length');
    case pkcs11js.CKR_DEVICE_REMOVED:
    case pkcs11js.CKR_TOKEN_NOT_PRESENT:
    case pkcs11js.CKR_SESSION_HANDLE_INVALID:
      return new AgentError('token_absent', 503, 'không thấy thiết bị ký số: hãy cắm lại / the token is not present: plug it in again');
  }
  if (e instanceof TrucError && /no token/.test(e.message)) return new AgentError('token_absent', 503, `không thấy thiết bị ký số / the token is not present (${e.message})`);
  return new AgentError('token_error', 502, `thiết bị ký số báo lỗi / the token refused: ${(e as Error).message}`);
}

/**
 * Signs `data` (the data to be signed, hashed by the token's mechanism per `scheme`) with the key whose
 * CKA_ID is `id`, in a login made with `pin` and closed right after.
 */
export async function signOnToken(t: TokenRef, pin: string, id: string, scheme: SignatureScheme, data: Buffer): Promise<Buffer> {
  if (!Object.hasOwn(SCHEMES, scheme)) throw new AgentError('bad_request', 400, `lược đồ ký không hỗ trợ / unsupported scheme ${scheme}`);
  let store: Pkcs11KeyStore;
  try {
    store = await Pkcs11KeyStore.open({ module: t.module, slot: t.slot, pin, sessions: 1 });
  } catch (e) {
    throw agentTokenError(e);
  }
  try {
    return await store.sign(id, scheme, data);
  } catch (e) {
    throw agentTokenError(e);
  } finally {
    await store.close().catch(() => {});
  }
}
