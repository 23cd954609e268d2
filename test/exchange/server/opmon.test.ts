/**
 * X-Road's operational monitoring protocol (PR-OPMON) on a real axis: getSecurityServerOperationalData and
 * getSecurityServerHealthData are the owner's services with no subsystem, reached through the client's own
 * server like any service (signed, logged on both sides), answered by the owner's server from its
 * operational records — as the example messages of PR-OPMON Annex C write them. Who asks decides what is
 * seen: the owner's subsystems and the central monitoring client everything, any other client only the
 * exchanges it took part in. Long answers stop at a whole second and say where to go on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { DOMParser, type Document as XDocument, type Element as XElement } from '@xmldom/xmldom';
import { startTestAxis, type TestAxis } from './setup.js';
import { OPMON_MAX_RECORDS, OPMON_NS, OUTPUT_FIELDS, fitField, internalIp } from '../../../src/exchange/server/opmon.js';
import type { MessageLog } from '../../../src/exchange/log/index.js';
import { ServedWindow } from '../../../src/exchange/server/context.js';

interface Who {
  memberClass: string;
  memberCode: string;
  subsystem: string;
}
const VPCP: Who = { memberClass: 'GOV', memberCode: '000.00.00.G22', subsystem: 'vanthu' };
const BNV: Who = { memberClass: 'GOV', memberCode: '000.00.00.G09', subsystem: 'vanthu' };
const HCM: Who = { memberClass: 'PROV', memberCode: '000.00.31.H29', subsystem: 'vanthu' };
const ids = (w: { memberClass: string; memberCode: string }) => `<id:xRoadInstance>VN</id:xRoadInstance><id:memberClass>${w.memberClass}</id:memberClass><id:memberCode>${w.memberCode}</id:memberCode>`;

/** PR-OPMON Annex C's request, for our identifiers */
function opmonRequest(o: { client: Who; owner?: Who; server?: string; code: string; body: string; id?: string; serviceSubsystem?: string; represented?: string }): string {
  const owner = o.owner ?? HCM;
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xroad="http://x-road.eu/xsd/xroad.xsd" xmlns:om="http://x-road.eu/xsd/op-monitoring.xsd" xmlns:id="http://x-road.eu/xsd/identifiers">\n' +
    '  <SOAP-ENV:Header>\n' +
    `    <xroad:client id:objectType="SUBSYSTEM">${ids(o.client)}<id:subsystemCode>${o.client.subsystem}</id:subsystemCode></xroad:client>\n` +
    `    <xroad:service id:objectType="SERVICE">${ids(owner)}${o.serviceSubsystem ? `<id:subsystemCode>${o.serviceSubsystem}</id:subsystemCode>` : ''}<id:serviceCode>${o.code}</id:serviceCode></xroad:service>\n` +
    (o.server === '' ? '' : `    <xroad:securityServer id:objectType="SERVER">${ids(owner)}<id:serverCode>${o.server ?? 'ss-hcm'}</id:serverCode></xroad:securityServer>\n`) +
    (o.represented ?? '') +
    `    <xroad:id>${o.id ?? randomUUID()}</xroad:id>\n` +
    '    <xroad:protocolVersion>4.0</xroad:protocolVersion>\n' +
    '  </SOAP-ENV:Header>\n' +
    `  <SOAP-ENV:Body>${o.body}</SOAP-ENV:Body>\n` +
    '</SOAP-ENV:Envelope>\n'
  );
}

const criteria = (from: number, to: number, extra = '', output = '') =>
  `<om:getSecurityServerOperationalData><om:searchCriteria><om:recordsFrom>${from}</om:recordsFrom><om:recordsTo>${to}</om:recordsTo>${extra}</om:searchCriteria>${output}</om:getSecurityServerOperationalData>`;

let t: TestAxis;
const url = (who: Who) => t.axis.members[who === VPCP ? 0 : who === BNV ? 1 : 2]!.isUrl;
let started = 0;

async function soap(who: Who, envelope: string) {
  const res = await fetch(`${url(who)}/`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: envelope });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type') ?? '', bytes, text: bytes.toString('utf8'), faultcode: /<faultcode>([^<]*)<\/faultcode>/.exec(bytes.toString('utf8'))?.[1] };
}

