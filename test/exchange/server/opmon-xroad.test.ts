/**
 * X-Road's monitoring metaservices as our security servers answer them, checked against what X-Road itself
 * specifies and does, so that a monitoring client written for X-Road (X-Road Metrics' collector, a Zabbix
 * script, SoapUI) reads them unchanged. A deviation fails here.
 *
 * Sources (NIIS X-Road, doc/ and src/):
 * - PR-OPMON "X-Road: Operational Monitoring Protocol" (v1.6): §2 getSecurityServerOperationalData, §3
 *   getSecurityServerHealthData, Annex A (op-monitoring.xsd / WSDL), Annex B (JSON schema of the records),
 *   Annex C (example messages).
 * - PR-ENVMONMES "X-Road: Environmental Monitoring Messages" (v1.5): §2.1 request (outputSpec), §2.2 response.
 * - ARC-ENVMON "X-Road: Environmental Monitoring Architecture" (v1.11): §2.2 sensors (CertificateInfoSensor),
 *   §3.3 access control.
 * - X-Road's implementation where the specification is silent: OperationalDataRequestHandler
 *   (checkTimestamps, checkOutputFields, getClientForFilter), OperationalDataRecordQuery (filters, public
 *   fields), OperationalDataOutputSpecFields, OperationalDataRecordManager, HealthDataRequestHandler,
 *   OpMonitorDaemonRequestHandler (faults), OpMonitoringServiceHandlerImpl (canHandle, no access check),
 *   ProxyMonitorServiceHandlerImpl (verifyAccess, outputField), MetricsRpcService (systemMetrics set,
 *   certificate sets), and the system tests src/systemtest/op-monitoring/xrd-opmon-tests (test_time_interval,
 *   test_client_filter, test_health_data, test_outputspec).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { DOMParser, type Document as XDocument, type Element as XElement } from '@xmldom/xmldom';
import { startTestAxis, type TestAxis } from './setup.js';

const XRD_NS = 'http://x-road.eu/xsd/xroad.xsd';
const ID_NS = 'http://x-road.eu/xsd/identifiers';
const OPMON_NS = 'http://x-road.eu/xsd/op-monitoring.xsd';
const ENVMON_NS = 'http://x-road.eu/xsd/monitoring';

interface Who {
  memberClass: string;
  memberCode: string;
  subsystem: string;
  server: string;
  index: number;
}
const VPCP: Who = { memberClass: 'GOV', memberCode: '000.00.00.G22', subsystem: 'vanthu', server: 'ss-vpcp', index: 0 };
/** the central monitoring client in this axis */
const BNV: Who = { memberClass: 'GOV', memberCode: '000.00.00.G09', subsystem: 'vanthu', server: 'ss-bnv', index: 1 };
const HCM: Who = { memberClass: 'PROV', memberCode: '000.00.31.H29', subsystem: 'vanthu', server: 'ss-hcm', index: 2 };

const ids = (w: { memberClass: string; memberCode: string }) => `<id:xRoadInstance>VN</id:xRoadInstance><id:memberClass>${w.memberClass}</id:memberClass><id:memberCode>${w.memberCode}</id:memberCode>`;
const subsystemId = (tag: string, w: Who) => `<${tag} id:objectType="SUBSYSTEM">${ids(w)}<id:subsystemCode>${w.subsystem}</id:subsystemCode></${tag}>`;
const memberIdXml = (tag: string, w: Who) => `<${tag} id:objectType="MEMBER">${ids(w)}</${tag}>`;

