import { describe, it, expect, afterAll } from 'vitest';
import { toPem } from '../../src/asn1/der.js';
import { addCa, generateCrl, initHierarchy, listCas, revoke } from '../../src/pki/index.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { openssl, opensslCsr, opensslStatus, tmp, writePem } from '../helpers/openssl.js';
import { softHsmMissing, softHsmToken } from '../helpers/softhsm.js';
import { searchAudit } from '../../src/audit/index.js';

const hsmMissing = softHsmMissing();
if (hsmMissing) console.warn(`SKIP CA keys on PKCS#11: ${hsmMissing} (run .ci/run or scripts/install-deps.sh)`);

describe('CA hierarchy', () => {
  const open: TestPlatform[] = [];
  afterAll(async () => {
    for (const p of open) await p.close();
  });

  it('binds an issuing CA by name constraints that openssl enforces', async () => {
    const p = await testPlatform('memory://');
    open.push(p);
    const ministry = await addCa(
      p.pki,
      'root',
      {
        id: 'bonoivu',
        subject: 'C=VN, O=Bộ Nội vụ, CN=Bộ Nội vụ Issuing CA',
        keyAlgorithm: 'EC-P256',
        validityDays: 1825,
        pathLen: 0,
        nameConstraints: {
          permitted: { dns: ['bonoivu.gov.vn'], directoryName: ['C=VN'] },
          excluded: { dns: ['secret.bonoivu.gov.vn'] },
        },
      },
      'admin',
    );
    const dir = tmp();
    const root = writePem(dir, 'root.pem', toPem('CERTIFICATE', (await listCas(p.db)).find((c) => c.id === 'root')!.certificate));
    const inter = writePem(dir, 'inter.pem', toPem('CERTIFICATE', ministry.certificate));
    const text = openssl(['x509', '-in', inter, '-noout', '-text']);
    expect(text).toMatch(/X509v3 Name Constraints: critical/);
    expect(text).toMatch(/Permitted:\s+DNS:bonoivu.gov.vn\s+DirName:\s*C\s*=\s*VN/);
    expect(text).toMatch(/Excluded:\s+DNS:secret.bonoivu.gov.vn/);
    const issue = async (dns: string) => {
      const r = await p.issuer.issue(
        { profile: 'tls-server', caId: 'bonoivu', csr: opensslCsr(dir, `/C=VN/CN=${dns}`).csr, altNames: { dns: [dns] } },
        'ra',
      );
      return opensslStatus(['verify', '-CAfile', root, '-untrusted', inter, writePem(dir, `${dns}.pem`, toPem('CERTIFICATE', r.der))]);
    };
    // the profile's allow-list would refuse example.com itself: widened here, so that the CA's name
    // constraints are what a relying party sees stop it
    p.pki.profiles.get('tls-server')!.names = { dns: ['.gov.vn', '.example.com'], ip: [], wildcards: false };
    expect((await issue('portal.bonoivu.gov.vn')).out).toMatch(/: OK/);
    expect((await issue('portal.example.com')).out).toMatch(/permitted subtree violation/);
    expect((await issue('x.secret.bonoivu.gov.vn')).out).toMatch(/excluded subtree violation/);
    // a second issuing CA does not make requests without a CA ambiguous: the first one made still issues them
    const plain = await p.issuer.issue({ profile: 'agency-auth', csr: opensslCsr(dir, '/C=VN/O=Sở Y tế/CN=No CA named').csr }, 'ra');
    expect(plain.caId).toBe('issuing');
  });

  it('refuses a second hierarchy with the same ids and CAs under a path-length-0 CA', async () => {
    const p = await testPlatform('memory://');
    open.push(p);
    await expect(
      initHierarchy(p.pki, { root: { id: 'root', subject: 'CN=R', keyAlgorithm: 'EC-P256', validityDays: 10 }, issuing: [{ id: 'issuing', subject: 'CN=I', keyAlgorithm: 'EC-P256', validityDays: 5 }] }, 'admin'),
    ).rejects.toMatchObject({ code: 'ca_exists', message: expect.stringMatching(/truc ca add/) });
    await expect(addCa(p.pki, 'issuing', { id: 'sub', subject: 'CN=Sub', keyAlgorithm: 'EC-P256', validityDays: 5 }, 'admin')).rejects.toMatchObject({
      code: 'bad_request',
    });
  });

  it('checks a whole hierarchy before making a key: a bad issuing CA leaves no root and no key behind, and is audited', async () => {
    const p = await testPlatform('memory://', { init: false });
    open.push(p);
    const root = { id: 'root', subject: 'C=VN, O=Trục, CN=Root', keyAlgorithm: 'EC-P384' as const, validityDays: 3650 };
    const bad: [string, Parameters<typeof initHierarchy>[1]['issuing'][number], string][] = [
      ['an unknown attribute', { id: 'issuing', subject: 'C=VN, X=1, CN=Issuing', keyAlgorithm: 'EC-P256', validityDays: 365 }, 'subject_not_allowed'],
      ['a validity that is no number', { id: 'issuing', subject: 'C=VN, CN=Issuing', keyAlgorithm: 'EC-P256', validityDays: Number('ten') }, 'bad_request'],
      ['a negative path length', { id: 'issuing', subject: 'C=VN, CN=Issuing', keyAlgorithm: 'EC-P256', validityDays: 365, pathLen: -1 }, 'bad_request'],
      ['an id with capitals', { id: 'Issuing', subject: 'C=VN, CN=Issuing', keyAlgorithm: 'EC-P256', validityDays: 365 }, 'bad_request'],
    ];
    for (const [what, issuing, code] of bad) {
      await expect(initHierarchy(p.pki, { root, issuing: [issuing] }, 'admin'), what).rejects.toMatchObject({ code });
      expect(await listCas(p.db), what).toEqual([]);
      expect(await p.keys.get('software').list(), what).toEqual([]);
    }
    const refusals = (await searchAudit(p.db, { action: 'ca.create' })).map((r) => [r.outcome, r.detail?.code]);
    expect(refusals).toEqual(bad.map(([, , code]) => ['failure', code]));
    expect(p.events.filter((e) => e.subject === 'truc.pki.ca.refused').map((e) => e.event.truc?.code)).toEqual(bad.map(([, , code]) => code));
    // and addCa under a missing parent is refused and audited the same way
    await expect(addCa(p.pki, 'ghost', { id: 'x', subject: 'CN=X', keyAlgorithm: 'EC-P256', validityDays: 5 }, 'admin')).rejects.toMatchObject({ code: 'unknown_ca' });
    expect((await searchAudit(p.db, { action: 'ca.create' })).at(-1)).toMatchObject({ outcome: 'failure', target: 'x' });
  });

  it.skipIf(!!hsmMissing)('keeps an issuing CA key on a PKCS#11 token (SoftHSM2): certificates and CRLs verify in openssl', async () => {
    const token = softHsmToken();
    const p = await testPlatform('memory://', {
      init: false,
      pkcs11: { module: token.modulePath, tokenLabel: token.tokenLabel, pin: token.pin },
    });
    open.push(p);
    const [root, issuing] = await initHierarchy(
      p.pki,
      {
        root: { id: 'root', subject: 'CN=HSM Root, O=Trục, C=VN', keyAlgorithm: 'RSA-3072', keyStore: 'pkcs11', validityDays: 3650, rsaPadding: 'pss' },
        issuing: [{ id: 'issuing', subject: 'CN=HSM Issuing, O=Trục, C=VN', keyAlgorithm: 'EC-P384', keyStore: 'pkcs11', validityDays: 1825 }],
      },
      'admin',
    );
    expect(issuing.keyStore).toBe('pkcs11');
    expect(root.scheme).toBe('rsa-pss-sha256');
    const dir = tmp();
    const rootPath = writePem(dir, 'root.pem', toPem('CERTIFICATE', root.certificate));
    const interPath = writePem(dir, 'issuing.pem', toPem('CERTIFICATE', issuing.certificate));
    expect(openssl(['verify', '-CAfile', rootPath, interPath])).toMatch(/OK/);
    const r = await p.issuer.issue({ profile: 'agency-signing', csr: opensslCsr(dir, '/CN=HSM signed/O=Bộ Nội vụ/C=VN').csr }, 'ra');
    const certPath = writePem(dir, 'ee.pem', toPem('CERTIFICATE', r.der));
    expect(openssl(['verify', '-CAfile', rootPath, '-untrusted', interPath, certPath])).toMatch(/OK/);
    await revoke(p.pki, { serial: r.serial, reason: 'affiliationChanged' }, 'ra');
    const crl = await generateCrl(p.pki, 'issuing', 'admin');
    const crlPath = writePem(dir, 'i.crl', toPem('X509 CRL', crl.der));
    expect(opensslStatus(['crl', '-in', crlPath, '-CAfile', interPath, '-noout']).out).toMatch(/verify OK/);
    expect(openssl(['crl', '-in', crlPath, '-noout', '-text'])).toMatch(/Affiliation Changed/);
    // the key never left the token: the software store holds no key for these CAs
    expect(await p.keys.get('software').list()).toEqual([]);
  });
});
