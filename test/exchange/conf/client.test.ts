/**
 * The configuration client against a real central server over loopback HTTP: verified downloads, only
 * changed parts fetched, tampering, bad signatures, older versions and expiry refused, the last good
 * configuration kept on disk for an offline restart, and back-off with recovery after the server was down.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { buildApp } from '../../../src/http/app.js';
import { ConfClient, type ConfAnchor, type Fetch, type GlobalConf } from '../../../src/exchange/conf/index.js';
import { CentralServer } from '../../../src/exchange/central/index.js';
import { tmp } from '../../helpers/openssl.js';
import { world, issueKey, INSTANCE, type World } from '../central/fixture.js';

const VPCP = { instance: INSTANCE, memberClass: 'GOV', memberCode: '000.00.00.G22' };

async function until(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e: any) {
    return e.code;
  }
  throw new Error('expected a refusal');
}

describe('configuration client', () => {
  let w: World;
  let app: FastifyInstance;
  let port: number;
  let anchor: ConfAnchor;
  const requests: string[] = [];
  const counting: Fetch = (u, init) => {
    requests.push(new URL(u).pathname);
    return fetch(u, init);
  };

  async function listen(p = 0): Promise<number> {
    app = await buildApp(w.p, { central: w.central });
    await app.listen({ host: '127.0.0.1', port: p });
    return (app.server.address() as { port: number }).port;
  }

  beforeAll(async () => {
    w = await world('memory://', { registrationUrl: 'https://127.0.0.1:1/central/register', centralTlsCertHash: 'cd'.repeat(32) });
    await w.central.registry.addMember({ memberClass: 'GOV', memberCode: '000.00.00.G22', name: 'Văn phòng Chính phủ' }, 'test');
    await w.central.generator.generate();
    port = await listen();
    anchor = await w.central.exportAnchor(`http://127.0.0.1:${port}`);
  });
  afterAll(async () => {
    await app?.close();
    await w?.close();
  });

  it('downloads, verifies and exposes the configuration and the private parameters; status says where from', async () => {
    const changes: GlobalConf[] = [];
    const c = new ConfClient({ anchor, dir: tmp('truc-conf-'), onChange: (g) => changes.push(g) });
    expect(c.current()).toBeUndefined();
    expect(await c.refresh()).toBe(true);
    const g = c.current()!;
    expect(g.member(VPCP)?.name).toBe('Văn phòng Chính phủ');
    expect(g.usable(new Date())).toBe(true);
    expect(c.privateParameters()).toMatchObject({ registrationUrl: 'https://127.0.0.1:1/central/register', centralTlsCertHash: 'cd'.repeat(32) });
    expect(changes).toHaveLength(1);
    const st = c.status();
    expect(st).toMatchObject({ instance: INSTANCE, version: g.version, source: anchor.sources[0].url, expired: false, lastError: null, consecutiveFailures: 0 });
    // the same version again: nothing new
    expect(await c.refresh()).toBe(false);
    expect(changes).toHaveLength(1);
  });

  it('fetches only the parts whose hash changed', async () => {
    const dir = tmp('truc-conf-');
    const c = new ConfClient({ anchor, dir, fetch: counting });
    await c.refresh();
    expect(requests.filter((p) => p.includes('/parts/'))).toHaveLength(2);
    requests.length = 0;
    await w.central.registry.addSubsystem({ memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: 'vanthu' }, 'test');
    await w.central.generator.generate();
    expect(await c.refresh()).toBe(true);
    // the shared parameters changed, the private ones did not
    expect(requests.filter((p) => p.includes('/parts/'))).toHaveLength(1);
    expect(c.current()!.hasSubsystem({ ...VPCP, subsystemCode: 'vanthu' })).toBe(true);
  });

  it('refuses a tampered part and keeps the configuration it held', async () => {
    const c = new ConfClient({ anchor, dir: tmp('truc-conf-') });
    await c.refresh();
    const held = c.current()!.version;
    await w.central.registry.addMember({ memberClass: 'GOV', memberCode: '000.00.00.G09', name: 'Bộ Nội vụ' }, 'test');
    await w.central.generator.generate();
    const tampering: Fetch = async (u, init) => {
      const res = await fetch(u, init);
      if (!u.includes('/parts/')) return res;
      const text = (await res.text()).replace('Bộ Nội vụ', 'Bộ Nội vu');
      return new Response(text, { status: 200 });
    };
    const t = new ConfClient({ anchor, dir: tmp('truc-conf-'), fetch: tampering });
    expect(await refusal(t.refresh())).toBe('conf_invalid');
    expect(t.current()).toBeUndefined();
    expect(t.status().lastError?.message).toMatch(/does not match its hash/);
    // the operator reads why in Vietnamese too
    expect(t.status().lastError?.reason_vi).toMatch(/không khớp giá trị băm/);
    const c2 = new ConfClient({ anchor, dir: (c as any).opts.dir, fetch: tampering });
    expect(await refusal(c2.refresh())).toBe('conf_invalid');
    expect(c2.current()!.version).toBe(held);
  });

  it('refuses a bad signature and a directory signed by a key the anchor does not name', async () => {
    const flip: Fetch = async (u, init) => {
      const res = await fetch(u, init);
      if (!u.endsWith('/directory')) return res;
      const env = await res.json();
      const d = JSON.parse(Buffer.from(env.directory, 'base64').toString());
      d.expiresAt = new Date(Date.parse(d.expiresAt) + 86_400_000).toISOString();
      return Response.json({ ...env, directory: Buffer.from(JSON.stringify(d)).toString('base64') });
    };
    const c = new ConfClient({ anchor, dir: tmp('truc-conf-'), fetch: flip });
    expect(await refusal(c.refresh())).toBe('conf_invalid');
    expect(c.status().lastError?.message).toMatch(/signature does not verify/);
    expect(c.status().lastError?.reason_vi).toMatch(/chữ ký của danh mục không khớp với mỏ neo/);
    const foreign: ConfAnchor = { ...anchor, sources: [{ url: anchor.sources[0].url, verificationCerts: [w.issuing.certificate.toString('base64')] }] };
    const f = new ConfClient({ anchor: foreign, dir: tmp('truc-conf-') });
    expect(await refusal(f.refresh())).toBe('conf_invalid');
    const otherInstance: ConfAnchor = { ...anchor, instance: 'XX' };
    expect(await refusal(new ConfClient({ anchor: otherInstance, dir: tmp('truc-conf-') }).refresh())).toBe('conf_invalid');
  });

  it('refuses a version older than the one it holds', async () => {
    const oldEnvelope = await w.central.generator.signedDirectory();
    await w.central.generator.generate({ force: true });
    const c = new ConfClient({ anchor, dir: tmp('truc-conf-') });
    await c.refresh();
    const held = c.current()!.version;
    const replaying: Fetch = async (u, init) => (u.endsWith('/directory') ? Response.json(oldEnvelope) : fetch(u, init));
    const r = new ConfClient({ anchor, dir: (c as any).opts.dir, fetch: replaying });
    expect(r.current()!.version).toBe(held); // from the cache
    expect(await refusal(r.refresh())).toBe('conf_outdated');
    expect(r.current()!.version).toBe(held);
  });

  it('refuses an expired configuration, and says the one held expired', async () => {
    const later = () => new Date(Date.now() + 3600_000);
    const c = new ConfClient({ anchor, dir: tmp('truc-conf-'), clock: later });
    expect(await refusal(c.refresh())).toBe('conf_expired');
    const d = new ConfClient({ anchor, dir: tmp('truc-conf-') });
    await d.refresh();
    const conf = d.current()!;
    expect(conf.usable(new Date())).toBe(true);
    expect(conf.usable(later())).toBe(false);
    expect(() => conf.assertUsable(later())).toThrow(expect.objectContaining({ code: 'conf_expired' }));
    const offline = new ConfClient({ anchor, dir: (d as any).opts.dir, clock: later, fetch: () => Promise.reject(new Error('offline')) });
    expect(offline.status().expired).toBe(true);
  });

  it('works offline after a restart from the cache, and ignores a cache altered on disk', async () => {
    const dir = tmp('truc-conf-');
    const c = new ConfClient({ anchor, dir });
    await c.refresh();
    const version = c.current()!.version;
    const down: Fetch = () => Promise.reject(new TypeError('fetch failed'));
    const restarted = new ConfClient({ anchor, dir, fetch: down });
    expect(restarted.current()!.version).toBe(version);
    expect(await refusal(restarted.refresh())).toBe('peer_unreachable');
    expect(restarted.current()!.version).toBe(version);
    // alter the cached shared parameters: the cache is not trusted any more
    const part = readdirSync(join(dir, 'parts')).find((f) => readFileSync(join(dir, 'parts', f), 'utf8').includes('Văn phòng'))!;
    writeFileSync(join(dir, 'parts', part), readFileSync(join(dir, 'parts', part), 'utf8').replace('Văn phòng', 'Van phong'));
    expect(new ConfClient({ anchor, dir, fetch: down }).current()).toBeUndefined();
  });

  it('backs off while the server is down and recovers by itself when it is back', async () => {
    const changes: number[] = [];
    const c = new ConfClient({ anchor, dir: tmp('truc-conf-'), minIntervalMs: 30, maxBackoffMs: 240, intervalMs: 50, timeoutMs: 2000, onChange: (g) => changes.push(g.version) });
    c.start();
    try {
      await until('first download', () => changes.length === 1);
      await app.close();
      await until('three failures', () => c.status().consecutiveFailures >= 3);
      expect(c.status().lastError?.code).toBe('peer_unreachable');
      // the retry pause grows and stays bounded
      await until('back-off at its bound', () => c.status().consecutiveFailures >= 5);
      expect(c.status().nextAttemptInMs!).toBeLessThanOrEqual(240);
      expect(c.current()).toBeDefined(); // the last good configuration is still held
      await w.central.registry.addMember({ memberClass: 'GOV', memberCode: '000.00.00.G01', name: 'Bộ Ngoại giao' }, 'test');
      await w.central.generator.generate();
      await listen(port);
      await until('recovery', () => changes.length === 2);
      expect(c.current()!.member({ memberClass: 'GOV', memberCode: '000.00.00.G01' })?.name).toBe('Bộ Ngoại giao');
      await until('failures reset', () => c.status().consecutiveFailures === 0 && c.status().lastError === null);
    } finally {
      c.stop();
    }
  });

  it('bounds and checks what a source answers: oversized, not JSON, missing fields, an error status', async () => {
    const answering =
      (body: string | Uint8Array, status = 200): Fetch =>
      async () =>
        new Response(typeof body === 'string' ? body : new Uint8Array(body), { status });
    const cases: [Fetch, string, RegExp][] = [
      [answering(new Uint8Array(1024 * 1024)), 'conf_invalid', /larger than/],
      [answering('not json'), 'conf_invalid', /not JSON/],
      [answering('{"directory":"e30=","signatureAlgorithm":"md5","signature":"","certificateHash":"00"}'), 'conf_invalid', /signature algorithm/],
      [answering('[1,2]'), 'conf_invalid', /not an object/],
      [answering('busy', 503), 'peer_unreachable', /answered 503/],
    ];
    for (const [f, code, message] of cases) {
      const c = new ConfClient({ anchor, dir: tmp('truc-conf-'), fetch: f });
      expect(await refusal(c.refresh())).toBe(code);
      expect(c.status().lastError?.message).toMatch(message);
      expect(c.current()).toBeUndefined();
    }
  });

  it('gives up on a source that accepts and never answers, or stalls mid-body, and goes on to the next', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((sock) => sockets.push(sock)); // accepts, never answers
    const stalling = createServer((sock) => {
      sockets.push(sock);
      sock.once('data', () => sock.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{"directory":"')); // then nothing
    });
    await Promise.all([new Promise<void>((r) => silent.listen(0, '127.0.0.1', r)), new Promise<void>((r) => stalling.listen(0, '127.0.0.1', r))]);
    try {
      const port1 = (silent.address() as { port: number }).port;
      const port2 = (stalling.address() as { port: number }).port;
      const only = (p: number): ConfAnchor => ({ ...anchor, sources: [{ url: `http://127.0.0.1:${p}/conf/${INSTANCE}`, verificationCerts: anchor.sources[0].verificationCerts }] });
      expect(await refusal(new ConfClient({ anchor: only(port1), dir: tmp('truc-conf-'), timeoutMs: 300 }).refresh())).toBe('peer_unreachable');
      expect(await refusal(new ConfClient({ anchor: only(port2), dir: tmp('truc-conf-'), timeoutMs: 300 }).refresh())).toBe('peer_unreachable');
      const three: ConfAnchor = { ...anchor, sources: [...only(port1).sources, ...only(port2).sources, anchor.sources[0]] };
      const c = new ConfClient({ anchor: three, dir: tmp('truc-conf-'), timeoutMs: 300 });
      expect(await c.refresh()).toBe(true);
      expect(c.status().source).toBe(anchor.sources[0].url);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
      stalling.close();
    }
  });

  it('takes the first source that answers when the anchor names several', async () => {
    const two: ConfAnchor = { ...anchor, sources: [{ url: `http://127.0.0.1:1/conf/${INSTANCE}`, verificationCerts: anchor.sources[0].verificationCerts }, anchor.sources[0]] };
    const c = new ConfClient({ anchor: two, dir: tmp('truc-conf-'), timeoutMs: 2000 });
    expect(await c.refresh()).toBe(true);
    expect(c.status().source).toBe(anchor.sources[0].url);
  });

  it('verifies against a configuration-signing key an operator named (certificate issued by our CA)', async () => {
    const k = await issueKey(w.p, 'agency-signing', [
      { type: 'C', value: 'VN' },
      { type: 'O', value: 'Trục' },
      { type: 'CN', value: 'Configuration signing' },
    ]);
    await w.central.setSigningKey({ ref: k.ref, certificate: k.certificate }, 'test');
    const other = await CentralServer.open({ db: w.p.db, keys: w.p.keys, bus: w.p.bus, instance: INSTANCE });
    expect(other.signingCertificate()).toEqual(k.certificate);
    // a new key signs a new version at once (the directory names another certificate)
    expect(await w.central.generator.generate()).not.toBeNull();
    const newAnchor = await w.central.exportAnchor(`http://127.0.0.1:${port}`);
    const c = new ConfClient({ anchor: newAnchor, dir: tmp('truc-conf-') });
    expect(await c.refresh()).toBe(true);
    // an anchor with only the old certificate refuses it
    expect(await refusal(new ConfClient({ anchor, dir: tmp('truc-conf-') }).refresh())).toBe('conf_invalid');
  });
});
