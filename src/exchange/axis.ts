/**
 * An axis in one process: a central server on the platform's database and CA, and security servers for a
 * few agencies, each with its own database, message log folder, keys and certificates from the platform's
 * CA, registered through the central server's registration path (signed requests, verified, approved by
 * an operator action) and serving a small sample service of its own. `registerEncryptionCertificate`
 * publishes an agency's encryption certificate in the global configuration the same way. `truc start` runs it on the embedded
 * default as the demonstration axis, and the tests build theirs with it. In production each role runs
 * alone (`truc central serve`, `truc ss serve`).
 */
import http from 'node:http';
import { join } from 'node:path';
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Platform } from '../platform.js';
import { openDb, migrate, type Db } from '../store/index.js';
import { CentralServer } from './central/index.js';
import { ConfClient } from './conf/client.js';
import { memberId, serverId, serverText, subsystemId, serviceId, subsystemText, type ServerId, type SubsystemId } from './ids.js';
import { SecurityServer, type SecurityServerOptions } from './server/server.js';
import { provisionIdentity } from './server/provision.js';
import { serverMigrations } from './server/store.js';
import type { MessageLogApi } from './log/types.js';
import type { BodyCipher } from './log/cipher.js';
import { serverLogCipher } from './server/standalone.js';
import type { TimeStamper } from '../sign/signer.js';
import type { ServerLimits } from './server/context.js';
import { fetchOcspOnce } from './server/own-status.js';
import { certHash } from './conf/global.js';
import { encryptionCertRequest, type RegistrationRequest } from './conf/registration-request.js';
import { isSoapCall, parseSoap, soapEnvelope, soapFault, xmlEscape } from './server/soap.js';
import type { Logger } from 'pino';

export interface AxisAgency {
  memberClass: string;
  memberCode: string;
  name: string;
  subsystem: string;
  serverCode: string;
}

/** The demonstration axis: three agencies. */
export const DEMO_AGENCIES: AxisAgency[] = [
  { memberClass: 'GOV', memberCode: '000.00.00.G22', name: 'Văn phòng Chính phủ', subsystem: 'vanthu', serverCode: 'ss-vpcp' },
  { memberClass: 'GOV', memberCode: '000.00.00.G09', name: 'Bộ Nội vụ', subsystem: 'vanthu', serverCode: 'ss-bnv' },
  { memberClass: 'PROV', memberCode: '000.00.31.H29', name: 'UBND Thành phố Hồ Chí Minh', subsystem: 'vanthu', serverCode: 'ss-hcm' },
];

export interface AxisOptions {
  agencies?: AxisAgency[];
  /** the platform's public base URL (configuration download, OCSP, TSA), e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** folder for the servers' databases, logs and configuration caches */
  dir: string;
  /** `memory` for throwaway PGlite databases, `folder` for PGlite folders under dir, or a PostgreSQL URL factory */
  storage: 'memory' | 'folder' | ((agency: AxisAgency) => Promise<string>);
  /** PGlite databases each on a thread of their own (src/store/db-thread.ts), as in a serving process */
  thread?: boolean;
  /** servers that keep running (the demonstration axis of `truc start`): a database made anew is made on a throwaway thread first (src/store/db.ts) */
  serving?: boolean;
  host?: string;
  /** first ports: information-system listeners and peer listeners count up from these (0: any free port) */
  isPort?: number;
  peerPort?: number;
  /** opens a server's message log (default: the message log in its folder) */
  openLog: (db: Db, dir: string, o: { cipher?: BodyCipher }) => Promise<MessageLogApi>;
  /** message bodies encrypted under the platform's vault (default true) */
  encryptLogs?: boolean;
  /** start the sample information system and service of each agency (default true) */
  sampleServices?: boolean;
  limits?: Partial<ServerLimits>;
  timestamping?: SecurityServerOptions['timestamping'];
  stampers?: () => TimeStamper[];
  /** server codes whose servers speak to peers only as an earlier release did (HTTP/1.1, no framed channel) */
  httpOnly?: string[];
  /** server codes whose servers speak the framed channel without confirmations (truc/1), as an earlier release did */
  framedV1?: string[];
  /** every server's internal TLS key and certificate toward information systems (a TLS port beside the plain one) */
  isTls?: SecurityServerOptions['isTls'];
}

