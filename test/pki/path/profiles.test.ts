/**
 * Validation profiles and structure rules (src/pki/path/profile.ts). Every case is a chain the test issues,
 * validated in the `rfc5280` and the `strict` profile, and given to `openssl verify` (OpenSSL 3) plainly
 * and with `-x509_strict -auth_level 2`; where OpenSSL decides otherwise, the case says who is right and why.
 */
import { describe, it, expect } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { bitString, ctxPrim, int as derInt, NULL, oid, seq } from '../../../src/asn1/der.js';
import { validatePath, type FailureReason, type ProfileName, type Purpose } from '../../../src/pki/path/index.js';
import { issueCert, keyId, newKey, type CertSpec, type Party } from './fixtures.js';
import { hasOpenssl, opensslVerify } from './openssl-verify.js';

const T = new Date(Date.UTC(2025, 5, 1, 12));
const YEAR = 365 * 86_400_000;
const span = { notBefore: new Date(T.getTime() - YEAR), notAfter: new Date(T.getTime() + YEAR) };
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

// keys made once for the whole file
const rootKey = newKey();
const intKey = newKey();
const leafKey = newKey();
const rootP: Party = { name: 'C=VN, O=Truc, CN=Profile Root', key: rootKey };
const intP: Party = { name: 'C=VN, O=Truc, CN=Profile Issuing', key: intKey };
const CA_KU: CertSpec['keyUsage'] = ['keyCertSign', 'cRLSign'];
const rootSpec = (extra: Partial<CertSpec> = {}): CertSpec => ({ subject: rootP.name, key: rootKey, ca: true, keyUsage: CA_KU, ...span, ...extra });
const intSpec = (extra: Partial<CertSpec> = {}): CertSpec => ({ subject: intP.name, key: intKey, issuer: rootP, ca: true, keyUsage: CA_KU, ...span, ...extra });
const leafSpec = (extra: Partial<CertSpec> = {}): CertSpec => ({
  subject: 'C=VN, O=Truc, CN=www.example.vn',
  key: leafKey,
  issuer: intP,
  keyUsage: ['digitalSignature'],
  eku: [SERVER_AUTH],
  san: [{ dns: 'www.example.vn' }],
  ...span,
  ...extra,
});
const root = issueCert(rootSpec());
const int = issueCert(intSpec());

const spkiOf = (k: { publicKey: { export(o: object): string | Buffer } }) => k.publicKey.export({ format: 'der', type: 'spki' }) as Buffer;
const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const n2048 = Buffer.from((rsa2048.publicKey.export({ format: 'jwk' }) as { n: string }).n, 'base64url');
/** An RSA public key with any exponent (nobody signs with it: it is only certified). */
const rsaSpki = (n: Buffer, e: number) => seq(seq(oid('1.2.840.113549.1.1.1'), NULL), bitString(seq(derInt(BigInt('0x' + n.toString('hex'))), derInt(e))));
const rsa1024 = spkiOf(generateKeyPairSync('rsa', { modulusLength: 1024 }));
const p192 = spkiOf(generateKeyPairSync('ec', { namedCurve: 'prime192v1' }));
const dsa1024 = spkiOf(generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160 }));
const explicitP256 = spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256', paramEncoding: 'explicit' }));

interface Case {
  name: string;
  target: Buffer;
  intermediates?: Buffer[];
  anchors?: Buffer[];
  purpose?: boolean;
  rfc5280: 'valid' | FailureReason;
  strict: 'valid' | FailureReason;
  /** openssl verify's verdicts (plain, strict) when they differ from ours, and why we hold ours */
  openssl?: { plain?: boolean; strict?: boolean; why: string };
}

const serial = (hex: string) => Buffer.from(hex, 'hex');

