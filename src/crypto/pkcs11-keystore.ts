/**
 * Keys on a PKCS#11 token (an HSM, a smart card, SoftHSM2 in tests). Private keys are generated on the
 * token as sensitive, non-extractable, private token objects and never leave it; the store signs by asking
 * the token. A key's id is its CKA_ID in hex (16 random bytes for keys made here); its public half is
 * read back from the public key object and turned into a SubjectPublicKeyInfo.
 */
import { randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { TrucError } from '../errors.js';
import {
  type KeyAlgorithm,
  type SignatureScheme,
  keyFamily,
  parseKeyAlgorithm,
  schemeFitsKey,
} from './algorithms.js';
import type { KeyInfo, KeyStore } from './keystore.js';
import { ecdsaRawToDer } from './ecdsa-signature.js';
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

function findSlot(lib: pkcs11js.PKCS11, slot: Pkcs11KeyStoreOptions['slot']): Handle {
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

  private constructor(
    private readonly lib: pkcs11js.PKCS11,
    private readonly modulePath: string,
    private readonly slot: Handle,
    private readonly pool: SessionPool,
    private readonly mechanisms: ReadonlySet<number>,
  ) {}

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
      return new Pkcs11KeyStore(lib, opts.module, slot, new SessionPool(sessions), mechanisms);
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

  async generate(algorithm: KeyAlgorithm, label: string): Promise<KeyInfo> {
    parseKeyAlgorithm(algorithm);
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
      { type: pkcs11js.CKA_SIGN, value: true },
      // a signing key only: no decryption, so a PKCS#1 v1.5 decryption oracle is never on offer
      ...(family === 'rsa' ? [{ type: pkcs11js.CKA_DECRYPT, value: false }] : []),
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
    return entry;
  }

  async info(id: string): Promise<KeyInfo> {
    return (await this.load(id)).info;
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
    for (const e of entries) this.cache.set(e.info.ref.id, e);
    return entries.map((e) => e.info);
  }

  async sign(id: string, scheme: SignatureScheme, data: Uint8Array): Promise<Buffer> {
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

  /** Logs out (when no other store shares the login), closes the sessions, finalises the module if last. */
  async close(): Promise<void> {
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
        releaseModule(this.modulePath);
      }
    })();
    return this.closing;
  }
}
