/**
 * X-Road's SOAP protocol against a SOAP stack nobody on the team wrote (node-soap, `soap` on npm): the
 * provider's information system is a node-soap server publishing a WSDL; the WSDL is registered at the
 * provider's security server; the client fetches it through the axis with `getWsdl` (PR-META 4), builds a
 * node-soap client from it pointed at its own security server, adds X-Road's header and calls the service.
 * What node-soap writes must pass both servers, and what they carry back must be what node-soap reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { createHash, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as soap from 'soap';
import { startTestAxis, type TestAxis } from './setup.js';
import { parseService } from '../../../src/exchange/ids.js';
import { tmp } from '../../helpers/openssl.js';

const NS = 'http://vanthu.gov.vn/lienthong';
const SERVICE = 'SERVICE:VN/PROV/000.00.31.H29/vanthu/traCuuVanBan/v1';

const wsdlAt = (location: string) => `<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions name="vanThu" targetNamespace="${NS}" xmlns:tns="${NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:id="http://x-road.eu/xsd/identifiers">
  <wsdl:types>
    <xsd:schema targetNamespace="${NS}" elementFormDefault="qualified">
      <xsd:element name="traCuuVanBan"><xsd:complexType><xsd:sequence><xsd:element name="soHieu" type="xsd:string"/></xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="traCuuVanBanResponse"><xsd:complexType><xsd:sequence>
        <xsd:element name="trichYeu" type="xsd:string"/><xsd:element name="nguoiKy" type="xsd:string"/><xsd:element name="soTrang" type="xsd:int"/>
      </xsd:sequence></xsd:complexType></xsd:element>
    </xsd:schema>
  </wsdl:types>
  <wsdl:message name="traCuuVanBan"><wsdl:part name="body" element="tns:traCuuVanBan"/></wsdl:message>
  <wsdl:message name="traCuuVanBanResponse"><wsdl:part name="body" element="tns:traCuuVanBanResponse"/></wsdl:message>
  <wsdl:portType name="vanThuPortType">
    <wsdl:operation name="traCuuVanBan"><wsdl:input message="tns:traCuuVanBan"/><wsdl:output message="tns:traCuuVanBanResponse"/></wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="vanThuBinding" type="tns:vanThuPortType">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="traCuuVanBan">
      <soap:operation soapAction=""/>
      <id:version>v1</id:version>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="vanThuService">
    <wsdl:port name="vanThuPort" binding="tns:vanThuBinding"><soap:address location="${location}"/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>
`;

/** X-Road's header, as a client adds it to what its SOAP stack writes */
const xroadHeader = (id: string) =>
  `<xrd:client xmlns:xrd="http://x-road.eu/xsd/xroad.xsd" xmlns:id="http://x-road.eu/xsd/identifiers" id:objectType="SUBSYSTEM"><id:xRoadInstance>VN</id:xRoadInstance><id:memberClass>GOV</id:memberClass><id:memberCode>000.00.00.G22</id:memberCode><id:subsystemCode>vanthu</id:subsystemCode></xrd:client>` +
  `<xrd:service xmlns:xrd="http://x-road.eu/xsd/xroad.xsd" xmlns:id="http://x-road.eu/xsd/identifiers" id:objectType="SERVICE"><id:xRoadInstance>VN</id:xRoadInstance><id:memberClass>PROV</id:memberClass><id:memberCode>000.00.31.H29</id:memberCode><id:subsystemCode>vanthu</id:subsystemCode><id:serviceCode>traCuuVanBan</id:serviceCode><id:serviceVersion>v1</id:serviceVersion></xrd:service>` +
  `<xrd:id xmlns:xrd="http://x-road.eu/xsd/xroad.xsd">${id}</xrd:id>` +
  `<xrd:userId xmlns:xrd="http://x-road.eu/xsd/xroad.xsd">VN012345678901</xrd:userId>` +
  `<xrd:protocolVersion xmlns:xrd="http://x-road.eu/xsd/xroad.xsd">4.0</xrd:protocolVersion>`;

let t: TestAxis;
let is: http.Server;
const calls: { args: unknown; headers: unknown }[] = [];