/** PR-OPMON Annex C.1 / C.3's request (and PR-ENVMONMES §2.1's), for our identifiers: `client` asks `owner`'s server. */
function request(o: { client: Who; owner: Who; code: string; body: string; id?: string; noServerHeader?: boolean; serviceVersion?: string }): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xroad="${XRD_NS}" xmlns:om="${OPMON_NS}" xmlns:m="${ENVMON_NS}" xmlns:id="${ID_NS}">\n` +
    '  <SOAP-ENV:Header>\n' +
    `    ${subsystemId('xroad:client', o.client)}\n` +
    `    <xroad:service id:objectType="SERVICE">${ids(o.owner)}<id:serviceCode>${o.code}</id:serviceCode>${o.serviceVersion ? `<id:serviceVersion>${o.serviceVersion}</id:serviceVersion>` : ''}</xroad:service>\n` +
    (o.noServerHeader ? '' : `    <xroad:securityServer id:objectType="SERVER">${ids(o.owner)}<id:serverCode>${o.owner.server}</id:serverCode></xroad:securityServer>\n`) +
    `    <xroad:id>${o.id ?? randomUUID()}</xroad:id>\n` +
    '    <xroad:protocolVersion>4.0</xroad:protocolVersion>\n' +
    '  </SOAP-ENV:Header>\n' +
    `  <SOAP-ENV:Body>${o.body}</SOAP-ENV:Body>\n` +
    '</SOAP-ENV:Envelope>\n'
  );
}

const criteria = (from: number | string, to: number | string, extra = '', output = '') =>
  `<om:getSecurityServerOperationalData><om:searchCriteria><om:recordsFrom>${from}</om:recordsFrom><om:recordsTo>${to}</om:recordsTo>${extra}</om:searchCriteria>${output}</om:getSecurityServerOperationalData>`;
const outputSpec = (...fields: string[]) => `<om:outputSpec>${fields.map((f) => `<om:outputField>${f}</om:outputField>`).join('')}</om:outputSpec>`;

let t: TestAxis;
let started = 0;

async function post(client: Who, envelope: string) {
  const res = await fetch(`${t.axis.members[client.index]!.isUrl}/`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: envelope });
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = bytes.toString('utf8');
  return { status: res.status, type: res.headers.get('content-type') ?? '', bytes, text, faultcode: /<faultcode>([^<]*)<\/faultcode>/.exec(text)?.[1] };
}

/** the parts of a multipart/related body: headers (lower-cased) and raw content */
function parts(contentType: string, bytes: Buffer): { head: string; body: Buffer }[] {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)![1]!;
  return bytes
    .toString('latin1')
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((p) => ({ head: p.slice(0, p.indexOf('\r\n\r\n')).toLowerCase(), body: Buffer.from(p.slice(p.indexOf('\r\n\r\n') + 4, -2), 'latin1') }));
}

const xml = (s: string | Buffer) => new DOMParser().parseFromString(s.toString(), 'text/xml') as unknown as XDocument;
const om = (el: XElement | XDocument, name: string) => Array.from(el.getElementsByTagNameNS(OPMON_NS, name)) as XElement[];

type Rec = Record<string, unknown>;
/** A getSecurityServerOperationalData call that must succeed: the envelope, its parts and the records. */
async function operational(o: { client: Who; owner?: Who; body: string; id?: string; noServerHeader?: boolean }) {
  const r = await post(o.client, request({ client: o.client, owner: o.owner ?? HCM, code: 'getSecurityServerOperationalData', body: o.body, id: o.id, noServerHeader: o.noServerHeader }));
  expect(r.status, r.text.slice(0, 1500)).toBe(200);
  expect(r.type).toMatch(/^multipart\/related/i);
  const ps = parts(r.type, r.bytes);
  const doc = xml(ps[0]!.body);
  const field = (name: string) => om(doc, name)[0]?.textContent?.trim();
  const gz = ps[1]!.body;
  const payload = JSON.parse(gunzipSync(gz).toString('utf8')) as { records: Rec[] };
  const next = field('nextRecordsFrom');
  return { r, ps, doc, gz, payload, records: payload.records, count: Number(field('recordsCount')), ref: field('records'), next: next === undefined ? undefined : Number(next) };
}

/** A getSecurityServerHealthData call that must succeed: the services' events by service code. */
async function health(client: Who, body = '<om:getSecurityServerHealthData/>', owner = HCM) {
  const r = await post(client, request({ client, owner, code: 'getSecurityServerHealthData', body }));
  expect(r.status, r.text.slice(0, 1500)).toBe(200);
  const doc = xml(r.text);
  const events = om(doc, 'serviceEvents').map((e) => {
    const s = om(e, 'service')[0]!;
    const part = (n: string) => (s.getElementsByTagNameNS(ID_NS, n)[0]?.textContent ?? undefined) as string | undefined;
    return { code: part('serviceCode'), subsystem: part('subsystemCode'), memberCode: part('memberCode'), el: e };
  });
  return { r, doc, events };
}

/** A getSecurityServerMetrics call: the response element. */
async function metrics(client: Who, body = '<m:getSecurityServerMetrics/>') {
  const r = await post(client, request({ client, owner: HCM, code: 'getSecurityServerMetrics', body }));
  const doc = xml(r.text);
  const top = doc.getElementsByTagNameNS(ENVMON_NS, 'getSecurityServerMetricsResponse')[0] as XElement | undefined;
  return { r, doc, top };
}
const children = (el: XElement) => Array.from(el.childNodes).filter((n): n is XElement => n.nodeType === 1);
const nameOf = (el: XElement) => children(el).find((c) => c.localName === 'name')?.textContent ?? undefined;

beforeAll(async () => {
  // Bộ Nội vụ's subsystem is the central monitoring client (monitoring-params.xml's monitoringClient)
  t = await startTestAxis({ centralSettings: { monitoringClient: { memberClass: 'GOV', memberCode: '000.00.00.G09', subsystemCode: 'vanthu' } } });
  started = Math.floor(Date.now() / 1000) - 1;
  const rest = async (who: Who, path: string) => {
    const r = await fetch(`${t.axis.members[who.index]!.isUrl}/r1/VN/PROV/000.00.31.H29/vanthu/${path}`, { headers: { 'x-road-client': `VN/${who.memberClass}/${who.memberCode}/${who.subsystem}` } });
    await r.arrayBuffer();
    return r.status;
  };
  // exchanges on Thành phố Hồ Chí Minh's server: Văn phòng Chính phủ's twice, Bộ Nội vụ's once (REST)
  expect(await rest(VPCP, 'thong-tin/a')).toBe(200);
  expect(await rest(VPCP, 'thong-tin/b')).toBe(200);
  expect(await rest(BNV, 'thong-tin')).toBe(200);
  // monitoring calls to the owner's member-level services by the two other members (SOAP): records in which
  // the owner's subsystem takes no part
  for (const who of [VPCP, BNV]) expect((await post(who, request({ client: who, owner: HCM, code: 'getSecurityServerHealthData', body: '<om:getSecurityServerHealthData/>' }))).status).toBe(200);
  // and one by the owner itself, so that its own member-level service has health data
  expect((await post(HCM, request({ client: HCM, owner: HCM, code: 'getSecurityServerHealthData', body: '<om:getSecurityServerHealthData/>' }))).status).toBe(200);
  // records become available a few seconds after they finish
  await new Promise((r) => setTimeout(r, 3500));
}, 180_000);

afterAll(async () => {
  await t?.close();
});

const window = () => criteria(started, Math.floor(Date.now() / 1000) + 3600);

describe('getSecurityServerOperationalData: the answer’s form (PR-OPMON §2, Annex A, Annex C.2)', () => {
  it('answers multipart/related: the SOAP part (text/xml), then one application/gzip part named by Content-ID and referenced cid: (§2; Annex C.2)', async () => {
    const a = await operational({ client: HCM, body: window() });
    expect(a.ps).toHaveLength(2);
    // §2: "The content type of this part MUST be text/xml"
    expect(a.ps[0]!.head).toMatch(/content-type:\s*text\/xml/);
    // §2: "The content type of this part MUST be application/gzip"; Annex C.2: binary, <operational-monitoring-data.json.gz>
    expect(a.ps[1]!.head).toMatch(/content-type:\s*application\/gzip/);
    expect(a.ps[1]!.head).toMatch(/content-transfer-encoding:\s*binary/);
    expect(a.ps[1]!.head).toMatch(/content-id:\s*<operational-monitoring-data\.json\.gz>/);
    expect(a.ref).toBe('cid:operational-monitoring-data.json.gz');
    // RFC 1952 magic; Annex B: an object whose only required member is "records"
    expect([a.gz[0], a.gz[1]]).toEqual([0x1f, 0x8b]);
    expect(Object.keys(a.payload)).toEqual(['records']);
    expect(a.count).toBe(a.records.length);
    expect(a.records.length).toBeGreaterThanOrEqual(3);
  });

  it('repeats the request’s header (client, service, securityServer, id, protocolVersion) and adds requestHash (Annex C.2; SoapUtils.toResponse)', async () => {
    const id = `opmon-${randomUUID()}`;
    const a = await operational({ client: HCM, body: window(), id });
    const header = a.doc.getElementsByTagNameNS('http://schemas.xmlsoap.org/soap/envelope/', 'Header')[0] as XElement;
    const x = (n: string) => Array.from(header.getElementsByTagNameNS(XRD_NS, n)) as XElement[];
    expect(x('client')[0]!.getElementsByTagNameNS(ID_NS, 'subsystemCode')[0]!.textContent).toBe('vanthu');
    expect(x('service')[0]!.getElementsByTagNameNS(ID_NS, 'serviceCode')[0]!.textContent).toBe('getSecurityServerOperationalData');
    expect(x('securityServer')[0]!.getElementsByTagNameNS(ID_NS, 'serverCode')[0]!.textContent).toBe('ss-hcm');
    expect(x('id')[0]!.textContent).toBe(id);
    expect(x('protocolVersion')[0]!.textContent).toBe('4.0');
    expect(x('requestHash')).toHaveLength(1);
    expect(x('requestHash')[0]!.getAttribute('algorithmId')).toBe('http://www.w3.org/2001/04/xmlenc#sha512');
  });

  it('writes each record with Annex B’s names and types: seconds, milliseconds, the Client/Producer enum, booleans and integers, no nulls', async () => {
    const { records } = await operational({ client: HCM, body: window() });
    const ANNEX_B = new Set(['monitoringDataTs', 'securityServerInternalIp', 'securityServerType', 'requestInTs', 'requestOutTs', 'responseInTs', 'responseOutTs', 'clientXRoadInstance', 'clientMemberClass', 'clientMemberCode', 'clientSubsystemCode', 'serviceXRoadInstance', 'serviceMemberClass', 'serviceMemberCode', 'serviceSubsystemCode', 'serviceCode', 'restMethod', 'restPath', 'xRoadVersion', 'serviceVersion', 'representedPartyClass', 'representedPartyCode', 'messageId', 'messageUserId', 'messageIssue', 'messageProtocolVersion', 'clientSecurityServerAddress', 'serviceSecurityServerAddress', 'requestMimeSize', 'requestAttachmentCount', 'responseMimeSize', 'responseAttachmentCount', 'succeeded', 'faultCode', 'faultString', 'requestSize', 'responseSize', 'statusCode', 'serviceType', 'xRequestId']);
    const ints = ['monitoringDataTs', 'requestInTs', 'requestOutTs', 'responseInTs', 'responseOutTs', 'requestMimeSize', 'requestAttachmentCount', 'responseMimeSize', 'responseAttachmentCount', 'requestSize', 'responseSize', 'statusCode'];
    for (const r of records) {
      for (const [k, v] of Object.entries(r)) {
        expect(ANNEX_B.has(k), k).toBe(true);
        expect(v, k).not.toBeNull();
        if (ints.includes(k)) expect(Number.isSafeInteger(v) && (v as number) >= 0, `${k}=${String(v)}`).toBe(true);
        else if (k === 'succeeded') expect(typeof v).toBe('boolean');
        else expect(typeof v, k).toBe('string');
      }
      expect(['Client', 'Producer']).toContain(r.securityServerType);
      // monitoringDataTs in seconds, the four others in milliseconds
      expect(r.monitoringDataTs as number).toBeLessThan(1e11);
      expect(r.requestInTs as number).toBeGreaterThan(1e12);
    }
    const rest = records.filter((r) => r.serviceCode === 'thong-tin');
    expect(rest.length).toBeGreaterThanOrEqual(3);
    for (const r of rest) expect(r).toMatchObject({ securityServerType: 'Producer', succeeded: true, restMethod: 'GET', serviceType: 'REST', statusCode: 200 });
  });

  it('gives every field for an empty outputSpec, and leaves monitoringDataTs out unless named (§2 outputSpec; OperationalDataRecordManager.removeMonitoringDataTsIfNotSpecified)', async () => {
    const all = await operational({ client: HCM, body: window().replace('</om:getSecurityServerOperationalData>', '<om:outputSpec/></om:getSecurityServerOperationalData>') });
    expect(all.records.every((r) => 'monitoringDataTs' in r && 'messageId' in r && 'securityServerType' in r)).toBe(true);
    const some = await operational({ client: HCM, body: criteria(started, Math.floor(Date.now() / 1000) + 3600, '', outputSpec('messageId', 'serviceCode')) });
    for (const r of some.records) expect(Object.keys(r).sort()).toEqual(['messageId', 'serviceCode']);
    const withTs = await operational({ client: HCM, body: criteria(started, Math.floor(Date.now() / 1000) + 3600, '', outputSpec('messageId', 'monitoringDataTs')) });
    for (const r of withTs.records) expect(Object.keys(r).sort()).toEqual(['messageId', 'monitoringDataTs']);
  });

  it('shifts a recordsTo in the future and says where to go on: nextRecordsFrom = now − offset (§2 recordsTo, nextRecordsFrom; test_time_interval)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const a = await operational({ client: HCM, body: criteria(started, now + 10) });
    expect(a.next).toBeDefined();
    expect(a.next!).toBeGreaterThan(started);
    expect(a.next!).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    // records of a period wholly in the past are given whole, without nextRecordsFrom
    const past = await operational({ client: HCM, body: criteria(started - 100, started - 50) });
    expect(past.next).toBeUndefined();
    expect(past.records).toEqual([]);
  });
});

describe('getSecurityServerOperationalData: refused requests (PR-OPMON §2; OperationalDataRequestHandler.checkTimestamps; test_time_interval)', () => {
  const ask = (body: string) => post(HCM, request({ client: HCM, owner: HCM, code: 'getSecurityServerOperationalData', body }));

  it('refuses with a SOAP fault a recordsFrom not yet available (≥ now − offset): "The beginning timestamp MUST be less than current time − offset"', async () => {
    const now = Math.floor(Date.now() / 1000);
    // test_time_interval: recordsFrom in the future must result in a SOAP fault
    const future = await ask(criteria(2479823179, 2479823185));
    expect(future.faultcode, future.text.slice(0, 600)).toBeDefined();
    const justNow = await ask(criteria(now + 1, now + 5));
    expect(justNow.faultcode, justNow.text.slice(0, 600)).toBeDefined();
  });

  it('refuses negative recordsFrom and recordsTo with a SOAP fault ("Records from timestamp is a negative number")', async () => {
    const r = await ask(criteria(-1479823185, -1479823183));
    expect(r.faultcode, r.text.slice(0, 600)).toBeDefined();
    const to = await ask(criteria(0, -1));
    expect(to.faultcode, to.text.slice(0, 600)).toBeDefined();
  });

  it('refuses malformed criteria with a SOAP fault: non-numeric, beyond xs:long, missing recordsTo, empty or missing searchCriteria (schema validation)', async () => {
    const cases = [
      criteria('abc', 1479823185),
      criteria(1479823185, '888888888888888888888'),
      '<om:getSecurityServerOperationalData><om:searchCriteria><om:recordsFrom>1479823185</om:recordsFrom></om:searchCriteria></om:getSecurityServerOperationalData>',
      '<om:getSecurityServerOperationalData><om:searchCriteria/></om:getSecurityServerOperationalData>',
      '<om:getSecurityServerOperationalData/>',
    ];
    for (const body of cases) {
      const r = await ask(body);
      expect(r.faultcode, body).toBeDefined();
      expect(r.status, body).toBe(500);
    }
  });

  it('names a malformed query X-Road’s way: X_INVALID_REQUEST with the Client prefix (Client.InvalidRequest, as the daemon words it) — recordsTo before recordsFrom, an unknown outputField', async () => {
    const backwards = await ask(criteria(1479823179, 1479823175));
    // OperationalDataRequestHandler: CodedException(X_INVALID_REQUEST).withPrefix(CLIENT_X), passed on by
    // OpMonitorDaemonRequestHandler with the prefix Server.ServerProxy.OpMonitor (translateWithPrefix), and by
    // the server proxy unchanged (ServerMessageProcessor: a fault from the service handler is thrown as a
    // CodedException.Fault, which handleException does not prefix again): what the consumer receives
    expect(backwards.faultcode).toBe('Server.ServerProxy.OpMonitor.Client.InvalidRequest');
    const unknown = await ask(criteria(1479823179, 1479823185, '', outputSpec('matKhau')));
    expect(unknown.faultcode).toBe('Server.ServerProxy.OpMonitor.Client.InvalidRequest');
    // checkOutputFields: "Unknown output field in search criteria: <field>"
    expect(unknown.text).toMatch(/matKhau/);
  });
});

describe('getSecurityServerOperationalData: who sees which records (PR-OPMON §2; OperationalDataRecordQuery; test_client_filter)', () => {
  it('searchCriteria/client selects the records in which that client is the SERVICE PROVIDER, not the client (§2 "the client identifier of the service provider"; getMemberCriterion(serviceProvider, false))', async () => {
    // on Thành phố Hồ Chí Minh's server, Văn phòng Chính phủ provided nothing: X-Road answers no record
    const a = await operational({ client: HCM, body: window().replace('</om:recordsTo>', `</om:recordsTo>${subsystemId('om:client', VPCP)}`) });
    const asClient = a.records.filter((r) => r.clientMemberCode === VPCP.memberCode);
    expect(asClient, JSON.stringify(asClient.slice(0, 2))).toEqual([]);
    for (const r of a.records) expect([r.serviceMemberCode, r.serviceSubsystemCode]).toEqual([VPCP.memberCode, VPCP.subsystem]);
  });

  it('searchCriteria/client in the provider role: on Văn phòng Chính phủ’s server, HCM’s subsystem selects VPCP’s calls to it', async () => {
    const a = await operational({ client: VPCP, owner: VPCP, body: window().replace('</om:recordsTo>', `</om:recordsTo>${subsystemId('om:client', HCM)}`) });
    const tt = a.records.filter((r) => r.serviceCode === 'thong-tin');
    expect(tt).toHaveLength(2);
    for (const r of tt) expect(r).toMatchObject({ securityServerType: 'Client', serviceMemberCode: HCM.memberCode, serviceSubsystemCode: 'vanthu' });
  });

  it('searchCriteria/client naming a MEMBER selects the records whose provider is that member itself, not its subsystems (getMemberCriterion: subsystemCode IS NULL)', async () => {
    const a = await operational({ client: HCM, body: window().replace('</om:recordsTo>', `</om:recordsTo>${memberIdXml('om:client', HCM)}`) });
    expect(a.records.length).toBeGreaterThan(0);
    const ofSubsystems = a.records.filter((r) => r.serviceSubsystemCode !== undefined);
    expect(ofSubsystems.map((r) => r.serviceCode)).toEqual([]);
    for (const r of a.records) expect(String(r.serviceCode)).toMatch(/^getSecurityServer/);
  });

  it('answers an unknown member in searchCriteria with no records, not a fault; a SUBSYSTEM without subsystemCode is a fault (test_client_filter)', async () => {
    const unknown = await operational({ client: HCM, body: window().replace('</om:recordsTo>', '</om:recordsTo><om:client id:objectType="MEMBER"><id:xRoadInstance>VN</id:xRoadInstance><id:memberClass>GOV</id:memberClass><id:memberCode>999.99.99.Z99</id:memberCode></om:client>') });
    expect(unknown.records).toEqual([]);
    expect(unknown.count).toBe(0);
    const invalid = await post(HCM, request({ client: HCM, owner: HCM, code: 'getSecurityServerOperationalData', body: window().replace('</om:recordsTo>', `</om:recordsTo><om:client id:objectType="SUBSYSTEM">${ids(VPCP)}</om:client>`) }));
    expect(invalid.faultcode).toBeDefined();
  });

  it('gives a regular client only the exchanges it took part in, as client or provider (getClientForFilter; test_client_filter)', async () => {
    const a = await operational({ client: VPCP, body: window() });
    expect(a.records.filter((r) => r.serviceCode === 'thong-tin')).toHaveLength(2);
    for (const r of a.records) {
      const asClient = r.clientMemberCode === VPCP.memberCode && r.clientSubsystemCode === VPCP.subsystem;
      const asProvider = r.serviceMemberCode === VPCP.memberCode && r.serviceSubsystemCode === VPCP.subsystem;
      expect(asClient || asProvider, JSON.stringify(r)).toBe(true);
    }
  });

  it('never gives a regular client securityServerInternalIp, even when its outputSpec names it (OperationalDataOutputSpecFields.PUBLIC_OUTPUT_FIELDS; test_client_filter assert_missing_in_json)', async () => {
    const a = await operational({ client: VPCP, body: window() });
    expect(a.records.length).toBeGreaterThan(0);
    expect(a.records.filter((r) => 'securityServerInternalIp' in r)).toHaveLength(0);
    const named = await operational({ client: VPCP, body: criteria(started, Math.floor(Date.now() / 1000) + 3600, '', outputSpec('messageId', 'securityServerInternalIp')) });
    expect(named.records.length).toBeGreaterThan(0);
    for (const r of named.records) expect(Object.keys(r)).toEqual(['messageId']);
  });

  it('gives the central monitoring client every record, securityServerInternalIp included (getClientForFilter: isMonitoringClient)', async () => {
    const a = await operational({ client: BNV, body: window() });
    expect(a.records.filter((r) => r.serviceCode === 'thong-tin')).toHaveLength(3);
    expect(a.records.some((r) => r.clientMemberCode === VPCP.memberCode)).toBe(true);
    expect(a.records.every((r) => typeof r.securityServerInternalIp === 'string')).toBe(true);
  });

  it('treats the owner as a regular client when it leaves out the securityServer header (§2: "MUST be used in case the sender … is the owner"; isServerOwner needs serverId)', async () => {
    const a = await operational({ client: HCM, body: window(), noServerHeader: true });
    // Bộ Nội vụ's and Văn phòng Chính phủ's health data calls involve the owner's member, not its subsystem
    const others = a.records.filter((r) => r.clientMemberCode !== HCM.memberCode && !(r.serviceMemberCode === HCM.memberCode && r.serviceSubsystemCode === HCM.subsystem));
    expect(others.map((r) => [r.clientMemberCode, r.serviceCode])).toEqual([]);
    expect(a.records.filter((r) => 'securityServerInternalIp' in r)).toHaveLength(0);
  });

  it('answers a service header that names a serviceVersion (OpMonitoringServiceHandlerImpl.canHandle compares the provider and the code only)', async () => {
    const r = await post(HCM, request({ client: HCM, owner: HCM, code: 'getSecurityServerHealthData', body: '<om:getSecurityServerHealthData/>', serviceVersion: 'v1' }));
    expect(r.status, r.text.slice(0, 600)).toBe(200);
    expect(r.text).toContain('getSecurityServerHealthDataResponse');
  });

  it('is a SOAP service only: a REST call cannot reach the owner’s monitoring services (PR-OPMON §1: standard X-Road services per PR-MESS)', async () => {
    const r = await fetch(`${t.axis.members[0]!.isUrl}/r1/VN/PROV/000.00.31.H29/getSecurityServerHealthData`, { headers: { 'x-road-client': 'VN/GOV/000.00.00.G22/vanthu' } });
    const text = await r.text();
    expect(r.status).not.toBe(200);
    expect(text).not.toContain('getSecurityServerHealthDataResponse');
  });
});

describe('getSecurityServerHealthData (PR-OPMON §3, Annex C.3–C.4; HealthDataRequestHandler; test_health_data)', () => {
  it('answers Annex C.3’s request as text/xml: startup in ms, the period in s, each service with its identifier and lastPeriodStatistics', async () => {
    const h = await health(HCM);
    expect(h.r.type).toMatch(/^text\/xml/i);
    const resp = om(h.doc, 'getSecurityServerHealthDataResponse')[0]!;
    const startup = Number(om(resp, 'monitoringStartupTimestamp')[0]!.textContent);
    expect(startup).toBeGreaterThan(1e12);
    expect(startup).toBeLessThanOrEqual(Date.now());
    expect(Number(om(resp, 'statisticsPeriodSeconds')[0]!.textContent)).toBeGreaterThan(0);
    const tt = h.events.find((e) => e.code === 'thong-tin')!;
    expect(tt).toBeDefined();
    expect([tt.memberCode, tt.subsystem]).toEqual([HCM.memberCode, 'vanthu']);
    expect(om(tt.el, 'service')[0]!.getAttributeNS(ID_NS, 'objectType')).toBe('SERVICE');
    // every serviceEvents has lastPeriodStatistics (mandatory in the XSD) with both counts
    for (const e of h.events) {
      const st = om(e.el, 'lastPeriodStatistics');
      expect(st, e.code).toHaveLength(1);
      expect(om(st[0]!, 'successfulRequestCount')).toHaveLength(1);
      expect(om(st[0]!, 'unsuccessfulRequestCount')).toHaveLength(1);
    }
    expect(Number(om(tt.el, 'successfulRequestCount')[0]!.textContent)).toBe(3);
    expect(Number(om(tt.el, 'lastSuccessfulRequestTimestamp')[0]!.textContent)).toBeGreaterThanOrEqual(startup);
    // the element order of ServiceEventsType: service, last…Timestamp, serviceType, lastPeriodStatistics
    expect(children(tt.el).map((c) => c.localName)).toEqual(['service', 'lastSuccessfulRequestTimestamp', 'serviceType', 'lastPeriodStatistics']);
    // the header repeated with requestHash
    expect(h.doc.getElementsByTagNameNS(XRD_NS, 'requestHash')).toHaveLength(1);
  });

  it('lists the owner’s own monitoring service, a member-level service without subsystemCode (test_health_data GET_HEALTH_DATA_SERVICE_XML_TEMPLATE)', async () => {
    const h = await health(HCM);
    const own = h.events.find((e) => e.code === 'getSecurityServerHealthData');
    expect(own).toBeDefined();
    expect([own!.memberCode, own!.subsystem]).toEqual([HCM.memberCode, undefined]);
  });

  it('gives any client the health data of every service: HealthDataRequestHandler filters only by filterCriteria, never by the caller (test_health_data: unfiltered request from the client’s subsystem)', async () => {
    const h = await health(VPCP);
    expect(h.events.map((e) => e.code)).toEqual(expect.arrayContaining(['thong-tin', 'getSecurityServerHealthData']));
  });

  it('filterCriteria/client naming a MEMBER matches only the member’s own services, not its subsystems’ (id.getClientId().equals(clientId))', async () => {
    const h = await health(HCM, `<om:getSecurityServerHealthData><om:filterCriteria>${memberIdXml('om:client', HCM)}</om:filterCriteria></om:getSecurityServerHealthData>`);
    expect(h.events.map((e) => e.code)).toContain('getSecurityServerHealthData');
    expect(h.events.filter((e) => e.subsystem !== undefined).map((e) => e.code)).toEqual([]);
  });

  it('filters by the provider a SUBSYSTEM filterCriteria names; an unknown one gives no events, an empty filterCriteria all, a SUBSYSTEM without subsystemCode a fault (test_health_data)', async () => {
    const sub = await health(HCM, `<om:getSecurityServerHealthData><om:filterCriteria>${subsystemId('om:client', HCM)}</om:filterCriteria></om:getSecurityServerHealthData>`);
    expect(sub.events.map((e) => e.code)).toContain('thong-tin');
    expect(sub.events.every((e) => e.subsystem === 'vanthu')).toBe(true);
    const unknown = await health(HCM, '<om:getSecurityServerHealthData><om:filterCriteria><om:client id:objectType="SUBSYSTEM"><id:xRoadInstance>VN</id:xRoadInstance><id:memberClass>GOV</id:memberClass><id:memberCode>999.99.99.Z99</id:memberCode><id:subsystemCode>khong</id:subsystemCode></om:client></om:filterCriteria></om:getSecurityServerHealthData>');
    expect(unknown.events).toEqual([]);
    expect(om(unknown.doc, 'servicesEvents')).toHaveLength(1);
    const empty = await health(HCM, '<om:getSecurityServerHealthData><om:filterCriteria/></om:getSecurityServerHealthData>');
    expect(empty.events.map((e) => e.code)).toContain('thong-tin');
    const invalid = await post(HCM, request({ client: HCM, owner: HCM, code: 'getSecurityServerHealthData', body: `<om:getSecurityServerHealthData><om:filterCriteria><om:client id:objectType="SUBSYSTEM">${ids(HCM)}</om:client></om:filterCriteria></om:getSecurityServerHealthData>` }));
    expect(invalid.faultcode).toBeDefined();
  });
});

describe('getSecurityServerMetrics (PR-ENVMONMES §2; ARC-ENVMON §2.2, §3.3; ProxyMonitorServiceHandlerImpl, MetricsRpcService)', () => {
  it('answers the owner and the central monitoring client; any other client gets AccessDenied (ARC-ENVMON §3.3; verifyAccess → X_ACCESS_DENIED at the server proxy)', async () => {
    for (const who of [HCM, BNV]) {
      const m = await metrics(who);
      expect(m.r.status, m.r.text.slice(0, 600)).toBe(200);
      expect(m.top).toBeDefined();
    }
    const denied = await metrics(VPCP);
    expect(denied.r.faultcode).toBe('Server.ServerProxy.AccessDenied');
  });

  it('holds one metricSet named by the server’s identifier, containing exactly a proxyVersion stringMetric and a systemMetrics metricSet (PR-ENVMONMES §2.2)', async () => {
    const m = await metrics(HCM);
    const sets = children(m.top!);
    expect(sets.map((c) => c.localName)).toEqual(['metricSet']);
    const root = sets[0]!;
    expect(nameOf(root)).toBe('SERVER:VN/PROV/000.00.31.H29/ss-hcm');
    const inner = children(root).filter((c) => c.localName !== 'name');
    expect(inner.map((c) => `${c.localName}:${nameOf(c)}`)).toEqual(['stringMetric:proxyVersion', 'metricSet:systemMetrics']);
    // what else X-Road reports (Certificates, Processes, Packages, histograms) stands inside systemMetrics (MetricsRpcService.getMetrics)
    const system = inner.find((c) => nameOf(c) === 'systemMetrics')!;
    expect(children(system).some((c) => c.localName === 'metricSet' && nameOf(c) === 'Certificates')).toBe(true);
  });

  it('gives only the metrics outputSpec names, in systemMetrics (PR-ENVMONMES §2.1: "outputField elements referring to the name … in the metricSet named systemMetrics"; SystemMetricsFilter)', async () => {
    const m = await metrics(HCM, '<m:getSecurityServerMetrics><m:outputSpec><m:outputField>OperatingSystem</m:outputField><m:outputField>TotalPhysicalMemory</m:outputField></m:outputSpec></m:getSecurityServerMetrics>');
    expect(m.r.status, m.r.text.slice(0, 600)).toBe(200);
    const system = (Array.from(m.top!.getElementsByTagNameNS(ENVMON_NS, 'metricSet')) as XElement[]).find((s) => nameOf(s) === 'systemMetrics')!;
    const got = children(system)
      .filter((c) => c.localName !== 'name')
      .map((c) => `${c.localName}:${nameOf(c)}`)
      .sort();
    expect(got).toEqual(['numericMetric:TotalPhysicalMemory', 'stringMetric:OperatingSystem']);
  });

  it('lists each certificate as X-Road does: a set named certificate-<hash>, the hash as colon-separated upper-case hex, ISO-8601 instants to the second, type AUTH_OR_SIGN (ARC-ENVMON §2.2 CertificateInfoSensor; MetricsRpcService.toCertificateMetricSetDTO)', async () => {
    const m = await metrics(HCM);
    const all = Array.from(m.top!.getElementsByTagNameNS(ENVMON_NS, 'metricSet')) as XElement[];
    // where the set stands (inside systemMetrics) is the previous case's; here only what it holds
    const certs = all.find((s) => nameOf(s) === 'Certificates');
    expect(certs, 'a Certificates metric set').toBeDefined();
    const hcm = t.axis.members[2]!.server.ctx;
    const hashes = [hcm.authCert, hcm.signCert].map((der) => {
      const hex = (alg: string) => createHash(alg).update(new X509Certificate(der).raw).digest('hex').toUpperCase().match(/../g)!.join(':');
      return [hex('sha1'), hex('sha256')];
    });
    const entries = children(certs!).filter((c) => c.localName === 'metricSet');
    expect(entries).toHaveLength(2);
    for (const e of entries) {
      const v = (n: string) => children(e).find((c) => nameOf(c) === n)?.getElementsByTagNameNS(ENVMON_NS, 'value')[0]?.textContent;
      const hash = v('sha1Hash')!;
      expect(hashes.some((h) => h.includes(hash)), hash).toBe(true);
      expect(nameOf(e)).toBe(`certificate-${hash}`);
      expect(v('certificateType')).toBe('AUTH_OR_SIGN');
      expect(v('notBefore')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(v('notAfter')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(v('active')).toBe('true');
    }
  });
});
