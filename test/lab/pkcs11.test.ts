import { createDecipheriv } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadVectorDir, openPkcs11Product, runSuite, type ProductAdapter, type RunResult, type VectorFile } from '../../src/lab/index.js';
import { sharedMissing, VECTORS } from './shared.js';
import { createTempToken, softhsmMissing, type TempToken } from './softhsm.js';

const missing = sharedMissing ?? softhsmMissing();
if (missing) console.warn(`[lab pkcs11 test] skipping: ${missing}`);

describe.skipIf(missing)('SoftHSM2 through PKCS#11', () => {
  let token: TempToken;
  let hsm: ProductAdapter;
  let run: RunResult;
  let files: VectorFile[];
  beforeAll(async () => {
    token = createTempToken();
    hsm = await openPkcs11Product({ library: token.library, tokenLabel: token.label, pin: token.pin });
    files = await loadVectorDir(VECTORS);
    run = await runSuite(hsm, files);
  }, 180_000);
  afterAll(async () => {
    await hsm?.close?.();
    token?.remove();
  });

  const suite = (file: string) => run.suites.find((s) => s.file === file)!;
  const fails = (file: string) => suite(file).results.filter((t) => t.outcome === 'FAIL' || t.outcome === 'ERROR');

  it('AES-GCM, HMAC (SHA-1/2), ECDSA P1363, RSA PKCS#1/PSS verify and AES-CBC run with zero FAIL', () => {
    const files = [
      'aes_cbc_pkcs5_test.json',
      'hmac_sha1_test.json',
      'hmac_sha256_test.json',
      'hmac_sha512_test.json',
      'ecdsa_secp256r1_sha256_p1363_test.json',
      'ecdsa_secp384r1_sha384_p1363_test.json',
      'ecdsa_secp521r1_sha512_p1363_test.json',
      'rsa_signature_2048_sha256_test.json',
      'rsa_signature_4096_sha512_test.json',
      'rsa_pss_2048_sha256_mgf1_32_test.json',
      'ecdh_secp256r1_webcrypto_test.json',
    ];
    for (const f of files) {
      expect(fails(f), f).toEqual([]);
      expect(suite(f).counts.PASS, f).toBeGreaterThan(suite(f).results.length / 2);
    }
  });

  it('AES-GCM: zero FAIL except 257-byte IVs, which SoftHSM silently truncates to 12 bytes (a real finding)', () => {
    const f = fails('aes_gcm_test.json');
    expect(f.map((t) => t.tcId)).toEqual([268, 272, 276]);
    expect(f[0].flags).toEqual(['LongIv']);
    expect(f[0].meaning?.[0]).toMatchObject({ flag: 'LongIv', bugType: 'FUNCTIONALITY' });
    expect(suite('aes_gcm_test.json').counts.PASS).toBe(313);
  });

  /** Length in bytes of the key each test of a key-wrap file wraps (its `msg`). */
  const msgLengths = (file: string) =>
    new Map(files.find((f) => f.name === file)!.doc.testGroups.flatMap((g) => g.tests.map((t) => [t.tcId, String(t.msg).length / 2] as const)));

  it('AES-KW/KWP: every FAIL is a key whose length is not a multiple of 8, which SoftHSM2 zero-pads before wrapping (the token, not the adapter)', async () => {
    const kwp = fails('aes_kwp_test.json');
    const kwpLen = msgLengths('aes_kwp_test.json');
    expect(kwp.length).toBeGreaterThan(0);
    for (const t of kwp) {
      expect(t.note, String(t.tcId)).toBe('rejected a valid test: wrapped key differs');
      expect(kwpLen.get(t.tcId)! % 8, String(t.tcId)).not.toBe(0);
    }
    // every valid KWP test whose key is a multiple of 8 bytes passes: the adapter's wrap path itself is right
    const kwpValid = suite('aes_kwp_test.json').results.filter((t) => t.expected === 'valid' && kwpLen.get(t.tcId)! % 8 === 0);
    expect(kwpValid.length).toBeGreaterThan(0);
    expect(kwpValid.every((t) => t.outcome === 'PASS')).toBe(true);
    const kw = fails('aes_wrap_test.json');
    const kwLen = msgLengths('aes_wrap_test.json');
    expect(kw.map((t) => t.tcId)).toEqual([21, 63, 118]);
    for (const t of kw) {
      expect(t.note).toBe('accepted an invalid test: wrap succeeded');
      expect(t.flags).toEqual(['WrongDataSize']);
      expect(kwLen.get(t.tcId)! % 8).not.toBe(0);
    }
    // The adapter hands the token the 7 (or 9) bytes unchanged; OpenSSL unwraps what SoftHSM2 returns into the
    // key followed by zero bytes, and for KWP with a length indicator of the padded size, not of the key.
    const kek = new Uint8Array(16).fill(1);
    const unwrap = (cipher: string, iv: string, w: Uint8Array) => {
      const d = createDecipheriv(cipher, kek, Buffer.from(iv, 'hex'));
      return Buffer.concat([d.update(w), d.final()]).toString('hex');
    };
    const seven = new Uint8Array(7).fill(0xab);
    const kwpOut = (await hsm.keyWrap!({ alg: 'AES-KWP', key: kek, msg: seven })) as Uint8Array;
    expect(unwrap('id-aes128-wrap-pad', 'a65959a6', kwpOut)).toBe('ab'.repeat(7) + '00');
    const nine = new Uint8Array(9).fill(0xab);
    const kwOut = (await hsm.keyWrap!({ alg: 'AES-KW', key: kek, msg: nine })) as Uint8Array;
    expect(unwrap('id-aes128-wrap', 'a6a6a6a6a6a6a6a6', kwOut)).toBe('ab'.repeat(9) + '00'.repeat(7));
  });

  it('what the token lacks is UNSUPPORTED, never FAIL', () => {
    for (const f of ['ecdsa_secp256r1_sha256_test.json', 'ed25519_test.json', 'x25519_test.json', 'mlkem_768_test.json', 'hmac_sha3_256_test.json', 'rsa_oaep_2048_sha256_mgf1sha256_test.json']) {
      expect(suite(f).counts.UNSUPPORTED, f).toBe(suite(f).results.length);
    }
    expect(run.counts.ERROR).toBe(0);
  });
});