/** Asks for operational data; answers the envelope's fields and the records of the gzipped JSON attachment. */
async function operational(who: Who, body: string, id?: string, target?: { owner: Who; server: string }) {
  const request = opmonRequest({ client: who, code: 'getSecurityServerOperationalData', body, ...(id ? { id } : {}), ...(target ?? {}) });
  const r = await soap(who, request);
  expect(r.status, r.text.slice(0, 2000)).toBe(200);
  expect(r.type).toMatch(/^multipart\/related;/);
  const boundary = /boundary="?([^";]+)"?/.exec(r.type)![1]!;
  const raw = r.bytes.toString('latin1').split(`--${boundary}`).slice(1, -1);
  expect(raw).toHaveLength(2);
  const part = (p: string) => ({ head: p.slice(0, p.indexOf('\r\n\r\n')).toLowerCase(), body: Buffer.from(p.slice(p.indexOf('\r\n\r\n') + 4, -2), 'latin1') });
  const [env, att] = [part(raw[0]!), part(raw[1]!)];
  expect(att.head).toContain('content-type: application/gzip');
  expect(att.head).toContain('content-id: <operational-monitoring-data.json.gz>');
  const doc = new DOMParser().parseFromString(env.body.toString('utf8'), 'text/xml');
  const field = (name: string) => doc.getElementsByTagNameNS(OPMON_NS, name)[0]?.textContent ?? undefined;
  expect(field('records')).toBe('cid:operational-monitoring-data.json.gz');
  // the header repeated, requestHash written by the owner's server and checked by the client's
  expect(doc.getElementsByTagNameNS('http://x-road.eu/xsd/xroad.xsd', 'requestHash')).toHaveLength(1);
  const records = (JSON.parse(gunzipSync(att.body).toString('utf8')) as { records: Record<string, unknown>[] }).records;
  expect(Number(field('recordsCount'))).toBe(records.length);
  const next = field('nextRecordsFrom');
  // the sizes of the exchange as X-Road counts them: the request (text/xml), the answer's SOAP part, and that
  // with the attachment's content (its part's headers and the delimiters left out)
  const sizes = { request: Buffer.byteLength(request), soapPart: env.body.length, mime: env.body.length + att.body.length };
  return { records, next: next === undefined ? undefined : Number(next), sizes };
}

async function rest(who: Who, path: string, extra: Record<string, string> = {}) {
  const r = await fetch(`${url(who)}/r1/VN/PROV/000.00.31.H29/vanthu/${path}`, { headers: { 'x-road-client': `VN/${who.memberClass}/${who.memberCode}/${who.subsystem}`, 'x-road-userid': 'VN012345678901', 'x-road-issue': 'HS-12/2026', ...extra } });
  await r.arrayBuffer();
  return r.status;
}
/** X-Road-Represented-Party as PR-REST writes it: [CLASS/]CODE, percent-encoded UTF-8 ("Mã số 3") */
const REPRESENTED = 'COM/M%C3%A3%20s%E1%BB%91%203';

beforeAll(async () => {
  // Bộ Nội vụ's subsystem is the central monitoring client: it reads every server's records
  // a filtered query reads at most 2,000 records at a time here (50,000 by default)
  t = await startTestAxis({ centralSettings: { monitoringClient: { memberClass: 'GOV', memberCode: '000.00.00.G09', subsystemCode: 'vanthu' } }, limits: { opmonScanRows: 2000 } });
  started = Math.floor(Date.now() / 1000) - 1;
  // exchanges to report: three of Văn phòng Chính phủ's, one of Bộ Nội vụ's, one refused at the provider
  for (let i = 0; i < 3; i++) expect(await rest(VPCP, `thong-tin/ho-so/${i}?cccd=001099012345`)).toBe(200);
  // Bộ Nội vụ's system acts for a party that is not a member (PR-THIRDPARTY)
  expect(await rest(BNV, 'thong-tin', { 'x-road-represented-party': REPRESENTED })).toBe(200);
  expect(await rest(VPCP, 'khong-ton-tai')).toBe(500);
  // records become available a few seconds after they finish (OPMON_OFFSET_SECONDS)
  await new Promise((r) => setTimeout(r, 3500));
}, 180_000);

afterAll(async () => {
  await t?.close();
});

