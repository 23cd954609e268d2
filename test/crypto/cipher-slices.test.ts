import { describe, expect, it } from 'vitest';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { CIPHER_SLICE, CIPHER_SLICE_OTHER, cipherSlices } from '../../src/crypto/cipher-slices.js';

describe('cipherSlices', () => {
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const sizes = [0, 1, CIPHER_SLICE - 1, CIPHER_SLICE, CIPHER_SLICE + 1, 3 * CIPHER_SLICE, 100_003];

  it('gives the same ciphertext and tag as one update over the whole chunk, and decrypts back', () => {
    for (const n of sizes) {
      const plain = randomBytes(n);
      const whole = createCipheriv('aes-256-gcm', key, iv);
      const expected = Buffer.concat([whole.update(plain), whole.final()]);
      const sliced = createCipheriv('aes-256-gcm', key, iv);
      const answers = [...cipherSlices(sliced, plain, CIPHER_SLICE)];
      const got = Buffer.concat([...answers, sliced.final()]);
      expect(got.equals(expected), `${n} bytes`).toBe(true);
      expect(sliced.getAuthTag().equals(whole.getAuthTag())).toBe(true);
      // no answer is larger than a slice: the buffers stay in the allocator's small classes
      expect(answers.every((a) => a.length <= CIPHER_SLICE)).toBe(true);
      expect(answers.length).toBe(Math.max(1, Math.ceil(n / CIPHER_SLICE)));

      const d = createDecipheriv('aes-256-gcm', key, iv);
      d.setAuthTag(whole.getAuthTag());
      expect(Buffer.concat([...cipherSlices(d, got, CIPHER_SLICE)]).length).toBe(n);
      d.final();
    }
  });

  it('slices by the allocator of the process: 12 KiB under jemalloc (preloaded as serving processes are), whole chunks under glibc', () => {
    const sliceIn = (preload: string) => {
      const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', "import('./src/crypto/cipher-slices.ts').then((m) => console.log(m.cipherSliceBytes()))"], {
        encoding: 'utf8',
        env: { ...process.env, LD_PRELOAD: preload },
      });
      expect(child.stderr).toBe('');
      return Number(child.stdout.trim()); // Infinity prints as such
    };
    expect(sliceIn('')).toBe(CIPHER_SLICE_OTHER);
    const jemalloc = spawnSync('bash', ['scripts/malloc.sh'], { encoding: 'utf8', env: { ...process.env, TRUC_MALLOC: '' } }).stdout.trim();
    if (!jemalloc) {
      console.log('skipped the jemalloc half: scripts/malloc.sh finds no jemalloc on this machine (scripts/install-deps.sh installs it)');
      return;
    }
    expect(sliceIn(jemalloc)).toBe(CIPHER_SLICE);
  });

  it('slices a Uint8Array that is not a Buffer', () => {
    const plain = new Uint8Array(2 * CIPHER_SLICE + 5).fill(7);
    const a = createCipheriv('aes-256-ctr', key, randomBytes(16).fill(1));
    const b = createCipheriv('aes-256-ctr', key, randomBytes(16).fill(1));
    expect(Buffer.concat([...cipherSlices(a, plain, CIPHER_SLICE)]).equals(b.update(plain))).toBe(true);
  });
});
