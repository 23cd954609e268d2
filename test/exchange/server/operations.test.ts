/**
 * A security server's operations on a running axis. Maintenance mode: a provider's server in it is not sent
 * to, and the client is told why. Its authentication certificate rotated, as `truc ss init --only auth`,
 * `ss register --auth-cert`, `ss import-cert auth`, a restart and `ss register --delete-auth-cert` do it:
 * exchanges go through with the old certificate while the new one waits for approval, through the
 * restarted server with the new one (the provider's server checks it against the configuration), and on
 * after the old one is deleted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAxis, CLIENT_VPCP, type TestAxis } from './setup.js';
import { generateIdentityKeys, importIdentityCert } from '../../../src/exchange/server/provision.js';
import { SecurityServer } from '../../../src/exchange/server/server.js';
import { defaultScheme } from '../../../src/crypto/algorithms.js';
import { sha256Hex } from '../../../src/exchange/conf/index.js';

let t: TestAxis;

beforeAll(async () => {
  t = await startTestAxis();
}, 180_000);

afterAll(async () => {
  await t?.close();
});

const HCM = '/r1/VN/PROV/000.00.31.H29/vanthu/echo';

/** An operator approves the request (unless it was approved at once); the central server publishes; `refresh` fetches it */
async function approveAndPublish(id: string, refresh: () => Promise<unknown> = () => t.axis.refreshAll()): Promise<void> {
  const central = t.axis.central;
  if ((await central.registration.get(id))?.status === 'pending') await central.registration.approve(id, 'test');
  await central.generator.generate({ force: true });
  await refresh();
}

describe('rotating a security server’s authentication certificate', () => {
  it('carries messages before, during and after the rotation', async () => {
    const m = t.axis.members[0]!;
    const central = t.axis.central;
    const send = async (isUrl: string, body: string) => {
      const r = await fetch(`${isUrl}${HCM}`, { method: 'POST', headers: { 'x-road-client': CLIENT_VPCP }, body });
      return { status: r.status, error: r.headers.get('x-road-error'), text: await r.text() };
    };
    const listed = () => [...t.axis.members[2]!.conf.current()!.server(m.id)!.authCertHashes].map((h) => h.toLowerCase()).sort();
    expect(await send(m.isUrl, 'truoc')).toMatchObject({ status: 200, text: 'truoc' });
    const oldDer = Buffer.from(m.server.ctx.authCert);

    // a new key and its certificate; registered while the old one is in use
    const [pending] = await generateIdentityKeys(t.p.keys, m.id, m.agency.name, { only: 'auth' });
    expect(pending!.kind).toBe('auth');
    const newDer = Buffer.from((await t.p.issuer.issue({ profile: 'agency-auth', csr: pending!.csr, subject: pending!.subject }, 'test')).der);
    const scheme = defaultScheme(pending!.key.algorithm);
    const store = t.p.keys.get(pending!.key.ref.store);
    const req = await m.server.newAuthCertRequest(newDer, { sign: (d) => store.sign(pending!.key.ref.id, scheme, d), scheme }, m.peerAddress);
    await approveAndPublish((await central.registration.submit(req)).id);
    expect(listed()).toEqual([sha256Hex(oldDer), sha256Hex(newDer)].sort());
    expect(await send(m.isUrl, 'trong khi')).toMatchObject({ status: 200, text: 'trong khi' });

    // imported, the server restarted on the same ports: the new certificate is the one it presents
    await importIdentityCert(m.server.ctx.store, 'auth', pending!.key, newDer);
    const opts = (m.server as unknown as { opts: Parameters<typeof SecurityServer.open>[0] }).opts;
    await m.server.stop();
    const restarted = await SecurityServer.open({ ...opts, listen: { ...opts.listen, isPort: Number(new URL(m.isUrl).port), peerPort: Number(m.peerAddress.split(':').pop()) } });
    (m as { server: SecurityServer }).server = restarted;
    const { isUrl } = await restarted.start();
    expect(isUrl).toBe(m.isUrl);
    expect(restarted.ctx.authCert.equals(newDer)).toBe(true);
    expect(await send(m.isUrl, 'sau')).toMatchObject({ status: 200, text: 'sau' });

    // the old one deleted: the configuration lists the new one only, and messages go on
    await approveAndPublish((await central.registration.submit(await restarted.registrationRequest('auth-cert-deletion', { auth: { certificate: oldDer } }))).id);
    expect(listed()).toEqual([sha256Hex(newDer)]);
    expect(await send(m.isUrl, 'cuoi')).toMatchObject({ status: 200, text: 'cuoi' });
  }, 120_000);
});

