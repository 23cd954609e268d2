/**
 * `truc agent` when the official's token does what USB tokens do and SoftHSM2 cannot: pulled out in the
 * middle of a batch, and a user PIN that locks after wrong tries. The token is SoftHSM2's behind the
 * fault-injecting PKCS#11 module (test/helpers/pkcs11-fault): it answers CKR_DEVICE_REMOVED to the
 * signature after the budget and then shows an empty slot, counts wrong PINs with the token's
 * CKF_USER_PIN_COUNT_LOW / FINAL_TRY / LOCKED flags and answers CKR_PIN_LOCKED once they are spent.
 *
 * Pulled out mid-batch: the documents signed before stay complete and valid (pdfsig, openssl cms), the rest
 * are reported unsigned in both languages and their handles stay unused on the server; with the token put
 * back, a new approval signs the rest. PIN lock-out: the official is told of the count, the final try and
 * the lock, through the agent's answers and before typing the PIN; a locked token is refused without
 * asking; the security officer's new PIN unblocks it.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { OcspResponder } from '../../src/pki/ocsp/index.js';
import type { TokenRef } from '../../src/agent/token.js';
import { startAgent, type Confirm, type RunningAgent, type SignRequest } from '../../src/agent/server.js';
import { openLab, samplePdf, type Lab } from '../sign/fixtures.js';
import { softHsmToken, type SoftHsmToken } from '../helpers/softhsm.js';
import { FaultyToken, faultModuleMissing } from '../helpers/pkcs11-fault.js';
import { tmp } from '../helpers/openssl.js';
import { officialToken, signingServer } from './fixture.js';

const missing = faultModuleMissing();
if (missing) console.warn(`SKIP truc agent token fault tests: ${missing}`);
const CONSOLE = 'https://console.truc.test';

describe.skipIf(!!missing && process.env.CI !== 'true')('truc agent: a token pulled out mid-batch, a PIN that locks', () => {
  let lab: Lab;
  let app: FastifyInstance;
  let responder: OcspResponder;
  let hsm: SoftHsmToken;
  let faults: FaultyToken;
  let token: TokenRef;
  let agent: RunningAgent;
  let apiToken: string;
  let certId: string;
  let certDer: Buffer;
  const dir = tmp('truc-agent-faults-');
  const asked: SignRequest[] = [];
  let answer: () => { pin: string } | null = () => null;
  const confirm: Confirm = async (r) => {
    asked.push(r);
    return answer();
  };

  beforeAll(async () => {
    hsm = softHsmToken();
    lab = await openLab();
    ({ app, responder, apiToken } = await signingServer(lab));
    // the key made and the certificate put on the token straight through SoftHSM2; the agent then sees
    // the token only through the fault-injecting module, as an official's USB token
    const official = await officialToken(lab, hsm);
    ({ certId, certDer } = official);
    faults = new FaultyToken(hsm);
    token = { module: faults.modulePath, slot: official.token.slot };
    agent = await startAgent({ token, origin: CONSOLE, port: 0, confirm });
    writeFileSync(join(dir, 'ca.pem'), [lab.root, lab.issuing].map((d) => `-----BEGIN CERTIFICATE-----\n${d.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`).join(''));
  }, 120_000);

  afterAll(async () => {
    await agent?.close();
    await app?.close();
    await responder?.stop();
    await lab?.p.close();
    hsm?.cleanup();
  });

  const toAgent = (path: string, body?: unknown) =>
    fetch(`${agent.url}${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { origin: CONSOLE, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  const prepare = async (payload: Record<string, unknown>) => {
    const r = await app.inject({ method: 'POST', url: '/api/v1/sign/prepare', headers: { authorization: `Bearer ${apiToken}` }, payload: { certificate: certDer.toString('base64'), chain: [lab.issuing.toString('base64')], ...payload } });
    expect(r.statusCode, r.body).toBe(200);
    return r.json().items as { handle: string; dataToBeSigned: string; scheme: string; title: string }[];
  };
  const signBody = (items: { dataToBeSigned: string; title: string; scheme: string }[]) => ({ certificateId: certId, scheme: items[0]!.scheme, items: items.map((it) => ({ dataToBeSigned: it.dataToBeSigned, title: it.title })) });
  const complete = (handle: string, signature: string) => app.inject({ method: 'POST', url: '/api/v1/sign/complete', headers: { authorization: `Bearer ${apiToken}` }, payload: { handle, signature } });
  const unused = async (handles: string[]) => (await lab.p.db.query<{ handle: string }>(`SELECT handle FROM sign_pending WHERE handle = ANY($1) AND used_at IS NULL`, [handles])).map((r) => r.handle).sort();
  const cmsVerifies = (p7s: Buffer, content: Buffer, name: string) => {
    writeFileSync(join(dir, `${name}.p7s`), p7s);
    writeFileSync(join(dir, `${name}.txt`), content);
    return spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', join(dir, `${name}.p7s`), '-content', join(dir, `${name}.txt`), '-CAfile', join(dir, 'ca.pem'), '-purpose', 'any', '-out', '/dev/null'], { encoding: 'utf8' });
  };

  it('pulled out after two of four documents: the two stand signed and valid, the rest are reported unsigned and kept unused; put back, a new approval signs the rest', async () => {
    const texts = ['Báo cáo 2', 'Báo cáo 3', 'Báo cáo 4'].map((t) => Buffer.from(`${t}: số liệu quý IV\n`));
    const items = await prepare({
      items: [
        { file: (await samplePdf(false)).toString('base64'), title: 'Quyết định 1', format: 'pades', level: 'B-B' },
        ...texts.map((d, i) => ({ file: d.toString('base64'), title: `Báo cáo ${i + 2}`, format: 'cades', level: 'B-B' })),
      ],
    });
    answer = () => ({ pin: hsm.pin });
    faults.pullAfterSignatures(2);
    const before = asked.length;
    const r = await toAgent('/v1/sign', signBody(items));
    const b = await r.json();
    expect(asked.length - before).toBe(1); // one approval for the batch, given before the token went
    expect([r.status, b.code, b.signed]).toEqual([503, 'token_absent', 2]);
    expect(b.message).toMatch(/^đã ký 2\/4 văn bản, dừng ở văn bản 3 «Báo cáo 3»: không thấy thiết bị ký số.* \/ 2 of 4 signed, stopped at item 3: the token is not present/);
    expect(b.signatures.map((s: string | null) => typeof s)).toEqual(['string', 'string', 'object', 'object']);
    expect(b.errors.map((e: { code: string } | null) => e?.code ?? null)).toEqual([null, null, 'token_absent', 'token_absent']);
    expect(b.errors[3].message).toMatch(/^chưa ký văn bản này: .* \/ this document was not signed: /);
    expect(faults.state()).toMatchObject({ present: 0, signed: 2 });

    // what was signed before the token went is complete and valid on its own
    const pdf = await complete(items[0]!.handle, b.signatures[0]);
    expect(pdf.statusCode, pdf.body).toBe(200);
    writeFileSync(join(dir, 'q1.pdf'), pdf.rawPayload);
    expect(spawnSync('pdfsig', [join(dir, 'q1.pdf')], { encoding: 'utf8' }).stdout).toMatch(/Signature is Valid/);
    const cms = await complete(items[1]!.handle, b.signatures[1]);
    expect(cms.statusCode, cms.body).toBe(200);
    expect(cmsVerifies(cms.rawPayload, texts[0]!, 'bc2').status).toBe(0);
    // nothing half-written: the two unsigned documents are still waiting, their handles unused
    expect(await unused(items.map((i) => i.handle))).toEqual([items[2]!.handle, items[3]!.handle].sort());

    // while the token is out: the slot is empty, the agent says so at once and asks nothing
    const rest = items.slice(2);
    for (const path of ['/v1/token', '/v1/certificates']) {
      const a = await toAgent(path);
      expect([a.status, (await a.json()).code]).toEqual([503, 'token_absent']);
    }
    const away = await toAgent('/v1/sign', signBody(rest));
    const aw = await away.json();
    expect([away.status, aw.code]).toEqual([503, 'token_absent']);
    expect(aw.message).toMatch(/^không thấy thiết bị ký số.* \/ the token is not present/);
    expect(asked.length - before).toBe(1);

    // put back: the rest, under a new approval with the PIN (the token's login went with it)
    faults.insert();
    const again = await toAgent('/v1/sign', signBody(rest));
    expect(again.status, await again.clone().text()).toBe(200);
    expect(asked.length - before).toBe(2);
    expect(asked.at(-1)!.items.map((x) => x.title)).toEqual(['Báo cáo 3', 'Báo cáo 4']);
    const { signatures } = await again.json();
    for (const [i, it] of rest.entries()) {
      const c = await complete(it.handle, signatures[i]);
      expect(c.statusCode, c.body).toBe(200);
      expect(cmsVerifies(c.rawPayload, texts[i + 1]!, `bc${i + 3}`).status).toBe(0);
    }
    expect(await unused(items.map((i) => i.handle))).toEqual([]);
    expect(faults.state().signed).toBe(4);
  }, 90_000);

  it('a PIN that locks: count-low, then final try, told before the PIN and in the answers; locked, refused without asking; the security officer’s new PIN unblocks', async () => {
    const [item] = await prepare({ file: Buffer.from('Công văn 9').toString('base64'), title: 'Công văn 9', format: 'cades' });
    const body = signBody([item!]);
    faults.lockAfterWrongPins(3);
    const status = async () => (await toAgent('/v1/token')).json();
    expect(await status()).toMatchObject({ label: hsm.tokenLabel, pin: 'ok' });
    expect((await status()).warning).toBeUndefined();

    // one wrong PIN, then the right one: the count goes back to zero
    answer = () => ({ pin: '000000' });
    const w1 = await toAgent('/v1/sign', body);
    expect([w1.status, (await w1.json()).pin]).toEqual([401, 'count_low']);
    answer = () => ({ pin: hsm.pin });
    expect((await toAgent('/v1/sign', body)).status).toBe(200);
    expect(asked.at(-1)).toMatchObject({ pin: 'count_low', pinWarning: expect.stringMatching(/^đã có lần nhập mã PIN sai.* \/ a wrong PIN was entered/) });
    expect(await status()).toMatchObject({ pin: 'ok' });

    // three wrong PINs in a row
    answer = () => ({ pin: '000000' });
    const first = await toAgent('/v1/sign', body);
    const f = await first.json();
    expect([first.status, f.code, f.pin]).toEqual([401, 'pin_incorrect', 'count_low']);
    expect(f.message).toMatch(/^mã PIN không đúng; thiết bị đếm số lần nhập sai.* \/ the token rejected the PIN; it counts wrong PINs/);
    expect(await status()).toMatchObject({ pin: 'count_low', warning: expect.stringMatching(/^đã có lần nhập mã PIN sai/) });

    const second = await toAgent('/v1/sign', body);
    const s = await second.json();
    expect(asked.at(-1)).toMatchObject({ pin: 'count_low' });
    expect([second.status, s.code, s.pin]).toEqual([401, 'pin_incorrect', 'final_try']);
    expect(s.message).toMatch(/^mã PIN không đúng; chỉ còn MỘT lần thử.* \/ the token rejected the PIN; one try left: another wrong PIN locks the token$/);
    expect(await status()).toMatchObject({ pin: 'final_try', warning: expect.stringMatching(/^chỉ còn MỘT lần thử.* \/ one try left/) });

    const third = await toAgent('/v1/sign', body);
    const t = await third.json();
    // the official was warned of the final try before typing the PIN
    expect(asked.at(-1)).toMatchObject({ pin: 'final_try', pinWarning: expect.stringMatching(/one try left/) });
    expect([third.status, t.code, t.pin]).toEqual([423, 'pin_locked', 'locked']);
    expect(t.message).toMatch(/^mã PIN đã bị khoá trên thiết bị sau quá nhiều lần nhập sai.* \/ the PIN is locked on the token after too many wrong tries: ask the CA to unblock it$/);
    expect(faults.state()).toMatchObject({ pin_failures: 3 });

    // locked: even the right PIN is refused, and the agent does not ask for it
    answer = () => ({ pin: hsm.pin });
    const before = asked.length;
    const signedBefore = faults.state().signed;
    const locked = await toAgent('/v1/sign', body);
    expect([locked.status, (await locked.json()).code]).toEqual([423, 'pin_locked']);
    expect(asked.length).toBe(before);
    expect(await status()).toMatchObject({ pin: 'locked' });
    expect(faults.state().signed).toBe(signedBefore);
    expect(await unused([item!.handle])).toEqual([item!.handle]);

    // the CA's help desk sets a new PIN with the security officer's PIN: the token signs again
    const newPin = '24681357';
    faults.unblock(newPin);
    expect(await status()).toMatchObject({ pin: 'ok' });
    answer = () => ({ pin: newPin });
    const ok = await toAgent('/v1/sign', body);
    expect(ok.status, await ok.clone().text()).toBe(200);
    const c = await complete(item!.handle, (await ok.json()).signatures[0]);
    expect(c.statusCode, c.body).toBe(200);
    expect(cmsVerifies(c.rawPayload, Buffer.from('Công văn 9'), 'cv9').status).toBe(0);
  }, 90_000);
});
