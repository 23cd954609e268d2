/**
 * Software keys sealed at rest. Each private key is a PKCS#8 blob encrypted with AES-256-GCM under a
 * master key derived once per store with scrypt from an operator passphrase (or given directly as a
 * 32-byte key-encryption key). The key's id, algorithm and public key are bound as associated data, so a
 * sealed file cannot be swapped for another key's or relabelled without detection.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  scryptSync,
  type KeyObject,
} from 'node:crypto';
import { mkdir, readFile, readdir, writeFile, rename } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TrucError } from '../errors.js';
import { type KeyAlgorithm, type SignatureScheme, schemeFitsKey, parseKeyAlgorithm } from './algorithms.js';
import type { KeyInfo, KeyStore } from './keystore.js';
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
    await mkdir(opts.dir, { recursive: true, mode: 0o700 });
    const headerPath = join(opts.dir, 'keystore.json');
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
      if ((header.kdf === 'kek' && !opts.kek) || (header.kdf === 'scrypt' && !opts.passphrase))
        throw new TrucError('key_store', `key store at ${opts.dir} was sealed with a ${header.kdf}`);
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

  async close(): Promise<void> {
    this.cache.clear();
    await this.pool?.close();
    this.pool = null;
  }
}