export interface AxisMember {
  agency: AxisAgency;
  subsystem: SubsystemId;
  id: ServerId;
  db: Db;
  log: MessageLogApi;
  conf: ConfClient;
  server: SecurityServer;
  isUrl: string;
  /** the information systems' TLS port, when `isTls` was given */
  isTlsUrl?: string;
  peerAddress: string;
  /** the sample information system's URL */
  serviceUrl?: string;
}

export interface Axis {
  central: CentralServer;
  members: AxisMember[];
  refreshAll(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The WSDL of the sample SOAP service `thongTin` (document/literal, no version), as the provider's operator
 * registers it: clients fetch it with `getWsdl`, the address shown as X-Road's placeholder. Self-contained
 * (X-Road's header elements are not imported from x-road.eu: a toolkit would fetch them from the internet),
 * the client adds X-Road's header itself.
 */
export function sampleWsdl(serviceUrl: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions name="thongTin" targetNamespace="urn:truc:demo" xmlns:tns="urn:truc:demo" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/">
  <wsdl:documentation>Dịch vụ mẫu: thông tin cơ quan (sample service: who the agency is)</wsdl:documentation>
  <wsdl:types>
    <xsd:schema targetNamespace="urn:truc:demo" elementFormDefault="unqualified">
      <xsd:element name="thongTin"><xsd:complexType><xsd:sequence/></xsd:complexType></xsd:element>
      <xsd:element name="thongTinResponse"><xsd:complexType><xsd:sequence>
        <xsd:element name="coQuan" type="xsd:string"/><xsd:element name="thongDiep" type="xsd:string"/>
        <xsd:element name="message" type="xsd:string"/><xsd:element name="benGoi" type="xsd:string"/>
      </xsd:sequence></xsd:complexType></xsd:element>
    </xsd:schema>
  </wsdl:types>
  <wsdl:message name="thongTin"><wsdl:part name="body" element="tns:thongTin"/></wsdl:message>
  <wsdl:message name="thongTinResponse"><wsdl:part name="body" element="tns:thongTinResponse"/></wsdl:message>
  <wsdl:portType name="thongTinPortType">
    <wsdl:operation name="thongTin"><wsdl:input message="tns:thongTin"/><wsdl:output message="tns:thongTinResponse"/></wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="thongTinBinding" type="tns:thongTinPortType">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="thongTin">
      <soap:operation soapAction="" style="document"/>
      <wsdl:input><soap:body parts="body" use="literal"/></wsdl:input>
      <wsdl:output><soap:body parts="body" use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="thongTinService">
    <wsdl:port name="thongTinPort" binding="tns:thongTinBinding"><soap:address location="${serviceUrl.replace(/[<>&"]/g, '')}"/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>
`;
}

/** The sample information system: who it is, and an echo. */
function sampleService(agency: AxisAgency): http.Server {
  return http.createServer((req, res) => {
    if (req.url?.startsWith('/echo')) {
      // streams back what it receives, whatever the size
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream', ...(req.headers['content-length'] ? { 'content-length': req.headers['content-length'] } : {}) });
      req.pipe(res);
      return;
    }
    if (isSoapCall(req.method, req.headers['content-type'], req.headers.soapaction)) {
      // a service of X-Road's SOAP protocol: the answer repeats the request's header (PR-MESS 2.2)
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let out: Buffer;
        try {
          const p = parseSoap(Buffer.concat(chunks), req.headers['content-type'] ?? 'text/xml');
          const code = p.fields.service?.parts.serviceCode ?? 'thongTin';
          out = soapEnvelope(
            p.fields,
            `<ns1:${code}Response><coQuan>${xmlEscape(agency.name)}</coQuan><thongDiep>Xin chào từ ${xmlEscape(agency.name)}</thongDiep><message>Hello from ${xmlEscape(agency.name)}</message><benGoi>${xmlEscape(Object.values(p.fields.client?.parts ?? {}).join('/'))}</benGoi></ns1:${code}Response>`,
            ' xmlns:ns1="urn:truc:demo"',
          );
          res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' });
        } catch (e) {
          out = soapFault('Client', e);
          res.writeHead(500, { 'content-type': 'text/xml; charset=utf-8' });
        }
        res.end(out);
      });
      return;
    }
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({
        co_quan: agency.name,
        agency: `${agency.memberClass}/${agency.memberCode}`,
        thong_diep: `Xin chào từ ${agency.name}`,
        message: `Hello from ${agency.name}`,
        ben_goi: req.headers['x-road-client'] ?? null,
        x_road_id: req.headers['x-road-id'] ?? null,
        path: req.url,
        method: req.method,
        content_length: req.headers['content-length'] ?? null,
        time: new Date().toISOString(),
      });
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(body);
    });
  });
}

async function listenOn(s: http.Server, host: string, port: number): Promise<string> {
  await new Promise<void>((r, j) => {
    s.once('error', j);
    s.listen(port, host, () => r());
  });
  const a = s.address() as AddressInfo;
  return `http://${host}:${a.port}`;
}

