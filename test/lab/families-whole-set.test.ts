/**
 * The families for files only the whole Wycheproof set has: MACs with a nonce (AES-GMAC, VMAC), primality,
 * ML-DSA signing (from the seed and from the expanded key, external µ, hedged), ML-KEM encapsulation, key
 * generation from the seed and decapsulation with the expanded key. A few vectors of each file go to
 * node:crypto and @noble as they are — what the library lacks is UNSUPPORTED with its reason, what it
 * refuses is its own refusal — and to a product that answers wrongly, which is FAIL with the test's flags.
 */
import * as crypto from 'node:crypto';
import { join } from 'node:path';
import { ml_dsa44 } from '@noble/post-quantum/ml-dsa.js';
import { ml_kem512 } from '@noble/post-quantum/ml-kem.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromWire } from '../../src/lab/adapters/wire.js';
import {
  familyFor,
  loadSchemaSet,
  loadVectorFile,
  nobleProduct,
  nodeCryptoProduct,
  runSuite,
  type ProductAdapter,
  type SchemaSet,
  type TestResult,
  type VectorFile,
} from '../../src/lab/index.js';
import { FULL, fullMissing, SCHEMAS } from './shared.js';

const node = nodeCryptoProduct();
const noble = nobleProduct();

/** The file with only the listed tests (groups without any dropped), still valid under its schema. */
async function pick(name: string, tcIds: number[]): Promise<VectorFile> {
  const f = await loadVectorFile(join(FULL, `${name}.gz`));
  const testGroups = f.doc.testGroups
    .map((g) => ({ ...g, tests: g.tests.filter((t) => tcIds.includes(t.tcId)) }))
    .filter((g) => g.tests.length > 0);
  const numberOfTests = testGroups.reduce((n, g) => n + g.tests.length, 0);
  expect(numberOfTests, `${name}: every listed tcId found`).toBe(tcIds.length);
  return { ...f, doc: { ...f.doc, testGroups, numberOfTests } };
}

let schemas: SchemaSet;
async function results(product: ProductAdapter, file: VectorFile): Promise<Map<number, TestResult>> {
  const run = await runSuite(product, [file], { schemas });
  const suite = run.suites[0]!;
  expect(suite.error).toBeUndefined();
  return new Map(suite.results.map((r) => [r.tcId, r]));
}
const outcomes = (m: Map<number, TestResult>) => Object.fromEntries([...m].map(([id, r]) => [id, r.outcome]));

