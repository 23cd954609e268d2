/**
 * Software keys sealed at rest. Each private key is a PKCS#8 blob encrypted with AES-256-GCM under a
 * master key derived once per store with scrypt from an operator passphrase (or given directly as a
 * 32-byte key-encryption key). The key's id, algorithm and public key are bound as associated data, so a
 * sealed file cannot be swapped for another key's or relabelled without detection.
 */
import {
  constants as cryptoConstants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  privateDecrypt,
  generateKeyPairSync,
  randomBytes,
  scryptSync,
  type KeyObject,
} from 'node:crypto';
import { mkdir, readFile, readdir, writeFile, rename, unlink } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrucError } from '../errors.js';
import { type KeyAlgorithm, type SignatureScheme, schemeFitsKey, parseKeyAlgorithm } from './algorithms.js';
import type { KeyInfo, KeyStore, RsaDecryptPadding, SecretInfo } from './keystore.js';
import { signWith } from './sign.js';
import { SignPool } from './sign-pool.js';

interface SealedKey {
  v: 1;
  id: string;
  label: string;
  algorithm: KeyAlgorithm;
  spki: string;
  iv: string;
  ct: string;
  tag: string;
}

interface StoreHeader {
  v: 1;
  kdf: 'scrypt' | 'kek';
  salt: string;
  N: number;
  r: number;
  p: number;
  /** AES-GCM of a fixed string under the master key: tells a wrong passphrase at open, not at first use */
  check: { iv: string; ct: string; tag: string };
}

export interface SoftwareKeyStoreOptions {
  dir: string;
  /** operator passphrase (scrypt) … */
  passphrase?: string;
  /** … or a 32-byte key-encryption key */
  kek?: Buffer;
  /** scrypt cost; the default (2^15) takes ~100 ms once per open */
  scryptN?: number;
  /** threads for bulk signing (0: none, sign on the calling thread) */
  signWorkers?: number;
}

const CHECK = Buffer.from('truc-keystore-check');

function generate(alg: KeyAlgorithm): { privateKey: KeyObject; spki: Buffer } {
  let pair;
  switch (alg) {
    case 'EC-P256':
      pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      break;
    case 'EC-P384':
      pair = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      break;
    case 'Ed25519':
      pair = generateKeyPairSync('ed25519');
      break;
    default:
      pair = generateKeyPairSync('rsa', { modulusLength: Number(alg.slice(4)), publicExponent: 0x10001 });
  }
  return { privateKey: pair.privateKey, spki: pair.publicKey.export({ type: 'spki', format: 'der' }) };
}

function aad(id: string, alg: string, spki: Buffer): Buffer {
  return createHash('sha256').update(`${id}\n${alg}\n`).update(spki).digest();
}

/**
 * What the store in `dir` was sealed with — a passphrase, a key-encryption key file — or null when there is
 * no store yet. Read before any secret is made up, so that a missing passphrase is said as such rather
 * than answered with a fresh `kek.bin` that cannot open the store.
 */
export function sealedWith(dir: string): 'passphrase' | 'kek' | null {
  const headerPath = join(dir, 'keystore.json');
  if (!existsSync(headerPath)) return null;
  try {
    return (JSON.parse(readFileSync(headerPath, 'utf8')) as StoreHeader).kdf === 'kek' ? 'kek' : 'passphrase';
  } catch {
    return null; // unreadable: open() says why
  }
}

/** What a store sealed with a passphrase says when started without it. */
export function passphraseMissing(dir: string): TrucError {
  return new TrucError(
    'key_store',
    `kho khoá phần mềm tại ${dir} được niêm phong bằng mật khẩu: hãy đặt TRUC_KEY_PASSPHRASE (hoặc keys.software.passphrase) / ` +
      `the software key store at ${dir} is sealed with a passphrase: set TRUC_KEY_PASSPHRASE (or keys.software.passphrase)`,
    { dir, sealedWith: 'passphrase' },
  );
}

/** Characters a passphrase sealing a new store must have at least. */
export const MIN_PASSPHRASE = 12;

export class SoftwareKeyStore implements KeyStore {
  readonly kind = 'software';
  private readonly cache = new Map<string, { info: KeyInfo; key: KeyObject }>();

  private pool: SignPool | null = null;

  private constructor(
    private readonly dir: string,
    private readonly master: Buffer,
    private readonly signWorkers = 0,
  ) {}

