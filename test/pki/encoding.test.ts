import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, CertificateList, Name, AttributeTypeAndValue, AttributeValue, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import { X509Certificate } from 'node:crypto';
import { oid, int, time, namedBits, uintFromBytes, enumerated, seq, set } from '../../src/asn1/der.js';
import { decodeOid, checkTree } from '../../src/asn1/reader.js';
import { encodeName, decodeName, parseNameString, nameToString } from '../../src/pki/name.js';
import { generateCrl, revoke, listCas } from '../../src/pki/index.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('DER building blocks', () => {
  it('encodes OIDs, integers, times and bit strings as X.690 DER', () => {
    expect(hex(oid('1.2.840.113549.1.1.11'))).toBe('06092a864886f70d01010b');
    expect(hex(oid('2.5.29.32.0'))).toBe('0604551d2000');
    // 704 = 5·128 + 64: two base-128 digits (openssl asn1parse -genstr OID:2.16.704.1.101.1.1 agrees)
    expect(hex(oid('2.16.704.1.101.1.1'))).toBe('060760854001650101');
    expect(decodeOid(oid('1.3.6.1.4.1.311.10.3.12').subarray(2))).toBe('1.3.6.1.4.1.311.10.3.12');
    expect(hex(int(0))).toBe('020100');
    expect(hex(int(127))).toBe('02017f');
    expect(hex(int(128))).toBe('02020080');
    expect(hex(int(65537))).toBe('0203010001');
    expect(hex(uintFromBytes(Buffer.from('00ff', 'hex')))).toBe('020200ff');
    expect(hex(enumerated(6))).toBe('0a0106');
    expect(time(new Date('2049-12-31T23:59:59Z')).toString('latin1').slice(2)).toBe('491231235959Z');
    expect(time(new Date('2050-01-01T00:00:00Z'))[0]).toBe(0x18); // GeneralizedTime from 2050 (RFC 5280)
    // keyUsage digitalSignature + nonRepudiation: 2 bits, 6 unused
    expect(hex(namedBits([0, 1]))).toBe('030206c0');
    // keyCertSign + cRLSign: bits 5 and 6, 1 unused
    expect(hex(namedBits([5, 6]))).toBe('03020106');
  });

  it('encodes names byte-equal to the @peculiar/asn1-x509 schema encoder', () => {
    const attrs = parseNameString('CN=Nguyễn Văn A, O=Bộ Nội vụ\\, Cục X, C=VN');
    expect(attrs[1].value).toBe('Bộ Nội vụ, Cục X');
    const ours = encodeName(attrs);
    const theirs = Buffer.from(
      AsnConvert.serialize(
        new Name([
          new RelativeDistinguishedName([new AttributeTypeAndValue({ type: '2.5.4.3', value: new AttributeValue({ utf8String: 'Nguyễn Văn A' }) })]),
          new RelativeDistinguishedName([new AttributeTypeAndValue({ type: '2.5.4.10', value: new AttributeValue({ utf8String: 'Bộ Nội vụ, Cục X' }) })]),
          new RelativeDistinguishedName([new AttributeTypeAndValue({ type: '2.5.4.6', value: new AttributeValue({ printableString: 'VN' }) })]),
        ]),
      ),
    );
    expect(hex(ours)).toBe(hex(theirs));
    expect(decodeName(ours)).toEqual(attrs);
    expect(parseNameString(nameToString(attrs))).toEqual(attrs);
  });

  it('refuses name strings whose bytes are not the text their tag promises, and composes what it decodes', () => {
    const nameWith = (tag: number, value: Buffer) => seq(set(seq(oid('2.5.4.3'), Buffer.concat([Buffer.from([tag, value.length]), value]))));
    expect(() => decodeName(nameWith(0x1e, Buffer.from([0x00, 0x41, 0x00])))).toThrow(expect.objectContaining({ code: 'malformed_der' }));
    expect(() => decodeName(nameWith(0x0c, Buffer.from([0xc3, 0x28])))).toThrow(expect.objectContaining({ code: 'malformed_der' }));
    expect(() => decodeName(nameWith(0x1c, Buffer.from([0, 0, 0])))).toThrow(expect.objectContaining({ code: 'malformed_der' }));
    expect(() => decodeName(nameWith(0x1c, Buffer.from([0, 0x11, 0, 0])))).toThrow(expect.objectContaining({ code: 'malformed_der' }));
    expect(decodeName(nameWith(0x1e, Buffer.from('Nỗi', 'utf16le').swap16()))[0].value).toBe('Nỗi');
    expect(decodeName(nameWith(0x1c, Buffer.from([0, 0, 0x1e, 0xa1])))[0].value).toBe('ạ');
    // a decomposed UTF8String comes back composed, the form we encode and search
    expect(decodeName(nameWith(0x0c, Buffer.from('Nguyễn'.normalize('NFD'))))[0].value).toBe('Nguyễn'.normalize('NFC'));
  });

  it('bounds depth and lengths: deep nesting and huge or overlong length fields are malformed, not followed', () => {
    let deep: Buffer = Buffer.from([0x05, 0x00]);
    for (let i = 0; i < 40; i++) deep = seq(deep);
    expect(() => checkTree(deep, 'x', 32)).toThrow(/nesting deeper than 32/);
    expect(() => checkTree(deep, 'x', 64)).not.toThrow();
    // a 4-byte length announcing 4 GiB, with 3 bytes behind it
    expect(() => checkTree(Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]))).toThrow(/runs past the end/);
    // a length of length beyond 4 bytes, and a long form where the short form would do
    expect(() => checkTree(Buffer.from([0x30, 0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrow(/bad length of length/);
    expect(() => checkTree(Buffer.from([0x30, 0x81, 0x01, 0x00]))).toThrow(/non-minimal/);
    // many siblings: the element count is bounded as well
    const wide = seq(Buffer.alloc(2 * 100_001, Buffer.from([0x05, 0x00])));
    expect(() => checkTree(wide)).toThrow(/too many elements/);
  });

  it('rejects DER nested past its depth bound without recursion', () => {
    let b = Buffer.from([0x05, 0x00]);
    for (let i = 0; i < 100; i++) b = Buffer.concat([Buffer.from([0x30, b.length < 128 ? b.length : 0x81]), ...(b.length >= 128 ? [Buffer.from([b.length])] : []), b]);
    expect(() => checkTree(b.subarray(0, Math.min(b.length, 250)))).toThrow();
  });
});

