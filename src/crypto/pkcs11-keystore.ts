/**
 * Keys on a PKCS#11 token (an HSM, a smart card, SoftHSM2 in tests). Private keys are generated on the
 * token as sensitive, non-extractable, private token objects and never leave it; the store signs by asking
 * the token. A key's id is its CKA_ID in hex (16 random bytes for keys made here); its public half is
 * read back from the public key object and turned into a SubjectPublicKeyInfo.
 *
 * A token can go away under a running platform (an HSM restarted, a card pulled, a network HSM partitioned)
 * and come back. Handles and sessions from before are then worthless, and a key the store knew is suddenly
 * "not found" — which must not be reported as a 404. The store notices (a token error, or a known key
 * missing), answers 503 `key_store_unavailable` while the token is away, and re-opens itself — module
 * re-initialised, slot found again by label, sessions opened, user logged in, keys looked up again — on
 * the next request and in the background with back-off, telling listeners (`onAvailability`) both ways.
 */
import { createPublicKey, randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { TrucError } from '../errors.js';
import {
  type KeyAlgorithm,
  type SignatureScheme,
  keyFamily,
  parseKeyAlgorithm,
  schemeFitsKey,
} from './algorithms.js';
import type { KeyInfo, KeyStore, RsaDecryptPadding, SecretInfo } from './keystore.js';
import { ecdsaRawToDer } from './ecdsa-signature.js';
import { oaepDecode, type OaepHash } from './rsa-oaep.js';
import { CKK_EC_EDWARDS, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA } from './pkcs11/constants.js';
import { signRequest } from './pkcs11/mechanisms.js';
import { acquireLogin, acquireModule, releaseLogin, releaseModule, type Handle } from './pkcs11/module.js';
import { findObjects, readAttribute, ulong } from './pkcs11/objects.js';
import { algorithmOf, ecParams, spkiOf, type PublicAttributes } from './pkcs11/public-key.js';
import { SessionPool } from './pkcs11/session-pool.js';
import { ckrOf, tokenError } from './pkcs11/token-error.js';

export interface Pkcs11KeyStoreOptions {
  /** path of the vendor's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so */
  module: string;
  /** the token, by label (what operators see) or by index among slots with a token present */
  slot: { tokenLabel: string } | { index: number };
  /** user PIN */
  pin: string;
  /** sessions kept open for parallel signing; default 4 */
  sessions?: number;
}

/** CKA_ID of keys: hex of 1–64 bytes. Bounds what an unknown id can make us search for. */
const ID_PATTERN = /^(?:[0-9a-f]{2}){1,64}$/;

const MECHANISM_NAME: Record<number, string> = {
  [pkcs11js.CKM_EC_KEY_PAIR_GEN]: 'CKM_EC_KEY_PAIR_GEN',
  [pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN]: 'CKM_RSA_PKCS_KEY_PAIR_GEN',
  [CKM_EC_EDWARDS_KEY_PAIR_GEN]: 'CKM_EC_EDWARDS_KEY_PAIR_GEN',
  [pkcs11js.CKM_ECDSA]: 'CKM_ECDSA',
  [pkcs11js.CKM_RSA_PKCS]: 'CKM_RSA_PKCS',
  [pkcs11js.CKM_RSA_PKCS_PSS]: 'CKM_RSA_PKCS_PSS',
  [CKM_EDDSA]: 'CKM_EDDSA',
};

interface Entry {
  info: KeyInfo;
  privateKey: Handle;
}

/** Token errors after which the sessions and handles of this store cannot be trusted any more. */
const LOST = new Set<number>(
  [
    pkcs11js.CKR_DEVICE_REMOVED,
    pkcs11js.CKR_TOKEN_NOT_PRESENT,
    pkcs11js.CKR_TOKEN_NOT_RECOGNIZED,
    pkcs11js.CKR_DEVICE_ERROR,
    pkcs11js.CKR_SESSION_HANDLE_INVALID,
    pkcs11js.CKR_SESSION_CLOSED,
    pkcs11js.CKR_OBJECT_HANDLE_INVALID,
    pkcs11js.CKR_KEY_HANDLE_INVALID,
    pkcs11js.CKR_USER_NOT_LOGGED_IN,
    pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED,
    pkcs11js.CKR_SLOT_ID_INVALID,
  ].filter((c): c is number => typeof c === 'number'),
);

/** Whether the token is reachable, as this store last saw it. */
export interface TokenHealth {
  available: boolean;
  /** times the store re-opened the token after losing it */
  reopened: number;
  since: string;
  lastError: string | null;
}

export function findSlot(lib: pkcs11js.PKCS11, slot: Pkcs11KeyStoreOptions['slot']): Handle {
  const slots = lib.C_GetSlotList(true);
  if ('index' in slot) {
    const s = slots[slot.index];
    if (!s)
      throw new TrucError(
        'key_store',
        `no token in slot index ${slot.index} (${slots.length} slots have a token)`,
      );
    return s;
  }
  const labels: string[] = [];
  for (const s of slots) {
    // token labels are blank-padded to 32 bytes
    const label = lib.C_GetTokenInfo(s).label.trimEnd();
    if (label === slot.tokenLabel) return s;
    if (label) labels.push(label);
  }
  throw new TrucError('key_store', `no token labelled "${slot.tokenLabel}"`, { tokens: labels });
}

export class Pkcs11KeyStore implements KeyStore {
  readonly kind = 'pkcs11';
  private readonly cache = new Map<string, Entry>();
  private closing: Promise<void> | undefined;
  /** ids of keys this store has seen on the token: one of them missing means the token is, not the key */
  private readonly known = new Set<string>();
  /** OAEP hashes the token's own CKM_RSA_PKCS_OAEP refused: decrypted through rsaDecryptRaw from then on */
  private readonly oaepRefused = new Set<OaepHash>();
  private generation = 0;
  private recovering: Promise<boolean> | null = null;
  private lastAttempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelay = 500;
  private readonly listeners: ((available: boolean, reason: string) => void)[] = [];
  private readonly tokenHealth: TokenHealth = { available: true, reopened: 0, since: new Date().toISOString(), lastError: null };
  private opts!: Pkcs11KeyStoreOptions;

  private constructor(
    private lib: pkcs11js.PKCS11,
    private readonly modulePath: string,
    private slot: Handle,
    private pool: SessionPool,
    private mechanisms: ReadonlySet<number>,
  ) {}

  /** Called when the token goes away (false) and when it is back (true). */
  onAvailability(f: (available: boolean, reason: string) => void): () => void {
    this.listeners.push(f);
    return () => {
      const i = this.listeners.indexOf(f);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  get health(): TokenHealth {
    return { ...this.tokenHealth };
  }

  private setAvailable(available: boolean, reason: string): void {
    if (!available) this.tokenHealth.lastError = reason;
    if (this.tokenHealth.available === available) return;
    this.tokenHealth.available = available;
    this.tokenHealth.since = new Date().toISOString();
    for (const f of this.listeners) {
      try {
        f(available, reason);
      } catch {
        // a listener's failure is not the token's
      }
    }
  }

  private lost(e: unknown, id?: string): boolean {
    const ckr = ckrOf(e) ?? ckrOf((e as { cause?: unknown })?.cause);
    if (ckr !== undefined && LOST.has(ckr)) return true;
    return !!id && e instanceof TrucError && e.code === 'not_found' && this.known.has(id);
  }

  private unavailable(why: string): TrucError {
    return new TrucError('key_store_unavailable', `thiết bị lưu khoá (PKCS#11) không sẵn sàng — bị rút ra hoặc mất kết nối; nền tảng tự mở lại khi thiết bị trở lại, hãy thử lại sau / the PKCS#11 token is not available (removed or unreachable; the platform re-opens it by itself when it is back, try again later): ${why}`, { tokenLabel: 'tokenLabel' in this.opts.slot ? this.opts.slot.tokenLabel : undefined, retryAfter: 2 });
  }

  /**
   * Closes what is left of the old sessions and opens the token afresh (the module is finalised and
   * initialised again when this store is its only user, so a token that came back is enumerated again).
   * One attempt at a time; true when the token is usable again.
   */
  private recover(): Promise<boolean> {
    this.recovering ??= (async () => {
      this.lastAttempt = Date.now();
      const old = this.pool;
      try {
        await old.drain();
        try {
          releaseLogin(this.modulePath, this.slot, old.sessions[0]);
        } catch {
          // the login went with the token
        }
        for (const s of old.sessions) {
          try {
            this.lib.C_CloseSession(s);
          } catch {
            // already gone
          }
        }
        releaseModule(this.modulePath);
      } catch {
        // nothing more to release
      }
      try {
        const fresh = await Pkcs11KeyStore.open(this.opts);
        this.lib = fresh.lib;
        this.slot = fresh.slot;
        this.pool = fresh.pool;
        this.mechanisms = fresh.mechanisms;
        this.cache.clear();
        this.generation++;
        // a token that answers but shows none of the keys we knew is not back yet (SoftHSM2 with its folder
        // gone shows an empty slot; an HSM partition may come up before its key store)
        if (this.known.size) {
          const some = await this.pool.use((session) =>
            findObjects(this.lib, session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }], 1),
          );
          if (!some.length) throw new TrucError('key_store', 'the token shows none of its keys');
        }
        this.tokenHealth.reopened++;
        this.retryDelay = 500;
        this.setAvailable(true, 'token re-opened');
        return true;
      } catch (e) {
        // keep a closed pool so that calls fail fast until the next attempt
        this.pool = new SessionPool([]);
        void this.pool.drain();
        this.setAvailable(false, (e as Error).message);
        this.scheduleRetry();
        return false;
      }
    })().finally(() => {
      this.recovering = null;
    });
    return this.recovering;
  }

  /** Background attempts with back-off (0.5 s doubling to 30 s), so the token comes back without requests. */
  private scheduleRetry(): void {
    if (this.retryTimer || this.closing) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, 30_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.closing || this.tokenHealth.available) return;
      void this.recover();
    }, delay);
    this.retryTimer.unref();
  }

  /**
   * Runs an operation against the token; when the token turns out to be gone, re-opens it once and tries
   * again, and otherwise answers 503 `key_store_unavailable`.
   */
  private async guarded<T>(fn: () => Promise<T>, id?: string): Promise<T> {
    if (this.closing) throw new TrucError('key_store', 'the PKCS#11 key store is closed');
    if (!this.tokenHealth.available) {
      // a request while away tries again at most every half second; others are answered at once
      if (Date.now() - this.lastAttempt < 500 && !this.recovering) throw this.unavailable(this.tokenHealth.lastError ?? 'token away');
      if (!(await this.recover())) throw this.unavailable(this.tokenHealth.lastError ?? 'token away');
    }
    const gen = this.generation;
    try {
      return await fn();
    } catch (e) {
      if (!this.lost(e, id) || this.closing) throw e;
      this.setAvailable(false, (e as Error).message);
      // another call may have re-opened the token meanwhile: then only retry
      if (gen === this.generation && !(await this.recover())) throw this.unavailable((e as Error).message);
      try {
        return await fn();
      } catch (e2) {
        // the token is back with its other keys and this one is still missing: it was deleted, a real 404
        if (e2 instanceof TrucError && e2.code === 'not_found' && this.tokenHealth.available) {
          if (id) this.known.delete(id);
          throw e2;
        }
        if (!this.lost(e2, id)) throw e2;
        this.setAvailable(false, (e2 as Error).message);
        this.scheduleRetry();
        throw this.unavailable((e2 as Error).message);
      }
    }
  }

  static async open(opts: Pkcs11KeyStoreOptions): Promise<Pkcs11KeyStore> {
    const n = opts.sessions ?? 4;
    if (!Number.isInteger(n) || n < 1 || n > 64)
      throw new TrucError('invalid_config', `PKCS#11 session count must be 1..64, not ${n}`);
    const lib = acquireModule(opts.module);
    const sessions: Handle[] = [];
    let loggedIn = false;
    let slot: Handle | undefined;
    try {
      slot = findSlot(lib, opts.slot);
      const mechanisms = new Set(lib.C_GetMechanismList(slot));
      for (let i = 0; i < n; i++)
        sessions.push(lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
      acquireLogin(opts.module, slot, sessions[0], opts.pin);
      loggedIn = true;
      const store = new Pkcs11KeyStore(lib, opts.module, slot, new SessionPool(sessions), mechanisms);
      store.opts = opts;
      return store;
    } catch (e) {
      if (loggedIn && slot) releaseLogin(opts.module, slot, sessions[0]);
      for (const s of sessions) lib.C_CloseSession(s);
      releaseModule(opts.module);
      throw tokenError(e, 'cannot open the PKCS#11 key store', { module: opts.module });
    }
  }

  private requireMechanism(mechanism: number, what: string): void {
    if (!this.mechanisms.has(mechanism))
      throw new TrucError(
        'unsupported',
        `the token does not support ${MECHANISM_NAME[mechanism] ?? mechanism}, needed for ${what}`,
      );
  }

  async generate(algorithm: KeyAlgorithm, label: string, opts: { usage?: 'sign' | 'decrypt' } = {}): Promise<KeyInfo> {
    parseKeyAlgorithm(algorithm);
    const decrypt = opts.usage === 'decrypt';
    const family = keyFamily(algorithm);
    const idBytes = randomBytes(16);
    const id = idBytes.toString('hex');
    let mechanism: number;
    let keyType: number;
    const publicSpecific: pkcs11js.Template = [];
    if (family === 'rsa') {
      this.requireMechanism((mechanism = pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN), `${algorithm} keys`);
      keyType = pkcs11js.CKK_RSA;
      publicSpecific.push(
        { type: pkcs11js.CKA_MODULUS_BITS, value: Number(algorithm.slice(4)) },
        { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
      );
    } else if (family === 'ec') {
      this.requireMechanism((mechanism = pkcs11js.CKM_EC_KEY_PAIR_GEN), `${algorithm} keys`);
      keyType = pkcs11js.CKK_EC;
      publicSpecific.push({ type: pkcs11js.CKA_EC_PARAMS, value: ecParams(algorithm) });
    } else {
      this.requireMechanism((mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN), 'Ed25519 keys');
      this.requireMechanism(CKM_EDDSA, 'Ed25519 signatures');
      keyType = CKK_EC_EDWARDS;
      publicSpecific.push({ type: pkcs11js.CKA_EC_PARAMS, value: ecParams(algorithm) });
    }
    const common: pkcs11js.Template = [
      { type: pkcs11js.CKA_KEY_TYPE, value: keyType },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_ID, value: idBytes },
      { type: pkcs11js.CKA_LABEL, value: label },
    ];
    const publicTemplate: pkcs11js.Template = [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      ...common,
      { type: pkcs11js.CKA_PRIVATE, value: false },
      { type: pkcs11js.CKA_VERIFY, value: true },
      ...publicSpecific,
    ];
    const privateTemplate: pkcs11js.Template = [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      ...common,
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_SIGN, value: !decrypt },
      // Every usage is set, never left to the token's defaults (SoftHSM2 and others default some to true):
      // a signing key only signs, so a PKCS#1 v1.5 decryption oracle or an ECDH oracle is never on offer;
      // a key for receiving encrypted documents decrypts (RSA-OAEP) or derives (ECDH, CMS
      // KeyAgreeRecipientInfo) and never signs. Nothing unwraps keys onto the token with these.
      { type: pkcs11js.CKA_DECRYPT, value: decrypt && family === 'rsa' },
      { type: pkcs11js.CKA_UNWRAP, value: false },
      { type: pkcs11js.CKA_DERIVE, value: decrypt && family === 'ec' },
      { type: pkcs11js.CKA_SIGN_RECOVER, value: false },
    ];
    return this.pool.use(async (session) => {
      let pair: pkcs11js.KeyPair;
      try {
        // async: RSA generation takes seconds on some tokens and must not stall the event loop
        pair = await this.lib.C_GenerateKeyPairAsync(session, { mechanism }, publicTemplate, privateTemplate);
      } catch (e) {
        throw tokenError(e, `generating a ${algorithm} key on the token failed`);
      }
      try {
        const spki = spkiOf(algorithm, this.publicAttributes(session, pair.publicKey));
        const info: KeyInfo = { ref: { store: this.kind, id }, label, algorithm, spki };
        this.cache.set(id, { info, privateKey: pair.privateKey });
        return info;
      } catch (e) {
        throw tokenError(e, `reading the new ${algorithm} public key failed`, { id });
      }
    });
  }

  private publicAttributes(session: Handle, object: Handle): PublicAttributes {
    const read = (t: number) => readAttribute(this.lib, session, object, t);
    const kt = read(pkcs11js.CKA_KEY_TYPE);
    if (!kt) throw new TrucError('key_store', 'the key object has no CKA_KEY_TYPE');
    const keyType = ulong(kt);
    if (keyType === pkcs11js.CKK_RSA)
      return {
        keyType,
        modulus: read(pkcs11js.CKA_MODULUS),
        publicExponent: read(pkcs11js.CKA_PUBLIC_EXPONENT),
      };
    return { keyType, ecParams: read(pkcs11js.CKA_EC_PARAMS), ecPoint: read(pkcs11js.CKA_EC_POINT) };
  }

  /** Reads a key's entry from the token; throws not_found when no private key has this CKA_ID. */
  private readEntry(session: Handle, id: string): Entry {
    const idBytes = Buffer.from(id, 'hex');
    const privates = findObjects(
      this.lib,
      session,
      [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_ID, value: idBytes },
      ],
      2,
    );
    if (privates.length === 0) throw new TrucError('not_found', `no key with id ${id} on the token`, { id });
    if (privates.length > 1)
      throw new TrucError('key_store', `two private keys on the token share the id ${id}`, { id });
    const publics = findObjects(
      this.lib,
      session,
      [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
        { type: pkcs11js.CKA_ID, value: idBytes },
      ],
      1,
    );
    // without a public key object, RSA's public half is still on the private key; EC's is not
    const attrs = this.publicAttributes(session, publics[0] ?? privates[0]);
    const algorithm = algorithmOf(attrs);
    const label = readAttribute(this.lib, session, privates[0], pkcs11js.CKA_LABEL)?.toString('utf8') ?? '';
    const spki = spkiOf(algorithm, attrs);
    return { info: { ref: { store: this.kind, id }, label, algorithm, spki }, privateKey: privates[0] };
  }

  private async load(id: string): Promise<Entry> {
    const hit = this.cache.get(id);
    if (hit) return hit;
    if (!ID_PATTERN.test(id)) throw new TrucError('not_found', `no key with id "${id}" on the token`, { id });
    const entry = await this.pool.use((session) => {
      try {
        return this.readEntry(session, id);
      } catch (e) {
        throw tokenError(e, `reading key ${id} from the token failed`, { id });
      }
    });
    this.cache.set(id, entry);
    this.known.add(id);
    return entry;
  }

  async info(id: string): Promise<KeyInfo> {
    return this.guarded(async () => (await this.load(id)).info, id);
  }

  async list(): Promise<KeyInfo[]> {
    const entries = await this.pool.use((session) => {
      const ids = new Set<string>();
      try {
        for (const h of findObjects(this.lib, session, [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        ])) {
          const id = readAttribute(this.lib, session, h, pkcs11js.CKA_ID)?.toString('hex');
          if (id && ID_PATTERN.test(id)) ids.add(id);
        }
        const out: Entry[] = [];
        for (const id of ids) {
          try {
            out.push(this.readEntry(session, id));
          } catch (e) {
            // keys other applications put on the token (other curves, sizes, types) are not ours to list
            if (e instanceof TrucError && e.code === 'unsupported') continue;
            throw e;
          }
        }
        return out;
      } catch (e) {
        throw tokenError(e, 'listing the keys on the token failed');
      }
    });
    for (const e of entries) {
      this.cache.set(e.info.ref.id, e);
      this.known.add(e.info.ref.id);
    }
    return entries.map((e) => e.info);
  }

  async sign(id: string, scheme: SignatureScheme, data: Uint8Array): Promise<Buffer> {
    return this.guarded(() => this.signOnce(id, scheme, data), id);
  }

  private async signOnce(id: string, scheme: SignatureScheme, data: Uint8Array): Promise<Buffer> {
    const entry = await this.load(id);
    if (!schemeFitsKey(scheme, entry.info.algorithm))
      throw new TrucError('key_not_allowed', `scheme ${scheme} does not fit a ${entry.info.algorithm} key`, {
        id,
      });
    const req = signRequest(scheme, data);
    this.requireMechanism(req.mechanism.mechanism, `${scheme} signatures`);
    const out = await this.pool.use(async (session) => {
      try {
        this.lib.C_SignInit(session, req.mechanism, entry.privateKey);
        // 1024 bytes holds any signature we make (RSA-4096 is 512); pkcs11js returns the used slice
        return await this.lib.C_SignAsync(session, req.input, Buffer.alloc(1024));
      } catch (e) {
        const ckr = ckrOf(e);
        // the key was deleted or the token re-enumerated: forget the handle so the next call looks it up again
        if (ckr === pkcs11js.CKR_KEY_HANDLE_INVALID || ckr === pkcs11js.CKR_OBJECT_HANDLE_INVALID)
          this.cache.delete(id);
        throw tokenError(e, `signing with key ${id} (${scheme}) failed`, { id, scheme });
      }
    });
    return req.rawEcdsa ? ecdsaRawToDer(out) : out;
  }

  // --- envelope encryption and CMS recipients (src/vault) ---

  async generateSecret(label: string): Promise<SecretInfo> {
    this.requireMechanism(pkcs11js.CKM_AES_KEY_GEN, 'AES key-encryption keys');
    this.requireMechanism(pkcs11js.CKM_AES_GCM, 'wrapping data keys (AES-GCM)');
    const idBytes = randomBytes(16);
    const template: pkcs11js.Template = [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_ENCRYPT, value: true },
      { type: pkcs11js.CKA_DECRYPT, value: true },
      { type: pkcs11js.CKA_ID, value: idBytes },
      { type: pkcs11js.CKA_LABEL, value: label },
    ];
    await this.pool.use((session) => {
      try {
        this.lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, template);
      } catch (e) {
        throw tokenError(e, 'generating an AES key-encryption key on the token failed');
      }
    });
    return { ref: { store: this.kind, id: idBytes.toString('hex') }, label };
  }

  private findSecret(session: Handle, id: string): Handle {
    if (!ID_PATTERN.test(id)) throw new TrucError('not_found', `no secret key with id "${id}" on the token`, { id });
    const found = findObjects(
      this.lib,
      session,
      [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_ID, value: Buffer.from(id, 'hex') },
      ],
      2,
    );
    if (found.length !== 1)
      throw new TrucError('key_store_unavailable', `the key-encryption key ${id} is not on the token`, { id });
    return found[0];
  }

  async wrapSecret(id: string, secret: Uint8Array, ad: Uint8Array): Promise<Buffer> {
    const iv = randomBytes(12);
    const mechanism = { mechanism: pkcs11js.CKM_AES_GCM, parameter: { type: pkcs11js.CK_PARAMS_AES_GCM, iv, aad: Buffer.from(ad), ivBits: 96, tagBits: 128 } as pkcs11js.AesGCM };
    return this.pool.use(async (session) => {
      try {
        const key = this.findSecret(session, id);
        this.lib.C_EncryptInit(session, mechanism, key);
        const out = this.lib.C_Encrypt(session, Buffer.from(secret), Buffer.alloc(secret.length + 64));
        return Buffer.concat([iv, out]);
      } catch (e) {
        throw tokenError(e, `wrapping a data key with ${id} failed`, { id });
      }
    });
  }

  async unwrapSecret(id: string, wrapped: Uint8Array, ad: Uint8Array): Promise<Buffer> {
    const w = Buffer.from(wrapped);
    if (w.length < 28) throw new TrucError('decrypt_failed', 'wrapped key too short');
    const mechanism = { mechanism: pkcs11js.CKM_AES_GCM, parameter: { type: pkcs11js.CK_PARAMS_AES_GCM, iv: w.subarray(0, 12), aad: Buffer.from(ad), ivBits: 96, tagBits: 128 } as pkcs11js.AesGCM };
    return this.pool.use(async (session) => {
      const key = (() => {
        try {
          return this.findSecret(session, id);
        } catch (e) {
          throw tokenError(e, `finding the key-encryption key ${id} failed`, { id });
        }
      })();
      try {
        this.lib.C_DecryptInit(session, mechanism, key);
        return this.lib.C_Decrypt(session, w.subarray(12), Buffer.alloc(w.length));
      } catch (e) {
        const ckr = ckrOf(e);
        if (ckr === pkcs11js.CKR_ENCRYPTED_DATA_INVALID || ckr === pkcs11js.CKR_ENCRYPTED_DATA_LEN_RANGE || ckr === pkcs11js.CKR_GENERAL_ERROR)
          throw new TrucError('decrypt_failed', 'wrapped data key failed authentication (wrong key-encryption key or tampered)', { kek: id });
        throw tokenError(e, `unwrapping a data key with ${id} failed`, { id });
      }
    });
  }

  async destroySecret(id: string): Promise<void> {
    await this.pool.use((session) => {
      try {
        this.lib.C_DestroyObject(session, this.findSecret(session, id));
      } catch (e) {
        throw tokenError(e, `destroying the key-encryption key ${id} failed`, { id });
      }
    });
  }

  async rsaDecrypt(id: string, padding: RsaDecryptPadding, data: Uint8Array): Promise<Buffer> {
    const entry = await this.load(id);
    if (keyFamily(entry.info.algorithm) !== 'rsa') throw new TrucError('key_not_allowed', `key ${id} is not an RSA key`, { id });
    if (padding !== 'pkcs1' && this.oaepRefused.has(padding.oaep)) return this.rsaDecryptRaw(entry, id, padding, data);
    const HASHES = { sha1: [pkcs11js.CKM_SHA_1, pkcs11js.CKG_MGF1_SHA1], sha256: [pkcs11js.CKM_SHA256, pkcs11js.CKG_MGF1_SHA256], sha384: [pkcs11js.CKM_SHA384, pkcs11js.CKG_MGF1_SHA384], sha512: [pkcs11js.CKM_SHA512, pkcs11js.CKG_MGF1_SHA512] } as const;
    const mechanism: pkcs11js.Mechanism =
      padding === 'pkcs1'
        ? { mechanism: pkcs11js.CKM_RSA_PKCS }
        : {
            mechanism: pkcs11js.CKM_RSA_PKCS_OAEP,
            parameter: { type: pkcs11js.CK_PARAMS_RSA_OAEP, hashAlg: HASHES[padding.oaep][0], mgf: HASHES[padding.oaep][1], source: 1, ...(padding.label?.length ? { sourceData: Buffer.from(padding.label) } : {}) } as pkcs11js.RsaOAEP,
          };
    let refused = false;
    const out = await this.pool.use(async (session) => {
      try {
        this.lib.C_DecryptInit(session, mechanism, entry.privateKey);
      } catch (e) {
        const ckr = ckrOf(e);
        // the token has OAEP but not with this hash (SoftHSM2 2.6: SHA-1 only, CKR_ARGUMENTS_BAD)
        if (padding !== 'pkcs1' && (ckr === pkcs11js.CKR_ARGUMENTS_BAD || ckr === pkcs11js.CKR_MECHANISM_PARAM_INVALID || ckr === pkcs11js.CKR_MECHANISM_INVALID)) {
          refused = true;
          return null;
        }
        throw tokenError(e, `decrypting with key ${id} failed`, { id });
      }
      try {
        return this.lib.C_Decrypt(session, Buffer.from(data), Buffer.alloc(1024));
      } catch (e) {
        const ckr = ckrOf(e);
        if (ckr === pkcs11js.CKR_ENCRYPTED_DATA_INVALID || ckr === pkcs11js.CKR_ENCRYPTED_DATA_LEN_RANGE || ckr === pkcs11js.CKR_GENERAL_ERROR)
          throw new TrucError('decrypt_failed', 'RSA key transport did not decrypt with this key', { id });
        throw tokenError(e, `decrypting with key ${id} failed`, { id });
      }
    });
    if (out) return out;
    if (!refused || padding === 'pkcs1') throw new TrucError('key_store', `the token returned nothing decrypting with key ${id}`, { id });
    this.oaepRefused.add(padding.oaep);
    return this.rsaDecryptRaw(entry, id, padding, data);
  }

  /**
   * RSA-OAEP for a hash the token's own OAEP refuses: the private-key operation on the token (CKM_RSA_X_509,
   * which the token offers on any CKA_DECRYPT key anyway), the padding checked in constant time here
   * (crypto/rsa-oaep.ts). The key never leaves the token.
   */
  private async rsaDecryptRaw(entry: Entry, id: string, padding: Exclude<RsaDecryptPadding, 'pkcs1'>, data: Uint8Array): Promise<Buffer> {
    if (!this.mechanisms.has(pkcs11js.CKM_RSA_X_509))
      throw new TrucError('unsupported', `Token không giải mã được RSA-OAEP với ${padding.oaep} / the token refuses RSA-OAEP with ${padding.oaep} and offers no raw RSA (CKM_RSA_X_509) to do it with`, { id });
    const bits = createPublicKey({ key: entry.info.spki, format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength ?? 0;
    const k = Math.ceil(bits / 8);
    // RFC 8017 §7.1.2 step 1: a ciphertext of another length is a decryption error
    if (data.length !== k) throw new TrucError('decrypt_failed', 'RSA key transport did not decrypt with this key', { id });
    const em = await this.pool.use(async (session) => {
      try {
        this.lib.C_DecryptInit(session, { mechanism: pkcs11js.CKM_RSA_X_509 }, entry.privateKey);
        return this.lib.C_Decrypt(session, Buffer.from(data), Buffer.alloc(k));
      } catch (e) {
        const ckr = ckrOf(e);
        if (ckr === pkcs11js.CKR_ENCRYPTED_DATA_INVALID || ckr === pkcs11js.CKR_ENCRYPTED_DATA_LEN_RANGE)
          throw new TrucError('decrypt_failed', 'RSA key transport did not decrypt with this key', { id });
        throw tokenError(e, `decrypting with key ${id} failed`, { id });
      }
    });
    const message = oaepDecode(em, k, padding.oaep, padding.label);
    em.fill(0);
    if (!message) throw new TrucError('decrypt_failed', 'RSA key transport did not decrypt with this key', { id });
    return message;
  }

  async ecdhDerive(id: string, peerSpki: Uint8Array): Promise<Buffer> {
    const entry = await this.load(id);
    if (keyFamily(entry.info.algorithm) !== 'ec') throw new TrucError('key_not_allowed', `key ${id} is not an EC key`, { id });
    // the peer's point: the BIT STRING of its SubjectPublicKeyInfo (uncompressed 04 || x || y)
    const CURVE: Record<string, string> = { 'EC-P256': 'prime256v1', 'EC-P384': 'secp384r1' };
    let peerCurve: string | undefined;
    try {
      // a valid point on our curve, or refuse here rather than let the token answer with a generic error
      peerCurve = createPublicKey({ key: Buffer.from(peerSpki), format: 'der', type: 'spki' }).asymmetricKeyDetails?.namedCurve;
    } catch {
      throw new TrucError('decrypt_failed', 'the originator public key is not a valid EC key', { id });
    }
    if (peerCurve !== CURVE[entry.info.algorithm])
      throw new TrucError('decrypt_failed', `the originator key is on ${peerCurve}, not on this key's curve`, { id });
    const peer = peerPoint(peerSpki);
    const size = entry.info.algorithm === 'EC-P256' ? 32 : entry.info.algorithm === 'EC-P384' ? 48 : 66;
    const mechanism: pkcs11js.Mechanism = {
      mechanism: pkcs11js.CKM_ECDH1_DERIVE,
      parameter: { type: pkcs11js.CK_PARAMS_EC_DH, kdf: pkcs11js.CKD_NULL, publicData: peer } as pkcs11js.ECDH1,
    };
    const template: pkcs11js.Template = [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_SENSITIVE, value: false },
      { type: pkcs11js.CKA_EXTRACTABLE, value: true },
      { type: pkcs11js.CKA_VALUE_LEN, value: size },
    ];
    return this.pool.use(async (session) => {
      let secret: Handle | undefined;
      try {
        secret = this.lib.C_DeriveKey(session, mechanism, entry.privateKey, template);
        const v = readAttribute(this.lib, session, secret, pkcs11js.CKA_VALUE);
        if (!v) throw new TrucError('key_store', 'the token did not return the derived secret');
        return Buffer.from(v);
      } catch (e) {
        throw tokenError(e, `ECDH with key ${id} failed`, { id });
      } finally {
        if (secret) {
          try {
            this.lib.C_DestroyObject(session, secret);
          } catch {
            // a session object dies with its session anyway
          }
        }
      }
    });
  }

  /** Logs out (when no other store shares the login), closes the sessions, finalises the module if last. */
  async close(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    while (this.recovering) await this.recovering;
    this.closing ??= (async () => {
      await this.pool.drain();
      this.cache.clear();
      try {
        releaseLogin(this.modulePath, this.slot, this.pool.sessions[0]);
      } finally {
        for (const s of this.pool.sessions) {
          try {
            this.lib.C_CloseSession(s);
          } catch {
            // a session already gone (token removed) needs no closing; the finalise below still runs
          }
        }
        // after a failed re-open this store holds no module reference (its pool is the empty placeholder)
        if (this.pool.sessions.length) releaseModule(this.modulePath);
      }
    })();
    return this.closing;
  }
}

/** The subjectPublicKey BIT STRING's content (the EC point) of a DER SubjectPublicKeyInfo. */
function peerPoint(spki: Uint8Array): Buffer {
  const b = Buffer.from(spki);
  // SEQUENCE { SEQUENCE algorithm, BIT STRING } — walk the outer header, skip the algorithm, read the bits
  const len = (at: number): [number, number] => {
    const first = b[at];
    if (first < 0x80) return [first, at + 1];
    const n = first & 0x7f;
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + b[at + 1 + i];
    return [v, at + 1 + n];
  };
  let [, at] = len(1);
  const [algLen, algAt] = len(at + 1);
  at = algAt + algLen;
  if (b[at] !== 0x03) throw new TrucError('malformed_der', 'SubjectPublicKeyInfo without a BIT STRING');
  const [bitsLen, bitsAt] = len(at + 1);
  return b.subarray(bitsAt + 1, bitsAt + bitsLen);
}
