/**
 * The families that close the whole Wycheproof set: deterministic AEAD (AES-SIV-CMAC), PBES2, ECDSA with
 * Bitcoin's low-S rule, curve parameters, format-preserving encryption (FF1, digits and strings), BLS
 * (verify, aggregate, hash to G2), JOSE (JWS, JWE, JWK sets) and C2SP chunked encryption. A few vectors of
 * each file, read from the shared set, go to node:crypto, @noble and SoftHSM2 as they are: what a product
 * lacks is UNSUPPORTED with its reason (by the product, not the lab), and a product that answers wrongly
 * is FAIL with the test's flags. No schema of the set is left without a family.
 */
import * as crypto from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromWire } from '../../src/lab/adapters/wire.js';
import {
  evaluateProfile,
  familyFor,
  loadProfile,
  loadSchemaSet,
  loadVectorFile,
  nobleProduct,
  nodeCryptoProduct,
  openPkcs11Product,
  openStdioProduct,
  runSuite,
  type ProductAdapter,
  type SchemaSet,
  type TestResult,
  type VectorFile,
} from '../../src/lab/index.js';
import { FULL, fullMissing, SCHEMAS } from './shared.js';
import { createTempToken, softhsmMissing, type TempToken } from './softhsm.js';

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

/** One test of a picked file, as the file writes it. */
const testOf = (f: VectorFile, tcId: number) => f.doc.testGroups.flatMap((g) => g.tests).find((t) => t.tcId === tcId)!;

let schemas: SchemaSet;
async function results(product: ProductAdapter, file: VectorFile): Promise<Map<number, TestResult>> {
  const run = await runSuite(product, [file], { schemas });
  const suite = run.suites[0]!;
  expect(suite.error).toBeUndefined();
  return new Map(suite.results.map((r) => [r.tcId, r]));
}
const outcomes = (m: Map<number, TestResult>) => Object.fromEntries([...m].map(([id, r]) => [id, r.outcome]));

/** Every test UNSUPPORTED, the product lacking it, for the reason given. */
function allLacking(m: Map<number, TestResult>, reason: RegExp): void {
  for (const t of m.values()) expect(t).toMatchObject({ outcome: 'UNSUPPORTED', unsupportedBy: 'product', note: expect.stringMatching(reason) });
}

