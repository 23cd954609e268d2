import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import pkcs11js from 'pkcs11js';
import { Pkcs11KeyStore, type Pkcs11KeyStoreOptions } from '../../src/crypto/pkcs11-keystore.js';
import { verifyWith } from '../../src/crypto/sign.js';
import { ecdsaRawToDer } from '../../src/crypto/ecdsa-signature.js';
import { softHsmMissing, softHsmToken, type SoftHsmToken } from '../helpers/softhsm.js';

const missing = softHsmMissing();
if (missing) console.warn(`skipping PKCS#11 key store tests: ${missing}`);

const MESSAGE = Buffer.from('Quyết định số 7/QĐ-BTTTT');

describe('ECDSA raw to DER', () => {
  it('encodes r and s as minimal positive INTEGERs', () => {
    const r = Buffer.alloc(32);
    r[31] = 1; // leading zeros dropped
    const s = Buffer.alloc(32, 0xff); // high bit set: a 0x00 is prepended
    const der = ecdsaRawToDer(Buffer.concat([r, s]));
    expect(der.toString('hex')).toBe('3026020101022100' + 'ff'.repeat(32));
  });
});

describe.skipIf(!!missing)('PKCS#11 key store (SoftHSM2)', () => {
  let token: SoftHsmToken;
  let opts: Pkcs11KeyStoreOptions;

  // one fresh token for this file: every store below is closed before the test ends, and the token goes away after
  beforeAll(() => {
    token = softHsmToken();
    opts = { module: token.modulePath, slot: { tokenLabel: token.tokenLabel }, pin: token.pin };
  });
  afterAll(() => token?.cleanup());

  async function withStore<T>(
    o: Partial<Pkcs11KeyStoreOptions>,
    fn: (ks: Pkcs11KeyStore) => Promise<T>,
  ): Promise<T> {
    const ks = await Pkcs11KeyStore.open({ ...opts, ...o });
    try {
      return await fn(ks);
    } finally {
      await ks.close();
    }
  }

  it('signs with every RSA scheme, PSS included, verifiably by node:crypto', () =>
    withStore({}, async (ks) => {
      const k = await ks.generate('RSA-2048', 'rsa');
      for (const scheme of [
        'rsa-pkcs1-sha256',
        'rsa-pkcs1-sha384',
        'rsa-pkcs1-sha512',
        'rsa-pss-sha256',
        'rsa-pss-sha384',
        'rsa-pss-sha512',
      ] as const) {
        const sig = await ks.sign(k.ref.id, scheme, MESSAGE);
        expect(sig.length).toBe(256);
        expect(verifyWith(k.spki, scheme, MESSAGE, sig), scheme).toBe(true);
      }
      // PSS is randomised; PKCS#1 v1.5 is not — proves the PSS mechanism really ran
      const a = await ks.sign(k.ref.id, 'rsa-pss-sha256', MESSAGE);
      const b = await ks.sign(k.ref.id, 'rsa-pss-sha256', MESSAGE);
      expect(a.equals(b)).toBe(false);
    }));

  it('generates RSA-4096 on the token (the contract skips it for time)', () =>
    withStore({}, async (ks) => {
      const k = await ks.generate('RSA-4096', 'big');
      expect(k.algorithm).toBe('RSA-4096');
      const sig = await ks.sign(k.ref.id, 'rsa-pss-sha512', MESSAGE);
      expect(sig.length).toBe(512);
      expect(verifyWith(k.spki, 'rsa-pss-sha512', MESSAGE, sig)).toBe(true);
    }));

  it('uses a 16-byte random CKA_ID as the key id', () =>
    withStore({}, async (ks) => {
      const a = await ks.generate('EC-P256', 'a');
      const b = await ks.generate('EC-P256', 'a');
      expect(a.ref.id).toMatch(/^[0-9a-f]{32}$/);
      expect(a.ref.id).not.toBe(b.ref.id);
    }));

  it('opens the token by slot index as well as by label', () =>
    withStore({ slot: { index: 0 } }, async (ks) => {
      const k = await ks.generate('EC-P384', 'by index');
      expect((await ks.info(k.ref.id)).label).toBe('by index');
    }));

  it('signs concurrently from more callers than sessions', () =>
    withStore({ sessions: 2 }, async (ks) => {
      const [ec, ed] = [await ks.generate('EC-P256', 'c'), await ks.generate('Ed25519', 'd')];
      const jobs = Array.from({ length: 24 }, (_, i) => {
        const msg = Buffer.from(`message ${i}`);
        const [k, scheme] = i % 2 ? ([ec, 'ecdsa-sha256'] as const) : ([ed, 'ed25519'] as const);
        return ks.sign(k.ref.id, scheme, msg).then((sig) => verifyWith(k.spki, scheme, msg, sig));
      });
      expect(await Promise.all(jobs)).toEqual(Array(24).fill(true));
    }));

  it('refuses a wrong PIN, also while the token is logged in for another store', async () => {
    await expect(Pkcs11KeyStore.open({ ...opts, pin: 'wrong-pin' })).rejects.toMatchObject({
      code: 'key_store',
      message: expect.stringMatching(/PIN/),
    });
    await withStore({}, async () => {
      // PKCS#11 login is per application: the token would answer CKR_USER_ALREADY_LOGGED_IN to any PIN
      await expect(Pkcs11KeyStore.open({ ...opts, pin: 'wrong-pin' })).rejects.toMatchObject({
        code: 'key_store',
      });
      const second = await Pkcs11KeyStore.open(opts);
      await second.close();
    });
  });

  it('reports a missing token and a missing module clearly', async () => {
    await expect(
      Pkcs11KeyStore.open({ ...opts, slot: { tokenLabel: 'no-such-token' } }),
    ).rejects.toMatchObject({
      code: 'key_store',
      message: expect.stringContaining('no-such-token'),
    });
    await expect(Pkcs11KeyStore.open({ ...opts, slot: { index: 99 } })).rejects.toMatchObject({
      code: 'key_store',
    });
    await expect(Pkcs11KeyStore.open({ ...opts, module: '/nonexistent/libpkcs11.so' })).rejects.toMatchObject(
      {
        code: 'key_store',
        message: expect.stringContaining('/nonexistent/libpkcs11.so'),
      },
    );
    // a failed open leaves nothing behind: the next open initialises and logs in normally
    await withStore({}, async (ks) => expect(Array.isArray(await ks.list())).toBe(true));
  });

  it('refuses to work after close, and closes once', async () => {
    const ks = await Pkcs11KeyStore.open(opts);
    const k = await ks.generate('EC-P256', 'x');
    await Promise.all([ks.close(), ks.close()]);
    await expect(ks.sign(k.ref.id, 'ecdsa-sha256', MESSAGE)).rejects.toMatchObject({ code: 'key_store' });
  });

  it('keeps private keys on the token: sensitive, never extractable, private, unreadable, for signing only', async () => {
    const ids = await withStore({}, async (ks) => [
      (await ks.generate('EC-P256', 'e')).ref.id,
      (await ks.generate('RSA-2048', 'r')).ref.id,
      (await ks.generate('Ed25519', 'd')).ref.id,
    ]);
    // read the attributes back through the bare binding, independently of the store
    const lib = new pkcs11js.PKCS11();
    lib.load(token.modulePath);
    lib.C_Initialize();
    try {
      const slot = lib
        .C_GetSlotList(true)
        .find((s) => lib.C_GetTokenInfo(s).label.trim() === token.tokenLabel)!;
      const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
      lib.C_Login(session, pkcs11js.CKU_USER, token.pin);
      for (const id of ids) {
        lib.C_FindObjectsInit(session, [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
          { type: pkcs11js.CKA_ID, value: Buffer.from(id, 'hex') },
        ]);
        const [key] = lib.C_FindObjects(session, 2);
        lib.C_FindObjectsFinal(session);
        expect(key).toBeDefined();
        const flags = [
          pkcs11js.CKA_TOKEN,
          pkcs11js.CKA_PRIVATE,
          pkcs11js.CKA_SENSITIVE,
          pkcs11js.CKA_ALWAYS_SENSITIVE,
          pkcs11js.CKA_EXTRACTABLE,
          pkcs11js.CKA_NEVER_EXTRACTABLE,
          pkcs11js.CKA_SIGN,
          pkcs11js.CKA_DECRYPT,
          pkcs11js.CKA_UNWRAP,
          pkcs11js.CKA_DERIVE,
        ];
        const values = lib
          .C_GetAttributeValue(
            session,
            key,
            flags.map((type) => ({ type })),
          )
          .map((a) => (a.value as Buffer)[0] !== 0);
        // a signing key signs and does nothing else: no decryption, unwrapping or key agreement
        expect(values, id).toEqual([true, true, true, true, false, true, true, false, false, false]);
        const secret = id === ids[1] ? pkcs11js.CKA_PRIVATE_EXPONENT : pkcs11js.CKA_VALUE;
        expect(() => lib.C_GetAttributeValue(session, key, [{ type: secret }])).toThrow(
          /CKR_ATTRIBUTE_SENSITIVE/,
        );
      }
      lib.C_Logout(session);
      lib.C_CloseSession(session);
    } finally {
      lib.C_Finalize();
      lib.close();
    }
  });

  it('lists keys another application put on the token alongside its own, skipping those it cannot use', async () => {
    // a secp256k1 key: a curve we do not support must not break list()
    const lib = new pkcs11js.PKCS11();
    lib.load(token.modulePath);
    lib.C_Initialize();
    const foreignId = Buffer.from('f0f0f0f0', 'hex');
    try {
      const slot = lib
        .C_GetSlotList(true)
        .find((s) => lib.C_GetTokenInfo(s).label.trim() === token.tokenLabel)!;
      const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      lib.C_Login(session, pkcs11js.CKU_USER, token.pin);
      const k1 = Buffer.from('06052b8104000a', 'hex');
      lib.C_GenerateKeyPair(
        session,
        { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
        [
          { type: pkcs11js.CKA_TOKEN, value: true },
          { type: pkcs11js.CKA_EC_PARAMS, value: k1 },
          { type: pkcs11js.CKA_ID, value: foreignId },
        ],
        [
          { type: pkcs11js.CKA_TOKEN, value: true },
          { type: pkcs11js.CKA_SIGN, value: true },
          { type: pkcs11js.CKA_ID, value: foreignId },
        ],
      );
      lib.C_Logout(session);
      lib.C_CloseSession(session);
    } finally {
      lib.C_Finalize();
      lib.close();
    }
    await withStore({}, async (ks) => {
      const listed = await ks.list();
      expect(listed.length).toBeGreaterThan(0);
      expect(listed.map((i) => i.ref.id)).not.toContain('f0f0f0f0');
      await expect(ks.info('f0f0f0f0')).rejects.toMatchObject({ code: 'unsupported' });
      for (const info of listed) expect(info.ref.store).toBe('pkcs11');
    });
  });
});