beforeAll(async () => {
  is = http.createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((r) => is.listen(0, '127.0.0.1', r));
  const location = `http://127.0.0.1:${(is.address() as AddressInfo).port}/noi-bo/vanthu`;
  const server = soap.listen(
    is,
    '/noi-bo/vanthu',
    {
      vanThuService: {
        vanThuPort: {
          traCuuVanBan: (args: { soHieu: string }, _cb: unknown, headers: unknown) => {
            calls.push({ args, headers });
            return { trichYeu: `Về việc tiếp nhận văn bản ${args.soHieu}`, nguoiKy: 'Trần Văn Đức', soTrang: 3 };
          },
        },
      },
    },
    wsdlAt(location),
  );
  // X-Road's rule for a provider: the response repeats the request's header (PR-MESS 2.2)
  server.addSoapHeader((_method: string, _args: unknown, headers: Record<string, unknown>) => echoHeader(headers));
  t = await startTestAxis();
  const hcm = t.axis.members[2]!;
  await hcm.server.store.putService(parseService(SERVICE), location);
  await hcm.server.store.grant({ service: SERVICE, subject: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu', method: '*', path: '*' });
  await hcm.server.store.describeService(parseService(SERVICE), wsdlAt(location));
}, 180_000);

afterAll(async () => {
  await t?.close();
  await new Promise((r) => is?.close(r));
});

/** the header node-soap parsed out of the request, written back as X-Road's (the provider's side of PR-MESS 2.2) */
function echoHeader(h: Record<string, any>): string {
  const X = 'xmlns:xrd="http://x-road.eu/xsd/xroad.xsd" xmlns:id="http://x-road.eu/xsd/identifiers"';
  const ident = (tag: string, v: Record<string, any>) =>
    `<xrd:${tag} ${X} id:objectType="${v.attributes['id:objectType']}">` +
    ['xRoadInstance', 'memberClass', 'memberCode', 'subsystemCode', 'serviceCode', 'serviceVersion'].filter((k) => v[k] !== undefined).map((k) => `<id:${k}>${v[k]}</id:${k}>`).join('') +
    `</xrd:${tag}>`;
  const text = (tag: string) => (h[tag] === undefined ? '' : `<xrd:${tag} ${X}>${h[tag]}</xrd:${tag}>`);
  return ident('client', h.client) + ident('service', h.service) + text('id') + text('userId') + text('issue') + text('protocolVersion');
}

describe('X-Road SOAP with node-soap on both ends', () => {
  it('a node-soap client built from the WSDL fetched with getWsdl calls a node-soap service through both servers', async () => {
    const vpcp = t.axis.members[0]!;
    const getWsdl =
      `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xrd="http://x-road.eu/xsd/xroad.xsd" xmlns:id="http://x-road.eu/xsd/identifiers"><SOAP-ENV:Header>` +
      xroadHeader(randomUUID()).replace('<id:serviceCode>traCuuVanBan</id:serviceCode><id:serviceVersion>v1</id:serviceVersion>', '<id:serviceCode>getWsdl</id:serviceCode>') +
      `</SOAP-ENV:Header><SOAP-ENV:Body><xrd:getWsdl><xrd:serviceCode>traCuuVanBan</xrd:serviceCode><xrd:serviceVersion>v1</xrd:serviceVersion></xrd:getWsdl></SOAP-ENV:Body></SOAP-ENV:Envelope>`;
    const r = await fetch(`${vpcp.isUrl}/`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: getWsdl });
    const text = await r.text();
    expect(r.status, text).toBe(200);
    const boundary = /boundary="?([^";]+)"?/.exec(r.headers.get('content-type')!)![1]!;
    const wsdl = text.split(`--${boundary}`)[2]!.split('\r\n\r\n').slice(1).join('\r\n\r\n').slice(0, -2);
    expect(wsdl).toContain('http://example.org/xroad-endpoint');
    const file = join(tmp('truc-wsdl-'), 'vanthu.wsdl');
    writeFileSync(file, wsdl);
    // the client's stack points at its own security server, as X-Road's clients do
    const client = await soap.createClientAsync(file, { endpoint: `${vpcp.isUrl}/` });
    const id = randomUUID();
    client.addSoapHeader(xroadHeader(id));
    const [result, raw] = await client.traCuuVanBanAsync({ soHieu: '7816/VPCP-TTĐT' });
    expect(result).toEqual({ trichYeu: 'Về việc tiếp nhận văn bản 7816/VPCP-TTĐT', nguoiKy: 'Trần Văn Đức', soTrang: 3 });
    // the service got what node-soap wrote, X-Road's header with it; the client got requestHash, the SHA-512
    // of the request as its stack sent it
    expect(calls).toEqual([{ args: { soHieu: '7816/VPCP-TTĐT' }, headers: expect.objectContaining({ id, userId: 'VN012345678901', protocolVersion: '4.0' }) }]);
    const hash = createHash('sha512').update(client.lastRequest!, 'utf8').digest('base64');
    expect(raw).toContain(`algorithmId="http://www.w3.org/2001/04/xmlenc#sha512">${hash}</xrd:requestHash>`);
    // the same id again is a replay; without X-Road's header the client's server refuses before anything
    // leaves it — both as SOAP faults node-soap reads
    const fault = async (call: Promise<unknown>) => {
      try {
        await call;
      } catch (e) {
        return (e as { root?: { Envelope?: { Body?: { Fault?: { faultcode?: string } } } } }).root?.Envelope?.Body?.Fault?.faultcode;
      }
      return 'answered';
    };
    expect(await fault(client.traCuuVanBanAsync({ soHieu: '1' }))).toBe('Server.ServerProxy.InvalidMessage');
    client.clearSoapHeaders();
    expect(await fault(client.traCuuVanBanAsync({ soHieu: '1' }))).toBe('Client.MissingHeader');
    expect(calls).toHaveLength(1);
  });
});