  static async open(opts: SoftwareKeyStoreOptions): Promise<SoftwareKeyStore> {
    if (!opts.passphrase && !opts.kek)
      throw new TrucError('invalid_config', 'software key store needs a passphrase or a key-encryption key');
    if (opts.kek && opts.kek.length !== 32)
      throw new TrucError('invalid_config', 'key-encryption key must be 32 bytes');
    const headerPath = join(opts.dir, 'keystore.json');
    // a new store is sealed only with a passphrase worth the name; stores already sealed still open
    if (!opts.kek && !existsSync(headerPath) && [...opts.passphrase!].length < MIN_PASSPHRASE)
      throw new TrucError(
        'invalid_config',
        `mật khẩu kho khoá phải dài ít nhất ${MIN_PASSPHRASE} ký tự (TRUC_KEY_PASSPHRASE) / ` +
          `the key store passphrase must be at least ${MIN_PASSPHRASE} characters (TRUC_KEY_PASSPHRASE)`,
        { min: MIN_PASSPHRASE },
      );
    await mkdir(opts.dir, { recursive: true, mode: 0o700 });
    let header: StoreHeader;
    let master: Buffer;
    const derive = (h: StoreHeader) =>
      h.kdf === 'kek'
        ? opts.kek!
        : scryptSync(opts.passphrase!, Buffer.from(h.salt, 'base64'), 32, {
            N: h.N,
            r: h.r,
            p: h.p,
            maxmem: 256 * h.N * h.r + 1024 * 1024,
          });
    if (existsSync(headerPath)) {
      header = JSON.parse(await readFile(headerPath, 'utf8')) as StoreHeader;
      if (header.kdf === 'scrypt' && !opts.passphrase) throw passphraseMissing(opts.dir);
      if (header.kdf === 'kek' && !opts.kek)
        throw new TrucError(
          'key_store',
          `kho khoá phần mềm tại ${opts.dir} được niêm phong bằng tệp khoá mã hoá khoá (kek.bin), không phải mật khẩu: bỏ mật khẩu hoặc chỉ keys.software.kekFile / ` +
            `the software key store at ${opts.dir} is sealed with a key-encryption key file (kek.bin), not a passphrase: remove the passphrase or point keys.software.kekFile at the file`,
          { dir: opts.dir, sealedWith: 'kek' },
        );
      master = derive(header);
      try {
        const d = createDecipheriv('aes-256-gcm', master, Buffer.from(header.check.iv, 'base64'));
        d.setAuthTag(Buffer.from(header.check.tag, 'base64'));
        const pt = Buffer.concat([d.update(Buffer.from(header.check.ct, 'base64')), d.final()]);
        if (!pt.equals(CHECK)) throw new Error('check mismatch');
      } catch {
        throw new TrucError('key_store', 'wrong passphrase or key-encryption key for the key store');
      }
    } else {
      const kdf = opts.kek ? 'kek' : 'scrypt';
      const base = { v: 1 as const, kdf, salt: randomBytes(16).toString('base64'), N: opts.scryptN ?? 1 << 15, r: 8, p: 1 };
      master = derive({ ...base, check: { iv: '', ct: '', tag: '' } } as StoreHeader);
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', master, iv);
      const ct = Buffer.concat([c.update(CHECK), c.final()]);
      header = {
        ...base,
        kdf,
        check: { iv: iv.toString('base64'), ct: ct.toString('base64'), tag: c.getAuthTag().toString('base64') },
      };
      await writeFile(headerPath, JSON.stringify(header, null, 2), { mode: 0o600 });
    }
    return new SoftwareKeyStore(opts.dir, master, opts.signWorkers ?? 0);
  }

