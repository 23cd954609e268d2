/**
 * `truc ss register` for what follows a server's first registration — `--encryption-cert FILE` and
 * `--delete-encryption-cert FILE`, `--delete-client`, `--maintenance on|off`, `--change-address` — run in process against a
 * real platform: the security server (its folder, anchor, keys and certificates from our CA, registered
 * and approved) downloads the configuration over HTTP, fetches a fresh OCSP response for the encryption
 * certificate from the approved CA's responder, signs the request with the member's signing key and sends
 * it over HTTPS pinned to the central server's TLS certificate; the operator approves it and the next
 * configuration lists it under the member; the deletion takes it out the same way.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:http';
import { Command } from 'commander';
import { ssCommands } from '../../../src/cli/ss.js';
import { buildApp } from '../../../src/http/app.js';
import { OcspResponder } from '../../../src/pki/ocsp/index.js';
import { CentralServer } from '../../../src/exchange/central/index.js';
import { anchorBytes, sha256Hex } from '../../../src/exchange/conf/index.js';
import { memberId, serverId } from '../../../src/exchange/ids.js';
import { installAnchor, openServer, serverStore } from '../../../src/exchange/server/standalone.js';
import { provisionIdentity } from '../../../src/exchange/server/provision.js';
import { openMessageLog } from '../../../src/exchange/server/log-open.js';
import { toPem } from '../../../src/asn1/der.js';
import { testPlatform, type TestPlatform } from '../../helpers/platform.js';
import { openssl, opensslCsr, tmp } from '../../helpers/openssl.js';

const G09 = '000.00.00.G09';

describe('truc ss register --encryption-cert (in process)', () => {
  let p: TestPlatform;
  let ocsp: OcspResponder;
  let central: CentralServer;
  let plain: FastifyInstance;
  let secure: FastifyInstance;
  let printed: unknown[] = [];
  let certFile: string;
  let certDer: Buffer;

  async function truc(...args: string[]): Promise<unknown> {
    const program = new Command().exitOverride();
    printed = [];
    ssCommands(program, {
      withPlatform: async (fn) => {
        await fn(p);
      },
      out: (v) => printed.push(v),
      operator: () => 'cli:test',
      config: () => p.config,
      openLog: (q, dir, lo) => openMessageLog(q.db, dir, lo),
    });
    await program.parseAsync(['node', 'truc', ...args]);
    return printed[0];
  }

  beforeAll(async () => {
    p = await testPlatform('memory://');
    ocsp = new OcspResponder(p.pki, p.issuer, p.config.ocsp, p.log);
    await ocsp.start();
    central = await CentralServer.open({ db: p.db, keys: p.keys, bus: p.bus, instance: 'VN' });
    // configuration and OCSP over plain HTTP; registration over HTTPS with a certificate the servers pin
    plain = await buildApp(p, { ocsp, central });
    const base = await plain.listen({ host: '127.0.0.1', port: 0 });
    const dir = tmp('truc-ss-enc-');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.pem'), '-days', '2', '-subj', '/CN=central', '-addext', 'subjectAltName=IP:127.0.0.1']);
    (p.config.http as any).tls = { cert: join(dir, 'tls.pem'), key: join(dir, 'tls.key'), requestClientCert: false };
    secure = await buildApp(p, { central });
    await secure.listen({ host: '127.0.0.1', port: 0 });
    delete (p.config.http as any).tls;
    const tlsHash = sha256Hex(new X509Certificate(readFileSync(join(dir, 'tls.pem'))).raw);
    await central.registry.setSettings({ registrationUrl: `https://127.0.0.1:${(secure.server.address() as { port: number }).port}/central/register`, centralTlsCertHash: tlsHash, confBaseUrl: base }, 'test');
    await central.registry.approvePlatformCas(p.pki, 'test', `${base}/ocsp`);
    await central.registry.addMember({ memberClass: 'GOV', memberCode: G09, name: 'Bộ Nội vụ' }, 'test');
    await central.generator.generate({ force: true });

    // this process's security server: Bộ Nội vụ's, its certificates from our CA, registered and approved
    (p.config as any).exchange = { ...(p.config as any).exchange, server: { id: `SERVER:VN/GOV/${G09}/ss-bnv`, memberName: 'Bộ Nội vụ', dir: join(dir, 'ss'), encryptLog: false } };
    const sid = serverId(memberId('VN', 'GOV', G09), 'ss-bnv');
    await provisionIdentity(await serverStore(p), p.keys, sid, 'Bộ Nội vụ', async (csr, profile, subject) => (await p.issuer.issue({ profile, csr, subject }, 'test')).der);
    installAnchor(join(dir, 'ss'), anchorBytes(await central.exportAnchor(base)));
    const { server, log } = await openServer(p, (d, lo) => openMessageLog(p.db, d, lo));
    await central.registration.approve((await central.registration.submit(await server.registrationRequest('auth-cert', { address: '127.0.0.1:5599' }))).id, 'test');
    await log.close();
    await central.generator.generate({ force: true });

    // its agency-encryption certificate, as the RA hands it over (PEM)
    const csr = opensslCsr(dir, `/CN=Bộ Nội vụ (mã hoá)/O=Bộ Nội vụ/C=VN/serialNumber=VN\\/GOV\\/${G09}`).csr;
    certDer = Buffer.from((await p.issuer.issue({ profile: 'agency-encryption', csr }, 'ra1')).der);
    certFile = join(dir, 'bnv-enc.pem');
    writeFileSync(certFile, toPem('CERTIFICATE', certDer));
  }, 120_000);

  afterAll(async () => {
    await secure?.close();
    await plain?.close();
    await ocsp?.stop();
    await p?.close();
  });

  /** the shared parameters of the configuration the central server signs now */
  const shared = async (): Promise<{ members: { memberCode: string; encryptionCertificates?: unknown }[]; securityServers: { serverCode: string; address: string; clients: unknown[]; maintenance?: boolean; maintenanceMessage?: string; authCertHashes: string[] }[] }> => {
    await central.generator.generate({ force: true });
    const dir = JSON.parse(Buffer.from((await central.generator.signedDirectory()).directory, 'base64').toString('utf8'));
    return JSON.parse((await central.generator.part(dir.parts[0].hash))!.toString('utf8'));
  };
  const ours = async () => (await shared()).securityServers.find((s) => s.serverCode === 'ss-bnv')!;

  const listed = async () => {
    await central.generator.generate({ force: true });
    return (await central.registry.listEncryptionCerts({ memberClass: 'GOV', memberCode: G09 })).map((c) => c.hash);
  };

  it('sends the request over pinned HTTPS; approved, it is in the configuration; deleted the same way', async () => {
    const r = (await truc('ss', 'register', '--encryption-cert', certFile)) as { type: string; id: string; status: string };
    expect(r).toMatchObject({ type: 'encryption-cert', status: 'pending' });
    const pending = await central.registration.get(r.id);
    expect(pending).toMatchObject({ type: 'encryption-cert', server: `SERVER:VN/GOV/${G09}/ss-bnv`, payload: { encryptionCertHash: sha256Hex(certDer) } });
    expect(await listed()).toEqual([]);
    await central.registration.approve(r.id, 'operator');
    expect(await listed()).toEqual([sha256Hex(certDer)]);
    expect((await shared()).members.find((m) => m.memberCode === G09)!.encryptionCertificates).toEqual([{ certificate: certDer.toString('base64'), hash: sha256Hex(certDer) }]);

    // the same again: refused by the central server with its code, through the HTTPS answer
    await expect(truc('ss', 'register', '--encryption-cert', certFile)).rejects.toMatchObject({ code: 'registration_invalid' });

    const d = (await truc('ss', 'register', '--delete-encryption-cert', certFile)) as { type: string; id: string; status: string };
    expect(d).toMatchObject({ type: 'encryption-cert-deletion', status: 'pending' });
    await central.registration.approve(d.id, 'operator');
    expect(await listed()).toEqual([]);
  }, 60_000);

  it('asks for a client, its deletion, maintenance mode and an address change the same way', async () => {
    const sub = `SUBSYSTEM:VN/GOV/${G09}/vanthu`;
    await central.registry.addSubsystem({ memberClass: 'GOV', memberCode: G09, subsystemCode: 'vanthu' }, 'test');
    const approve = async (r: unknown, type: string) => {
      expect(r).toMatchObject({ type, status: 'pending' });
      await central.registration.approve((r as { id: string }).id, 'operator');
      return ours();
    };
    await truc('ss', 'client', 'add', sub);
    const [c] = (await truc('ss', 'register', '--clients-only')) as unknown[];
    expect(JSON.stringify((await approve(c, 'client')).clients)).toContain('vanthu');

    expect((await approve(await truc('ss', 'register', '--maintenance', 'on'), 'maintenance')).maintenance).toBe(true);
    expect((await approve(await truc('ss', 'register', '--maintenance', 'on', '--message', 'Bảo trì đến 22:00'), 'maintenance')).maintenanceMessage).toBe('Bảo trì đến 22:00');
    expect((await approve(await truc('ss', 'register', '--maintenance', 'off'), 'maintenance')).maintenance).toBeUndefined();
    expect((await approve(await truc('ss', 'register', '--change-address', '127.0.0.1:5600'), 'address-change')).address).toBe('127.0.0.1:5600');

    expect(JSON.stringify((await approve(await truc('ss', 'register', '--delete-client', sub), 'client-deletion')).clients)).not.toContain('vanthu');
    await truc('ss', 'client', 'remove', sub);
    expect([...(await (await serverStore(p)).snapshot()).clients]).toEqual([]);
    await expect(truc('ss', 'client', 'remove', sub)).rejects.toMatchObject({ code: 'not_found' });

    // said wrong: refused before anything is sent
    await expect(truc('ss', 'register', '--maintenance', 'maybe')).rejects.toMatchObject({ code: 'bad_request' });
    await expect(truc('ss', 'register', '--maintenance', 'on', '--change-address', '127.0.0.1:5601')).rejects.toMatchObject({ code: 'bad_request' });
    await expect(truc('ss', 'register', '--maintenance', 'off', '--message', 'xong')).rejects.toMatchObject({ code: 'bad_request' });
    await expect(truc('ss', 'register', '--maintenance', 'on', '--message', 'x'.repeat(256))).rejects.toMatchObject({ code: 'bad_request' });
    expect(await central.registration.list('pending')).toEqual([]);
  }, 60_000);

  it('registers a service’s OpenAPI description from a file, lists its type, and removes it', async () => {
    const sub = `SUBSYSTEM:VN/GOV/${G09}/hoso`;
    const svc = `SERVICE:VN/GOV/${G09}/hoso/tra-cuu`;
    await truc('ss', 'client', 'add', sub);
    await truc('ss', 'service', 'add', svc, 'http://127.0.0.1:9/tra-cuu');
    const file = join(tmp('truc-openapi-'), 'tra-cuu.json');
    writeFileSync(file, JSON.stringify({ openapi: '3.0.3', info: { title: 'Tra cứu hồ sơ', version: '1' }, paths: { '/ho-so/{ma}': { get: {} } } }));
    expect(await truc('ss', 'service', 'describe', svc, file)).toMatchObject({ service: svc, openapi: { format: 'json', endpoints: [{ method: 'GET', path: '/ho-so/*' }] } });
    const types = async () => Object.fromEntries(((await truc('ss', 'service', 'list')) as { services: { service: string; type: string }[] }).services.map((x) => [x.service, x.type]));
    expect((await types())[svc]).toBe('OPENAPI');
    // said wrong: neither a file nor --remove, both, a file that is not OpenAPI 3
    await expect(truc('ss', 'service', 'describe', svc)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(truc('ss', 'service', 'describe', svc, file, '--remove')).rejects.toMatchObject({ code: 'bad_request' });
    writeFileSync(file, '{"swagger": "2.0", "paths": {}}');
    await expect(truc('ss', 'service', 'describe', svc, file)).rejects.toMatchObject({ code: 'bad_request' });
    expect((await types())[svc]).toBe('OPENAPI');
    expect(await truc('ss', 'service', 'describe', svc, '--remove')).toEqual({ service: svc, openapi: null });
    expect((await types())[svc]).toBe('REST');
    // a WSDL 1.1 file: the service's code must be one of its operations
    const wsdl = join(tmp('truc-wsdl-'), 'tra-cuu.wsdl');
    const doc = (op: string) => `<?xml version="1.0"?><definitions name="Tra cứu" xmlns="http://schemas.xmlsoap.org/wsdl/"><portType name="p"><operation name="${op}"/></portType></definitions>`;
    writeFileSync(wsdl, doc('khac'));
    await expect(truc('ss', 'service', 'describe', svc, wsdl)).rejects.toMatchObject({ code: 'bad_request' });
    writeFileSync(wsdl, doc('tra-cuu'));
    expect(await truc('ss', 'service', 'describe', svc, wsdl)).toEqual({ service: svc, wsdl: { format: 'wsdl', title: 'Tra cứu', operations: [{ name: 'tra-cuu' }] } });
    expect((await types())[svc]).toBe('WSDL');
    await truc('ss', 'service', 'describe', svc, '--remove');
    // from the information system's URL, read now
    const yaml = 'openapi: 3.1.0\ninfo: { title: Tra cứu, version: "2" }\npaths:\n  /ho-so:\n    get: {}\n';
    const is = createServer((req, res) => {
      if (req.url === '/openapi.yaml') res.writeHead(200, { 'content-type': 'application/yaml' }).end(yaml);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => is.listen(0, '127.0.0.1', r));
    const at = `http://127.0.0.1:${(is.address() as { port: number }).port}`;
    try {
      expect(await truc('ss', 'service', 'describe', svc, `${at}/openapi.yaml`)).toMatchObject({ openapi: { format: 'yaml', title: 'Tra cứu', endpoints: [{ method: 'GET', path: '/ho-so' }] } });
      await expect(truc('ss', 'service', 'describe', svc, `${at}/khong-co.yaml`)).rejects.toMatchObject({ code: 'bad_request', message: expect.stringContaining('answered 404') });
      expect((await (await serverStore(p)).snapshot()).descriptions.get(svc)?.document).toBe(yaml);
    } finally {
      is.close();
    }
  }, 60_000);

  it('rotates the authentication certificate: the new one registered while the old is in use, then the old deleted', async () => {
    const dir = tmp('truc-ss-rot-');
    const hashes = async () => [...(await ours()).authCertHashes].sort();
    const store = await serverStore(p);
    const oldDer = (await store.identity('auth'))!.cert;
    const oldFile = join(dir, 'auth-old.pem');
    writeFileSync(oldFile, toPem('CERTIFICATE', oldDer));
    const signBefore = (await store.identity('sign'))!.cert;

    // a new authentication key only; the RA issues its certificate from the request
    const made = (await truc('ss', 'init', '--only', 'auth')) as Record<string, { csrFile: string }>;
    expect(Object.keys(made)).toContain('auth');
    const newDer = Buffer.from((await p.issuer.issue({ profile: 'agency-auth', csr: readFileSync(made.auth!.csrFile) }, 'ra1')).der);
    const newFile = join(dir, 'auth-new.pem');
    writeFileSync(newFile, toPem('CERTIFICATE', newDer));

    // a certificate that is not the pending key's is refused before anything is sent
    await expect(truc('ss', 'register', '--auth-cert', oldFile)).rejects.toMatchObject({ code: 'cert_invalid' });
    const r = (await truc('ss', 'register', '--auth-cert', newFile)) as { type: string; id: string; status: string };
    expect(r).toMatchObject({ type: 'auth-cert', status: 'pending' });
    await central.registration.approve(r.id, 'operator');
    expect(await hashes()).toEqual([sha256Hex(oldDer), sha256Hex(newDer)].sort());
    // still the old one in use until the new one is imported
    expect((await store.identity('auth'))!.cert.equals(oldDer)).toBe(true);

    await truc('ss', 'import-cert', 'auth', newFile);
    expect((await store.identity('auth'))!.cert.equals(newDer)).toBe(true);
    expect((await store.identity('sign'))!.cert.equals(signBefore)).toBe(true);
    // the one in use cannot be deleted; the old one can
    await expect(truc('ss', 'register', '--delete-auth-cert', newFile)).rejects.toMatchObject({ code: 'bad_request' });
    const d = (await truc('ss', 'register', '--delete-auth-cert', oldFile)) as { type: string; id: string; status: string };
    expect(d).toMatchObject({ type: 'auth-cert-deletion', status: 'pending' });
    await central.registration.approve(d.id, 'operator');
    expect(await hashes()).toEqual([sha256Hex(newDer)]);
  }, 60_000);
});
