/**
 * Floods without credentials against a real server: the honest client's issuance and OCSP are still
 * answered, strangers are limited per source before authentication (429 problem documents with
 * Retry-After, published for monitoring), and denials are audited in aggregate, not one record each.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { searchAudit } from '../../src/audit/index.js';
import { call, flood, isProblem, startRig, type Rig } from './helpers.js';

const ATTACKER = '127.0.0.2';

describe('abuse: floods without credentials', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig();
    expect((await rig.issue()).status).toBe(201);
  }, 60_000);
  afterAll(async () => rig?.close());

  it('limits the stranger, keeps issuance and OCSP answered, and audits denials in aggregate', async () => {
    const heapBefore = process.memoryUsage().heapUsed;
    const auditBefore = (await searchAudit(rig.p.db, { limit: 100_000 })).filter((a) => a.outcome === 'denied').length;
    const attack = flood(1500, 40, (i) =>
      call(rig.url, {
        method: 'POST',
        path: '/api/v1/certificates',
        localAddress: ATTACKER,
        headers: { authorization: i % 2 ? `Bearer truc_0123456789abcdef_${'x'.repeat(20)}` : '', 'content-type': 'application/json' },
        body: '{"profile":"x"}',
      }),
    );
    // the honest client, meanwhile
    const honest: { issue: number[]; ocsp: number[] } = { issue: [], ocsp: [] };
    for (let k = 0; k < 3; k++) {
      const a = await rig.issue();
      expect(a.status).toBe(201);
      honest.issue.push(a.ms);
      const o = await rig.ocsp();
      expect(o.status).toBe(200);
      honest.ocsp.push(o.ms);
    }
    const answers = await attack;
    // an availability bound (generous), not a performance assertion
    for (const ms of [...honest.issue, ...honest.ocsp]) expect(ms).toBeLessThan(10_000);
    const statuses = new Set(answers.map((a) => a.status));
    expect([...statuses].every((s) => s === 401 || s === 429)).toBe(true);
    expect(statuses.has(429)).toBe(true);
    for (const a of answers) expect(isProblem(a)).toBe(true);
    const limited = answers.find((a) => a.status === 429)!;
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(limited.body.toString()).code).toBe('rate_limited');
    // denials are aggregated: a handful of records, not one per request
    const denied = (await searchAudit(rig.p.db, { limit: 100_000 })).filter((a) => a.outcome === 'denied');
    expect(denied.length - auditBefore).toBeLessThanOrEqual(4);
    expect(denied.some((a) => (a.detail as { ip?: string })?.ip === ATTACKER)).toBe(true);
    // the refusals are visible to monitoring
    expect(rig.p.events.some((e) => e.subject === 'truc.http.rate_limited' && (e.event as any).source?.ip === ATTACKER)).toBe(true);
    expect(rig.p.events.filter((e) => e.subject === 'truc.http.auth.failed').length).toBeGreaterThan(0);
    // memory stays bounded (a loose bound: the flood's answers are held by the test itself)
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(300 * 1024 * 1024);
  }, 60_000);

  it('writes the count of a window’s denials when the window closes', async () => {
    const { platformLimits } = await import('../../src/http/auth/guard.js');
    platformLimits(rig.p).denials.drain();
    // the drain writes asynchronously: wait for the record
    let agg: unknown[] = [];
    for (let k = 0; k < 50 && !agg.length; k++) {
      agg = (await searchAudit(rig.p.db, { limit: 100_000 })).filter((a) => a.outcome === 'denied' && (a.detail as any)?.aggregated && (a.detail as any)?.ip === ATTACKER);
      if (!agg.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(agg.length).toBeGreaterThan(0);
    expect((agg[0] as any).detail.count).toBeGreaterThan(1);
  });

  it('checks credentials before reading the body on lab, monitoring and signing routes (401, never 400)', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 0x41);
    for (const [method, path, type, body] of [
      ['POST', '/api/v1/validate', 'application/pdf', big],
      ['POST', '/api/v1/sign', 'application/json', '{"nonsense":true}'],
      ['POST', '/api/v1/lab/runs', 'application/json', '{"unknown":1}'],
      ['POST', '/api/v1/lab/vendors', 'application/json', '[1,2'],
      ['POST', '/api/v1/hunt', 'application/json', '{"x":'],
      ['POST', '/api/v1/events', 'application/json', '{'],
      ['PATCH', '/api/v1/rules/x', 'application/json', '{'],
    ] as const) {
      const a = await call(rig.url, { method, path, headers: { 'content-type': type }, body, localAddress: '127.0.0.3' });
      expect([401, 404], `${method} ${path}`).toContain(a.status);
      expect(isProblem(a), `${method} ${path}`).toBe(true);
    }
  });

  it('validates ?limit on events (400 problem, not 500)', async () => {
    const { createToken } = await import('../../src/http/auth/store.js');
    const t = (await createToken(rig.p.db, 'analyst', ['monitor-analyst'])).token;
    for (const q of ['abc', '-1', '1;DROP', '1e3']) {
      const a = await call(rig.url, { path: `/api/v1/events?limit=${encodeURIComponent(q)}`, headers: { authorization: `Bearer ${t}` } });
      expect(a.status, q).toBe(400);
      expect(isProblem(a)).toBe(true);
    }
    const ok = await call(rig.url, { path: '/api/v1/events?limit=5', headers: { authorization: `Bearer ${t}` } });
    expect(ok.status).toBe(200);
  });

  it('answers oversized headers with a 431 problem document', async () => {
    const a = await call(rig.url, { path: '/healthz', headers: { 'x-big': 'a'.repeat(40_000) } });
    expect(a.status).toBe(431);
    expect(isProblem(a)).toBe(true);
  });
});
