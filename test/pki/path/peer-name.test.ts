/**
 * Peer names (RFC 6125 / RFC 9525, CA/B Forum BR 7.1.4.2): is the certificate valid for this DNS name, IP
 * address or e-mail address? Each case is a leaf the test issues, validated with `peerName`, and, where
 * `openssl verify -verify_hostname / -verify_ip / -verify_email` judges otherwise, the case says who is
 * right and why.
 */
import { describe, it, expect } from 'vitest';
import { domainToASCII } from 'node:url';
import { validatePath, peerNameOf, type PeerName, type ProfileName } from '../../../src/pki/path/index.js';
import { dnsMatches } from '../../../src/pki/path/peer-name.js';
import { issueCert, newKey, type CertSpec, type Party } from './fixtures.js';
import { hasOpenssl, opensslVerify } from './openssl-verify.js';

const T = new Date(Date.UTC(2025, 5, 1, 12));
const YEAR = 365 * 86_400_000;
const span = { notBefore: new Date(T.getTime() - YEAR), notAfter: new Date(T.getTime() + YEAR) };
const rootKey = newKey();
const intKey = newKey();
const leafKey = newKey();
const rootP: Party = { name: 'C=VN, O=Truc, CN=Peer Root', key: rootKey };
const intP: Party = { name: 'C=VN, O=Truc, CN=Peer Issuing', key: intKey };
const root = issueCert({ subject: rootP.name, key: rootKey, ca: true, keyUsage: ['keyCertSign', 'cRLSign'], ...span });
const int = issueCert({ subject: intP.name, key: intKey, issuer: rootP, ca: true, keyUsage: ['keyCertSign', 'cRLSign'], ...span });
const leaf = (extra: Partial<CertSpec>) =>
  issueCert({ subject: 'C=VN, O=Truc', key: leafKey, issuer: intP, keyUsage: ['digitalSignature'], eku: ['1.3.6.1.5.5.7.3.1'], ...span, ...extra });

const run = (target: Buffer, peerName: PeerName, profile: ProfileName = 'rfc5280') =>
  validatePath({ target, intermediates: [int], trustAnchors: [root], time: T, peerName, profile });

interface Case {
  name: string;
  cert: Partial<CertSpec>;
  peer: PeerName;
  profile?: ProfileName;
  match: boolean;
  /** why openssl verify answers otherwise, when it does */
  opensslDiffers?: string;
}

const IDN = domainToASCII('bộ-tư-pháp.gov.vn');

