import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { toPem } from '../../src/asn1/der.js';
import { decodeName, generateCrl, release, revoke, searchCerts, listCas, getCert } from '../../src/pki/index.js';
import { verifyAuditChain } from '../../src/audit/index.js';
import { tbsOf } from '../../src/pki/certificate.js';
import { testDatabaseUrls } from '../helpers/db.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { openssl, opensslCsr, opensslStatus, tmp, writePem } from '../helpers/openssl.js';

for (const { name, url } of testDatabaseUrls()) {
  describe(`CA on ${name}`, () => {
    let p: TestPlatform;
    let dir: string;
    let rootPem: string;
    let issuingPem: string;
    let rootPath: string;
    let issuingPath: string;

    beforeAll(async () => {
      p = await testPlatform(await url());
      dir = tmp();
      const cas = await listCas(p.db);
      rootPem = toPem('CERTIFICATE', cas.find((c) => c.id === 'root')!.certificate);
      issuingPem = toPem('CERTIFICATE', cas.find((c) => c.id === 'issuing')!.certificate);
      rootPath = writePem(dir, 'root.pem', rootPem);
      issuingPath = writePem(dir, 'issuing.pem', issuingPem);
    });
    afterAll(async () => p?.close());

    it('builds a hierarchy openssl accepts: self-signed root, issuing CA with path length 0', () => {
      expect(opensslStatus(['verify', '-CAfile', rootPath, issuingPath]).out).toMatch(/OK/);
      const text = openssl(['x509', '-in', issuingPath, '-noout', '-text']);
      expect(text).toMatch(/CA:TRUE, pathlen:0/);
      expect(text).toMatch(/Certificate Sign, CRL Sign/);
      expect(text).toMatch(/URI:http:\/\/127.0.0.1:8080\/pki\/crl\/root.crl/);
    });

    it('issues from an openssl CSR a certificate openssl verifies, with the profile’s extensions', async () => {
      const { csr, keyPath } = opensslCsr(dir, '/CN=sec1.bonoivu.gov.vn/O=Bộ Nội vụ/C=VN');
      const issued = await p.issuer.issue({ profile: 'agency-auth', csr, altNames: { dns: ['sec1.bonoivu.gov.vn'] } }, 'ra1');
      const certPath = writePem(dir, 'agency.pem', toPem('CERTIFICATE', issued.der));
      expect(openssl(['verify', '-CAfile', rootPath, '-untrusted', issuingPath, '-purpose', 'sslclient', certPath])).toMatch(/OK/);
      expect(openssl(['verify', '-CAfile', rootPath, '-untrusted', issuingPath, '-purpose', 'sslserver', certPath])).toMatch(/OK/);
      const text = openssl(['x509', '-in', certPath, '-noout', '-text']);
      expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
      expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment/);
      expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
      expect(text).toMatch(/Policy: 2.16.704.1.101.1.1/);
      expect(text).toMatch(/OCSP - URI:http:\/\/127.0.0.1:8080\/ocsp/);
      expect(text).toMatch(/CA Issuers - URI:http:\/\/127.0.0.1:8080\/pki\/ca\/issuing.cer/);
      expect(text).toMatch(/DNS:sec1.bonoivu.gov.vn/);
      // the certificate carries the CSR's key: openssl's private key matches it
      const certKey = openssl(['x509', '-in', certPath, '-noout', '-pubkey']);
      const privKey = openssl(['pkey', '-in', keyPath, '-pubout']);
      expect(certKey).toBe(privKey);
    });

    it('keeps Vietnamese names with diacritics as UTF8String and returns them unchanged', async () => {
      const subject = '/CN=Nguyễn Thị Hương Giang/O=Ủy ban nhân dân Thành phố Hồ Chí Minh/OU=Sở Thông tin và Truyền thông/C=VN';
      const { csr } = opensslCsr(dir, subject);
      const issued = await p.issuer.issue({ profile: 'official-signing', csr }, 'ra1');
      const { fields } = tbsOf(issued.der);
      const names = decodeName(fields[5]);
      expect(names).toEqual([
        { type: 'CN', value: 'Nguyễn Thị Hương Giang' },
        { type: 'O', value: 'Ủy ban nhân dân Thành phố Hồ Chí Minh' },
        { type: 'OU', value: 'Sở Thông tin và Truyền thông' },
        { type: 'C', value: 'VN' },
      ]);
      // CN is a UTF8String (tag 0x0c), C a PrintableString (0x13)
      const asn1 = openssl(['asn1parse', '-inform', 'DER'], issued.der);
      expect(asn1).toMatch(/UTF8STRING\s+:Nguy/);
      expect(asn1).toMatch(/PRINTABLESTRING\s+:VN/);
      expect(new X509Certificate(issued.der).subject).toContain('Nguyễn Thị Hương Giang');
      // openssl prints the names back unchanged with -nameopt utf8, each attribute of the type we chose
      const pemPath = writePem(dir, 'vn.pem', toPem('CERTIFICATE', issued.der));
      expect(openssl(['x509', '-in', pemPath, '-noout', '-subject', '-nameopt', 'utf8']).trim()).toBe(
        'subject=CN=Nguyễn Thị Hương Giang, O=Ủy ban nhân dân Thành phố Hồ Chí Minh, OU=Sở Thông tin và Truyền thông, C=VN',
      );
      expect(openssl(['x509', '-in', pemPath, '-noout', '-subject', '-nameopt', 'utf8,show_type']).trim()).toBe(
        'subject=CN=UTF8STRING:Nguyễn Thị Hương Giang, O=UTF8STRING:Ủy ban nhân dân Thành phố Hồ Chí Minh, OU=UTF8STRING:Sở Thông tin và Truyền thông, C=PRINTABLESTRING:VN',
      );
      // a name given decomposed (NFD, as some keyboards and macOS file names produce) is stored composed
      const nfd = await p.issuer.issue({ profile: 'official-signing', csr, subject: 'CN=Nguyễn Văn Bình, O=Bộ Nội vụ, C=VN'.normalize('NFD') }, 'ra1');
      expect(decodeName(tbsOf(nfd.der).fields[5])[0].value).toBe('Nguyễn Văn Bình'.normalize('NFC'));
      expect(nfd.subject).toBe('CN=Nguyễn Văn Bình, O=Bộ Nội vụ, C=VN'.normalize('NFC'));
      expect((await searchCerts(p.db, { subject: 'nguyễn văn bình'.normalize('NFC') })).map((c) => c.serial)).toEqual([nfd.serial]);
    });

    it('issues every profile with the key usages and EKUs openssl expects', async () => {
      const cases: [string, string, Record<string, string[]> | undefined, RegExp[]][] = [
        ['agency-signing', '/CN=Bộ Tài chính/O=Bộ Tài chính/C=VN', undefined, [/Digital Signature, Non Repudiation/]],
        ['official-signing', '/CN=Trần Văn B/O=Bộ Tư pháp/C=VN', { email: ['b@moj.gov.vn'] }, [/E-mail Protection/, /email:b@moj.gov.vn/]],
        ['tls-server', '/CN=dichvucong.gov.vn', { dns: ['dichvucong.gov.vn', 'www.dichvucong.gov.vn'] }, [/TLS Web Server Authentication/, /DNS:www.dichvucong.gov.vn/]],
        ['ocsp-signing', '/CN=OCSP Responder/O=Trục', undefined, [/OCSP Signing/, /OCSP No Check/]],
        ['time-stamping', '/CN=Trục TSA/O=Trục/C=VN', undefined, [/Extended Key Usage: critical\s+Time Stamping/]],
      ];
      for (const [profile, subject, altNames, expects] of cases) {
        const { csr } = opensslCsr(dir, subject);
        const issued = await p.issuer.issue({ profile, csr, altNames }, 'ra1');
        const path = writePem(dir, `${profile}.pem`, toPem('CERTIFICATE', issued.der));
        expect(openssl(['verify', '-CAfile', rootPath, '-untrusted', issuingPath, path])).toMatch(/OK/);
        const text = openssl(['x509', '-in', path, '-noout', '-text']);
        for (const re of expects) expect(text, `${profile}: ${re}`).toMatch(re);
      }
      const tsa = writePem(dir, 'tsa.pem', toPem('CERTIFICATE', (await searchCerts(p.db, { profile: 'time-stamping' }))[0].der));
      expect(opensslStatus(['verify', '-CAfile', rootPath, '-untrusted', issuingPath, '-purpose', 'timestampsign', tsa]).out).toMatch(/OK/);
    });

    it('takes RSA 2048 with PSS and Ed25519 requests', async () => {
      const rsa = opensslCsr(dir, '/CN=RSA Agency/O=Bộ Công an/C=VN', ['-newkey', 'rsa:2048', '-sigopt', 'rsa_padding_mode:pss']);
      const r = await p.issuer.issue({ profile: 'agency-signing', csr: rsa.csr }, 'ra1');
      expect(r.serial).toMatch(/^[0-7][0-9a-f]{31}$/);
      const ed = opensslCsr(dir, '/CN=Ed Agency/O=Bộ Y tế/C=VN', ['-newkey', 'ed25519']);
      const e = await p.issuer.issue({ profile: 'agency-signing', csr: ed.csr }, 'ra1');
      expect(new X509Certificate(e.der).publicKey.asymmetricKeyType).toBe('ed25519');
    });

    it('gives random, 16-byte, unique serials under concurrent batch issuance, each stored', async () => {
      const { csr } = opensslCsr(dir, '/CN=batch/O=Bộ Nội vụ/C=VN');
      const results = await Promise.all(
        Array.from({ length: 60 }, () => p.issuer.issue({ profile: 'agency-signing', csr }, 'bulk')),
      );
      const serials = new Set(results.map((r) => r.serial));
      expect(serials.size).toBe(60);
      for (const s of serials) expect(s).toHaveLength(32);
      const stored = await searchCerts(p.db, { subject: 'CN=batch', limit: 1000 });
      expect(stored.length).toBe(60);
      for (const r of results.slice(0, 5)) expect((await getCert(p.db, r.serial))!.der.equals(r.der)).toBe(true);
    });

    it('is idempotent on a request id, and refuses the id for a different request', async () => {
      const a = opensslCsr(dir, '/CN=Idem/O=Bộ Nội vụ/C=VN');
      const first = await p.issuer.issue({ profile: 'agency-signing', csr: a.csr, requestId: 'req-42' }, 'ra1');
      const again = await p.issuer.issue({ profile: 'agency-signing', csr: a.csr, requestId: 'req-42' }, 'ra1');
      expect(first.replayed).toBe(false);
      expect(again.replayed).toBe(true);
      expect(again.serial).toBe(first.serial);
      expect(again.der.equals(first.der)).toBe(true);
      const b = opensslCsr(dir, '/CN=Other/O=Bộ Nội vụ/C=VN');
      await expect(p.issuer.issue({ profile: 'agency-signing', csr: b.csr, requestId: 'req-42' }, 'ra1')).rejects.toMatchObject({
        code: 'duplicate_request',
      });
      // concurrent duplicates in one batch: one certificate
      const c = opensslCsr(dir, '/CN=Concurrent/O=Bộ Nội vụ/C=VN');
      const both = await Promise.all([
        p.issuer.issue({ profile: 'agency-signing', csr: c.csr, requestId: 'req-43' }, 'ra1'),
        p.issuer.issue({ profile: 'agency-signing', csr: c.csr, requestId: 'req-43' }, 'ra1'),
      ]);
      expect(both[0].serial).toBe(both[1].serial);
      expect((await searchCerts(p.db, { subject: 'CN=Concurrent' })).length).toBe(1);
    });

    it('searches by subject, profile, status and validity', async () => {
      expect((await searchCerts(p.db, { subject: 'nguyễn thị hương' })).length).toBe(1);
      expect((await searchCerts(p.db, { profile: 'tls-server' })).length).toBe(1);
      expect((await searchCerts(p.db, { validAt: new Date('2000-01-01') })).length).toBe(0);
      expect((await searchCerts(p.db, { expiresBefore: new Date(Date.now() + 400 * 86400_000), profile: 'tls-server' })).length).toBe(1);
    });

    it('revokes, holds and releases; full and delta CRLs verify in openssl and list the right serials', async () => {
      const mk = async (cn: string) =>
        p.issuer.issue({ profile: 'agency-signing', csr: opensslCsr(dir, `/CN=${cn}/O=Bộ Nội vụ/C=VN`).csr }, 'ra1');
      const revoked = await mk('Revoked');
      const held = await mk('Held');
      const good = await mk('Good');
      await revoke(p.pki, { serial: revoked.serial, reason: 'keyCompromise' }, 'ra1');
      await revoke(p.pki, { serial: held.serial, reason: 'certificateHold' }, 'ra1');
      await expect(revoke(p.pki, { serial: revoked.serial, reason: 'superseded' }, 'ra1')).rejects.toMatchObject({ code: 'already_revoked' });
      await expect(release(p.pki, good.serial, 'ra1')).rejects.toMatchObject({ code: 'not_on_hold' });

      const full = await generateCrl(p.pki, 'issuing', 'admin');
      const crlPath = join(dir, 'full.crl');
      writeFileSync(crlPath, full.der);
      const text = openssl(['crl', '-inform', 'DER', '-in', crlPath, '-CAfile', issuingPath, '-noout', '-text']);
      expect(opensslStatus(['crl', '-inform', 'DER', '-in', crlPath, '-CAfile', issuingPath, '-noout']).out).toMatch(/verify OK/);
      expect(text).toContain(revoked.serial.toUpperCase());
      expect(text).toContain(held.serial.toUpperCase());
      expect(text).not.toContain(good.serial.toUpperCase());
      expect(text).toMatch(/Key Compromise/);
      expect(text).toMatch(/Certificate Hold/);
      expect(text).toMatch(/Freshest CRL/);

      // openssl verify with CRL checking rejects the revoked and the held certificate, accepts the good one
      const rootCrl = await generateCrl(p.pki, 'root', 'admin');
      const crls = writePem(dir, 'crls.pem', toPem('X509 CRL', full.der) + toPem('X509 CRL', rootCrl.der));
      const check = (der: Buffer) =>
        opensslStatus(['verify', '-crl_check_all', '-CRLfile', crls, '-CAfile', rootPath, '-untrusted', issuingPath, writePem(dir, 'x.pem', toPem('CERTIFICATE', der))]);
      expect(check(revoked.der).out).toMatch(/certificate revoked/);
      expect(check(held.der).out).toMatch(/certificate revoked/);
      expect(check(good.der).out).toMatch(/OK/);

      // release from hold: the next delta lists it as removeFromCRL; the next full CRL no longer has it
      await release(p.pki, held.serial, 'ra1');
      const revoked2 = await mk('Revoked later');
      await revoke(p.pki, { serial: revoked2.serial, reason: 'superseded' }, 'ra1');
      const delta = await generateCrl(p.pki, 'issuing', 'admin', { delta: true });
      expect(delta.number).toBeGreaterThan(full.number);
      expect(delta.baseNumber).toBe(full.number);
      const deltaPath = join(dir, 'delta.crl');
      writeFileSync(deltaPath, delta.der);
      const dtext = openssl(['crl', '-inform', 'DER', '-in', deltaPath, '-CAfile', issuingPath, '-noout', '-text']);
      expect(dtext).toMatch(/Delta CRL Indicator: critical\s+\d+/);
      expect(dtext).toContain(held.serial.toUpperCase());
      expect(dtext).toMatch(/Remove From CRL/);
      expect(dtext).toContain(revoked2.serial.toUpperCase());
      expect(dtext).not.toContain(revoked.serial.toUpperCase());
      const full2 = await generateCrl(p.pki, 'issuing', 'admin');
      expect(full2.number).toBe(delta.number + 1);
      const f2 = openssl(['crl', '-inform', 'DER', '-noout', '-text'], full2.der);
      expect(f2).not.toContain(held.serial.toUpperCase());
      expect(f2).toContain(revoked2.serial.toUpperCase());
    });

    it('numbers CRLs monotonically, bases each delta on the latest full CRL, and openssl verify -crl_check agrees with them', async () => {
      const mk = async (cn: string) => {
        const r = await p.issuer.issue({ profile: 'official-signing', csr: opensslCsr(dir, `/C=VN/O=Bộ Nội vụ/CN=${cn}`).csr }, 'ra1');
        return { ...r, path: writePem(dir, `${r.serial}.pem`, toPem('CERTIFICATE', r.der)) };
      };
      const revokedEarly = await mk('Thu hồi sớm');
      const held = await mk('Tạm dừng');
      const revokedLate = await mk('Thu hồi muộn');
      const untouched = await mk('Không đổi');
      await revoke(p.pki, { serial: revokedEarly.serial, reason: 'keyCompromise' }, 'ra1');
      await revoke(p.pki, { serial: held.serial, reason: 'certificateHold' }, 'ra1');

      const crlText = (der: Buffer) => openssl(['crl', '-inform', 'DER', '-noout', '-text'], der);
      const numberOf = (text: string, ext: string) => Number(new RegExp(`${ext}:(?: critical)?\\s+(\\d+)`).exec(text)?.[1]);
      const verifiesWith = (der: Buffer) => {
        const path = join(dir, `crl-${Math.random().toString(36).slice(2)}.crl`);
        writeFileSync(path, der);
        return opensslStatus(['crl', '-verify', '-inform', 'DER', '-in', path, '-CAfile', issuingPath, '-noout']).out;
      };
      const full1 = await generateCrl(p.pki, 'issuing', 'admin');
      const delta1 = await generateCrl(p.pki, 'issuing', 'admin', { delta: true });
      // hold released, another certificate revoked after the full CRL: only the delta knows
      await release(p.pki, held.serial, 'ra1');
      await revoke(p.pki, { serial: revokedLate.serial, reason: 'superseded' }, 'ra1');
      const delta2 = await generateCrl(p.pki, 'issuing', 'admin', { delta: true });
      const numbers = [full1, delta1, delta2].map((c) => c.number);
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
      expect(new Set(numbers).size).toBe(3);
      for (const c of [full1, delta1, delta2]) {
        const text = crlText(c.der);
        expect(verifiesWith(c.der)).toMatch(/verify OK/);
        expect(numberOf(text, 'CRL Number')).toBe(c.number);
        if (c.delta) expect(numberOf(text, 'Delta CRL Indicator')).toBe(full1.number);
        else expect(text).not.toMatch(/Delta CRL Indicator/);
      }
      expect(delta1.baseNumber).toBe(full1.number);
      expect(delta2.baseNumber).toBe(full1.number);
      const d2 = crlText(delta2.der);
      expect(d2).toContain(held.serial.toUpperCase());
      expect(d2).toMatch(/Remove From CRL/);
      expect(d2).toContain(revokedLate.serial.toUpperCase());
      expect(d2).not.toContain(untouched.serial.toUpperCase());

      const fullPem = toPem('X509 CRL', full1.der);
      const check = (cert: string, crls: string, deltas: boolean) => {
        const crlFile = writePem(dir, `crls-${Math.random().toString(36).slice(2)}.pem`, crls);
        const extra = deltas ? ['-use_deltas', '-extended_crl'] : [];
        const r = opensslStatus(['verify', '-crl_check', ...extra, '-CRLfile', crlFile, '-CAfile', rootPath, '-untrusted', issuingPath, cert]);
        return r.status === 0 ? 'ok' : /certificate revoked/.test(r.out) ? 'revoked' : r.out;
      };
      // the full CRL alone: the held certificate is still refused, the late revocation not yet known
      expect(check(revokedEarly.path, fullPem, false)).toBe('revoked');
      expect(check(held.path, fullPem, false)).toBe('revoked');
      expect(check(revokedLate.path, fullPem, false)).toBe('ok');
      expect(check(untouched.path, fullPem, false)).toBe('ok');
      // with the delta: the release takes the hold away, the late revocation appears
      const both = fullPem + toPem('X509 CRL', delta2.der);
      expect(check(revokedEarly.path, both, true)).toBe('revoked');
      expect(check(held.path, both, true)).toBe('ok');
      expect(check(revokedLate.path, both, true)).toBe('revoked');
      expect(check(untouched.path, both, true)).toBe('ok');

      // the next full CRL takes the changes in and the next delta is based on it, with an empty list
      const full2 = await generateCrl(p.pki, 'issuing', 'admin');
      const delta3 = await generateCrl(p.pki, 'issuing', 'admin', { delta: true });
      expect(full2.number).toBe(delta2.number + 1);
      expect(delta3.number).toBe(full2.number + 1);
      expect(numberOf(crlText(delta3.der), 'Delta CRL Indicator')).toBe(full2.number);
      expect(delta3.entries).toBe(0);
      const f2 = toPem('X509 CRL', full2.der);
      expect(check(held.path, f2, false)).toBe('ok');
      expect(check(revokedLate.path, f2, false)).toBe('revoked');
    });

    it('records every operation in an intact audit chain and publishes events', async () => {
      const r = await verifyAuditChain(p.db);
      expect(r.ok).toBe(true);
      const issuedCount = (await searchCerts(p.db, { limit: 1000 })).length;
      const [{ n }] = await p.db.query<{ n: string }>(`SELECT count(*) AS n FROM audit_log WHERE action = 'ca.issue' AND outcome = 'success'`);
      expect(Number(n)).toBe(issuedCount);
      const subjects = new Set(p.events.map((e) => e.subject));
      expect(subjects).toContain('truc.pki.certificate.issued');
      expect(subjects).toContain('truc.pki.certificate.revoked');
      expect(subjects).toContain('truc.pki.certificate.released');
      expect(subjects).toContain('truc.pki.crl.generated');
      const ev = p.events.find((e) => e.subject === 'truc.pki.certificate.revoked')!.event;
      expect(ev.event.outcome).toBe('success');
      expect(ev.truc?.part).toBe('pki');
    });
  });
}

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