describe.skipIf(fullMissing)('the remaining families of the whole Wycheproof set', () => {
  beforeAll(async () => {
    schemas = await loadSchemaSet(SCHEMAS);
  });

  it('every test schema of the set has a family: the lab can ask every question it holds', () => {
    const testSchemas = readdirSync(SCHEMAS).filter((n) => n.endsWith('.json') && !/common\.json$/.test(n));
    expect(testSchemas.length).toBeGreaterThanOrEqual(45);
    expect(testSchemas.filter((s) => !familyFor(s))).toEqual([]);
  });

  it('each file of the new schemas has its family (the family name is also a --suite name)', async () => {
    const table = {
      'aes_siv_cmac_test.json': 'daead',
      'pbes2_hmacsha256_aes_128_test.json': 'pbe',
      'aes_ff1_radix10_test.json': 'fpe',
      'aes_ff1_base62_test.json': 'fpe',
      'ecdsa_secp256k1_sha256_bitcoin_test.json': 'ecdsa-bitcoin',
      'ec_prime_order_curves_test.json': 'ec-curve',
      'bls_sig_g2_pop_verify_test.json': 'bls',
      'bls_sig_g2_aggregate_verify_test.json': 'bls-aggregate',
      'bls_hash_to_g2_test.json': 'bls-hash-to-g2',
      'json_web_signature_test.json': 'jose',
      'json_web_encryption_test.json': 'jose',
      'json_web_crypto_test.json': 'jose',
      'json_web_key_test.json': 'jose',
      'c2sp_chunked_encryption_aes_256_gcm_test.json': 'chunked',
    };
    for (const [file, family] of Object.entries(table)) {
      const f = await loadVectorFile(join(FULL, `${file}.gz`));
      expect(familyFor(f.doc.schema)?.name, file).toBe(family);
    }
  });

  describe('deterministic AEAD (AES-SIV-CMAC, RFC 5297)', () => {
    // 1 RFC 5297's example, 2 empty message, 31 an edge-case SIV, 41 a flipped tag bit
    const tcIds = [1, 2, 31, 41];

    it('@noble encrypts to the listed SIV ‖ ciphertext and refuses a modified one', async () => {
      expect(outcomes(await results(noble, await pick('aes_siv_cmac_test.json', tcIds)))).toEqual({ 1: 'PASS', 2: 'PASS', 31: 'PASS', 41: 'PASS' });
    });

    it('node:crypto offers no SIV cipher: UNSUPPORTED, the product lacking it, said in both languages', async () => {
      allLacking(await results(node, await pick('aes_siv_cmac_test.json', tcIds)), /^unsupported: AES-SIV-CMAC: node:crypto không cung cấp mã SIV \/ node:crypto offers no SIV cipher/);
    });

    it('a product that puts the SIV after the ciphertext fails the valid tests', async () => {
      const tagLast: ProductAdapter = {
        info: { name: 'SIV last', version: '1', adapter: 'test' },
        async daeadEncrypt(p) {
          const out = await noble.daeadEncrypt!(p);
          return new Uint8Array([...out.subarray(16), ...out.subarray(0, 16)]);
        },
        daeadDecrypt: (p) => noble.daeadDecrypt!({ ...p, ct: new Uint8Array([...p.ct.subarray(p.ct.length - 16), ...p.ct.subarray(0, p.ct.length - 16)]) }),
      };
      const r = await results(tagLast, await pick('aes_siv_cmac_test.json', [1, 41]));
      expect(r.get(1)).toMatchObject({ outcome: 'FAIL', note: 'rejected a valid test: ciphertext differs' });
      expect(r.get(41)!.outcome).toBe('PASS');
    });
  });

  describe('PBES2', () => {
    // printable, ASCII, UTF-8, not UTF-8, a BMPString: the password is bytes as given
    const tcIds = [1, 34, 42, 50, 64];

    it('node:crypto (OpenSSL PBKDF2 then AES-CBC) and @noble give the listed ciphertext for every kind of password', async () => {
      const file = await pick('pbes2_hmacsha256_aes_128_test.json', tcIds);
      const all = Object.fromEntries(tcIds.map((id) => [id, 'PASS']));
      expect(outcomes(await results(node, file))).toEqual(all);
      expect(outcomes(await results(noble, file))).toEqual(all);
      expect(outcomes(await results(node, await pick('pbes2_hmacsha512_aes_256_test.json', [1, 50])))).toEqual({ 1: 'PASS', 50: 'PASS' });
    });

    it('a product that reads the password as UTF-8 text fails where it is not UTF-8', async () => {
      const asText: ProductAdapter = {
        info: { name: 'Password as text', version: '1', adapter: 'test' },
        pbeEncrypt: (p) => node.pbeEncrypt!({ ...p, password: new Uint8Array(Buffer.from(Buffer.from(p.password).toString('utf8'))) }),
        pbeDecrypt: (p) => node.pbeDecrypt!({ ...p, password: new Uint8Array(Buffer.from(Buffer.from(p.password).toString('utf8'))) }),
      };
      const r = await results(asText, await pick('pbes2_hmacsha256_aes_128_test.json', [42, 50]));
      expect(r.get(42)!.outcome).toBe('PASS');
      expect(r.get(50)).toMatchObject({ outcome: 'FAIL', note: 'rejected a valid test: ciphertext differs' });
      expect(r.get(50)!.meaning).toEqual([expect.objectContaining({ flag: 'NonUtf8' })]);
    });
  });

  describe("ECDSA with Bitcoin's low-S rule", () => {
    // 1 the valid signature with s replaced by n − s (malleable), 2 valid, 3 BER length
    const tcIds = [1, 2, 3];

    it('@noble applies the rule when asked; node:crypto (OpenSSL) has no such rule: UNSUPPORTED, never a PASS', async () => {
      const file = await pick('ecdsa_secp256k1_sha256_bitcoin_test.json', tcIds);
      expect(outcomes(await results(noble, file))).toEqual({ 1: 'PASS', 2: 'PASS', 3: 'PASS' });
      allLacking(await results(node, file), /^unsupported: ECDSA với quy tắc s thấp của Bitcoin: OpenSSL không có \/ ECDSA verification with the low-S rule/);
    });

    it('the rule is asked of the product, not applied by the lab: a verifier that ignores it accepts the malleable signature', async () => {
      const seen: unknown[] = [];
      const ignoresRule: ProductAdapter = {
        info: { name: 'Plain ECDSA', version: '1', adapter: 'test' },
        sigVerify: (p) => (seen.push(p), noble.sigVerify!({ ...p, lowS: false } as typeof p)),
      };
      const r = await results(ignoresRule, await pick('ecdsa_secp256k1_sha256_bitcoin_test.json', tcIds));
      expect(outcomes(r)).toEqual({ 1: 'FAIL', 2: 'PASS', 3: 'PASS' });
      expect(r.get(1)!.meaning).toEqual([expect.objectContaining({ flag: 'SignatureMalleabilityBitcoin' })]);
      expect(seen[0]).toMatchObject({ alg: 'ECDSA', curve: 'secp256k1', hash: 'SHA-256', encoding: 'der', lowS: true });
    });

    it('Bitcoin’s rule is not part of the signature-verification profile: its ECDSA suite takes the ECDSA schemas, not every file named ECDSA', async () => {
      const run = await runSuite(noble, [await pick('ecdsa_secp256k1_sha256_bitcoin_test.json', [1, 2])], { schemas });
      const v = evaluateProfile(await loadProfile('signature-verification'), run.suites);
      expect(v.suites.find((s) => s.id === 'ecdsa')).toMatchObject({ status: 'MISSING', files: [] });
    });
  });

  describe('curve parameters', () => {
    // 2 secp256r1, 5 secp256k1, 13 brainpoolP256t1, 17 FRP256v1, 1 secp224r1
    const tcIds = [1, 2, 5, 13, 17];

    it('node:crypto: OpenSSL’s own parameters (exported explicitly) are the listed ones; FRP256v1 it does not have', async () => {
      const r = await results(node, await pick('ec_prime_order_curves_test.json', tcIds));
      expect(outcomes(r)).toEqual({ 1: 'PASS', 2: 'PASS', 5: 'PASS', 13: 'PASS', 17: 'UNSUPPORTED' });
      expect(r.get(17)).toMatchObject({ unsupportedBy: 'product', note: 'unsupported: curve FRP256v1 (not in this OpenSSL)' });
    });

    it('@noble: its curve constants are the listed ones; the curves it lacks are UNSUPPORTED', async () => {
      const r = await results(noble, await pick('ec_prime_order_curves_test.json', tcIds));
      expect(outcomes(r)).toEqual({ 1: 'UNSUPPORTED', 2: 'PASS', 5: 'PASS', 13: 'UNSUPPORTED', 17: 'UNSUPPORTED' });
    });

    it('a product with a wrong generator fails, naming the parameter', async () => {
      const wrongG: ProductAdapter = {
        info: { name: 'Wrong generator', version: '1', adapter: 'test' },
        async ecCurveParams(p) {
          const c = await node.ecCurveParams!(p);
          const gx = new Uint8Array(c.gx);
          gx[gx.length - 1] ^= 1;
          return { ...c, gx };
        },
      };
      expect((await results(wrongG, await pick('ec_prime_order_curves_test.json', [2]))).get(2)).toMatchObject({
        outcome: 'FAIL',
        note: 'rejected a valid test: parameter gx differs',
      });
    });
  });

  describe('format-preserving encryption (FF1)', () => {
    // 1 an empty message, 7 two digits, 19 six digits, 55 an invalid digit (−1 / "R"), 3841 a key of bad size
    const tcIds = [1, 7, 19, 55, 3841];

    it('neither node:crypto nor @noble has FF1: UNSUPPORTED, the product lacking it, with the reason in both languages', async () => {
      for (const file of ['aes_ff1_radix10_test.json', 'aes_ff1_base10_test.json']) {
        const f = await pick(file, tcIds);
        allLacking(await results(node, f), /^unsupported: AES-FF1: OpenSSL không có mã hoá bảo toàn định dạng \/ format-preserving encryption is not in OpenSSL$/);
        allLacking(await results(noble, f), /^unsupported: AES-FF1: @noble\/ciphers không có .* \/ format-preserving encryption is not in @noble\/ciphers$/);
      }
    });

    it('the message goes as the file writes it: digits as a list (an invalid −1 too), text with its alphabet', async () => {
      const seen: Parameters<NonNullable<ProductAdapter['fpeEncrypt']>>[0][] = [];
      const acceptsAll: ProductAdapter = {
        info: { name: 'Echo FPE', version: '1', adapter: 'test' },
        fpeEncrypt: async (p) => (seen.push(p), p.msg),
        fpeDecrypt: async (p) => p.ct,
      };
      const list = await pick('aes_ff1_radix10_test.json', [55]);
      const r = await results(acceptsAll, list);
      expect(r.get(55)).toMatchObject({ outcome: 'FAIL', note: 'accepted an invalid test: encryption succeeded' });
      expect(r.get(55)!.meaning).toEqual([expect.objectContaining({ flag: 'InvalidPlaintext', bugType: 'MODIFIED_PARAMETER' })]);
      expect(seen[0]).toMatchObject({ alg: 'AES-FF1', radix: 10, msg: testOf(list, 55).msg });
      expect(seen[0]!.alphabet).toBeUndefined();
      const str = await pick('aes_ff1_base62_test.json', [19]);
      await results(acceptsAll, str);
      expect(seen[1]).toMatchObject({ radix: 62, alphabet: str.doc.testGroups[0]!.alphabet, msg: testOf(str, 19).msg });
      expect(typeof seen[1]!.msg).toBe('string');
    });

    it('a product that refuses everything passes the invalid tests and fails the valid ones', async () => {
      const refuses: ProductAdapter = {
        info: { name: 'Refuses', version: '1', adapter: 'test' },
        fpeEncrypt: async () => {
          throw new Error('no');
        },
      };
      expect(outcomes(await results(refuses, await pick('aes_ff1_radix10_test.json', tcIds)))).toEqual({ 1: 'PASS', 7: 'FAIL', 19: 'FAIL', 55: 'PASS', 3841: 'PASS' });
    });
  });

  describe('BLS12-381', () => {
    it('@noble verifies under the group’s ciphersuite and refuses identity, off-curve, off-subgroup and badly flagged points', async () => {
      const basic = [1, 2, 4, 5, 10, 38, 45];
      expect(Object.values(outcomes(await results(noble, await pick('bls_sig_g2_basic_verify_test.json', basic))))).toEqual(basic.map(() => 'PASS'));
      const pop = [1, 7, 20];
      expect(Object.values(outcomes(await results(noble, await pick('bls_sig_g2_pop_verify_test.json', pop))))).toEqual(pop.map(() => 'PASS'));
      const agg = [1, 4, 6, 18];
      expect(Object.values(outcomes(await results(noble, await pick('bls_sig_g2_aggregate_verify_test.json', agg))))).toEqual(agg.map(() => 'PASS'));
      expect(outcomes(await results(noble, await pick('bls_hash_to_g2_test.json', [1, 2])))).toEqual({ 1: 'PASS', 2: 'PASS' });
    });

    it('@noble’s AggregateVerify takes pairs: different numbers of keys and messages cannot be handed to it (UNSUPPORTED, not judged by the adapter)', async () => {
      const t = (await results(noble, await pick('bls_sig_g2_aggregate_verify_test.json', [5]))).get(5)!;
      expect(t).toMatchObject({ outcome: 'UNSUPPORTED', unsupportedBy: 'product', note: expect.stringMatching(/@noble\/curves takes pairs$/) });
    });

    it('node:crypto has no BLS: UNSUPPORTED, the product lacking it', async () => {
      allLacking(await results(node, await pick('bls_sig_g2_basic_verify_test.json', [1, 4])), /BLS signatures and pairings are not in OpenSSL$/);
      allLacking(await results(node, await pick('bls_hash_to_g2_test.json', [1])), /^unsupported: BLS12-381: OpenSSL không có/);
    });

    it('a verifier that ignores the ciphersuite accepts a Basic signature under the POP scheme: FAIL on WrongDST', async () => {
      const basicDst: ProductAdapter = {
        info: { name: 'One DST', version: '1', adapter: 'test' },
        blsVerify: (p) => noble.blsVerify!({ ...p, ciphersuite: 'BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_' }),
      };
      const r = await results(basicDst, await pick('bls_sig_g2_pop_verify_test.json', [7]));
      expect(r.get(7)).toMatchObject({ outcome: 'FAIL', note: 'accepted an invalid test: signature verified' });
      expect(r.get(7)!.meaning).toEqual([expect.objectContaining({ flag: 'WrongDST' })]);
    });
  });

  describe('JOSE', () => {
    it('neither node:crypto nor @noble is a JOSE library: UNSUPPORTED, the product lacking it', async () => {
      for (const [file, ids] of [
        ['json_web_signature_test.json', [1, 341]],
        ['json_web_encryption_test.json', [1, 2]],
        ['json_web_key_test.json', [1]],
      ] as const) {
        const f = await pick(file, [...ids]);
        allLacking(await results(node, f), /^unsupported: JOSE: node:crypto chỉ có các nguyên hàm, không có JWS\/JWE \/ /);
        allLacking(await results(noble, f), /no @noble package does JSON Web Signature or Encryption$/);
      }
    });

    it('a JWS library that trusts the header’s alg accepts alg "none": FAIL on AlgIsNone', async () => {
      // HS256 done right, and "none" taken at its word
      const trustsHeader: ProductAdapter = {
        info: { name: 'Header-trusting JWS', version: '1', adapter: 'test' },
        async jwsVerify({ jws, key }) {
          const [h, payload, sig] = jws.split('.');
          const alg = JSON.parse(Buffer.from(h!, 'base64url').toString()).alg;
          if (alg === 'none') return new Uint8Array(Buffer.from(payload!, 'base64url'));
          if (alg !== 'HS256' || typeof key.k !== 'string') throw new Error(`alg ${alg}`);
          const mac = crypto.createHmac('sha256', Buffer.from(key.k, 'base64url')).update(`${h}.${payload}`).digest();
          if (!crypto.timingSafeEqual(mac, Buffer.from(sig!, 'base64url'))) throw new Error('bad MAC');
          return new Uint8Array(Buffer.from(payload!, 'base64url'));
        },
      };
      const r = await results(trustsHeader, await pick('json_web_signature_test.json', [1, 2, 341]));
      expect(outcomes(r)).toEqual({ 1: 'PASS', 2: 'PASS', 341: 'FAIL' });
      expect(r.get(341)!.meaning).toEqual([expect.objectContaining({ flag: 'AlgIsNone' })]);
    });

    it('a JSON-serialized token goes as its JSON text, with the group’s key set as given', async () => {
      const seen: { jws: string; key: Record<string, unknown> }[] = [];
      const recorder: ProductAdapter = {
        info: { name: 'Recorder', version: '1', adapter: 'test' },
        jwsVerify: async (p) => {
          seen.push(p);
          throw new Error('refused');
        },
      };
      const f = await pick('json_web_crypto_test.json', [17]);
      expect((await results(recorder, f)).get(17)!.outcome).toBe('PASS');
      expect(JSON.parse(seen[0]!.jws)).toEqual(testOf(f, 17).jws);
      expect(seen[0]!.key).toEqual(f.doc.testGroups[0]!.public ?? f.doc.testGroups[0]!.private);
    });
  });

  describe('C2SP chunked encryption', () => {
    it('neither reference product has it: UNSUPPORTED with the reason', async () => {
      const f = await pick('c2sp_chunked_encryption_aes_128_gcm_test.json', [1, 11]);
      allLacking(await results(node, f), /^unsupported: Cobblestone-128: node:crypto không có .* \/ C2SP chunked encryption is not in node:crypto$/);
      allLacking(await results(noble, f), /no @noble package does C2SP chunked encryption$/);
    });

    it('the ciphertext reaches the product decompressed; partial plaintext from a truncated message is FAIL', async () => {
      const seen: Uint8Array[] = [];
      const partial: ProductAdapter = {
        info: { name: 'Streams without checking the end', version: '1', adapter: 'test' },
        chunkedDecrypt: async (p) => (seen.push(p.ct), new Uint8Array(0)),
      };
      const r = await results(partial, await pick('c2sp_chunked_encryption_aes_128_gcm_test.json', [1, 2, 31]));
      // the empty message's plaintext is empty; a seven-byte one is not; the truncated one must be refused
      expect(outcomes(r)).toEqual({ 1: 'PASS', 2: 'FAIL', 31: 'FAIL' });
      expect(r.get(2)!.note).toBe('rejected a valid test: plaintext of 0 bytes, not 7');
      expect(r.get(31)!.meaning).toEqual(expect.arrayContaining([expect.objectContaining({ flag: 'Truncation' })]));
      expect(seen.every((ct) => ct.length > 0 && !(ct[0] === 0x78 && ct[1] === 0xda))).toBe(true);
    });
  });

  it('a stdio product gets FPE text as text and digits as a list, and its answers come back of the same kind', async () => {
    // a product in a few lines of JavaScript: FPE that reverses (refusing the digit -1), one curve
    const script = `
      const frame = (m) => { const b = Buffer.from(JSON.stringify(m)); const h = Buffer.alloc(4); h.writeUInt32BE(b.length); process.stdout.write(Buffer.concat([h, b])); };
      let buf = Buffer.alloc(0);
      process.stdin.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
          const { id, op, params } = JSON.parse(buf.subarray(4, 4 + buf.readUInt32BE(0)).toString());
          buf = buf.subarray(4 + buf.readUInt32BE(0));
          if (op === 'hello') frame({ id, ok: true, result: { name: 'reverser', version: '1', operations: ['fpeEncrypt', 'ecCurveParams'] } });
          else if (op === 'fpeEncrypt' && Array.isArray(params.msg) && params.msg.includes(-1)) frame({ id, ok: false, error: { kind: 'rejected', message: 'digit out of range' } });
          else if (op === 'fpeEncrypt') frame({ id, ok: true, result: { out: typeof params.msg === 'string' ? [...params.msg].reverse().join('') : [...params.msg].reverse() } });
          else frame({ id, ok: true, result: { p: '17', a: '00', b: '07', gx: '01', gy: '02', n: '13', h: 1 } });
        }
      });`;
    const product = await openStdioProduct({ command: process.execPath, args: ['-e', script] });
    try {
      const base = { alg: 'AES-FF1', key: new Uint8Array(16), tweak: new Uint8Array(0), radix: 10 };
      expect(await product.fpeEncrypt!({ ...base, alphabet: '0123456789', msg: '0123' })).toBe('3210');
      expect(await product.fpeEncrypt!({ ...base, msg: [0, 1, 2, 3] })).toEqual([3, 2, 1, 0]);
      await expect(product.fpeEncrypt!({ ...base, msg: [-1, 8] })).rejects.toThrow('digit out of range');
      expect(await product.ecCurveParams!({ name: 'P-256', oid: '1.2.840.10045.3.1.7' })).toMatchObject({ p: Uint8Array.of(0x17), h: 1 });
      // operations the product did not list are not asked: UNSUPPORTED, the product lacking them
      expect(product.fpeDecrypt).toBeUndefined();
      const t = (await results(product, await pick('bls_hash_to_g2_test.json', [1]))).get(1)!;
      expect(t).toMatchObject({ outcome: 'UNSUPPORTED', unsupportedBy: 'product', note: 'unsupported: operation blsHashToG2' });
    } finally {
      await product.close?.();
    }
  });

  it('external products answer the new operations on the wire: FPE text stays text, curve parameters as hex, BLS as a boolean', () => {
    expect(fromWire('fpeEncrypt', { out: [1, 2, 3] })).toEqual([1, 2, 3]);
    expect(fromWire('fpeDecrypt', { out: 'R8' })).toBe('R8');
    expect(() => fromWire('fpeEncrypt', { out: [1.5] })).toThrow(/list of integers/);
    expect(fromWire('ecCurveParams', { p: '17', a: '00', b: '07', gx: '01', gy: '02', n: '13', h: 1 })).toMatchObject({ p: Uint8Array.of(0x17), h: 1 });
    expect(() => fromWire('ecCurveParams', { p: '17' })).toThrow(/integer "h"/);
    expect(fromWire('blsAggregateVerify', { valid: true })).toBe(true);
    expect(fromWire('jweDecrypt', { out: '666f6f' })).toEqual(new Uint8Array(Buffer.from('foo')));
  });
});