  async generate(algorithm: KeyAlgorithm, label: string): Promise<KeyInfo> {
    parseKeyAlgorithm(algorithm);
    const id = randomBytes(12).toString('hex');
    const { privateKey, spki } = generate(algorithm);
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.master, iv);
    c.setAAD(aad(id, algorithm, spki));
    const ct = Buffer.concat([c.update(pkcs8), c.final()]);
    const sealed: SealedKey = {
      v: 1,
      id,
      label,
      algorithm,
      spki: spki.toString('base64'),
      iv: iv.toString('base64'),
      ct: ct.toString('base64'),
      tag: c.getAuthTag().toString('base64'),
    };
    const path = join(this.dir, `${id}.key.json`);
    // write-then-rename: a crash never leaves a half-written key file under its final name
    await writeFile(`${path}.tmp`, JSON.stringify(sealed, null, 2), { mode: 0o600 });
    await rename(`${path}.tmp`, path);
    const info: KeyInfo = { ref: { store: this.kind, id }, label, algorithm, spki };
    this.cache.set(id, { info, key: privateKey });
    return info;
  }

  private async load(id: string): Promise<{ info: KeyInfo; key: KeyObject }> {
    const hit = this.cache.get(id);
    if (hit) return hit;
    if (!/^[0-9a-f]{24}$/.test(id)) throw new TrucError('not_found', `no software key "${id}"`);
    let sealed: SealedKey;
    try {
      sealed = JSON.parse(await readFile(join(this.dir, `${id}.key.json`), 'utf8')) as SealedKey;
    } catch {
      throw new TrucError('not_found', `no software key "${id}"`);
    }
    const spki = Buffer.from(sealed.spki, 'base64');
    let pkcs8: Buffer;
    try {
      const d = createDecipheriv('aes-256-gcm', this.master, Buffer.from(sealed.iv, 'base64'));
      d.setAAD(aad(sealed.id, sealed.algorithm, spki));
      d.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      pkcs8 = Buffer.concat([d.update(Buffer.from(sealed.ct, 'base64')), d.final()]);
    } catch {
      throw new TrucError('key_store', `sealed key "${id}" failed authentication (tampered or wrong store)`);
    }
    const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    pkcs8.fill(0);
    const entry = { info: { ref: { store: this.kind, id }, label: sealed.label, algorithm: sealed.algorithm, spki }, key };
    this.cache.set(id, entry);
    return entry;
  }

  async info(id: string): Promise<KeyInfo> {
    return (await this.load(id)).info;
  }

  /**
   * The private key as an in-process object, for the one use that cannot go "hash in, signature out": a
   * TLS endpoint (a security server's authentication key), whose handshake Node's TLS stack signs itself.
   * It never leaves the process; keys on PKCS#11 tokens have no such door.
   */
  async tlsPrivateKey(id: string): Promise<KeyObject> {
    return (await this.load(id)).key;
  }

  async list(): Promise<KeyInfo[]> {
    const files = (await readdir(this.dir)).filter((f) => f.endsWith('.key.json'));
    return Promise.all(files.map((f) => this.info(f.slice(0, -'.key.json'.length))));
  }

  async sign(id: string, scheme: SignatureScheme, data: Uint8Array): Promise<Buffer> {
    const { info, key } = await this.load(id);
    if (!schemeFitsKey(scheme, info.algorithm))
      throw new TrucError('key_not_allowed', `scheme ${scheme} does not fit a ${info.algorithm} key`);
    return signWith(key, scheme, data);
  }

  async syncSigner(id: string, scheme: SignatureScheme): Promise<(data: Uint8Array) => Buffer> {
    const { info, key } = await this.load(id);
    if (!schemeFitsKey(scheme, info.algorithm))
      throw new TrucError('key_not_allowed', `scheme ${scheme} does not fit a ${info.algorithm} key`);
    return (data) => signWith(key, scheme, data);
  }

  async batchSigner(id: string, scheme: SignatureScheme): Promise<((data: Uint8Array[]) => Promise<Buffer[]>) | null> {
    if (this.signWorkers <= 0) return null;
    const { info, key } = await this.load(id);
    if (!schemeFitsKey(scheme, info.algorithm))
      throw new TrucError('key_not_allowed', `scheme ${scheme} does not fit a ${info.algorithm} key`);
    this.pool ??= new SignPool(this.signWorkers);
    const handle = this.pool.load(id, key, scheme);
    const pool = this.pool;
    return (data) => pool.sign(handle, data);
  }

  // --- symmetric key-encryption keys (envelope encryption, src/vault) ---
  private readonly secrets = new Map<string, { label: string; key: Buffer }>();

  async generateSecret(label: string): Promise<SecretInfo> {
    const id = randomBytes(12).toString('hex');
    const key = randomBytes(32);
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.master, iv);
    c.setAAD(aad(id, 'AES-256', Buffer.alloc(0)));
    const ct = Buffer.concat([c.update(key), c.final()]);
    const sealed = { v: 1, id, label, algorithm: 'AES-256', iv: iv.toString('base64'), ct: ct.toString('base64'), tag: c.getAuthTag().toString('base64') };
    const path = join(this.dir, `${id}.secret.json`);
    await writeFile(`${path}.tmp`, JSON.stringify(sealed, null, 2), { mode: 0o600 });
    await rename(`${path}.tmp`, path);
    this.secrets.set(id, { label, key });
    return { ref: { store: this.kind, id }, label };
  }

  private async secret(id: string): Promise<Buffer> {
    const hit = this.secrets.get(id);
    if (hit) return hit.key;
    if (!/^[0-9a-f]{24}$/.test(id)) throw new TrucError('not_found', `no software secret key "${id}"`);
    let sealed: { id: string; label: string; iv: string; ct: string; tag: string };
    try {
      sealed = JSON.parse(await readFile(join(this.dir, `${id}.secret.json`), 'utf8'));
    } catch {
      throw new TrucError('key_store_unavailable', `software secret key "${id}" is not in the key store`, { id });
    }
    let key: Buffer;
    try {
      const d = createDecipheriv('aes-256-gcm', this.master, Buffer.from(sealed.iv, 'base64'));
      d.setAAD(aad(id, 'AES-256', Buffer.alloc(0)));
      d.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      key = Buffer.concat([d.update(Buffer.from(sealed.ct, 'base64')), d.final()]);
    } catch {
      throw new TrucError('key_store', `sealed secret key "${id}" failed authentication (tampered or wrong store)`);
    }
    this.secrets.set(id, { label: sealed.label, key });
    return key;
  }

  async wrapSecret(id: string, secret: Uint8Array, ad: Uint8Array): Promise<Buffer> {
    const key = await this.secret(id);
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(ad);
    const ct = Buffer.concat([c.update(secret), c.final()]);
    return Buffer.concat([iv, ct, c.getAuthTag()]);
  }

  async unwrapSecret(id: string, wrapped: Uint8Array, ad: Uint8Array): Promise<Buffer> {
    const key = await this.secret(id);
    const w = Buffer.from(wrapped);
    if (w.length < 28) throw new TrucError('decrypt_failed', 'wrapped key too short');
    try {
      const d = createDecipheriv('aes-256-gcm', key, w.subarray(0, 12));
      d.setAAD(ad);
      d.setAuthTag(w.subarray(w.length - 16));
      return Buffer.concat([d.update(w.subarray(12, w.length - 16)), d.final()]);
    } catch {
      throw new TrucError('decrypt_failed', 'wrapped data key failed authentication (wrong key-encryption key or tampered)', { kek: id });
    }
  }

  async destroySecret(id: string): Promise<void> {
    if (!/^[0-9a-f]{24}$/.test(id)) throw new TrucError('not_found', `no software secret key "${id}"`);
    const path = join(this.dir, `${id}.secret.json`);
    // overwrite before unlinking: on most file systems the old blocks are then not the sealed key
    try {
      const size = (await readFile(path)).length;
      await writeFile(path, randomBytes(size));
      await unlink(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    this.secrets.get(id)?.key.fill(0);
    this.secrets.delete(id);
  }

  async rsaDecrypt(id: string, padding: RsaDecryptPadding, data: Uint8Array): Promise<Buffer> {
    const { info, key } = await this.load(id);
    if (!info.algorithm.startsWith('RSA')) throw new TrucError('key_not_allowed', `key ${id} is not an RSA key`);
    try {
      if (padding === 'pkcs1') return pkcs1Unpad(privateDecrypt({ key, padding: cryptoConstants.RSA_NO_PADDING }, data));
      return privateDecrypt({ key, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING, oaepHash: padding.oaep, oaepLabel: padding.label }, data);
    } catch (e) {
      if (e instanceof TrucError) throw e;
      throw new TrucError('decrypt_failed', 'RSA key transport did not decrypt with this key', { id });
    }
  }

  async ecdhDerive(id: string, peerSpki: Uint8Array): Promise<Buffer> {
    const { info, key } = await this.load(id);
    if (!info.algorithm.startsWith('EC-'))
      throw new TrucError('key_not_allowed', `key ${id} is not an EC key`);
    try {
      return diffieHellman({ privateKey: key, publicKey: createPublicKey({ key: Buffer.from(peerSpki), format: 'der', type: 'spki' }) });
    } catch {
      throw new TrucError('decrypt_failed', 'ECDH with the originator key failed (another curve?)', { id });
    }
  }

  async close(): Promise<void> {
    for (const s of this.secrets.values()) s.key.fill(0);
    this.secrets.clear();
    this.cache.clear();
    await this.pool?.close();
    this.pool = null;
  }
}

/**
 * EME-PKCS1-v1_5 decoding (RFC 8017 §7.2.2) over the raw RSA result, without early exits on the padding
 * bytes. Node refuses PKCS#1 v1.5 decryption since the Marvin attack; we offer it only where policy allows
 * reading what others send, and the CMS layer answers a bad padding like a wrong key (no distinct error).
 */
function pkcs1Unpad(em: Buffer): Buffer {
  let bad = (em[0] ^ 0x00) | (em[1] ^ 0x02);
  let sep = 0;
  for (let i = 2; i < em.length; i++) {
    const isZero = em[i] === 0 ? 1 : 0;
    const first = isZero & (sep === 0 ? 1 : 0);
    sep = first ? i : sep;
  }
  bad |= sep < 10 ? 1 : 0;
  if (bad) throw new TrucError('decrypt_failed', 'RSA key transport did not decrypt with this key');
  return Buffer.from(em.subarray(sep + 1));
}