describe('certificates and CRLs re-encode byte-equal through the schema encoder', () => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await testPlatform('memory://');
  });
  afterAll(async () => p?.close());

  it('issued certificates, CA certificates and CRLs are canonical DER', async () => {
    const dir = tmp();
    const ders: Buffer[] = (await listCas(p.db)).map((c) => c.certificate);
    for (const [profile, subj, alt] of [
      ['tls-server', '/CN=a.gov.vn', { dns: ['a.gov.vn'], ip: ['10.0.0.1', 'fd00:db8::1'] }],
      ['official-signing', '/CN=Lê Thị C/O=Bộ Y tế/C=VN', { email: ['c@moh.gov.vn'] }],
      ['ocsp-signing', '/CN=OCSP/O=Trục', undefined],
    ] as const) {
      const issued = await p.issuer.issue({ profile, csr: opensslCsr(dir, subj).csr, altNames: alt as any }, 'ra');
      ders.push(issued.der);
      if (profile === 'tls-server') {
        await revoke(p.pki, { serial: issued.serial, reason: 'superseded', invalidityDate: new Date('2026-01-01T00:00:00Z') }, 'ra');
        const x = new X509Certificate(issued.der);
        expect(x.subjectAltName).toBe('DNS:a.gov.vn, IP Address:10.0.0.1, IP Address:FD00:DB8:0:0:0:0:0:1');
      }
    }
    for (const der of ders) {
      const parsed = AsnConvert.parse(der, Certificate);
      expect(hex(Buffer.from(AsnConvert.serialize(parsed)))).toBe(hex(der));
    }
    const full = await generateCrl(p.pki, 'issuing', 'admin');
    const delta = await generateCrl(p.pki, 'issuing', 'admin', { delta: true });
    for (const crl of [full.der, delta.der]) {
      const parsed = AsnConvert.parse(crl, CertificateList);
      expect(hex(Buffer.from(AsnConvert.serialize(parsed)))).toBe(hex(crl));
    }
  });
});