const cases: Case[] = [
  { name: 'a conforming chain', target: issueCert(leafSpec()), purpose: true, rfc5280: 'valid', strict: 'valid' },
  // serial numbers (RFC 5280 4.1.2.2), every profile
  {
    name: 'serial number zero',
    target: issueCert(leafSpec({ serialBytes: serial('00') })),
    rfc5280: 'bad_serial',
    strict: 'bad_serial',
    openssl: { plain: true, strict: true, why: 'OpenSSL 3.0 reads any INTEGER as a serial; RFC 5280 4.1.2.2 requires a positive one' },
  },
  {
    name: 'negative serial number',
    target: issueCert(leafSpec({ serialBytes: serial('ff01') })),
    rfc5280: 'bad_serial',
    strict: 'bad_serial',
    openssl: { plain: true, strict: true, why: 'OpenSSL 3.0 accepts negative serials even with -x509_strict; RFC 5280 4.1.2.2 requires a positive one' },
  },
  {
    name: 'serial number of 21 octets',
    target: issueCert(leafSpec({ serialBytes: serial('01' + '23'.repeat(20)) })),
    rfc5280: 'bad_serial',
    strict: 'bad_serial',
    openssl: { plain: true, strict: true, why: 'OpenSSL 3.0 does not bound the length; RFC 5280 4.1.2.2 allows at most 20 octets' },
  },
  { name: 'serial number of 20 octets with its sign octet', target: issueCert(leafSpec({ serialBytes: serial('00' + 'a5'.repeat(20)) })), rfc5280: 'valid', strict: 'valid' },
  // extensions every profile checks
  {
    name: 'critical authority key identifier',
    target: issueCert(leafSpec({ akiCritical: true })),
    rfc5280: 'aki_critical',
    strict: 'aki_critical',
  },
  {
    name: 'critical authority information access',
    target: issueCert(leafSpec({ extra: [{ oid: '1.3.6.1.5.5.7.1.1', critical: true, value: seq(seq(oid('1.3.6.1.5.5.7.48.1'), ctxPrim(6, Buffer.from('http://ocsp.truc.test')))) }] })),
    rfc5280: 'aia_critical',
    strict: 'aia_critical',
  },
  {
    name: 'empty extended key usage',
    target: issueCert(leafSpec({ eku: [] })),
    rfc5280: 'empty_eku',
    strict: 'empty_eku',
    openssl: { plain: true, strict: true, why: 'OpenSSL reads an empty SEQUENCE as "no usage restricted"; RFC 5280 4.2.1.12 defines KeyPurposeId SIZE (1..MAX): empty is malformed' },
  },
  {
    name: 'empty subject with a non-critical subjectAltName',
    target: issueCert(leafSpec({ subject: '' })),
    rfc5280: 'empty_subject',
    strict: 'empty_subject',
    openssl: { plain: true, why: 'plain OpenSSL does not check it; RFC 5280 4.2.1.6 requires the SAN critical when the subject is empty (-x509_strict agrees with us)' },
  },
  { name: 'empty subject with a critical subjectAltName', target: issueCert(leafSpec({ subject: '', sanCritical: true })), rfc5280: 'valid', strict: 'valid' },
  // the strict profile
  {
    name: 'version 1 end-entity certificate',
    target: issueCert(leafSpec({ version: 1 })),
    rfc5280: 'valid',
    strict: 'certificate_version',
    openssl: { strict: true, why: 'OpenSSL -x509_strict accepts version 1 leaves; the web PKI (CA/B BR 7.1.1) requires version 3' },
  },
  { name: 'end entity without authority key identifier', target: issueCert(leafSpec({ aki: false })), rfc5280: 'valid', strict: 'aki_missing' },
  { name: 'intermediate without authority key identifier', target: issueCert(leafSpec()), intermediates: [issueCert(intSpec({ aki: false }))], rfc5280: 'valid', strict: 'aki_missing' },
  { name: 'intermediate without subject key identifier', target: issueCert(leafSpec()), intermediates: [issueCert(intSpec({ ski: false }))], rfc5280: 'valid', strict: 'ski_missing' },
  {
    name: 'keyCertSign without cA in an end entity',
    target: issueCert(leafSpec({ keyUsage: ['digitalSignature', 'keyCertSign'] })),
    rfc5280: 'inconsistent_ca_extensions',
    strict: 'inconsistent_ca_extensions',
    openssl: { plain: true, why: 'plain OpenSSL does not look; RFC 5280 4.2.1.3 and 4.2.1.9: keyCertSign MUST NOT be asserted without cA (-x509_strict agrees with us)' },
  },
  {
    name: 'a CA certificate used as a leaf',
    target: issueCert(leafSpec({ ca: true, keyUsage: ['digitalSignature', 'keyCertSign'] })),
    rfc5280: 'valid',
    strict: 'ca_as_leaf',
    openssl: { strict: true, why: 'OpenSSL accepts a CA certificate as a server certificate; CA/B BR 7.1.2.7.8 forbids cA in a subscriber certificate' },
  },
  {
    name: 'server purpose asked, no EKU',
    target: issueCert(leafSpec({ eku: undefined })),
    purpose: true,
    rfc5280: 'valid',
    strict: 'extended_key_usage',
    openssl: { strict: true, why: 'OpenSSL reads a missing EKU as any usage; CA/B BR 7.1.2.7.10 requires serverAuth in a TLS server certificate' },
  },
  {
    name: 'server purpose asked, anyExtendedKeyUsage only',
    target: issueCert(leafSpec({ eku: ['2.5.29.37.0'] })),
    purpose: true,
    rfc5280: 'valid',
    strict: 'extended_key_usage',
    openssl: {
      plain: false,
      why: 'RFC 5280 4.2.1.12 lets anyExtendedKeyUsage stand for every purpose, and the rfc5280 profile honours it; OpenSSL’s sslserver purpose does not, like our strict profile (CA/B BR 7.1.2.7.10 forbids it in subscriber certificates)',
    },
  },
  { name: 'RSA key of 1024 bits', target: issueCert(leafSpec({ spki: rsa1024 })), rfc5280: 'valid', strict: 'weak_key' },
  { name: 'RSA key of 2048 bits, e = 65537', target: issueCert(leafSpec({ spki: rsaSpki(n2048, 65537) })), rfc5280: 'valid', strict: 'valid' },
  {
    name: 'RSA key with an even public exponent',
    target: issueCert(leafSpec({ spki: rsaSpki(n2048, 65536) })),
    rfc5280: 'valid',
    strict: 'weak_key',
    openssl: { strict: true, why: 'OpenSSL does not look at the exponent of a key it verifies nothing with; no RSA key has an even e (it must be prime to φ(n), which is even)' },
  },
  {
    name: 'RSA key with e = 1',
    target: issueCert(leafSpec({ spki: rsaSpki(n2048, 1) })),
    rfc5280: 'valid',
    strict: 'weak_key',
    openssl: { strict: true, why: 'as for an even exponent: with e = 1 the "encryption" is the identity' },
  },
  { name: 'EC key on P-192', target: issueCert(leafSpec({ spki: p192 })), rfc5280: 'valid', strict: 'weak_key' },
  {
    name: 'EC key with explicit curve parameters',
    target: issueCert(leafSpec({ spki: explicitP256 })),
    rfc5280: 'explicit_curve',
    strict: 'explicit_curve',
    // RFC 5480 2.1.1: specifiedCurve "MUST NOT be used"; explicit parameters carried CVE-2020-0601; OpenSSL 3 refuses them too
  },
  {
    name: 'SHA-1 signature',
    target: issueCert(leafSpec({ sha1: true })),
    rfc5280: 'unsupported_algorithm',
    strict: 'unsupported_algorithm',
    openssl: { plain: true, why: 'plain OpenSSL 3.0 still verifies SHA-1 certificate signatures (-auth_level 2 refuses them); SHA-1 collisions are practical (SHAmbles, 2020)' },
  },
  // trust anchors given as certificates
  {
    name: 'anchor with an unknown critical extension',
    target: issueCert(leafSpec()),
    anchors: [issueCert(rootSpec({ extra: [{ oid: '1.3.6.1.4.1.55555.9.9', critical: true, value: NULL }] }))],
    rfc5280: 'unknown_critical_extension',
    strict: 'unknown_critical_extension',
  },
  {
    name: 'anchor with keyCertSign and no basicConstraints',
    target: issueCert(leafSpec()),
    anchors: [issueCert(rootSpec({ basicConstraints: false }))],
    rfc5280: 'inconsistent_ca_extensions',
    strict: 'inconsistent_ca_extensions',
    openssl: { plain: true, why: 'plain OpenSSL trusts what -CAfile gives it; RFC 5280 4.2.1.9: keyCertSign requires cA (-x509_strict agrees with us)' },
  },
  {
    name: 'anchor with a path length but not a CA',
    target: issueCert(leafSpec()),
    anchors: [issueCert(rootSpec({ ca: false, pathLen: 3, keyUsage: ['digitalSignature'] }))],
    rfc5280: 'inconsistent_ca_extensions',
    strict: 'inconsistent_ca_extensions',
  },
  {
    name: 'anchor with non-critical basicConstraints',
    target: issueCert(leafSpec()),
    anchors: [issueCert(rootSpec({ bcCritical: false }))],
    rfc5280: 'anchor_basic_constraints',
    strict: 'anchor_basic_constraints',
    openssl: { plain: true, why: 'plain OpenSSL trusts what -CAfile gives it; RFC 5280 4.2.1.9: a CA MUST mark basicConstraints critical (-x509_strict agrees with us)' },
  },
  { name: 'anchor without subject key identifier', target: issueCert(leafSpec()), anchors: [issueCert(rootSpec({ ski: false }))], rfc5280: 'valid', strict: 'ski_missing' },
  // names and extensions of the anchor itself (RFC 5280 4.1.2.4, 4.1.2.6, 4.2.1.1), every profile
  {
    name: 'anchor with an empty issuer name',
    target: issueCert(leafSpec()),
    anchors: [issueCert(rootSpec({ issuer: { name: '', key: rootKey } }))],
    rfc5280: 'empty_issuer',
    strict: 'empty_issuer',
  },
  {
    name: 'CA anchor with an empty subject',
    target: issueCert(leafSpec({ issuer: { name: '', key: rootKey } })),
    intermediates: [],
    anchors: [issueCert(rootSpec({ subject: '', issuer: { name: rootP.name, key: rootKey } }))],
    rfc5280: 'empty_subject',
    strict: 'empty_subject',
  },
  {
    name: 'anchor with a critical authority key identifier',
    target: issueCert(leafSpec()),
    anchors: [issueCert(rootSpec({ akiCritical: true }))],
    rfc5280: 'aki_critical',
    strict: 'aki_critical',
  },
  // the CA/Browser Forum rules of the strict profile
  {
    name: 'critical subjectAltName with a non-empty subject',
    target: issueCert(leafSpec({ sanCritical: true })),
    rfc5280: 'valid',
    strict: 'san_critical',
    openssl: { strict: true, why: 'OpenSSL does not apply BR 7.1.2.7.12 (subjectAltName critical only for an empty subject)' },
  },
  {
    name: 'end-entity EKU with anyExtendedKeyUsage beside serverAuth',
    target: issueCert(leafSpec({ eku: [SERVER_AUTH, '2.5.29.37.0'] })),
    purpose: true,
    rfc5280: 'valid',
    strict: 'extended_key_usage',
    openssl: { strict: true, why: 'OpenSSL does not apply BR 7.1.2.7.10 (anyExtendedKeyUsage MUST NOT be in a subscriber certificate)' },
  },
  {
    name: 'anchor with an extended key usage',
    target: issueCert(leafSpec()),
    anchors: [issueCert(rootSpec({ eku: [SERVER_AUTH] }))],
    rfc5280: 'valid',
    strict: 'extended_key_usage',
    openssl: { strict: true, why: 'OpenSSL does not apply BR 7.1.2.1.2 (a root carries no extKeyUsage)' },
  },
  {
    name: 'anchor whose authority key identifier is not its subject key identifier',
    target: issueCert(leafSpec()),
    anchors: [issueCert(rootSpec({ issuer: { name: rootP.name, key: rootKey, keyId: Buffer.alloc(20, 7) } }))],
    rfc5280: 'valid',
    strict: 'anchor_aki',
    openssl: { plain: false, strict: false, why: 'OpenSSL reads a root whose AKI names another key as not self-signed and looks for its issuer; the anchor is trusted for its name and key, so rfc5280 accepts it, and strict refuses it for BR 7.1.2.1.3' },
  },
  {
    name: 'anchor whose authority key identifier names an issuer serial number',
    target: issueCert(leafSpec()),
    anchors: [issueCert(rootSpec({ aki: false, extra: [{ oid: '2.5.29.35', critical: false, value: seq(ctxPrim(0, keyId(rootKey)), ctxPrim(2, Buffer.from([0x04, 0xd2]))) }] }))],
    rfc5280: 'valid',
    strict: 'anchor_aki',
    openssl: { plain: false, strict: false, why: 'OpenSSL looks for the issuer an AKI with authorityCertSerialNumber points to, and finds none; rfc5280 trusts the anchor for its name and key, strict refuses it for BR 7.1.2.1.3' },
  },
  {
    name: 'DSA key in the end entity',
    target: issueCert(leafSpec({ spki: dsa1024 })),
    rfc5280: 'valid',
    strict: 'forbidden_key_type',
  },
];

