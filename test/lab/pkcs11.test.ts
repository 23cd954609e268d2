import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadVectorDir, openPkcs11Product, runSuite, type ProductAdapter, type RunResult } from '../../src/lab/index.js';
import { sharedMissing, VECTORS } from './shared.js';
import { createTempToken, softhsmMissing, type TempToken } from './softhsm.js';

const missing = sharedMissing ?? softhsmMissing();
if (missing) console.warn(`[lab pkcs11 test] skipping: ${missing}`);

describe.skipIf(missing)('SoftHSM2 through PKCS#11', () => {
  let token: TempToken;
  let hsm: ProductAdapter;
  let run: RunResult;
  beforeAll(async () => {
    token = createTempToken();
    hsm = await openPkcs11Product({ library: token.library, tokenLabel: token.label, pin: token.pin });
    run = await runSuite(hsm, await loadVectorDir(VECTORS));
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

  it('what the token lacks is UNSUPPORTED, never FAIL', () => {
    for (const f of ['ecdsa_secp256r1_sha256_test.json', 'ed25519_test.json', 'x25519_test.json', 'mlkem_768_test.json', 'hmac_sha3_256_test.json', 'rsa_oaep_2048_sha256_mgf1sha256_test.json']) {
      expect(suite(f).counts.UNSUPPORTED, f).toBe(suite(f).results.length);
    }
    expect(run.counts.ERROR).toBe(0);
  });
});