const cases: Case[] = [
  { name: 'exact DNS name, other case, trailing dot', cert: { san: [{ dns: 'www.example.vn' }] }, peer: { type: 'dns', value: 'WWW.Example.VN.' }, match: true },
  { name: 'another DNS name', cert: { san: [{ dns: 'www.example.vn' }] }, peer: { type: 'dns', value: 'mail.example.vn' }, match: false },
  { name: 'wildcard covers one label', cert: { san: [{ dns: '*.example.vn' }] }, peer: { type: 'dns', value: 'a.example.vn' }, match: true },
  { name: 'wildcard never spans two labels', cert: { san: [{ dns: '*.example.vn' }] }, peer: { type: 'dns', value: 'a.b.example.vn' }, match: false },
  { name: 'wildcard does not cover its base', cert: { san: [{ dns: '*.example.vn' }] }, peer: { type: 'dns', value: 'example.vn' }, match: false },
  {
    name: 'partial-label wildcard',
    cert: { san: [{ dns: 'w*.example.vn' }] },
    peer: { type: 'dns', value: 'www.example.vn' },
    match: false,
    opensslDiffers: 'OpenSSL allows partial-label wildcards unless told X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS; CA/B BR 7.1.4.2.2 and RFC 9525 6.3 allow * only as the whole left-most label',
  },
  { name: 'wildcard not in the left-most label', cert: { san: [{ dns: 'www.*.vn' }] }, peer: { type: 'dns', value: 'www.example.vn' }, match: false },
  { name: 'a lone *', cert: { san: [{ dns: '*' }] }, peer: { type: 'dns', value: 'localhost' }, match: false },
  { name: 'wildcard on a top-level domain', cert: { san: [{ dns: '*.vn' }] }, peer: { type: 'dns', value: 'example.vn' }, match: false },
  {
    name: 'wildcard on a public suffix (*.gov.vn)',
    cert: { san: [{ dns: '*.gov.vn' }] },
    peer: { type: 'dns', value: 'moj.gov.vn' },
    match: false,
    opensslDiffers: 'OpenSSL only refuses wildcards with fewer than two labels after them; gov.vn is a public suffix (VNNIC registry), and a wildcard directly on it would cover every ministry — CA/B BR 3.2.2.6 forbids it',
  },
  {
    name: 'wildcard on a public suffix (*.com.vn)',
    cert: { san: [{ dns: '*.com.vn' }] },
    peer: { type: 'dns', value: 'shop.com.vn' },
    match: false,
    opensslDiffers: 'as for *.gov.vn: OpenSSL knows no public suffixes',
  },
  { name: 'IDN compared as A-labels, reference given in Unicode', cert: { san: [{ dns: IDN.toUpperCase() }] }, peer: { type: 'dns', value: 'BỘ-TƯ-PHÁP.gov.vn' }, match: true },
  { name: 'wildcard over an A-label', cert: { san: [{ dns: '*.gov.vn' }, { dns: `*.${IDN}` }] }, peer: { type: 'dns', value: `www.${IDN}` }, match: true },
  { name: 'CN read when there is no DNS SAN (rfc5280)', cert: { subject: 'C=VN, CN=www.example.vn' }, peer: { type: 'dns', value: 'www.example.vn' }, match: true },
  {
    name: 'CN never read in the strict profile',
    cert: { subject: 'C=VN, CN=www.example.vn' },
    peer: { type: 'dns', value: 'www.example.vn' },
    profile: 'strict',
    match: false,
    opensslDiffers: 'openssl verify has no option to ignore the CN (X509_CHECK_FLAG_NEVER_CHECK_SUBJECT is library-only); the web PKI (CA/B BR 7.1.4.3, RFC 9525 6.4.4) no longer reads it',
  },
  { name: 'CN ignored when a DNS SAN exists', cert: { subject: 'C=VN, CN=www.example.vn', san: [{ dns: 'other.example.vn' }] }, peer: { type: 'dns', value: 'www.example.vn' }, match: false },
  {
    name: 'CN read when the SANs are of another type only (rfc5280)',
    cert: { subject: 'C=VN, CN=www.example.vn', san: [{ ipAddr: '10.0.0.1' }] },
    peer: { type: 'dns', value: 'www.example.vn' },
    match: true,
  },
  { name: 'IPv4 address in an iPAddress SAN', cert: { san: [{ ipAddr: '10.0.0.1' }] }, peer: { type: 'ip', value: '10.0.0.1' }, match: true },
  { name: 'another IPv4 address', cert: { san: [{ ipAddr: '10.0.0.1' }] }, peer: { type: 'ip', value: '10.0.0.2' }, match: false },
  { name: 'IP address written as a DNS name never matches', cert: { san: [{ dns: '10.0.0.1' }] }, peer: { type: 'ip', value: '10.0.0.1' }, match: false },
  { name: 'IP address in the CN never matches', cert: { subject: 'C=VN, CN=10.0.0.1' }, peer: { type: 'ip', value: '10.0.0.1' }, match: false },
  { name: 'IPv6, other spelling', cert: { san: [{ ipAddr: '2001:db8::1' }] }, peer: { type: 'ip', value: '2001:DB8:0:0::1' }, match: true },
  { name: 'IPv4-mapped IPv6 is not the IPv4 address', cert: { san: [{ ipAddr: '10.0.0.1' }] }, peer: { type: 'ip', value: '::ffff:10.0.0.1' }, match: false },
  { name: 'a DNS name never matches an iPAddress SAN', cert: { san: [{ ipAddr: '10.0.0.1' }] }, peer: { type: 'dns', value: 'www.example.vn' }, match: false },
  { name: 'e-mail: domain in any case', cert: { san: [{ email: 'Nguyen.A@Example.VN' }] }, peer: { type: 'email', value: 'Nguyen.A@example.vn' }, match: true },
  { name: 'e-mail: the local part is case-sensitive', cert: { san: [{ email: 'Nguyen.A@example.vn' }] }, peer: { type: 'email', value: 'nguyen.a@example.vn' }, match: false },
  { name: 'e-mail in the subject only (rfc5280)', cert: { subject: 'C=VN, CN=A, emailAddress=a@example.vn' }, peer: { type: 'email', value: 'a@example.vn' }, match: true },
  {
    name: 'e-mail in the subject never read in the strict profile',
    cert: { subject: 'C=VN, CN=A, emailAddress=a@example.vn' },
    peer: { type: 'email', value: 'a@example.vn' },
    profile: 'strict',
    match: false,
    opensslDiffers: 'openssl verify always reads emailAddress when there is no rfc822Name; RFC 8398 and S/MIME BR 7.1.4.2 want the SAN',
  },
];