describe.skipIf(fullMissing)('families of the whole Wycheproof set', () => {
  beforeAll(async () => {
    schemas = await loadSchemaSet(SCHEMAS);
  });

  it('each file of the new schemas has its family (the family name is also a --suite name)', async () => {
    const table = {
      'aes_gmac_test.json': 'mac-with-iv',
      'vmac_64_test.json': 'mac-with-iv',
      'primality_test.json': 'primality',
      'dsa_2048_224_sha224_test.json': 'dsa',
      'dsa_2048_256_sha256_p1363_test.json': 'dsa-p1363',
      'rsa_pss_2048_sha256_mgf1_32_params_test.json': 'rsa-pss-params-verify',
      'mldsa_65_sign_seed_test.json': 'mldsa-sign',
      'mldsa_65_sign_noseed_test.json': 'mldsa-sign',
      'mlkem_768_encaps_test.json': 'mlkem-encaps',
      'mlkem_768_keygen_seed_test.json': 'mlkem-keygen',
      'mlkem_768_semi_expanded_decaps_test.json': 'mlkem-semi-expanded',
    };
    for (const [file, family] of Object.entries(table)) {
      const f = await loadVectorFile(join(FULL, `${file}.gz`));
      expect(familyFor(f.doc.schema)?.name, file).toBe(family);
    }
  });

  describe('MAC with a nonce', () => {
    // 1, 2 valid; 14 a flipped tag bit
    const tcIds = [1, 2, 14];

    it('AES-GMAC: node:crypto (GCM over associated data) and @noble pass', async () => {
      const file = await pick('aes_gmac_test.json', tcIds);
      expect(outcomes(await results(node, file))).toEqual({ 1: 'PASS', 2: 'PASS', 14: 'PASS' });
      expect(outcomes(await results(noble, file))).toEqual({ 1: 'PASS', 2: 'PASS', 14: 'PASS' });
    });

    it('a GMAC that ignores the nonce fails the valid tests', async () => {
      const fixedNonce: ProductAdapter = {
        info: { name: 'Fixed-nonce GMAC', version: '1', adapter: 'test' },
        macWithIv: (p) => node.macWithIv!({ ...p, iv: new Uint8Array(12) }),
      };
      const r = await results(fixedNonce, await pick('aes_gmac_test.json', tcIds));
      expect(outcomes(r)).toEqual({ 1: 'FAIL', 2: 'FAIL', 14: 'PASS' });
      expect(r.get(1)!.note).toBe('rejected a valid test: tag differs');
      expect(r.get(1)!.meaning).toEqual([expect.objectContaining({ flag: 'Pseudorandom' })]);
    });

    it('VMAC is in neither library: UNSUPPORTED, the product lacking it, with the reason', async () => {
      const file = await pick('vmac_64_test.json', [1]);
      for (const [product, reason] of [
        [node, 'unsupported: MAC VMAC-AES (not in OpenSSL)'],
        [noble, 'unsupported: MAC VMAC-AES (not in @noble/ciphers)'],
      ] as const) {
        const t = (await results(product, file)).get(1)!;
        expect(t).toMatchObject({ outcome: 'UNSUPPORTED', unsupportedBy: 'product', note: reason });
      }
    });
  });

  describe('DSA', () => {
    it('node:crypto verifies DER and P1363 signatures: valid accepted, altered refused', async () => {
      // DER: 2 valid, 3 BER-encoded length (invalid), 1 legacy missing zero (acceptable)
      expect(outcomes(await results(node, await pick('dsa_2048_224_sha224_test.json', [1, 2, 3])))).toEqual({ 1: 'ACCEPTABLE', 2: 'PASS', 3: 'PASS' });
      // P1363: 59 valid, 1 r replaced by r + q (invalid)
      expect(outcomes(await results(node, await pick('dsa_2048_224_sha224_p1363_test.json', [1, 59])))).toEqual({ 1: 'PASS', 59: 'PASS' });
    });

    it('the adapter passes the file\'s key and signature through unjudged; a product that accepts all fails the invalid test', async () => {
      const seen: unknown[] = [];
      const acceptsAll: ProductAdapter = {
        info: { name: 'Accepts every DSA signature', version: '1', adapter: 'test' },
        sigVerify: async (p) => (seen.push(p), true),
      };
      const file = await pick('dsa_2048_224_sha224_p1363_test.json', [1, 59]);
      const r = await results(acceptsAll, file);
      expect(outcomes(r)).toEqual({ 1: 'FAIL', 59: 'PASS' });
      expect(r.get(1)!.meaning).toEqual([expect.objectContaining({ flag: 'RangeCheck' })]);
      const g = file.doc.testGroups[0]!;
      expect(seen[0]).toMatchObject({ alg: 'DSA', hash: 'SHA-224', encoding: 'p1363' });
      expect(Buffer.from((seen[0] as { publicKey: { spki: Uint8Array } }).publicKey.spki).toString('hex')).toBe(g.publicKeyDer);
      expect(Buffer.from((seen[0] as { sig: Uint8Array }).sig).toString('hex')).toBe(g.tests[0]!.sig);
    });

    it('@noble has no DSA: UNSUPPORTED, the product lacking it', async () => {
      const t = (await results(noble, await pick('dsa_2048_224_sha224_test.json', [2]))).get(2)!;
      expect(t).toMatchObject({ outcome: 'UNSUPPORTED', unsupportedBy: 'product', note: 'unsupported: signature DSA' });
    });
  });

  it('RSA-PSS with parameters in the key: node:crypto gets the id-RSASSA-PSS SPKI as given and judges it', async () => {
    const file = await pick('rsa_pss_2048_sha256_mgf1_32_params_test.json', [1, 62]);
    expect(outcomes(await results(node, file))).toEqual({ 1: 'PASS', 62: 'PASS' });
    const seen: unknown[] = [];
    const acceptsAll: ProductAdapter = { info: { name: 'Accepts every PSS signature', version: '1', adapter: 'test' }, sigVerify: async (p) => (seen.push(p), true) };
    expect(outcomes(await results(acceptsAll, file))).toEqual({ 1: 'PASS', 62: 'FAIL' });
    expect(seen[0]).toMatchObject({ alg: 'RSASSA-PSS', hash: 'SHA-256', mgfHash: 'SHA-256', saltLength: 32 });
    expect(Buffer.from((seen[0] as { publicKey: { spki: Uint8Array } }).publicKey.spki).toString('hex')).toBe(file.doc.testGroups[0]!.publicKeyDer);
  });

  describe('primality', () => {
    // 0, −1, a Fermat pseudoprime, two Carmichael numbers, a small prime, a Mersenne prime, the negative of a prime
    const tcIds = [1, 3, 14, 20, 26, 244, 251, 310];

    it('node:crypto answers every value itself, a negative one too (OpenSSL takes no sign: Node refuses it)', async () => {
      const r = await results(node, await pick('primality_test.json', tcIds));
      expect(outcomes(r)).toEqual({
        1: 'PASS',
        3: 'PASS',
        14: 'PASS',
        20: 'PASS',
        26: 'PASS',
        244: 'PASS',
        251: 'PASS',
        310: 'ACCEPTABLE',
      });
      expect(r.get(310)).toMatchObject({
        accepted: false,
        note: expect.stringMatching(/^refused the value: .*must be >= 0/),
      });
      // −1 reaches Node as −1n, and the refusal is Node's own
      await expect(node.isPrime!({ value: Uint8Array.of(0xff) })).rejects.toThrow(
        /must be >= 0\. Received -1n/,
      );
    });

    it('@noble has no primality test: UNSUPPORTED with the reason', async () => {
      const t = (await results(noble, await pick('primality_test.json', [244]))).get(244)!;
      expect(t).toMatchObject({
        outcome: 'UNSUPPORTED',
        unsupportedBy: 'product',
        note: 'unsupported: primality testing (no @noble package has one)',
      });
    });

    it('a Fermat test calls Carmichael numbers prime: FAIL, with the flag’s bug type', async () => {
      const fermat: ProductAdapter = {
        info: { name: 'Fermat base 2', version: '1', adapter: 'test' },
        async isPrime({ value }) {
          const n = BigInt(`0x${Buffer.from(value).toString('hex') || '0'}`);
          if (value[0]! & 0x80 || n < 3n) return n === 2n;
          let [r, b, e] = [1n, 2n % n, n - 1n];
          for (; e > 0n; e >>= 1n, b = (b * b) % n) if (e & 1n) r = (r * b) % n;
          return r === 1n;
        },
      };
      const r = await results(fermat, await pick('primality_test.json', tcIds));
      expect(outcomes(r)).toMatchObject({ 14: 'FAIL', 20: 'FAIL', 26: 'FAIL', 244: 'PASS', 251: 'PASS' });
      expect(r.get(26)!.note).toBe('accepted an invalid test: said prime');
      expect(r.get(26)!.meaning).toContainEqual(
        expect.objectContaining({ flag: 'CarmichaelNumber', bugType: 'MISSING_STEP' }),
      );
    });
  });

  describe('ML-DSA signing', () => {
    // seed file: 1 baseline, 5 context of 256 bytes, 64 external µ only, 84 empty seed, 90 hedged with rnd
    const seedIds = [1, 5, 64, 84, 90];
    // expanded-key file: 1 baseline, 51 key one byte long, 52 s1 out of range
    const keyIds = [1, 51, 52];

    it('@noble signs from the seed and from the expanded key, as given, and refuses what FIPS 204 refuses', async () => {
      const seed = await results(noble, await pick('mldsa_44_sign_seed_test.json', seedIds));
      expect(outcomes(seed)).toEqual({ 1: 'PASS', 5: 'PASS', 64: 'PASS', 84: 'PASS', 90: 'PASS' });
      // the refusal is noble's own, about the seed it was handed
      await expect(
        noble.mlDsaSign!({
          alg: 'ML-DSA-44',
          seed: new Uint8Array(31),
          msg: new Uint8Array(0),
          context: new Uint8Array(0),
        }),
      ).rejects.toThrow(/seed/);
      const key = await results(noble, await pick('mldsa_44_sign_noseed_test.json', keyIds));
      expect(outcomes(key)).toEqual({ 1: 'PASS', 51: 'PASS', 52: 'PASS' });
    });

    it('node:crypto (OpenSSL 3.0) has no ML-DSA: UNSUPPORTED, the product lacking it', async () => {
      for (const t of (await results(node, await pick('mldsa_44_sign_seed_test.json', seedIds))).values()) {
        expect(t).toMatchObject({
          outcome: 'UNSUPPORTED',
          unsupportedBy: 'product',
          note: expect.stringMatching(/^unsupported: ML-DSA \(not in node:crypto with OpenSSL 3\./),
        });
      }
    });

    it('a signer that drops the context signs what it must refuse: FAIL on InvalidContext', async () => {
      const dropsContext: ProductAdapter = {
        info: { name: 'Context-blind signer', version: '1', adapter: 'test' },
        mlDsaSign: (p) => noble.mlDsaSign!('context' in p ? { ...p, context: new Uint8Array(0) } : p),
      };
      const r = await results(dropsContext, await pick('mldsa_44_sign_seed_test.json', seedIds));
      expect(outcomes(r)).toEqual({ 1: 'PASS', 5: 'FAIL', 64: 'PASS', 84: 'PASS', 90: 'PASS' });
      expect(r.get(5)!.note).toBe('accepted an invalid test: sign succeeded');
      expect(r.get(5)!.meaning).toEqual([expect.objectContaining({ flag: 'InvalidContext' })]);
    });

    it('a signer that hedges when asked to be deterministic: FAIL, signature differs', async () => {
      const hedging: ProductAdapter = {
        info: { name: 'Always-hedged signer', version: '1', adapter: 'test' },
        mlDsaSign: (p) => noble.mlDsaSign!({ ...p, rnd: p.rnd ?? crypto.randomBytes(32) }),
      };
      const r = await results(hedging, await pick('mldsa_44_sign_seed_test.json', [1]));
      expect(r.get(1)).toMatchObject({ outcome: 'FAIL', note: 'rejected a valid test: signature differs' });
    });
  });

  describe('ML-KEM', () => {
    it('encapsulation: @noble gives c and K and refuses an unreduced or short key; node:crypto lacks ML-KEM', async () => {
      // 2 ModulusOverflow, 10 a valid key, 210 a key too short
      const file = await pick('mlkem_512_encaps_test.json', [2, 10, 210]);
      expect(outcomes(await results(noble, file))).toEqual({ 2: 'PASS', 10: 'PASS', 210: 'PASS' });
      for (const t of (await results(node, file)).values())
        expect(t).toMatchObject({ outcome: 'UNSUPPORTED', unsupportedBy: 'product' });

      const neverRefuses: ProductAdapter = {
        info: { name: 'No input check', version: '1', adapter: 'test' },
        kemEncaps: (p) =>
          noble.kemEncaps!(p).catch(() => ({ c: new Uint8Array(768), K: new Uint8Array(32) })),
      };
      const r = await results(neverRefuses, file);
      expect(outcomes(r)).toEqual({ 2: 'FAIL', 10: 'PASS', 210: 'FAIL' });
      expect(r.get(2)!.meaning).toEqual([expect.objectContaining({ flag: 'ModulusOverflow' })]);
    });

    it('key generation from the seed: both keys compared; a wrong decapsulation key is FAIL', async () => {
      const file = await pick('mlkem_512_keygen_seed_test.json', [1, 2]);
      expect(outcomes(await results(noble, file))).toEqual({ 1: 'PASS', 2: 'PASS' });
      const wrongDk: ProductAdapter = {
        info: { name: 'Keys from another seed', version: '1', adapter: 'test' },
        async kemKeygen(p) {
          const right = await noble.kemKeygen!(p);
          return { ek: right.ek, dk: ml_kem512.keygen(new Uint8Array(64)).secretKey };
        },
      };
      expect((await results(wrongDk, file)).get(1)).toMatchObject({
        outcome: 'FAIL',
        note: 'rejected a valid test: decapsulation key differs',
      });
    });

    it('decapsulation with the expanded key as given: @noble checks its length and hash; a lenient product FAILs', async () => {
      const all = [1, 2, 3, 4, 5, 6, 7, 8, 9];
      const file = await pick('mlkem_512_semi_expanded_decaps_test.json', all);
      expect(Object.values(outcomes(await results(noble, file)))).toEqual(all.map(() => 'PASS'));
      const lenient: ProductAdapter = {
        info: { name: 'Lenient decapsulator', version: '1', adapter: 'test' },
        kemDecaps: (p) => noble.kemDecaps!(p).catch(() => new Uint8Array(32)),
      };
      const r = await results(lenient, file);
      expect(outcomes(r)).toEqual({
        1: 'PASS',
        2: 'FAIL',
        3: 'FAIL',
        4: 'FAIL',
        5: 'FAIL',
        6: 'FAIL',
        7: 'FAIL',
        8: 'PASS',
        9: 'PASS',
      });
      expect(r.get(6)!.meaning).toEqual([expect.objectContaining({ flag: 'InvalidDecapsulationKey' })]);
    });
  });

  describe('adapters translate where a library reads the same input differently', () => {
    it('@noble AES-SIV: its synthetic IV is the tag and comes first (ciphertext after it)', async () => {
      const file = await pick('aead_aes_siv_cmac_test.json', [1, 2, 156, 287]);
      expect(outcomes(await results(noble, file))).toEqual({
        1: 'PASS',
        2: 'PASS',
        156: 'PASS',
        287: 'PASS',
      });
    });

    it('node:crypto AES-XTS: the file’s short tweak is the data unit number, zero-extended to the block; AES-192 XTS is not in OpenSSL', async () => {
      const r = await results(node, await pick('aes_xts_test.json', [1, 2, 53, 79, 27]));
      expect(outcomes(r)).toEqual({ 1: 'PASS', 2: 'PASS', 53: 'PASS', 79: 'PASS', 27: 'UNSUPPORTED' });
      expect(r.get(27)).toMatchObject({
        unsupportedBy: 'product',
        note: 'unsupported: AES-XTS with 192-bit AES keys (not in OpenSSL)',
      });
    });

    it('node:crypto reads a JWK naming secp256k1 by its draft name P-256K; a point off the curve is still its own refusal', async () => {
      const r = await results(node, await pick('ecdh_secp256k1_webcrypto_test.json', [1, 2, 474]));
      expect(outcomes(r)).toEqual({ 1: 'PASS', 2: 'PASS', 474: 'PASS' });
    });
  });

  it('external products answer the new operations on the wire: keys, ciphertext and K as hex, primality as a boolean', () => {
    const { publicKey, secretKey } = ml_kem512.keygen(new Uint8Array(64));
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    expect(fromWire('kemKeygen', { ek: hex(publicKey), dk: hex(secretKey) })).toEqual({
      ek: publicKey,
      dk: secretKey,
    });
    expect(fromWire('kemEncaps', { c: 'ab', K: 'cd' })).toEqual({
      c: Uint8Array.of(0xab),
      K: Uint8Array.of(0xcd),
    });
    expect(fromWire('isPrime', { valid: false })).toBe(false);
    expect(() => fromWire('isPrime', { out: '01' })).toThrow(/boolean "valid"/);
    expect(
      fromWire('mlDsaSign', { out: hex(ml_dsa44.keygen(new Uint8Array(32)).publicKey.subarray(0, 4)) }),
    ).toHaveLength(4);
  });
});
