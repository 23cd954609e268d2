/**
 * WSDL descriptions (src/exchange/server/wsdl.ts): what is read of them, and what clients get.
 */
import { describe, expect, it } from 'vitest';
import { XROAD_ENDPOINT, describesService, parseWsdl, wsdlForClients } from '../../../src/exchange/server/wsdl.js';

const NS = 'xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:http="http://schemas.xmlsoap.org/wsdl/http/" xmlns:id="http://x-road.eu/xsd/identifiers"';

describe('WSDL descriptions', () => {
  it('reads the binding’s operations with their X-Road versions, else the port type’s', () => {
    const d = parseWsdl(
      `<wsdl:definitions name="hoSo" targetNamespace="urn:ho-so" ${NS}><wsdl:portType name="p"><wsdl:operation name="a"/><wsdl:operation name="b"/></wsdl:portType>` +
        `<wsdl:binding name="x" type="p"><wsdl:operation name="a"><id:version> v2 </id:version></wsdl:operation><wsdl:operation name="b"/></wsdl:binding></wsdl:definitions>`,
    );
    expect(d).toEqual({ format: 'wsdl', title: 'hoSo', targetNamespace: 'urn:ho-so', operations: [{ name: 'a', version: 'v2' }, { name: 'b' }] });
    expect([describesService(d, 'a', 'v2'), describesService(d, 'a', 'v1'), describesService(d, 'a'), describesService(d, 'b', 'v9'), describesService(d, 'c')]).toEqual([true, false, true, true, false]);
    expect(parseWsdl(`<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"><portType name="p"><operation name="a"/><operation name="a"/></portType></definitions>`).operations).toEqual([{ name: 'a' }]);
  });

  it('refuses what is not a WSDL 1.1 description, or is too deep or too large for one', () => {
    expect(() => parseWsdl(`<wsdl:definitions ${NS}/>`)).toThrow(/defines no operation/);
    expect(() => parseWsdl('<description xmlns="http://www.w3.org/ns/wsdl"/>')).toThrow(/not WSDL 1\.1 definitions/);
    expect(() => parseWsdl(`<wsdl:definitions ${NS}><wsdl:portType>`)).toThrow(/not well-formed/);
    expect(() => parseWsdl(`<!DOCTYPE d [<!ENTITY x "y">]><wsdl:definitions ${NS}/>`)).toThrow(/document type declaration/);
    const deep = `<wsdl:definitions ${NS}><wsdl:documentation>${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}</wsdl:documentation></wsdl:definitions>`;
    expect(() => parseWsdl(deep)).toThrow(/deeper than 256 levels/);
    expect(() => parseWsdl(`<wsdl:definitions ${NS}><!--${'x'.repeat(1 << 20)}--></wsdl:definitions>`)).toThrow(expect.objectContaining({ code: 'too_large' }));
  });

  it('hides every port’s endpoint address from clients, whatever the binding and quoting, and leaves the rest as written', () => {
    const doc =
      `<?xml version="1.0" encoding="UTF-8"?>\n<wsdl:definitions ${NS}>\n  <wsdl:portType name="p"><wsdl:operation name="a"/></wsdl:portType>\n` +
      `  <wsdl:documentation>Địa chỉ cũ: <![CDATA[<soap:address location="http://giu-nguyen"/>]]></wsdl:documentation>\n` +
      `  <wsdl:service name="s">\n` +
      `    <wsdl:port name="p1" binding="b1"><soap:address location="http://10.0.0.1/a"/></wsdl:port>\n` +
      `    <wsdl:port name="p2" binding="b2"><soap12:address\n        location = 'https://noi-bo.example/b?x=1&amp;y=2' /></wsdl:port>\n` +
      `    <wsdl:port name="p3" binding="b3"><http:address location="http://10.0.0.3/"></http:address></wsdl:port>\n` +
      `  </wsdl:service>\n</wsdl:definitions>\n`;
    const out = wsdlForClients(doc).toString('utf8');
    expect(out).toBe(
      doc
        .replace('location="http://10.0.0.1/a"', `location="${XROAD_ENDPOINT}"`)
        .replace(`location = 'https://noi-bo.example/b?x=1&amp;y=2'`, `location = "${XROAD_ENDPOINT}"`)
        .replace('location="http://10.0.0.3/"', `location="${XROAD_ENDPOINT}"`),
    );
    // the text inside the documentation is not an address
    expect(out).toContain('http://giu-nguyen');
  });
});
