/**
 * A certificate decoded for people (src/pki/describe.ts), against what `openssl x509 -text` says of the
 * same certificate — made by openssl with many extensions, so the decoder is checked against a producer
 * we did not write.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeCertificate } from '../../src/pki/index.js';
import { TrucError } from '../../src/errors.js';
import { openssl, tmp } from '../helpers/openssl.js';

describe('describeCertificate', () => {
  it('names every extension openssl put in, with values openssl agrees with', () => {
    const dir = tmp('truc-describe-');
    writeFileSync(
      join(dir, 'ext.cnf'),
      [
        '[ext]',
        'basicConstraints = critical, CA:TRUE, pathlen:1',
        'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
        'extendedKeyUsage = serverAuth, clientAuth, 1.3.6.1.4.1.311.10.3.12',
        'subjectAltName = DNS:cong.gov.vn, IP:10.0.0.7, email:vanthu@bnv.gov.vn',
        'authorityInfoAccess = OCSP;URI:http://ocsp.truc.test/ocsp',
        'crlDistributionPoints = URI:http://crl.truc.test/issuing.crl',
        'certificatePolicies = 2.16.704.1.101.1.2.1',
        'subjectKeyIdentifier = hash',
        'nameConstraints = critical, permitted;DNS:.gov.vn',
        '1.2.3.4.5 = ASN1:UTF8String:phần mở rộng riêng',
      ].join('\n'),
    );
    const key = join(dir, 'k.pem');
    const cert = join(dir, 'c.pem');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', key, '-out', cert, '-subj', '/C=VN/O=Bộ Nội vụ/CN=CA thử', '-utf8', '-days', '30', '-extensions', 'ext', '-config', join(dir, 'ext.cnf'), '-sha384']);
    const text = openssl(['x509', '-in', cert, '-noout', '-text', '-fingerprint', '-sha256']);
    const d = describeCertificate(Buffer.from(readFileSync(cert, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64'));
    expect(d.version).toBe(3);
    expect(d.subject).toMatch(/CN=CA thử/);
    expect(d.signatureAlgorithm).toBe('ECDSA with SHA-384');
    expect(text).toMatch(/ecdsa-with-SHA384/);
    expect(d.publicKey).toBe('EC secp384r1');
    expect(text).toMatch(/NIST CURVE: P-384|secp384r1/);
    expect(d.sha256.toUpperCase()).toBe(/sha256 Fingerprint=([0-9A-F:]+)/i.exec(text)![1]!.replace(/:/g, ''));
    const by = (oid: string) => d.extensions.find((x) => x.oid === oid)!;
    expect(by('2.5.29.19')).toMatchObject({ name: 'Ràng buộc cơ bản', nameEn: 'Basic Constraints', critical: true });
    expect(by('2.5.29.19').value[0]).toMatch(/CA: có \(yes\), độ dài đường tối đa \(path length\) 1/);
    expect(by('2.5.29.15').value).toEqual(['ký số (digitalSignature)', 'ký chứng thư (keyCertSign)', 'ký CRL (cRLSign)']);
    expect(by('2.5.29.37').value).toEqual([
      'xác thực máy chủ (serverAuth, 1.3.6.1.5.5.7.3.1)',
      'xác thực máy khách (clientAuth, 1.3.6.1.5.5.7.3.2)',
      'ký văn bản (documentSigning, 1.3.6.1.4.1.311.10.3.12)',
    ]);
    expect(by('2.5.29.17').value).toEqual(['DNS: cong.gov.vn', 'IP: 10.0.0.7', 'email: vanthu@bnv.gov.vn']);
    expect(by('1.3.6.1.5.5.7.1.1').value).toEqual(['OCSP: http://ocsp.truc.test/ocsp']);
    expect(by('2.5.29.31').value).toEqual(['URI: http://crl.truc.test/issuing.crl']);
    expect(by('2.5.29.32').value).toEqual(['2.16.704.1.101.1.2.1']);
    expect(by('2.5.29.30').value).toEqual(['cho phép (permitted) DNS: .gov.vn']);
    // the subject key identifier is the one openssl prints
    const ski = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(text)![1]!;
    expect(by('2.5.29.14').value).toEqual([ski]);
    // an extension nobody named: by OID, with its bytes
    expect(by('1.2.3.4.5')).toMatchObject({ nameEn: '1.2.3.4.5', critical: false });
    expect(by('1.2.3.4.5').value[0]).toMatch(/^0C:/);
    expect(d.extensions).toHaveLength(10);
  });

  it('refuses what is not a certificate with a clear error', () => {
    expect(() => describeCertificate(Buffer.from('30030201', 'hex'))).toThrow(TrucError);
  });
});
