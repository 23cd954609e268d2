/**
 * Regular-expression bombs and hostile XML against a real server: a hunt with `^(a+)+$` over long fields and
 * Windows exports nested a million deep or with far more events than a request may carry. For each, the
 * honest client's issuance and OCSP are answered within a generous bound, the refusal is a problem
 * document, and every event the intake acknowledged is found again.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createToken } from '../../src/http/auth/store.js';
import { call, isProblem, startRig, type Rig } from './helpers.js';

const BOUND_MS = 15_000; // availability, not performance: the machine is shared

describe('abuse: regular-expression bombs and hostile XML', () => {
  let rig: Rig;
  let sender: string;
  let analyst: string;
  const since = new Date(Date.now() - 3_600_000).toISOString();
  const until = () => new Date(Date.now() + 3_600_000).toISOString();
  const acknowledged: string[] = [];

  beforeAll(async () => {
    rig = await startRig();
    expect((await rig.issue()).status).toBe(201);
    sender = (await createToken(rig.p.db, 'sender', ['event-sender'])).token;
    analyst = (await createToken(rig.p.db, 'analyst', ['monitor-analyst'])).token;
  }, 60_000);
  afterAll(async () => rig?.close());

  /** the honest client while `attack` runs: issuance and OCSP answered, each within the bound */
  async function honestDuring<T>(attack: Promise<T>): Promise<T> {
    let done = false;
    const watched = attack.finally(() => (done = true));
    let rounds = 0;
    while (!done || rounds === 0) {
      const a = await rig.issue();
      expect(a.status).toBe(201);
      expect(a.ms).toBeLessThan(BOUND_MS);
      const o = await rig.ocsp();
      expect(o.status).toBe(200);
      expect(o.ms).toBeLessThan(BOUND_MS);
      rounds++;
    }
    return watched;
  }

  async function found(ids: string[]): Promise<void> {
    const r = await call(rig.url, { path: `/api/v1/events?from=${encodeURIComponent(since)}&limit=10000`, headers: { authorization: `Bearer ${analyst}` } });
    expect(r.status).toBe(200);
    const have = new Set((JSON.parse(r.body.toString()).events as { id: string }[]).map((e) => String(e.id)));
    for (const id of ids) expect(have.has(String(id)), `acknowledged event ${id}`).toBe(true);
  }

  it('a hunt with ^(a+)+$ over long fields neither stalls OCSP nor the CA', async () => {
    const events = Array.from({ length: 200 }, (_, i) => ({
      '@timestamp': new Date().toISOString(),
      event: { kind: 'event', action: 'probe' },
      message: 'a'.repeat(20_000 + i) + '!',
    }));
    const put = await call(rig.url, {
      method: 'POST',
      path: '/api/v1/events',
      headers: { authorization: `Bearer ${sender}`, 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    expect(put.status).toBe(202);
    const ids = JSON.parse(put.body.toString()).ids as string[];
    expect(ids).toHaveLength(200);
    acknowledged.push(...ids);

    const yaml = [
      'title: regex bomb',
      'logsource: {product: any}',
      'detection:',
      "  sel: {message|re: '^(a+)+$'}",
      "  sel2: {message|re: '(a|aa)*b'}",
      '  condition: 1 of sel*',
    ].join('\n');
    const t0 = performance.now();
    const hunt = call(rig.url, {
      method: 'POST',
      path: '/api/v1/hunt',
      headers: { authorization: `Bearer ${analyst}`, 'content-type': 'application/json' },
      body: JSON.stringify({ yaml, from: since, to: until() }),
      timeoutMs: 120_000,
    });
    const r = await honestDuring(hunt);
    expect(r.status).toBe(200);
    const j = JSON.parse(r.body.toString());
    expect(j.scanned).toBeGreaterThanOrEqual(200);
    expect(j.matches).toHaveLength(0);
    expect(performance.now() - t0).toBeLessThan(60_000);
    await found(ids);
  }, 180_000);

  it('a rule the linear engine cannot run is refused as a problem document', async () => {
    const yaml = "title: t\nlogsource: {product: any}\ndetection:\n  sel: {message|re: '(a)\\1'}\n  condition: sel\n";
    const r = await call(rig.url, {
      method: 'POST',
      path: '/api/v1/hunt',
      headers: { authorization: `Bearer ${analyst}`, 'content-type': 'application/json' },
      body: JSON.stringify({ yaml, from: since, to: until() }),
    });
    expect(r.status).toBe(400);
    expect(isProblem(r)).toBe(true);
    expect(r.body.toString()).toMatch(/backreferences/);
  });

  const windows = (body: string) =>
    call(rig.url, {
      method: 'POST',
      path: '/api/v1/events/windows',
      headers: { authorization: `Bearer ${sender}`, 'content-type': 'application/xml' },
      body,
      timeoutMs: 120_000,
    });

  it('a Windows export a million elements deep is refused early, the server answering meanwhile', async () => {
    const deep = '<Events><Event>' + '<a>'.repeat(1_000_000) + '</a>'.repeat(1_000_000) + '</Event></Events>';
    const heap = process.memoryUsage().heapUsed;
    const r = await honestDuring(windows(deep));
    expect(r.status).toBe(413);
    expect(isProblem(r)).toBe(true);
    // refused while streaming: no million-node tree was built
    expect(process.memoryUsage().heapUsed - heap).toBeLessThan(400 * 1024 * 1024);
  }, 120_000);

  it('an export with more events than a request carries is refused while streaming, as a problem document', async () => {
    const one = (i: number) =>
      `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="x"/><EventID>4625</EventID>` +
      `<TimeCreated SystemTime="${new Date().toISOString()}"/><Computer>ws${i}</Computer></System>` +
      `<EventData><Data Name="TargetUserName">u${i}</Data><Data Name="Pad">${'p'.repeat(1000)}</Data></EventData></Event>`;
    const huge = '<Events>' + Array.from({ length: 22_000 }, (_, i) => one(i)).join('') + '</Events>';
    const r = await honestDuring(windows(huge));
    expect(r.status).toBe(413);
    expect(isProblem(r)).toBe(true);
    expect(r.body.toString()).toMatch(/more than 1000 events/);
    // malformed and DTD-carrying exports: 400 problem documents
    for (const bad of ['<Events><Event></Events>', '<!DOCTYPE x [<!ENTITY a "b">]><Event/>']) {
      const b = await windows(bad);
      expect(b.status).toBe(400);
      expect(isProblem(b)).toBe(true);
    }
    // and a normal export is still taken in, every acknowledged event found again
    const ok = await windows('<Events>' + one(1) + one(2) + '</Events>');
    expect(ok.status).toBe(202);
    const ids = JSON.parse(ok.body.toString()).ids as string[];
    expect(ids).toHaveLength(2);
    acknowledged.push(...ids);
    await found(acknowledged);
  }, 120_000);
});
