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
    /** more for the answer's body (e.g. the PIN state after a refused PIN) */
    readonly extra: Record<string, unknown> = {},
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

/** Where the token's user PIN stands, from its CKF_USER_PIN_* flags (tokens that count wrong PINs set them). */
export type PinState = 'ok' | 'count_low' | 'final_try' | 'locked';

/** The token in the slot, as the official should know it before typing a PIN. */
export interface TokenStatus {
  label: string;
  manufacturer: string;
  model: string;
  serial: string;
  pin: PinState;
  /** what the PIN state means, Vietnamese / English (absent when all is well) */
  warning?: string;
}

function pinStateOf(flags: number): PinState {
  if (flags & pkcs11js.CKF_USER_PIN_LOCKED) return 'locked';
  if (flags & pkcs11js.CKF_USER_PIN_FINAL_TRY) return 'final_try';
  if (flags & pkcs11js.CKF_USER_PIN_COUNT_LOW) return 'count_low';
  return 'ok';
}

const PIN_WARNING: Record<Exclude<PinState, 'ok'>, string> = {
  count_low: 'đã có lần nhập mã PIN sai kể từ lần đăng nhập đúng gần nhất; nhập sai nhiều lần thiết bị sẽ khoá mã PIN / a wrong PIN was entered since the last right one; too many wrong PINs lock the token',
  final_try: 'chỉ còn MỘT lần thử: nhập sai mã PIN lần nữa, thiết bị sẽ bị khoá / one try left: another wrong PIN locks the token',
  locked: 'mã PIN đã bị khoá trên thiết bị sau quá nhiều lần nhập sai: hãy liên hệ tổ chức cung cấp dịch vụ chứng thực để mở khoá / the PIN is locked on the token after too many wrong tries: ask the CA to unblock it',
};

/** The token's label, maker and PIN state (no PIN needed); 503 `token_absent` when the slot is empty. */
export function tokenStatus(t: TokenRef): TokenStatus {
  const lib = acquireModule(t.module);
  try {
    const info = lib.C_GetTokenInfo(findSlot(lib, t.slot));
    const pin = pinStateOf(info.flags);
    return { label: info.label.trimEnd(), manufacturer: info.manufacturerID.trimEnd(), model: info.model.trimEnd(), serial: info.serialNumber.trimEnd(), pin, ...(pin === 'ok' ? {} : { warning: PIN_WARNING[pin] }) };
  } catch (e) {
    throw agentTokenError(e);
  } finally {
    releaseModule(t.module);
  }
}

/** The PIN state after a refused PIN, or undefined when the token cannot say (it went away meanwhile). */
function pinStateNow(t: TokenRef): PinState | undefined {
  try {
    return tokenStatus(t).pin;
  } catch {
    return undefined;
  }
}

const TOKEN_ABSENT = 'không thấy thiết bị ký số: hãy cắm lại / the token is not present: plug it in again';

/** CKR_ codes the official causes, in the words the agent answers with. */
function agentTokenError(e: unknown): AgentError {
  const ckr = ckrOf(e) ?? ckrOf((e as { cause?: unknown })?.cause);
  switch (ckr) {
    case pkcs11js.CKR_PIN_INCORRECT:
      return new AgentError('pin_incorrect', 401, 'mã PIN không đúng / the token rejected the PIN');
    case pkcs11js.CKR_PIN_LOCKED:
      return new AgentError('pin_locked', 423, PIN_WARNING.locked);
    case pkcs11js.CKR_PIN_LEN_RANGE:
      return new AgentError('pin_incorrect', 401, 'độ dài mã PIN không hợp lệ / the token does not accept a PIN of this length');
    case pkcs11js.CKR_DEVICE_REMOVED:
    case pkcs11js.CKR_TOKEN_NOT_PRESENT:
    case pkcs11js.CKR_SESSION_HANDLE_INVALID:
      return new AgentError('token_absent', 503, TOKEN_ABSENT);
  }
  // the key store noticed the token gone and could not open it again
  if (e instanceof TrucError && e.code === 'key_store_unavailable') return new AgentError('token_absent', 503, TOKEN_ABSENT);
  if (e instanceof TrucError && /no token/.test(e.message)) return new AgentError('token_absent', 503, `không thấy thiết bị ký số / the token is not present (${e.message})`);
  return new AgentError('token_error', 502, `thiết bị ký số báo lỗi / the token refused: ${(e as Error).message}`);
}

/** A refused login, with what the token now says of its PIN: a wrong PIN that locked it is a lock. */
function loginError(t: TokenRef, e: unknown): AgentError {
  const a = agentTokenError(e);
  if (a.code !== 'pin_incorrect' && a.code !== 'pin_locked') return a;
  const pin = pinStateNow(t);
  if (pin === 'locked' || a.code === 'pin_locked') return new AgentError('pin_locked', 423, PIN_WARNING.locked, { pin: 'locked' });
  if (pin === 'final_try') return new AgentError('pin_incorrect', 401, 'mã PIN không đúng; chỉ còn MỘT lần thử: nhập sai lần nữa, thiết bị sẽ bị khoá / the token rejected the PIN; one try left: another wrong PIN locks the token', { pin });
  if (pin === 'count_low') return new AgentError('pin_incorrect', 401, 'mã PIN không đúng; thiết bị đếm số lần nhập sai và sẽ khoá mã PIN nếu sai quá nhiều / the token rejected the PIN; it counts wrong PINs and locks after too many', { pin });
  return new AgentError(a.code, a.status, a.message, pin ? { pin } : {});
}

/** What a batch came to: a signature for each item signed, in order, and why the rest were not. */
export interface BatchOutcome {
  signatures: (Buffer | null)[];
  /** set when an item failed: it and every later item are unsigned */
  error?: AgentError;
  /** index of the item that failed */
  failedAt?: number;
}

/**
 * Signs each data to be signed of a batch with the key whose CKA_ID is `id`, in one login made with `pin`
 * and closed right after. A login refused signs nothing (thrown); a token pulled out part-way keeps what it
 * signed before — each signature is complete on its own — and reports the rest unsigned.
 */
export async function signBatchOnToken(t: TokenRef, pin: string, id: string, scheme: SignatureScheme, items: Buffer[]): Promise<BatchOutcome> {
  if (!Object.hasOwn(SCHEMES, scheme)) throw new AgentError('bad_request', 400, `lược đồ ký không hỗ trợ / unsupported scheme ${scheme}`);
  let store: Pkcs11KeyStore;
  try {
    store = await Pkcs11KeyStore.open({ module: t.module, slot: t.slot, pin, sessions: 1 });
  } catch (e) {
    throw loginError(t, e);
  }
  const signatures: (Buffer | null)[] = items.map(() => null);
  try {
    for (const [i, data] of items.entries()) {
      try {
        signatures[i] = await store.sign(id, scheme, data);
      } catch (e) {
        return { signatures, error: agentTokenError(e), failedAt: i };
      }
    }
    return { signatures };
  } finally {
    await store.close().catch(() => {});
  }
}

/**
 * Signs `data` (the data to be signed, hashed by the token's mechanism per `scheme`) with the key whose
 * CKA_ID is `id`, in a login made with `pin` and closed right after.
 */
export async function signOnToken(t: TokenRef, pin: string, id: string, scheme: SignatureScheme, data: Buffer): Promise<Buffer> {
  const r = await signBatchOnToken(t, pin, id, scheme, [data]);
  if (r.error) throw r.error;
  return r.signatures[0]!;
}