const hsmMissing = fullMissing ?? softhsmMissing();
describe.skipIf(hsmMissing)('SoftHSM2 through PKCS#11 on the remaining families', () => {
  let token: TempToken;
  let hsm: ProductAdapter;
  beforeAll(async () => {
    schemas ??= await loadSchemaSet(SCHEMAS);
    token = createTempToken('truc-lab-remaining');
    hsm = await openPkcs11Product({ library: token.library, tokenLabel: token.label, pin: token.pin });
  }, 60_000);
  afterAll(async () => {
    await hsm?.close?.();
    token?.remove();
  });

  it('FF1 and BLS have no PKCS#11 mechanism; PBES2 needs CKM_PKCS5_PBKD2, which SoftHSM2 does not list: UNSUPPORTED by the product, each with its reason', async () => {
    allLacking(await results(hsm, await pick('aes_ff1_radix10_test.json', [7, 55])), /^unsupported: AES-FF1: PKCS#11 không định nghĩa .* \/ PKCS#11 defines no format-preserving encryption mechanism$/);
    allLacking(await results(hsm, await pick('bls_sig_g2_basic_verify_test.json', [1])), /PKCS#11 defines no BLS mechanism$/);
    allLacking(await results(hsm, await pick('pbes2_hmacsha256_aes_128_test.json', [1])), /CKM_PKCS5_PBKD2.*mechanism not listed by the token/);
  });
});