const ours = (c: Case, profile: ProfileName) =>
  validatePath({
    target: c.target,
    intermediates: c.intermediates ?? [int],
    trustAnchors: c.anchors ?? [root],
    time: T,
    profile,
    ...(c.purpose ? { purpose: { extendedKeyUsage: ['serverAuth'] } satisfies Purpose } : {}),
  });

describe('validation profiles and structure rules', () => {
  for (const c of cases)
    it(`${c.name}: rfc5280 → ${c.rfc5280}, strict → ${c.strict}`, async () => {
      for (const profile of ['rfc5280', 'strict'] as const) {
        const r = await ours(c, profile);
        const want = c[profile];
        if (want === 'valid') expect(r, `${profile}: ${r.valid ? '' : r.message}`).toMatchObject({ valid: true });
        else {
          expect(r.valid, `${profile}: expected ${want}`).toBe(false);
          if (!r.valid) {
            expect(r.reason, `${profile}: ${r.message}`).toBe(want);
            // reasons of the new rules are written Vietnamese first, English beside
            if (!['key_usage', 'not_ca', 'extended_key_usage'].includes(want)) expect(r.message).toMatch(/ \/ /);
          }
        }
      }
      if (!hasOpenssl) return;
      const base = { target: c.target, intermediates: c.intermediates ?? [int], anchors: c.anchors ?? [root], time: T };
      const purpose = c.purpose ? ['-purpose', 'sslserver'] : [];
      const plain = opensslVerify({ ...base, args: purpose });
      const strict = opensslVerify({ ...base, args: ['-x509_strict', '-auth_level', '2', ...purpose] });
      const why = c.openssl?.why ?? 'openssl should agree';
      expect(plain.ok, `${plain.out}\n${why}`).toBe(c.openssl?.plain ?? c.rfc5280 === 'valid');
      expect(strict.ok, `${strict.out}\n${why}`).toBe(c.openssl?.strict ?? c.strict === 'valid');
    });
});
