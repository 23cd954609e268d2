import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey } from 'node:crypto';
import { SoftwareKeyStore, sealedWith } from '../../src/crypto/software-keystore.js';
import { verifyWith } from '../../src/crypto/sign.js';
import { KEY_ALGORITHMS, defaultScheme } from '../../src/crypto/algorithms.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'truc-ks-'));

describe('software key store', () => {
  it('generates every allowed algorithm and signs verifiably, across a reopen', async () => {
    const dir = tmp();
    const ks = await SoftwareKeyStore.open({ dir, passphrase: 'correct horse', scryptN: 1 << 12 });
    const infos = [];
    for (const alg of KEY_ALGORITHMS) {
      if (alg === 'RSA-4096') continue; // slow to generate; same code path as 2048/3072
      infos.push(await ks.generate(alg, `k-${alg}`));
    }
    await ks.close();
    const again = await SoftwareKeyStore.open({ dir, passphrase: 'correct horse', scryptN: 1 << 12 });
    for (const info of infos) {
      const schemes = info.algorithm.startsWith('RSA')
        ? [defaultScheme(info.algorithm), defaultScheme(info.algorithm, 'pss')]
        : [defaultScheme(info.algorithm)];
      for (const scheme of schemes) {
        const sig = await again.sign(info.ref.id, scheme, Buffer.from('văn bản'));
        expect(verifyWith(info.spki, scheme, Buffer.from('văn bản'), sig)).toBe(true);
        expect(verifyWith(info.spki, scheme, Buffer.from('van ban'), sig)).toBe(false);
      }
      expect((await again.info(info.ref.id)).spki.equals(info.spki)).toBe(true);
    }
    expect((await again.list()).length).toBe(infos.length);
  });

  it('never writes the private key in clear', async () => {
    const dir = tmp();
    const ks = await SoftwareKeyStore.open({ dir, kek: Buffer.alloc(32, 7) });
    const info = await ks.generate('EC-P256', 'k');
    const file = readFileSync(join(dir, `${info.ref.id}.key.json`), 'utf8');
    expect(file).not.toMatch(/PRIVATE KEY/);
    const sealed = JSON.parse(file);
    expect(Buffer.from(sealed.ct, 'base64').length).toBeGreaterThan(60);
    expect(createPublicKey({ key: info.spki, format: 'der', type: 'spki' }).asymmetricKeyType).toBe('ec');
  });

  it('rejects a wrong passphrase at open', async () => {
    const dir = tmp();
    await SoftwareKeyStore.open({ dir, passphrase: 'the right passphrase', scryptN: 1 << 12 });
    await expect(SoftwareKeyStore.open({ dir, passphrase: 'a wrong passphrase', scryptN: 1 << 12 })).rejects.toMatchObject({
      code: 'key_store',
    });
  });

  it('seals a new store only with a passphrase of 12 characters or more; a sealed store still opens', async () => {
    const dir = tmp();
    await expect(SoftwareKeyStore.open({ dir, passphrase: 'short', scryptN: 1 << 12 })).rejects.toMatchObject({
      code: 'invalid_config',
      message: expect.stringMatching(/ít nhất 12 ký tự.*at least 12 characters/),
    });
    expect(sealedWith(dir)).toBeNull();
    await SoftwareKeyStore.open({ dir, passphrase: 'twelve chars', scryptN: 1 << 12 });
  });

  it('says what a store was sealed with when its secret is missing', async () => {
    const dir = tmp();
    expect(sealedWith(dir)).toBeNull();
    await SoftwareKeyStore.open({ dir, passphrase: 'the right passphrase', scryptN: 1 << 12 });
    expect(sealedWith(dir)).toBe('passphrase');
    await expect(SoftwareKeyStore.open({ dir, kek: Buffer.alloc(32, 1) })).rejects.toMatchObject({
      code: 'key_store',
      message: expect.stringMatching(/niêm phong bằng mật khẩu.*sealed with a passphrase: set TRUC_KEY_PASSPHRASE/),
    });
    const kekDir = tmp();
    await SoftwareKeyStore.open({ dir: kekDir, kek: Buffer.alloc(32, 1) });
    expect(sealedWith(kekDir)).toBe('kek');
    await expect(SoftwareKeyStore.open({ dir: kekDir, passphrase: 'p', scryptN: 1 << 12 })).rejects.toMatchObject({
      message: expect.stringMatching(/sealed with a key-encryption key file/),
    });
  });

  it('detects a sealed key swapped for another or tampered', async () => {
    const dir = tmp();
    const ks = await SoftwareKeyStore.open({ dir, kek: Buffer.alloc(32, 1) });
    const a = await ks.generate('EC-P256', 'a');
    const b = await ks.generate('EC-P256', 'b');
    const fa = join(dir, `${a.ref.id}.key.json`);
    const sealedA = JSON.parse(readFileSync(fa, 'utf8'));
    const sealedB = JSON.parse(readFileSync(join(dir, `${b.ref.id}.key.json`), 'utf8'));
    writeFileSync(fa, JSON.stringify({ ...sealedB, id: a.ref.id, spki: sealedA.spki }));
    const fresh = await SoftwareKeyStore.open({ dir, kek: Buffer.alloc(32, 1) });
    await expect(fresh.sign(a.ref.id, 'ecdsa-sha256', Buffer.from('x'))).rejects.toMatchObject({ code: 'key_store' });
    await expect(fresh.sign('../../etc/passwd', 'ecdsa-sha256', Buffer.from('x'))).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('refuses a scheme that does not fit the key', async () => {
    const ks = await SoftwareKeyStore.open({ dir: tmp(), kek: Buffer.alloc(32, 2) });
    const k = await ks.generate('Ed25519', 'e');
    await expect(ks.sign(k.ref.id, 'ecdsa-sha256', Buffer.from('x'))).rejects.toMatchObject({ code: 'key_not_allowed' });
  });
});

describe('software key store signing workers', () => {
  it('signs a batch off-thread, in order, verifiably, for ECDSA and RSA-PSS', async () => {
    const ks = await SoftwareKeyStore.open({ dir: tmp(), kek: Buffer.alloc(32, 9), signWorkers: 2 });
    try {
      for (const [alg, scheme] of [
        ['EC-P256', 'ecdsa-sha256'],
        ['RSA-2048', 'rsa-pss-sha256'],
      ] as const) {
        const k = await ks.generate(alg, 'bulk');
        const many = (await ks.batchSigner(k.ref.id, scheme))!;
        const msgs = Array.from({ length: 100 }, (_, i) => Buffer.from(`tbs ${i}`));
        const sigs = await many(msgs);
        expect(sigs).toHaveLength(100);
        sigs.forEach((s, i) => expect(verifyWith(k.spki, scheme, msgs[i], s)).toBe(true));
        expect(verifyWith(k.spki, scheme, msgs[1], sigs[0])).toBe(false);
      }
    } finally {
      await ks.close();
    }
    const none = await SoftwareKeyStore.open({ dir: tmp(), kek: Buffer.alloc(32, 9) });
    const k = await none.generate('EC-P256', 'x');
    expect(await none.batchSigner(k.ref.id, 'ecdsa-sha256')).toBeNull();
  });
});