describe('maintenance mode', () => {
  it('a provider’s server in maintenance is not sent to: the client is told so, and it is served again once out of it', async () => {
    const central = t.axis.central;
    const hcm = t.axis.members[2]!;
    const consumer = t.axis.members[1]!;
    const call = async () => {
      const r = await fetch(`${consumer.isUrl}/r1/VN/PROV/000.00.31.H29/vanthu/thong-tin`, { headers: { 'x-road-client': 'VN/GOV/000.00.00.G09/vanthu' } });
      return { status: r.status, error: r.headers.get('x-road-error'), json: (await r.json()) as Record<string, unknown> };
    };
    const maintenance = async (on: boolean, refresh: () => Promise<unknown>) =>
      approveAndPublish(
        (await central.registration.submit(await hcm.server.registrationRequest('maintenance', { maintenance: on, ...(on ? { maintenanceMessage: 'Nâng cấp đến 22:00 / upgrade until 22:00' } : {}) }))).id,
        refresh,
      );
    expect((await call()).status).toBe(200);
    // the provider's server knows first: a consumer whose configuration does not say so yet is refused by it
    await maintenance(true, () => hcm.conf.refresh());
    const early = await call();
    expect([early.status, early.error, early.json.code]).toEqual([500, 'Server.ServerProxy.MaintenanceMode', 'server_maintenance']);
    // the owner's message reaches the client, from either server
    expect(early.json.message).toContain('SERVER:VN/PROV/000.00.31.H29/ss-hcm (Nâng cấp đến 22:00 / upgrade until 22:00) is in maintenance mode');
    expect(early.json.message_vi).toBe('Máy chủ an ninh đang bảo trì: SERVER:VN/PROV/000.00.31.H29/ss-hcm (Nâng cấp đến 22:00 / upgrade until 22:00)');
    // a server in maintenance still sends its own clients' messages to other agencies
    const out = await fetch(`${hcm.isUrl}/r1/VN/GOV/000.00.00.G22/vanthu/thong-tin`, { headers: { 'x-road-client': 'VN/PROV/000.00.31.H29/vanthu' } });
    expect(out.status, await out.clone().text()).toBe(200);
    // its operator sees it in the diagnosis
    expect((await hcm.server.diagnose()).registration).toMatchObject({ maintenance: true, maintenanceMessage: 'Nâng cấp đến 22:00 / upgrade until 22:00' });
    // once the consumer's configuration says so, it does not send at all
    await t.axis.refreshAll();
    const r = await call();
    expect([r.status, r.error]).toEqual([500, 'Server.ClientProxy.MaintenanceMode']);
    expect(r.json).toMatchObject({ code: 'server_maintenance', message: expect.stringContaining('SERVER:VN/PROV/000.00.31.H29/ss-hcm (Nâng cấp đến 22:00 / upgrade until 22:00) is in maintenance mode'), message_vi: 'Máy chủ an ninh đang bảo trì: SERVER:VN/PROV/000.00.31.H29/ss-hcm (Nâng cấp đến 22:00 / upgrade until 22:00)' });
    await maintenance(false, () => t.axis.refreshAll());
    expect((await call()).status).toBe(200);
    expect((await hcm.server.diagnose()).registration).toEqual({ address: expect.any(String), clients: 1, maintenance: false });
  }, 60_000);
});
