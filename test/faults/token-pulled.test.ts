/**
 * The platform's own PKCS#11 key store when its token is pulled out — as a USB token or a smart card is,
 * which SoftHSM2 cannot do: the fault-injecting module (test/helpers/pkcs11-fault) in front of SoftHSM2
 * answers CKR_DEVICE_REMOVED to a signature, then shows the slot without a token (C_GetSlotList(TRUE)
 * empty, CKF_TOKEN_PRESENT clear, CKR_TOKEN_NOT_PRESENT) and invalidates the sessions from before. An
 * official's platform-held key on that token signs through `POST /api/v1/sign`: while the token is out
 * the answer is 503 `key_store_unavailable` (never 404 or 500) in both languages with Retry-After, the
 * monitor is told (keystore.unavailable); once the token is back the store re-opens it by itself — new
 * sessions, a new login — and signs again (keystore.restored), the signed PDF valid for pdfsig.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { createSignKey } from '../../src/sign/index.js';
import { acquireModule, releaseModule } from '../../src/crypto/pkcs11/module.js';
import type { Pkcs11KeyStore } from '../../src/crypto/pkcs11-keystore.js';
import { softHsmToken, type SoftHsmToken } from '../helpers/softhsm.js';
import { FaultyToken, faultModuleMissing, FAULT_MODULE } from '../helpers/pkcs11-fault.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { tmp } from '../helpers/openssl.js';
import { samplePdf } from '../sign/fixtures.js';

// CK_SLOT_INFO flags (PKCS#11 v2.40 §3.2; not in pkcs11js's type declarations)
const CKF_TOKEN_PRESENT = 0x1;
const CKF_REMOVABLE_DEVICE = 0x2;
const missing = faultModuleMissing();
if (missing) console.warn(`SKIP pulled-token test: ${missing}`);

describe.skipIf(!!missing && process.env.CI !== 'true')('the platform’s PKCS#11 key store when its token is pulled out', () => {
  let hsm: SoftHsmToken;
  let faults: FaultyToken;
  let p: TestPlatform;
  let app: FastifyInstance;
  let bearer: string;
  const dir = tmp('truc-token-pulled-');

  beforeAll(async () => {
    hsm = softHsmToken();
    faults = new FaultyToken(hsm);
    p = await testPlatform('memory://', { pkcs11: { module: FAULT_MODULE, tokenLabel: hsm.tokenLabel, pin: hsm.pin } });
    // the official's key made on the token (the CAs' keys stay in the software store)
    const token = p.keys.get('pkcs11');
    await createSignKey(p.db, { get: (k) => p.keys.get(k), default: token }, p.issuer, { principal: 'tran.thi.binh', subject: 'C=VN, O=Bộ Tư pháp, CN=Trần Thị Bình', profile: 'official-signing', actor: 'test' });
    app = await buildApp(p, {});
    bearer = (await createToken(p.db, 'tran.thi.binh', ['signer'])).token;
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await p?.close();
    hsm?.cleanup();
  });

  const sign = async (pdf: Buffer) => app.inject({ method: 'POST', url: '/api/v1/sign', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/pdf' }, payload: pdf });
  const actions = () => p.events.map((e) => e.event.event.action);
  const pdfsigValid = (pdf: Buffer, name: string) => {
    writeFileSync(join(dir, name), pdf);
    return spawnSync('pdfsig', [join(dir, name)], { encoding: 'utf8' }).stdout;
  };
  /** what an application enumerating the slots sees */
  const slots = () => {
    const lib = acquireModule(FAULT_MODULE);
    try {
      const all = lib.C_GetSlotList(false);
      return { withToken: lib.C_GetSlotList(true).length, present: all.map((s) => (lib.C_GetSlotInfo(s).flags & CKF_TOKEN_PRESENT) !== 0), removable: all.every((s) => (lib.C_GetSlotInfo(s).flags & CKF_REMOVABLE_DEVICE) !== 0) };
    } finally {
      releaseModule(FAULT_MODULE);
    }
  };
  const until = async (f: () => Promise<boolean>) => {
    const end = Date.now() + 20_000;
    while (!(await f()) && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    return f();
  };

  it('pulled out mid-way: 503 key_store_unavailable while away, signing again once it is back — twice', async () => {
    const pdf = await samplePdf(false);
    const first = await sign(pdf);
    expect(first.statusCode, first.body).toBe(200);
    expect(pdfsigValid(first.rawPayload, 'before.pdf')).toMatch(/Signature is Valid/);

    // the token leaves during the next signature
    faults.pullAfterSignatures(0);
    const pulled = await sign(pdf);
    expect(pulled.statusCode, pulled.body).toBe(503);
    const problem = pulled.json();
    expect(problem).toMatchObject({ code: 'key_store_unavailable', status: 503, tokenLabel: hsm.tokenLabel });
    expect(problem.detail).toMatch(/^thiết bị lưu khoá \(PKCS#11\) không sẵn sàng.* \/ the PKCS#11 token is not available .*CKR_DEVICE_REMOVED/);
    expect(pulled.headers['retry-after']).toBe('2');
    expect(faults.state()).toMatchObject({ present: 0 });
    expect(actions()).toContain('keystore.unavailable');
    expect((p.keys.get('pkcs11') as Pkcs11KeyStore).health.available).toBe(false);

    // the reader shows its slot, without a token
    expect(slots()).toEqual({ withToken: 0, present: expect.arrayContaining([false]), removable: true });
    expect(slots().present.every((x) => !x)).toBe(true);
    for (let i = 0; i < 3; i++) {
      const r = await sign(pdf);
      expect([r.statusCode, r.json().code]).toEqual([503, 'key_store_unavailable']); // never 404, never 500
    }

    // put back: the store opens it again by itself (a new session, a new login) and signs
    faults.insert();
    expect(slots().withToken).toBeGreaterThan(0);
    let back: Buffer | undefined;
    expect(
      await until(async () => {
        const r = await sign(pdf);
        if (r.statusCode === 200) back = r.rawPayload;
        else expect([r.statusCode, r.json().code]).toEqual([503, 'key_store_unavailable']);
        return r.statusCode === 200;
      }),
    ).toBe(true);
    expect(pdfsigValid(back!, 'after.pdf')).toMatch(/Signature is Valid/);
    expect(actions()).toContain('keystore.restored');
    const health = (p.keys.get('pkcs11') as Pkcs11KeyStore).health;
    expect(health.available).toBe(true);
    expect(health.reopened).toBeGreaterThanOrEqual(1);

    // pulled while idle, between two requests: the next one finds the sessions gone, and so on
    faults.pull();
    const idle = await sign(pdf);
    expect([idle.statusCode, idle.json().code]).toEqual([503, 'key_store_unavailable']);
    faults.insert();
    expect(await until(async () => (await sign(pdf)).statusCode === 200)).toBe(true);
    expect((p.keys.get('pkcs11') as Pkcs11KeyStore).health.reopened).toBeGreaterThanOrEqual(2);
  }, 90_000);
});