const opensslArgs = (p: PeerName) =>
  p.type === 'dns' ? ['-verify_hostname', p.value] : p.type === 'ip' ? ['-verify_ip', p.value] : ['-verify_email', p.value];

describe('peer names', () => {
  for (const c of cases)
    it(`${c.name} → ${c.match ? 'valid' : 'peer_name_mismatch'}${c.profile ? ` (${c.profile})` : ''}`, async () => {
      const target = leaf(c.cert);
      const r = await run(target, c.peer, c.profile);
      if (c.match) expect(r, r.valid ? '' : r.message).toMatchObject({ valid: true });
      else expect(r).toMatchObject({ valid: false, reason: 'peer_name_mismatch', index: 0 });
      if (!hasOpenssl) return;
      // the openssl host check runs on the reference as typed: give it the A-label form it expects
      const ref = c.peer.type === 'dns' ? domainToASCII(c.peer.value.replace(/\.$/, '')) : c.peer.value;
      const theirs = opensslVerify({ target, intermediates: [int], anchors: [root], time: T, args: opensslArgs({ ...c.peer, value: ref }) });
      expect(theirs.ok, `${theirs.out}\n${c.opensslDiffers ?? 'openssl should agree'}`).toBe(c.opensslDiffers ? !c.match : c.match);
    });

  it('says which names the certificate has, in Vietnamese and English', async () => {
    const r = await run(leaf({ san: [{ dns: 'www.example.vn' }, { dns: 'example.vn' }] }), { type: 'dns', value: 'evil.example.org' });
    expect(r).toMatchObject({ valid: false, reason: 'peer_name_mismatch' });
    if (!r.valid) expect(r.message).toMatch(/chứng thư không hợp lệ cho tên miền evil\.example\.org \(chứng thư ghi: www\.example\.vn, example\.vn\) \/ the certificate is not valid for the DNS name/);
  });

  it('refuses references that are not names (a wildcard, empty labels, a bad address) as the caller’s error', async () => {
    const target = leaf({ san: [{ dns: '*.example.vn' }] });
    for (const peerName of [
      { type: 'dns', value: '*.example.vn' },
      { type: 'dns', value: 'a..example.vn' },
      { type: 'ip', value: '10.0.0.256' },
      { type: 'email', value: 'no-at-sign.example.vn' },
    ] as PeerName[])
      await expect(run(target, peerName)).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('recognises an IP address or an e-mail address in one name, and checks a trusted target too', async () => {
    expect(peerNameOf('10.1.2.3')).toEqual({ type: 'ip', value: '10.1.2.3' });
    expect(peerNameOf('[2001:db8::7]')).toEqual({ type: 'ip', value: '[2001:db8::7]' });
    expect(peerNameOf('a@example.vn')).toEqual({ type: 'email', value: 'a@example.vn' });
    expect(peerNameOf('www.example.vn')).toEqual({ type: 'dns', value: 'www.example.vn' });
    const r = await validatePath({ target: root, trustAnchors: [root], time: T, peerName: peerNameOf('www.example.vn') });
    expect(r).toMatchObject({ valid: false, reason: 'peer_name_mismatch' });
  });

  it('matches wildcards label by label (table)', () => {
    expect(dnsMatches('*.a.example.vn', 'x.a.example.vn')).toBe(true);
    expect(dnsMatches('*.a.example.vn', 'a.example.vn')).toBe(false);
    expect(dnsMatches('*.*.example.vn', 'x.y.example.vn')).toBe(false);
    expect(dnsMatches('*example.vn', 'www.example.vn')).toBe(false);
    expect(dnsMatches('**.example.vn', 'x.example.vn')).toBe(false);
    expect(dnsMatches('*.example.vn.', 'x.example.vn')).toBe(true);
    expect(dnsMatches('*.localhost', 'x.localhost')).toBe(false);
    expect(dnsMatches('www.example.vn', 'www.example.vn')).toBe(true);
    expect(dnsMatches('www example.vn', 'www example.vn')).toBe(false);
  });
});
