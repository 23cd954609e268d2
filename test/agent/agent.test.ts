/**
 * `truc agent` with a key on a SoftHSM2 token: the document on the server (two-phase signing over HTTP),
 * the key behind the agent, the official's confirmation asked for each request. The PDF it completes is
 * accepted by pdfsig and validated TOTAL-PASSED by the platform; a batch of CAdES signatures under one
 * approval is accepted by openssl cms. Refused: another origin (request and preflight), a declined request,
 * a wrong PIN, a certificate not on the token — nothing signed.
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
import { softHsmMissing, softHsmToken, type SoftHsmToken } from '../helpers/softhsm.js';
import { tmp } from '../helpers/openssl.js';
import { officialToken, signingServer } from './fixture.js';

const missing = softHsmMissing();
if (missing) console.warn(`SKIP truc agent tests: ${missing}`);
const CONSOLE = 'https://console.truc.test';

describe.skipIf(!!missing && process.env.CI !== 'true')('truc agent: signing with a key on the official’s token', () => {
  let lab: Lab;
  let app: FastifyInstance;
  let responder: OcspResponder;
  let hsm: SoftHsmToken;
  let token: TokenRef;
  let agent: RunningAgent;
  let apiToken: string;
  let certId: string;
  let certDer: Buffer;
  const asked: SignRequest[] = [];
  // what the official answers next: the PIN, or null to decline
  let answer: () => { pin: string } | null;
  const confirm: Confirm = async (r) => {
    asked.push(r);
    return answer();
  };

  beforeAll(async () => {
    hsm = softHsmToken();
    lab = await openLab();
    ({ app, responder, apiToken } = await signingServer(lab));
    await app.listen({ host: '127.0.0.1', port: 0 });
    // the official's key made on the token, its certificate issued by the platform's CA and put beside it
    ({ token, certId, certDer } = await officialToken(lab, hsm));
    agent = await startAgent({ token, origin: CONSOLE, port: 0, confirm });
  }, 120_000);

  afterAll(async () => {
    await agent?.close();
    await app?.close();
    await responder?.stop();
    await lab?.p.close();
    hsm?.cleanup();
  });

  const toAgent = (path: string, init: { method?: string; body?: unknown; origin?: string | null } = {}) =>
    fetch(`${agent.url}${path}`, {
      method: init.method ?? (init.body ? 'POST' : 'GET'),
      headers: { ...(init.origin === null ? {} : { origin: init.origin ?? CONSOLE }), ...(init.body ? { 'content-type': 'application/json' } : {}) },
      ...(init.body ? { body: JSON.stringify(init.body) } : {}),
    });
  const prepare = async (payload: Record<string, unknown>) => {
    const r = await app.inject({ method: 'POST', url: '/api/v1/sign/prepare', headers: { authorization: `Bearer ${apiToken}` }, payload: { certificate: certDer.toString('base64'), chain: [lab.issuing.toString('base64')], ...payload } });
    expect(r.statusCode, r.body).toBe(200);
    return r.json().items as { handle: string; dataToBeSigned: string; scheme: string; title: string }[];
  };

  it('lists the token’s certificates; prepare → agent (confirmed with the PIN) → complete gives a PAdES B-LT that pdfsig and the platform accept', async () => {
    const certs = await (await toAgent('/v1/certificates')).json();
    expect(certs).toEqual([expect.objectContaining({ id: certId, label: 'Nguyễn Văn An', subject: expect.stringContaining('CN=Nguyễn Văn An'), certificate: certDer.toString('base64') })]);
    const [item] = await prepare({ file: (await samplePdf(false)).toString('base64'), title: 'Quyết định 12/QĐ-BTP', format: 'pades', level: 'B-LT', reason: 'Phê duyệt' });
    answer = () => ({ pin: hsm.pin });
    const r = await toAgent('/v1/sign', { body: { certificateId: certId, scheme: item!.scheme, items: [{ dataToBeSigned: item!.dataToBeSigned, title: item!.title }] } });
    expect(r.status, await r.clone().text()).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBe(CONSOLE);
    const { signatures } = await r.json();
    // the official was shown what is signed: the title, the hash of the data to be signed, the site, the certificate
    expect(asked.at(-1)).toMatchObject({ site: CONSOLE, certificate: { id: certId }, items: [{ title: 'Quyết định 12/QĐ-BTP', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }] });
    const c = await app.inject({ method: 'POST', url: '/api/v1/sign/complete', headers: { authorization: `Bearer ${apiToken}` }, payload: { handle: item!.handle, signature: signatures[0] } });
    expect(c.statusCode, c.body).toBe(200);
    const file = join(tmp('truc-agent-'), 'signed.pdf');
    writeFileSync(file, c.rawPayload);
    expect(spawnSync('pdfsig', [file], { encoding: 'utf8' }).stdout).toMatch(/Signature is Valid/);
    const v = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/pdf' }, payload: c.rawPayload });
    expect(v.json().signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LT' });
  }, 90_000);

  it('a batch of CAdES documents under one approval; openssl cms verifies each', async () => {
    const docs = ['Báo cáo 1', 'Báo cáo 2', 'Báo cáo 3'].map((t) => Buffer.from(`${t}: số liệu tháng 12\n`));
    const items = await prepare({ items: docs.map((d, i) => ({ file: d.toString('base64'), title: `Báo cáo ${i + 1}`, format: 'cades', level: 'B-B' })) });
    answer = () => ({ pin: hsm.pin });
    const before = asked.length;
    const r = await toAgent('/v1/sign', { body: { certificateId: certId, scheme: items[0]!.scheme, items: items.map((it) => ({ dataToBeSigned: it.dataToBeSigned, title: it.title })) } });
    expect(r.status).toBe(200);
    expect(asked.length - before).toBe(1); // one approval for the batch
    expect(asked.at(-1)!.items.map((x) => x.title)).toEqual(['Báo cáo 1', 'Báo cáo 2', 'Báo cáo 3']);
    const { signatures } = await r.json();
    const dir = tmp('truc-agent-cms-');
    writeFileSync(join(dir, 'ca.pem'), [lab.root, lab.issuing].map((d) => `-----BEGIN CERTIFICATE-----\n${d.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`).join(''));
    for (const [i, it] of items.entries()) {
      const c = await app.inject({ method: 'POST', url: '/api/v1/sign/complete', headers: { authorization: `Bearer ${apiToken}` }, payload: { handle: it.handle, signature: signatures[i] } });
      expect(c.statusCode, c.body).toBe(200);
      writeFileSync(join(dir, `${i}.p7s`), c.rawPayload);
      writeFileSync(join(dir, `${i}.txt`), docs[i]!);
      const o = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', join(dir, `${i}.p7s`), '-content', join(dir, `${i}.txt`), '-CAfile', join(dir, 'ca.pem'), '-purpose', 'any', '-out', '/dev/null'], { encoding: 'utf8' });
      expect(o.status, o.stderr).toBe(0);
    }
  }, 90_000);

  it('refuses another origin (request and preflight) and a request without one, before asking anything', async () => {
    const before = asked.length;
    const other = await toAgent('/v1/certificates', { origin: 'https://evil.example' });
    expect(other.status).toBe(403);
    expect((await other.json()).message).toMatch(/^nguồn gọi không được phép \/ origin not allowed$/);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect((await toAgent('/v1/certificates', { origin: null })).status).toBe(403);
    const pre = await toAgent('/v1/sign', { method: 'OPTIONS', origin: 'https://evil.example' });
    expect(pre.status).toBe(403);
    const ok = await toAgent('/v1/sign', { method: 'OPTIONS' });
    expect([ok.status, ok.headers.get('access-control-allow-origin')]).toEqual([204, CONSOLE]);
    const sign = await toAgent('/v1/sign', { origin: 'https://evil.example', body: { certificateId: certId, scheme: 'ecdsa-sha256', items: [{ dataToBeSigned: 'AAAA', title: 'x' }] } });
    expect(sign.status).toBe(403);
    expect(asked.length).toBe(before);
    // the agent listens on the loopback address only
    expect(new URL(agent.url).hostname).toBe('127.0.0.1');
  });

  it('a declined request, a wrong PIN and an unknown certificate are refused clearly; nothing is signed', async () => {
    const [item] = await prepare({ file: Buffer.from('Công văn 7').toString('base64'), title: 'Công văn 7', format: 'cades' });
    const body = { certificateId: certId, scheme: item!.scheme, items: [{ dataToBeSigned: item!.dataToBeSigned, title: item!.title }] };
    answer = () => null;
    const declined = await toAgent('/v1/sign', { body });
    expect([declined.status, (await declined.json()).code]).toEqual([403, 'declined']);
    answer = () => ({ pin: '000000' });
    const wrong = await toAgent('/v1/sign', { body });
    const w = await wrong.json();
    expect([wrong.status, w.code]).toEqual([401, 'pin_incorrect']);
    expect(w.message).toMatch(/^mã PIN không đúng/);
    const unknown = await toAgent('/v1/sign', { body: { ...body, certificateId: 'ab'.repeat(16) } });
    expect([unknown.status, (await unknown.json()).code]).toEqual([404, 'unknown_certificate']);
    // the handle was never completed: still usable with a real signature
    answer = () => ({ pin: hsm.pin });
    const good = await (await toAgent('/v1/sign', { body })).json();
    const c = await app.inject({ method: 'POST', url: '/api/v1/sign/complete', headers: { authorization: `Bearer ${apiToken}` }, payload: { handle: item!.handle, signature: good.signatures[0] } });
    expect(c.statusCode, c.body).toBe(200);
  }, 60_000);
});