describe('getSecurityServerOperationalData (PR-OPMON 2)', () => {
  it('gives the owner every record of its server as Annex B writes them, through its own server, logged on both sides', async () => {
    const id = randomUUID();
    const { records, next } = await operational(HCM, criteria(started, started + 3600), id);
    // recordsTo lies in the future: the answer says where the next query starts
    expect(next).toBeGreaterThan(started);
    expect(next!).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    const thongTin = records.filter((r) => r.serviceCode === 'thong-tin');
    expect(thongTin).toHaveLength(4);
    for (const r of thongTin) {
      expect(r).toMatchObject({ securityServerType: 'Producer', serviceXRoadInstance: 'VN', serviceMemberClass: 'PROV', serviceMemberCode: '000.00.31.H29', serviceSubsystemCode: 'vanthu', clientXRoadInstance: 'VN', clientSubsystemCode: 'vanthu', succeeded: true, statusCode: 200 });
      // in, out to the service, its answer in, out to the client: in that order
      const ts = ['requestInTs', 'requestOutTs', 'responseInTs', 'responseOutTs'].map((k) => r[k] as number);
      expect(ts.every((x) => Number.isSafeInteger(x))).toBe(true);
      expect([...ts].sort((a, b) => a - b)).toEqual(ts);
      expect(r.monitoringDataTs).toBe(Math.floor((r.responseOutTs as number) / 1000));
      expect(r.responseSize as number).toBeGreaterThan(0);
      expect(typeof r.messageId).toBe('string');
      expect(Object.keys(r).every((k) => (OUTPUT_FIELDS as readonly string[]).includes(k))).toBe(true);
    }
    expect(thongTin.map((r) => r.clientMemberCode).sort()).toEqual(['000.00.00.G09', '000.00.00.G22', '000.00.00.G22', '000.00.00.G22']);
    // what the message said of itself: REST's method and path (the query, which may carry personal data,
    // left out), X-Road-Request-Id, the user and the issue; the provider's service type
    const ho = thongTin.filter((r) => r.clientMemberCode === '000.00.00.G22').sort((a, b) => String(a.restPath).localeCompare(String(b.restPath)));
    expect(ho.map((r) => [r.restMethod, r.restPath])).toEqual([0, 1, 2].map((i) => ['GET', `/ho-so/${i}`]));
    for (const r of thongTin) {
      expect(r).toMatchObject({ messageUserId: 'VN012345678901', messageIssue: 'HS-12/2026', serviceType: 'REST' });
      // REST carries no attachments (X-Road writes 0), so no MIME container size
      expect(r).toMatchObject({ requestAttachmentCount: 0, responseAttachmentCount: 0 });
      expect([r.requestMimeSize, r.responseMimeSize]).toEqual([undefined, undefined]);
      expect(r.xRequestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.messageProtocolVersion).toBeUndefined();
    }
    expect(JSON.stringify(records)).not.toContain('001099012345');
    // the party Bộ Nội vụ's system acted for, decoded; the others acted for themselves
    expect(thongTin.filter((r) => r.clientMemberCode === '000.00.00.G09').map((r) => [r.representedPartyClass, r.representedPartyCode])).toEqual([['COM', 'Mã số 3']]);
    expect(ho.every((r) => r.representedPartyClass === undefined && r.representedPartyCode === undefined)).toBe(true);
    // the client's side, on Văn phòng Chính phủ's own server: the same four times, in order, and the provider's
    // server's address
    const client = (await operational(VPCP, criteria(started, started + 3600), undefined, { owner: VPCP, server: 'ss-vpcp' })).records.filter((r) => r.serviceCode === 'thong-tin');
    expect(client).toHaveLength(3);
    for (const r of client) {
      expect(r).toMatchObject({ securityServerType: 'Client', clientMemberCode: '000.00.00.G22', serviceMemberCode: '000.00.31.H29', succeeded: true, restMethod: 'GET' });
      const ts = ['requestInTs', 'requestOutTs', 'responseInTs', 'responseOutTs'].map((k) => r[k] as number);
      expect([...ts].sort((a, b) => a - b)).toEqual(ts);
      expect(typeof r.clientSecurityServerAddress).toBe('string');
    }
    // both records of an exchange name both servers, this server's internal address and version: X-Road
    // Metrics' corrector pairs a client's record with its producer's when these fields are equal (its
    // comparison_list_orphan, the fields of it Annex B still has)
    const PAIRED = ['clientXRoadInstance', 'clientMemberClass', 'clientMemberCode', 'clientSubsystemCode', 'serviceXRoadInstance', 'serviceMemberClass', 'serviceMemberCode', 'serviceSubsystemCode', 'serviceCode', 'serviceVersion', 'representedPartyClass', 'representedPartyCode', 'messageId', 'messageUserId', 'messageIssue', 'messageProtocolVersion', 'clientSecurityServerAddress', 'serviceSecurityServerAddress', 'succeeded', 'requestAttachmentCount', 'responseAttachmentCount', 'requestMimeSize', 'responseMimeSize'];
    for (const c of client) {
      const p = thongTin.find((r) => r.messageId === c.messageId)!;
      expect(p).toBeDefined();
      for (const f of PAIRED) expect([f, c[f]]).toEqual([f, p[f]]);
      expect(c.clientSecurityServerAddress).toMatch(/^[^\s/]+$/);
      expect(c.serviceSecurityServerAddress).toMatch(/^[^\s/]+$/);
      expect(c.clientSecurityServerAddress).not.toBe(c.serviceSecurityServerAddress);
      for (const r of [c, p]) {
        expect(r.securityServerInternalIp).toMatch(/^\d{1,3}(\.\d{1,3}){3}$/);
        expect(r.xRoadVersion).toMatch(/^Trục \d+\.\d+\.\d+/);
      }
    }
    const refused = records.find((r) => r.serviceCode === 'khong-ton-tai')!;
    expect(refused).toMatchObject({ succeeded: false, faultCode: 'Server.ServerProxy.UnknownService', clientMemberCode: '000.00.00.G22' });
    // the fault's text, Vietnamese first and English beside
    expect(refused.faultString).toMatch(/^Dịch vụ không tồn tại.* \/ .*khong-ton-tai.*not a service of this security server/);
    // the client's server passed the provider's refusal on: its record names the same fault, as X-Road's does
    const clientRefused = (await operational(VPCP, criteria(started, started + 3600), undefined, { owner: VPCP, server: 'ss-vpcp' })).records.find((r) => r.serviceCode === 'khong-ton-tai')!;
    expect(clientRefused).toMatchObject({ securityServerType: 'Client', succeeded: false, faultCode: 'Server.ServerProxy.UnknownService', faultString: refused.faultString, messageId: refused.messageId });
    // refused by the provider's server after it knew the client's: both addresses still
    expect(refused.clientSecurityServerAddress).toBe(client[0]!.clientSecurityServerAddress);
    expect(refused.serviceSecurityServerAddress).toBe(client[0]!.serviceSecurityServerAddress);
    // the request and its answer are in both servers' message logs, as any exchange
    for (const i of [2]) {
      const hits = await (t.axis.members[i]!.log as MessageLog).search({ messageId: id });
      expect(hits.map((h) => h.kind).sort()).toEqual(['request', 'request', 'response', 'response']);
    }
  });

  it('sizes a SOAP message by its SOAP part, as X-Road does, and with attachments gives their contents’ and the SOAP part’s bytes beside it', async () => {
    // the query's own answer is a SOAP message with one attachment (the gzipped records)
    const id = randomUUID();
    const first = await operational(HCM, criteria(started, started + 3600), id);
    expect(first.sizes.mime).toBeGreaterThan(first.sizes.soapPart);
    // records become available a few seconds after they finish (OPMON_OFFSET_SECONDS): asked again until both are
    let own: Record<string, unknown>[] = [];
    for (let k = 0; k < 30 && own.length < 2; k++) {
      await new Promise((r) => setTimeout(r, k ? 1000 : 2500));
      own = (await operational(HCM, criteria(started, started + 3600))).records.filter((r) => r.messageId === id);
    }
    // the owner asked its own server: a client's and a producer's record on it, the same sizes in both
    expect(own.map((r) => r.securityServerType).sort()).toEqual(['Client', 'Producer']);
    for (const r of own) {
      expect(r).toMatchObject({ serviceCode: 'getSecurityServerOperationalData', messageProtocolVersion: '4.0', requestAttachmentCount: 0, responseAttachmentCount: 1 });
      expect([r.requestSize, r.requestMimeSize]).toEqual([first.sizes.request, undefined]);
      expect([r.responseSize, r.responseMimeSize]).toEqual([first.sizes.soapPart, first.sizes.mime]);
    }
  });

  it('gives only the fields outputSpec names, and the records of one provider’s services when searchCriteria names it', async () => {
    const { records } = await operational(HCM, criteria(started, started + 3600, '', '<om:outputSpec><om:outputField>messageId</om:outputField><om:outputField>succeeded</om:outputField></om:outputSpec>'));
    expect(records.length).toBeGreaterThanOrEqual(5);
    for (const r of records) expect(Object.keys(r).sort()).toEqual(['messageId', 'succeeded']);
    // searchCriteria/client is the service provider (PR-OPMON §2), as X-Road now matches it here: Bộ Nội vụ
    // called Thành phố Hồ Chí Minh's service but provides none on this server, so nothing; the provider's
    // subsystem gives its services' exchanges, whoever the client
    const sub = (w: Who) => `<om:client id:objectType="SUBSYSTEM">${ids(w)}<id:subsystemCode>vanthu</id:subsystemCode></om:client>`;
    expect((await operational(HCM, criteria(started, started + 3600, sub(BNV)))).records).toEqual([]);
    const provided = await operational(HCM, criteria(started, started + 3600, sub(HCM)));
    expect(provided.records.filter((r) => r.serviceCode === 'thong-tin').map((r) => r.clientMemberCode).sort()).toEqual(['000.00.00.G09', '000.00.00.G22', '000.00.00.G22', '000.00.00.G22']);
    for (const r of provided.records) expect([r.serviceMemberCode, r.serviceSubsystemCode]).toEqual(['000.00.31.H29', 'vanthu']);
    // a member names its own services (the monitoring services, with no subsystem), not its subsystems', as
    // X-Road matches a member with no subsystem code
    const member = await operational(HCM, criteria(started, started + 3600, `<om:client id:objectType="MEMBER">${ids(HCM)}</om:client>`));
    expect(member.records.length).toBeGreaterThan(0);
    for (const r of member.records) expect([r.serviceMemberCode, r.serviceSubsystemCode, String(r.serviceCode)]).toEqual(['000.00.31.H29', undefined, expect.stringMatching(/^getSecurityServer/)]);
  });

  it('shows another client only the exchanges it took part in; the central monitoring client sees all', async () => {
    // Văn phòng Chính phủ asks Thành phố Hồ Chí Minh's server through its own
    const vpcp = await operational(VPCP, criteria(started, started + 3600));
    expect(vpcp.records.length).toBeGreaterThanOrEqual(4);
    expect(new Set(vpcp.records.map((r) => r.clientMemberCode))).toEqual(new Set(['000.00.00.G22']));
    const bnv = await operational(BNV, criteria(started, started + 3600));
    // (the owner's own queries above are there too once their seconds are available)
    expect([...new Set(bnv.records.map((r) => r.clientMemberCode))]).toEqual(expect.arrayContaining(['000.00.00.G22', '000.00.00.G09']));
    expect(bnv.records.filter((r) => r.serviceCode === 'thong-tin')).toHaveLength(4);
  });

  it('stops a long answer at a whole second and says where to go on: none lost, none twice', async () => {
    const hcm = t.axis.members[2]!.server;
    // 525 records a second over 20 seconds, an hour ago: more than one answer holds
    const base = (Math.floor(Date.now() / 1000) - 3600) * 1000;
    for (let i = 0; i < 20 * 525; i++) {
      const at = new Date(base + Math.floor(i / 525) * 1000 + (i % 525));
      hcm.ctx.ops.record({ messageId: `tong-hop-${i}`, side: 'provider', client: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu', service: 'SERVICE:VN/PROV/000.00.31.H29/vanthu/thong-tin', startedAt: at, finishedAt: at, requestBytes: 10, responseBytes: 20, status: 200 });
    }
    const from = base / 1000;
    const first = await operational(HCM, criteria(from, from + 19));
    expect(first.records.length).toBeLessThanOrEqual(OPMON_MAX_RECORDS);
    expect(first.records).toHaveLength(19 * 525);
    expect(first.next).toBe(from + 19);
    const second = await operational(HCM, criteria(first.next!, from + 19));
    expect(second.next).toBeUndefined();
    // a filtered query reads a bounded part of the period at a time, and goes on from where it stopped:
    // Văn phòng Chính phủ (every one of these is its) gets them all over several answers, none twice
    const follow = async (who: Who, extra = '') => {
      const seen: unknown[] = [];
      let at: number | undefined = from;
      let rounds = 0;
      while (at !== undefined && at <= from + 19) {
        const page = await operational(who, criteria(at, from + 19, extra));
        expect(page.records.length).toBeLessThanOrEqual(2000);
        seen.push(...page.records.map((r) => r.messageId));
        expect(page.next === undefined || page.next > at).toBe(true);
        at = page.next;
        rounds++;
      }
      return { seen, rounds };
    };
    const mine = await follow(VPCP);
    expect(mine.rounds).toBeGreaterThan(5);
    expect(mine.seen).toHaveLength(20 * 525);
    expect(new Set(mine.seen).size).toBe(20 * 525);
    // a partner with no exchange in the period: empty answers that still move on, to the end
    const none = await follow(HCM, `<om:client id:objectType="SUBSYSTEM">${ids(BNV)}<id:subsystemCode>vanthu</id:subsystemCode></om:client>`);
    expect(none.seen).toEqual([]);
    expect(none.rounds).toBeGreaterThan(5);
    // bounds far outside time itself: X-Road refuses a negative bound, and a recordsFrom whose records are not
    // available yet, as this server now does; a recordsTo far ahead is moved back, as any in the future
    const refusal = async (body: string) => (await soap(HCM, opmonRequest({ client: HCM, code: 'getSecurityServerOperationalData', body }))).faultcode;
    expect(await refusal(criteria(-999_999_999_999_999, -999_999_999_999_998))).toBe('Server.ServerProxy.OpMonitor.Client.InvalidRequest');
    expect(await refusal(criteria(999_999_999_999_998, 999_999_999_999_999))).toBe('Server.ServerProxy.OpMonitor.Client.InvalidRequest');
    const far = await operational(HCM, criteria(from, 999_999_999_999_999));
    expect(far.next!).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    const all = [...first.records, ...second.records].map((r) => r.messageId);
    expect(all).toHaveLength(20 * 525);
    expect(new Set(all).size).toBe(20 * 525);
  });

  it('refuses malformed criteria and services a member does not offer, with X-Road’s faults', async () => {
    const bad = async (body: string) => (await soap(HCM, opmonRequest({ client: HCM, code: 'getSecurityServerOperationalData', body }))).faultcode;
    // X-Road's fault for a malformed query, as the consumer receives it: the op-monitor daemon's
    // X_INVALID_REQUEST with the Client prefix, under Server.ServerProxy.OpMonitor (was InvalidBody here)
    const INVALID = 'Server.ServerProxy.OpMonitor.Client.InvalidRequest';
    expect(await bad('<om:getSecurityServerOperationalData><om:searchCriteria><om:recordsTo>5</om:recordsTo></om:searchCriteria></om:getSecurityServerOperationalData>')).toBe(INVALID);
    expect(await bad(criteria(100, 50))).toBe(INVALID);
    expect(await bad(criteria(0, 50).replace('>0<', '>hôm qua<'))).toBe(INVALID);
    const unknownField = await soap(HCM, opmonRequest({ client: HCM, code: 'getSecurityServerOperationalData', body: criteria(0, 50, '', '<om:outputSpec><om:outputField>matKhau</om:outputField></om:outputSpec>') }));
    expect(unknownField.faultcode).toBe(INVALID);
    expect(unknownField.text).toMatch(/outputSpec nêu trường không tồn tại &quot;matKhau&quot;/);
    // a member offers no other service of its own
    const other = await soap(HCM, opmonRequest({ client: HCM, code: 'getSecurityServerSecrets', body: '<om:getSecurityServerSecrets/>' }));
    expect(other.faultcode).toMatch(/UnknownService$/);
    // the server named must be the member's
    const wrongServer = await soap(VPCP, opmonRequest({ client: VPCP, code: 'getSecurityServerHealthData', body: '<om:getSecurityServerHealthData/>', server: 'ss-khac' }));
    expect(wrongServer.faultcode).toBe('Server.ClientProxy.InvalidSecurityServer');
    // a subsystem's service of the same name is an ordinary one: this one does not exist
    const subsystem = await soap(VPCP, opmonRequest({ client: VPCP, code: 'getSecurityServerHealthData', body: '<om:getSecurityServerHealthData/>', serviceSubsystem: 'vanthu', server: '' }));
    expect(subsystem.faultcode).toBe('Server.ServerProxy.UnknownService');
  });

  it('keeps the party a client acts for (PR-THIRDPARTY) from SOAP’s representedParty as from REST’s header, on both servers; refuses a malformed one', async () => {
    const repr = (inner: string) => `    <repr:representedParty xmlns:repr="http://x-road.eu/xsd/representation.xsd">${inner}</repr:representedParty>\n`;
    const id = randomUUID();
    const h = await soap(VPCP, opmonRequest({ client: VPCP, code: 'getSecurityServerHealthData', body: '<om:getSecurityServerHealthData/>', id, represented: repr('<repr:partyCode>CCCD/001099012345</repr:partyCode>') }));
    expect(h.status, h.text.slice(0, 1000)).toBe(200);
    await new Promise((r) => setTimeout(r, 3500));
    for (const [owner, server] of [[VPCP, 'ss-vpcp'], [HCM, 'ss-hcm']] as const) {
      const { records } = await operational(owner, criteria(started, started + 3600), undefined, { owner, server });
      const mine = records.filter((r) => r.messageId === id);
      expect(mine, `${server}`).toHaveLength(1);
      // a code without a class; a slash inside it stays part of the code
      expect(mine[0]).toMatchObject({ representedPartyCode: 'CCCD/001099012345', messageProtocolVersion: '4.0' });
      expect(mine[0]!.representedPartyClass).toBeUndefined();
    }
    // malformed: REST's header with three parts or an empty code, SOAP's without partyCode or with it twice
    for (const header of ['a/b/c', 'COM/', '%E0%A4%A']) {
      const r = await fetch(`${url(VPCP)}/r1/VN/PROV/000.00.31.H29/vanthu/thong-tin`, { headers: { 'x-road-client': 'VN/GOV/000.00.00.G22/vanthu', 'x-road-represented-party': header } });
      const problem = (await r.json()) as { message_vi: string };
      expect(r.status, header).toBe(400);
      expect(r.headers.get('x-road-error')).toBe('Client.BadRequest');
      expect(problem.message_vi).toMatch(/X-Road-Represented-Party|bên được đại diện/);
    }
    const noCode = await soap(VPCP, opmonRequest({ client: VPCP, code: 'getSecurityServerHealthData', body: '<om:getSecurityServerHealthData/>', represented: repr('<repr:partyClass>COM</repr:partyClass>') }));
    expect(noCode.faultcode).toBe('Client.MissingHeaderField');
    const twice = await soap(VPCP, opmonRequest({ client: VPCP, code: 'getSecurityServerHealthData', body: '<om:getSecurityServerHealthData/>', represented: repr('<repr:partyCode>1</repr:partyCode><repr:partyCode>2</repr:partyCode>') }));
    expect(twice.faultcode).toBe('Client.DuplicateHeaderField');
  });
});

describe('getSecurityServerOperationalData: what a schema-checking reader takes', () => {
  it('cuts the strings a client may send longer than Annex B allows (255 characters) in the record, not in the exchange', async () => {
    const user = `VN${'1'.repeat(252)}é${'2'.repeat(60)}`;
    const issue = 'HS-'.padEnd(300, 'x');
    const path = `thong-tin/${'p'.repeat(400)}`;
    const id = randomUUID();
    const r = await fetch(`${url(VPCP)}/r1/VN/PROV/000.00.31.H29/vanthu/${path}`, { headers: { 'x-road-client': 'VN/GOV/000.00.00.G22/vanthu', 'x-road-id': id, 'x-road-userid': user, 'x-road-issue': issue } });
    // the service saw the whole path
    expect(((await r.json()) as { path: string }).path).toBe(`/${'p'.repeat(400)}`);
    await new Promise((res) => setTimeout(res, 3500));
    for (const [owner, server] of [[VPCP, 'ss-vpcp'], [HCM, 'ss-hcm']] as const) {
      const { records } = await operational(owner, criteria(started, started + 3600), undefined, { owner, server });
      const mine = records.find((x) => x.messageId === id)!;
      expect(mine, server).toBeDefined();
      expect(Array.from(mine.messageUserId as string)).toHaveLength(255);
      expect(mine.messageUserId).toBe(`VN${'1'.repeat(252)}é`);
      expect(mine.messageIssue).toBe(issue.slice(0, 255));
      expect(mine.restPath).toBe(`/${'p'.repeat(254)}`);
      for (const [k, v] of Object.entries(mine)) if (typeof v === 'string') expect(Array.from(v).length, k).toBeLessThanOrEqual(255);
    }
  });

  it('names the internal IPv4 address: the listener’s own, else the host’s first that is not loopback', () => {
    const nic = (address: string, family: 'IPv4' | 'IPv6', internal: boolean) => ({ address, family, internal, netmask: '', mac: '', cidr: null }) as never;
    const host = { lo: [nic('127.0.0.1', 'IPv4', true)], eth0: [nic('fe80::1', 'IPv6', false), nic('10.20.30.40', 'IPv4', false)] };
    expect(internalIp('192.168.1.5', host)).toBe('192.168.1.5');
    expect(internalIp('0.0.0.0', host)).toBe('10.20.30.40');
    expect(internalIp('::', host)).toBe('10.20.30.40');
    expect(internalIp(undefined, { lo: host.lo })).toBe('127.0.0.1');
  });

  it('counts characters as JSON Schema does: a character outside the BMP is kept or cut whole', () => {
    const s = `${'a'.repeat(254)}😀😀`;
    expect(fitField('messageUserId', s)).toBe(`${'a'.repeat(254)}😀`);
    expect(fitField('messageUserId', 'ngắn')).toBe('ngắn');
    expect(Array.from(fitField('faultString', 'x'.repeat(3000)))).toHaveLength(2048);
  });
});

describe('getSecurityServerHealthData (PR-OPMON 3)', () => {
  const health = async (who: Who, body = '<om:getSecurityServerHealthData/>') => {
    const r = await soap(who, opmonRequest({ client: who, code: 'getSecurityServerHealthData', body }));
    expect(r.status, r.text.slice(0, 2000)).toBe(200);
    const doc = new DOMParser().parseFromString(r.text, 'text/xml');
    const om = (el: XElement | XDocument, name: string) => Array.from(el.getElementsByTagNameNS(OPMON_NS, name));
    const services = om(doc, 'serviceEvents').map((e) => ({
      code: e.getElementsByTagNameNS('http://x-road.eu/xsd/identifiers', 'serviceCode')[0]!.textContent,
      value: (name: string) => om(e, name)[0]?.textContent ?? undefined,
    }));
    return { startup: Number(om(doc, 'monitoringStartupTimestamp')[0]!.textContent), period: Number(om(doc, 'statisticsPeriodSeconds')[0]!.textContent), services };
  };

  it('gives the owner each provided service’s last requests and the last period’s counts, durations and sizes', async () => {
    const h = await health(HCM);
    expect(h.period).toBe(600);
    expect(h.startup).toBeLessThanOrEqual(Date.now());
    const tt = h.services.find((s) => s.code === 'thong-tin')!;
    expect(Number(tt.value('successfulRequestCount'))).toBeGreaterThanOrEqual(4);
    expect(Number(tt.value('unsuccessfulRequestCount'))).toBe(0);
    expect(Number(tt.value('lastSuccessfulRequestTimestamp'))).toBeGreaterThanOrEqual(h.startup);
    expect(tt.value('lastUnsuccessfulRequestTimestamp')).toBeUndefined();
    expect(tt.value('serviceType')).toBe('REST');
    expect(Number(tt.value('requestMinDuration'))).toBeLessThanOrEqual(Number(tt.value('requestMaxDuration')));
    expect(Number(tt.value('responseMinSize'))).toBeGreaterThan(0);
    const refused = h.services.find((s) => s.code === 'khong-ton-tai')!;
    expect(Number(refused.value('unsuccessfulRequestCount'))).toBe(1);
    expect(Number(refused.value('lastUnsuccessfulRequestTimestamp'))).toBeGreaterThanOrEqual(h.startup);
    expect(refused.value('requestMinDuration')).toBeUndefined();
  });

  it('filters by the provider named, and shows any client every service', async () => {
    const other = `<om:getSecurityServerHealthData><om:filterCriteria><om:client id:objectType="SUBSYSTEM">${ids(VPCP)}<id:subsystemCode>vanthu</id:subsystemCode></om:client></om:filterCriteria></om:getSecurityServerHealthData>`;
    expect((await health(HCM, other)).services).toEqual([]);
    expect((await health(HCM, other.replace(ids(VPCP), ids(HCM)))).services.map((s) => s.code)).toContain('thong-tin');
    // X-Road's HealthDataRequestHandler filters by filterCriteria alone, never by the caller, as this server
    // now does: Văn phòng Chính phủ, which provides nothing here, sees Thành phố Hồ Chí Minh's services too
    expect((await health(VPCP)).services.map((s) => s.code)).toContain('thong-tin');
    expect((await health(BNV)).services.map((s) => s.code)).toContain('thong-tin');
  });
});

describe('getSecurityServerMetrics (PR-ENVMONMES)', () => {
  const metrics = async (who: Who) => soap(who, opmonRequest({ client: who, code: 'getSecurityServerMetrics', body: '<m:getSecurityServerMetrics xmlns:m="http://x-road.eu/xsd/monitoring"/>' }));

  it('gives the owner and the central monitoring client the server’s metric sets; others are refused', async () => {
    for (const who of [HCM, BNV]) {
      const r = await metrics(who);
      expect(r.status, r.text.slice(0, 2000)).toBe(200);
      const doc = new DOMParser().parseFromString(r.text, 'text/xml');
      const m = 'http://x-road.eu/xsd/monitoring';
      const top = doc.getElementsByTagNameNS(m, 'getSecurityServerMetricsResponse')[0]!;
      const name = (el: XElement) => Array.from(el.childNodes).find((c) => (c as XElement).localName === 'name')?.textContent;
      const sets = Array.from(top.getElementsByTagNameNS(m, 'metricSet')) as XElement[];
      expect(name(sets[0]!)).toBe('SERVER:VN/PROV/000.00.31.H29/ss-hcm');
      const value = (metricName: string) => {
        const el = (Array.from(top.getElementsByTagNameNS(m, 'name')) as XElement[]).find((n) => n.textContent === metricName);
        return el ? (el.parentNode as XElement).getElementsByTagNameNS(m, 'value')[0]?.textContent : undefined;
      };
      expect(value('proxyVersion')).toMatch(/^Trục \d+\.\d+\.\d+$/);
      expect(sets.map(name)).toEqual(expect.arrayContaining(['systemMetrics', 'Certificates', 'messageLog']));
      expect(Number(value('TotalPhysicalMemory'))).toBeGreaterThan(0);
      expect(Number(value('OpenFileDescriptorCount'))).toBeGreaterThan(0);
      // X-Road's type for a token's certificate, authentication or signing alike (was AUTH_CERT here)
      expect(value('certificateType')).toBe('AUTH_OR_SIGN');
      expect(value('active')).toBe('true');
      expect(value('refusingNewMessages')).toBe('false');
    }
    const denied = await metrics(VPCP);
    expect(denied.faultcode).toBe('Server.ServerProxy.AccessDenied');
    expect(denied.text).toMatch(/chỉ dành cho chủ sở hữu máy chủ và hệ thống giám sát trung tâm/);
  });
});

describe('the health data’s ten-minute window', () => {
  it('counts answered and failed requests a minute at a time, the answered ones’ durations and sizes; old minutes drop out', () => {
    const w = new ServedWindow();
    const t0 = Date.UTC(2026, 11, 7, 8, 0, 0);
    w.add(t0, true, 10, 100, 1000);
    w.add(t0 + 1000, true, 30, 300, 3000);
    w.add(t0 + 2000, false, 5000, 50, 0);
    w.add(t0 + 5 * 60_000, true, 20, 200, 2000);
    const s = w.summary(t0 + 5 * 60_000);
    expect([s.ok, s.failed]).toEqual([3, 1]);
    expect(s.duration).toEqual({ min: 10, avg: 20, max: 30, sd: Math.sqrt(200 / 3) });
    expect(s.requestSize).toMatchObject({ min: 100, max: 300, avg: 200 });
    expect(s.responseSize).toMatchObject({ min: 1000, max: 3000, avg: 2000 });
    // ten minutes on, the first minute is out of the window; eleven minutes of buckets keep only ten
    const later = w.summary(t0 + 10 * 60_000);
    expect([later.ok, later.failed]).toEqual([1, 0]);
    expect(later.duration).toEqual({ min: 20, avg: 20, max: 20, sd: 0 });
    for (let m = 6; m <= 16; m++) w.add(t0 + m * 60_000, true, m, 1, 1);
    expect(w.summary(t0 + 16 * 60_000).ok).toBe(10);
    // nothing in the window: counts of zero, no statistics
    expect(w.summary(t0 + 60 * 60_000)).toEqual({ ok: 0, failed: 0, duration: {}, requestSize: {}, responseSize: {} });
  });
});