/** The central server on the platform's database; its routes go on the platform's HTTP app. */
export function openCentral(p: Platform, baseUrl: string, instance = 'VN', settings: Record<string, unknown> = {}): Promise<CentralServer> {
  return CentralServer.open({ db: p.db, keys: p.keys, bus: p.bus, log: p.log, instance, settings: { confBaseUrl: baseUrl, ...settings } as never });
}

/**
 * Registers and starts the agencies' security servers against a central server whose configuration is
 * served at `o.baseUrl` (the platform's HTTP app with the central routes).
 */
/**
 * An agency's PGlite folder on a first start: a copy of one made and migrated once for the whole axis.
 * PGlite's initdb costs seconds of CPU per database (≈4 s on a 2-core machine): a first `truc start` paid it
 * for each of the three agencies, now once. A folder that exists is the agency's own and is opened as it is.
 */
async function agencyFolder(axisDir: string, db: string): Promise<string> {
  if (existsSync(db)) return db;
  const template = join(axisDir, '.db-template');
  if (!existsSync(join(template, 'PG_VERSION'))) {
    // made beside and renamed into place: a start interrupted half-way leaves no half-made template
    const work = `${template}.${process.pid}`;
    rmSync(work, { recursive: true, force: true });
    const t = await openDb({ url: work });
    try {
      await migrate(t, serverMigrations);
    } finally {
      await t.close();
    }
    rmSync(template, { recursive: true, force: true });
    renameSync(work, template);
  }
  cpSync(template, db, { recursive: true });
  return db;
}

export async function startAxis(p: Platform, central: CentralServer, o: AxisOptions): Promise<Axis> {
  const instance = central.instance;
  const agencies = o.agencies ?? DEMO_AGENCIES;
  const host = o.host ?? '127.0.0.1';
  const actor = 'axis-bootstrap';
  const reg = central.registry;
  const existing = new Set((await central.ctx.db.query<{ member_class: string; member_code: string }>('SELECT member_class, member_code FROM xc_member')).map((m) => `${m.member_class}/${m.member_code}`));
  if (!existing.size) {
    await reg.approvePlatformCas(p.pki, actor, `${o.baseUrl}/ocsp`);
    const tsa = await p.db.query<{ certificate: Buffer }>(`SELECT certificate FROM pki_service_cert WHERE service = 'tsa' ORDER BY 1 LIMIT 1`).catch(() => []);
    if (tsa[0]) await reg.approveTsa({ name: 'Trục TSA', url: `${o.baseUrl}/tsa`, certificate: Buffer.from(tsa[0].certificate) }, actor);
  }
  for (const a of agencies) {
    // a member may run several servers (agencies listed once per server): it is added once
    if (existing.has(`${a.memberClass}/${a.memberCode}`)) continue;
    existing.add(`${a.memberClass}/${a.memberCode}`);
    await reg.addMember({ memberClass: a.memberClass, memberCode: a.memberCode, name: a.name }, actor);
    await reg.addSubsystem({ memberClass: a.memberClass, memberCode: a.memberCode, subsystemCode: a.subsystem }, actor);
  }
  await central.generator.generate({ force: true, actor });
  const anchor = await central.exportAnchor(o.baseUrl);
  const members: AxisMember[] = [];
  const samples: http.Server[] = [];
  let i = 0;
  for (const a of agencies) {
    // a member's first server in its member's folder, any other beside it in one of its own
    const first = agencies.find((x) => x.memberClass === a.memberClass && x.memberCode === a.memberCode) === a;
    const dir = join(o.dir, first ? a.memberCode : `${a.memberCode}-${a.serverCode}`);
    mkdirSync(dir, { recursive: true });
    const url = o.storage === 'memory' ? 'memory://' : o.storage === 'folder' ? await agencyFolder(o.dir, join(dir, 'db')) : await o.storage(a);
    const db = await openDb({ url, thread: o.thread === true, serving: o.serving === true });
    await migrate(db, serverMigrations);
    const id = serverId(memberId(instance, a.memberClass, a.memberCode), a.serverCode);
    const cipher = await serverLogCipher(p, serverText(id), o.encryptLogs !== false);
    const log = await o.openLog(db, join(dir, 'log'), cipher ? { cipher } : {});
    const conf = new ConfClient({ anchor, dir: join(dir, 'conf'), log: p.log, minIntervalMs: 1000 });
    await conf.refresh();
    const subsystem = subsystemId(memberId(instance, a.memberClass, a.memberCode), a.subsystem);
    const { ServerStore } = await import('./server/store.js');
    const store = new ServerStore(db);
    if (!(await store.identity('sign')))
      await provisionIdentity(store, p.keys, id, a.name, async (csr, profile, subject) => (await p.issuer.issue({ profile, csr, subject }, actor)).der);
    const server = await SecurityServer.open({
      id,
      db,
      keys: p.keys,
      conf,
      log,
      bus: p.bus,
      logger: p.log,
      listen: { host, isPort: o.isPort ? o.isPort + i : 0, peerPort: o.peerPort ? o.peerPort + i : 0 },
      ...(o.limits ? { limits: o.limits } : {}),
      ...(o.timestamping ? { timestamping: o.timestamping } : {}),
      ...(o.httpOnly?.includes(a.serverCode) ? { peerChannel: 'http' as const } : o.framedV1?.includes(a.serverCode) ? { peerChannel: 'framed1' as const } : {}),
      ...(o.isTls ? { isTls: o.isTls } : {}),
    });
    const { isUrl, isTlsUrl, peerAddress } = await server.start();
    let serviceUrl: string | undefined;
    if (o.sampleServices !== false) {
      const s = sampleService(a);
      samples.push(s);
      serviceUrl = await listenOn(s, host, 0);
    }
    members.push({ agency: a, subsystem, id, db, log, conf, server, isUrl, ...(isTlsUrl ? { isTlsUrl } : {}), peerAddress, ...(serviceUrl ? { serviceUrl } : {}) });
    i++;
  }
  if (o.storage === 'folder') rmSync(join(o.dir, '.db-template'), { recursive: true, force: true });
  // registration: each server asks for its authentication certificate and its client; the bootstrap
  // operator approves what the central server verified
  const current = await central.ctx.db.query<{ owner_class: string; owner_code: string; server_code: string; address: string }>('SELECT owner_class, owner_code, server_code, address FROM xc_server');
  for (const m of members) {
    const known = current.find((r) => r.owner_class === m.id.memberClass && r.owner_code === m.id.memberCode && r.server_code === m.id.serverCode);
    const submit = async (type: 'auth-cert' | 'client' | 'address-change', extra: Record<string, unknown>) => {
      const r = await central.registration.submit(await m.server.registrationRequest(type, extra as never));
      if (r.status === 'pending') await central.registration.approve(r.id, actor);
    };
    if (!known) {
      await submit('auth-cert', { address: m.peerAddress });
      await submit('client', { client: { memberClass: m.subsystem.memberClass, memberCode: m.subsystem.memberCode, subsystemCode: m.subsystem.subsystemCode } });
    } else if (known.address !== m.peerAddress) await submit('address-change', { address: m.peerAddress });
    await m.server.store.addClient(m.subsystem);
  }
  await central.generator.generate({ force: true, actor });
  const refreshAll = async () => {
    await Promise.all(members.map((m) => m.conf.refresh()));
    await Promise.all(members.map((m) => m.server.tick(true)));
  };
  await refreshAll();
  // sample services: every agency may call every other's `thong-tin` and `echo` (REST) and `thongTin` (SOAP)
  for (const m of members) {
    if (!m.serviceUrl) continue;
    for (const code of ['thong-tin', 'echo', 'thongTin']) {
      const svc = serviceId(m.subsystem, code);
      await m.server.store.putService(svc, code === 'echo' ? `${m.serviceUrl}/echo` : m.serviceUrl);
      if (code === 'thongTin') await m.server.store.describeService(svc, sampleWsdl(m.serviceUrl));
      for (const other of members) if (other !== m) await m.server.store.grant({ service: `SERVICE:${subsystemText(m.subsystem).slice('SUBSYSTEM:'.length)}/${code}`, subject: subsystemText(other.subsystem), method: '*', path: '*' });
    }
  }
  for (const m of members) m.conf.start();
  await central.start();
  return {
    central,
    members,
    refreshAll,
    async close() {
      await central.stop();
      for (const m of members) {
        m.conf.stop();
        await m.server.stop();
        await m.log.close();
        await m.db.close();
      }
      await Promise.all(samples.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}


/**
 * A fresh OCSP response for a member's encryption certificate, from the responders of the CA the server's
 * configuration approves for it, fetched as the server fetches its own (`ocsp_stale` when none answers).
 */
export function encryptionCertOcsp(server: SecurityServer, der: Buffer, log: Logger): Promise<Buffer> {
  return fetchOcspOnce(server.ctx.conf(), der, log, server.ctx.clock, { vi: 'chứng thư mã hoá', en: 'the encryption certificate' });
}

/**
 * Publishes an agency's encryption certificate in the global configuration: a fresh OCSP response for it
 * (from the approved CA's responder, fetched as the server fetches its own), an `encryption-cert` request
 * signed by the member's signing key, verified by the central server and approved by `o.actor` unless it
 * was approved at once (`autoApprove`). With `replace`, the member's other registered encryption
 * certificates are then deleted the same way (`encryption-cert-deletion`). Nothing is sent for what the
 * registry already holds. A new configuration version follows on the central server's next round.
 */
export async function registerEncryptionCertificate(
  central: CentralServer,
  m: Pick<AxisMember, 'server' | 'id'>,
  der: Buffer,
  o: { actor: string; log: Logger; replace?: boolean },
): Promise<{ registered: boolean; deleted: number }> {
  const hash = certHash(der);
  const have = await central.registry.listEncryptionCerts(m.id);
  const submit = async (req: RegistrationRequest) => {
    const r = await central.registration.submit(req);
    if (r.status === 'pending') await central.registration.approve(r.id, o.actor);
  };
  let registered = false;
  if (!have.some((c) => c.hash === hash)) {
    await submit(await encryptionCertRequest(m.server, 'encryption-cert', der, await encryptionCertOcsp(m.server, der, o.log)));
    registered = true;
  }
  let deleted = 0;
  if (o.replace)
    for (const c of have)
      if (c.hash !== hash) {
        await submit(await encryptionCertRequest(m.server, 'encryption-cert-deletion', c.certificate));
        deleted++;
      }
  return { registered, deleted };
}
