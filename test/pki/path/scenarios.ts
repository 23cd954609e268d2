/**
 * The chains every path validation test and the OpenSSL interop test run over: one good hierarchy and
 * variations, each with the outcome we expect. Built in memory at test start.
 */
import type { FailureReason, Purpose, RevocationOptions } from '../../../src/pki/path/index.js';
import {
  corrupt,
  issueCert,
  issueCrl,
  issueOcsp,
  keyId,
  newKey,
  serialOf,
  type CertSpec,
  type Key,
  type Party,
} from './fixtures.js';

export interface Scenario {
  name: string;
  target: Buffer;
  intermediates: Buffer[];
  anchors: Buffer[];
  time: Date;
  purpose?: Purpose;
  /** openssl verify -purpose equivalent of `purpose` */
  opensslPurpose?: string;
  crls?: Buffer[];
  ocsp?: Buffer[];
  mode?: RevocationOptions['mode'];
  useDeltas?: boolean;
  requiredPolicies?: string[];
  expect: 'valid' | FailureReason;
  /** false when openssl verify cannot express the case (OCSP, soft-fail, builder differences) */
  interop?: boolean;
}

const DAY = 86_400_000;
const YEAR = 365 * DAY;
export const T = new Date(Date.UTC(2025, 5, 1, 12, 0, 0));
const at = (ms: number) => new Date(T.getTime() + ms);

const ROOT = 'C=VN, O=Truc, CN=Truc Root CA';
const INT = 'C=VN, O=Truc, CN=Truc Issuing CA';
const LEAF = 'C=VN, O=Truc, CN=www.example.vn';
const SERVER: Purpose = { keyUsage: ['digitalSignature'], extendedKeyUsage: ['serverAuth'] };
export const P1 = '1.3.6.1.4.1.55555.1.1';
export const P2 = '1.3.6.1.4.1.55555.1.2';

export interface Hierarchy {
  rootKey: Key;
  intKey: Key;
  leafKey: Key;
  root: Buffer;
  int: Buffer;
  leaf: Buffer;
  rootP: Party;
  intP: Party;
  rootCrl: Buffer;
  intCrl: Buffer;
}

function caSpec(
  subject: string,
  key: Key,
  issuer: Party | undefined,
  extra: Partial<CertSpec> = {},
): CertSpec {
  return {
    subject,
    key,
    ...(issuer ? { issuer } : {}),
    notBefore: at(-5 * YEAR),
    notAfter: at(5 * YEAR),
    ca: true,
    keyUsage: ['keyCertSign', 'cRLSign'],
    ...extra,
  };
}

export function leafSpec(issuer: Party, key: Key, extra: Partial<CertSpec> = {}): CertSpec {
  return {
    subject: LEAF,
    key,
    issuer,
    notBefore: at(-30 * DAY),
    notAfter: at(YEAR),
    keyUsage: ['digitalSignature'],
    eku: ['1.3.6.1.5.5.7.3.1'],
    san: [{ dns: 'www.example.vn' }],
    crlDp: ['http://crl.truc.test/issuing.crl'],
    ocspUrl: 'http://ocsp.truc.test',
    ...extra,
  };
}

export function hierarchy(kind: Key['kind'] = 'ec', intExtra: Partial<CertSpec> = {}): Hierarchy {
  const rootKey = newKey(kind);
  const intKey = newKey(kind);
  const leafKey = newKey(kind);
  const root = issueCert(
    caSpec(ROOT, rootKey, undefined, { notBefore: at(-10 * YEAR), notAfter: at(10 * YEAR) }),
  );
  const rootP: Party = { name: ROOT, key: rootKey };
  const int = issueCert(
    caSpec(INT, intKey, rootP, { crlDp: ['http://crl.truc.test/root.crl'], ...intExtra }),
  );
  const intP: Party = { name: INT, key: intKey };
  const leaf = issueCert(leafSpec(intP, leafKey));
  const rootCrl = issueCrl({ issuer: rootP, thisUpdate: at(-DAY), nextUpdate: at(7 * DAY), crlNumber: 1 });
  const intCrl = issueCrl({ issuer: intP, thisUpdate: at(-DAY), nextUpdate: at(7 * DAY), crlNumber: 1 });
  return { rootKey, intKey, leafKey, root, int, leaf, rootP, intP, rootCrl, intCrl };
}

export function buildScenarios(): Scenario[] {
  const h = hierarchy();
  const base = {
    intermediates: [h.int],
    anchors: [h.root],
    time: T,
    purpose: SERVER,
    opensslPurpose: 'sslserver',
  };
  const out: Scenario[] = [];
  const add = (s: Omit<Scenario, 'intermediates' | 'anchors' | 'time'> & Partial<Scenario>) =>
    out.push({ ...base, ...s });
  const leaf = (extra: Partial<CertSpec>, issuer: Party = h.intP) =>
    issueCert(leafSpec(issuer, newKey(), extra));

  add({ name: 'valid three-level chain', target: h.leaf, expect: 'valid' });
  for (const kind of ['rsa', 'rsa-pss', 'ed25519'] as const) {
    const k = hierarchy(kind);
    add({
      name: `valid ${kind} chain`,
      target: k.leaf,
      intermediates: [k.int],
      anchors: [k.root],
      expect: 'valid',
    });
  }
  add({
    name: 'expired end entity',
    target: leaf({ notBefore: at(-2 * YEAR), notAfter: at(-DAY) }),
    expect: 'expired',
  });
  add({
    name: 'end entity not yet valid',
    target: leaf({ notBefore: at(DAY), notAfter: at(YEAR) }),
    expect: 'not_yet_valid',
  });
  const old = leaf({ notBefore: at(-3 * YEAR), notAfter: at(-2 * YEAR) });
  add({
    name: 'expired certificate validated at a past time when it was valid',
    target: old,
    time: at(-2.5 * YEAR),
    expect: 'valid',
  });
  add({ name: 'expired certificate validated now', target: old, expect: 'expired' });
  add({ name: 'flipped byte in the signature', target: corrupt(h.leaf), expect: 'bad_signature' });
  add({
    name: 'signed by a key other than the issuer named',
    target: leaf({}, { name: INT, key: newKey(), keyId: keyId(h.intKey) }),
    expect: 'bad_signature',
  });
  add({ name: 'missing intermediate', target: h.leaf, intermediates: [], expect: 'no_path' });

  // two intermediates with the same name, different keys; the newer one is wrong
  const wrongKey = newKey();
  const wrongInt = issueCert(caSpec(INT, wrongKey, h.rootP, { notBefore: at(-DAY) }));
  add({
    name: 'two same-name intermediates, AKI picks the right one',
    target: h.leaf,
    intermediates: [wrongInt, h.int],
    expect: 'valid',
  });
  add({
    name: 'two same-name intermediates without AKI, the second one tried',
    target: leaf({ aki: false }),
    intermediates: [wrongInt, h.int],
    expect: 'valid',
    interop: false, // openssl verify picks one issuer by name and does not backtrack on a bad signature
  });

  // cross-certification: CA2 is self-signed and untrusted, and also certified by the trusted root
  const ca2Key = newKey();
  const CA2 = 'C=VN, O=Partner, CN=Partner Root';
  const ca2Self = issueCert(caSpec(CA2, ca2Key, undefined, { notBefore: at(-6 * YEAR) }));
  const cross = issueCert(caSpec(CA2, ca2Key, h.rootP));
  const partnerIntKey = newKey();
  const partnerInt = issueCert(
    caSpec('C=VN, O=Partner, CN=Partner Issuing', partnerIntKey, { name: CA2, key: ca2Key }),
  );
  const partnerLeaf = issueCert(
    leafSpec({ name: 'C=VN, O=Partner, CN=Partner Issuing', key: partnerIntKey }, newKey()),
  );
  add({
    name: 'cross-certificate path',
    target: partnerLeaf,
    intermediates: [partnerInt, cross, ca2Self],
    expect: 'valid',
  });
  add({
    name: 'cross-certified CA without the cross-certificate',
    target: partnerLeaf,
    intermediates: [partnerInt, ca2Self],
    expect: 'no_path',
  });

  // path length: int1 pathLen 0 then another CA below it
  const pl = hierarchy('ec', { pathLen: 0 });
  const subKey = newKey();
  const sub = issueCert(caSpec('C=VN, O=Truc, CN=Sub CA', subKey, pl.intP));
  add({
    name: 'path length constraint exceeded',
    target: issueCert(leafSpec({ name: 'C=VN, O=Truc, CN=Sub CA', key: subKey }, newKey())),
    intermediates: [pl.int, sub],
    anchors: [pl.root],
    expect: 'path_length_exceeded',
  });
  const notCa = hierarchy('ec', { ca: false });
  add({
    name: 'intermediate without cA',
    target: notCa.leaf,
    intermediates: [notCa.int],
    anchors: [notCa.root],
    expect: 'not_ca',
  });
  const noBc = hierarchy('ec', { basicConstraints: false });
  add({
    name: 'intermediate without basicConstraints',
    target: noBc.leaf,
    intermediates: [noBc.int],
    anchors: [noBc.root],
    expect: 'not_ca',
  });
  const noCertSign = hierarchy('ec', { keyUsage: ['digitalSignature', 'cRLSign'] });
  add({
    name: 'intermediate without keyCertSign',
    target: noCertSign.leaf,
    intermediates: [noCertSign.int],
    anchors: [noCertSign.root],
    expect: 'key_usage',
  });
  add({
    name: 'extended key usage mismatch',
    target: leaf({ eku: ['1.3.6.1.5.5.7.3.2'] }),
    expect: 'extended_key_usage',
  });
  const ekuInt = hierarchy('ec', { eku: ['1.3.6.1.5.5.7.3.2'] });
  add({
    name: 'intermediate EKU restricts the purpose',
    target: ekuInt.leaf,
    intermediates: [ekuInt.int],
    anchors: [ekuInt.root],
    expect: 'extended_key_usage',
  });
  add({ name: 'key usage mismatch', target: leaf({ keyUsage: ['nonRepudiation'] }), expect: 'key_usage' });
  add({
    name: 'unknown critical extension',
    target: leaf({
      extra: [{ oid: '1.3.6.1.4.1.55555.9.9', critical: true, value: Buffer.from([0x05, 0x00]) }],
    }),
    expect: 'unknown_critical_extension',
  });
  add({
    name: 'unknown non-critical extension is ignored',
    target: leaf({
      extra: [{ oid: '1.3.6.1.4.1.55555.9.9', critical: false, value: Buffer.from([0x05, 0x00]) }],
    }),
    expect: 'valid',
  });

  // name constraints
  const nc = (c: Partial<CertSpec>) => hierarchy('ec', c);
  const dnsNc = nc({ permitted: [{ dns: 'example.vn' }], excluded: [{ dns: 'bad.example.vn' }] });
  const ncAdd = (
    name: string,
    hh: Hierarchy,
    extra: Partial<CertSpec>,
    expect: Scenario['expect'],
    purpose = true,
  ) =>
    add({
      name,
      target: issueCert(leafSpec(hh.intP, newKey(), extra)),
      intermediates: [hh.int],
      anchors: [hh.root],
      expect,
      ...(purpose ? {} : { purpose: {}, opensslPurpose: undefined }),
    });
  ncAdd('DNS name inside the permitted subtree', dnsNc, {}, 'valid');
  ncAdd(
    'DNS name outside the permitted subtree',
    dnsNc,
    { subject: 'C=VN, O=Truc, CN=www.other.org', san: [{ dns: 'www.other.org' }] },
    'name_constraints',
  );
  ncAdd(
    'DNS name in the excluded subtree',
    dnsNc,
    { subject: 'C=VN, O=Truc, CN=x.bad.example.vn', san: [{ dns: 'x.bad.example.vn' }] },
    'name_constraints',
  );
  ncAdd(
    'host-like CN outside the permitted subtree, no DNS SAN',
    dnsNc,
    { subject: 'C=VN, O=Truc, CN=www.other.org', san: [{ email: 'a@example.vn' }] },
    'name_constraints',
  );
  const dirNc = nc({ permitted: [{ dir: 'C=VN, O=Truc' }] });
  ncAdd('directory name inside the permitted subtree', dirNc, {}, 'valid');
  ncAdd(
    'directory name outside the permitted subtree',
    dirNc,
    { subject: 'C=VN, O=Other, CN=www.example.vn' },
    'name_constraints',
  );
  const mailNc = nc({ permitted: [{ email: 'example.vn' }, { dns: 'example.vn' }] });
  ncAdd(
    'email inside the permitted subtree',
    mailNc,
    { san: [{ dns: 'www.example.vn' }, { email: 'a@example.vn' }] },
    'valid',
  );
  ncAdd(
    'email outside the permitted subtree',
    mailNc,
    { san: [{ dns: 'www.example.vn' }, { email: 'a@evil.org' }] },
    'name_constraints',
  );
  ncAdd(
    'emailAddress in the subject outside the permitted subtree',
    mailNc,
    { subject: 'C=VN, O=Truc, CN=www.example.vn, emailAddress=a@evil.org' },
    'name_constraints',
  );
  const ipNc = nc({ permitted: [{ ip: '10.0.0.0/8' }, { ip: '2001:db8::/32' }, { dns: 'example.vn' }] });
  ncAdd(
    'IPv4 inside the permitted range',
    ipNc,
    { san: [{ dns: 'www.example.vn' }, { ipAddr: '10.1.2.3' }] },
    'valid',
  );
  ncAdd(
    'IPv4 outside the permitted range',
    ipNc,
    { san: [{ dns: 'www.example.vn' }, { ipAddr: '192.168.1.1' }] },
    'name_constraints',
  );
  ncAdd(
    'IPv6 inside the permitted range',
    ipNc,
    { san: [{ dns: 'www.example.vn' }, { ipAddr: '2001:db8::1' }] },
    'valid',
  );
  ncAdd(
    'IPv6 outside the permitted range',
    ipNc,
    { san: [{ dns: 'www.example.vn' }, { ipAddr: '2001:db9::1' }] },
    'name_constraints',
  );
  const ipEx = nc({ excluded: [{ ip: '2001:db8:bad::/48' }] });
  ncAdd(
    'IPv6 in an excluded range',
    ipEx,
    { san: [{ dns: 'www.example.vn' }, { ipAddr: '2001:db8:bad::7' }] },
    'name_constraints',
  );

  // policies
  const pol = nc({ policies: ['2.5.29.32.0'] });
  const polLeaf = (p: string[]) => issueCert(leafSpec(pol.intP, newKey(), { policies: p }));
  add({
    name: 'required policy asserted under anyPolicy',
    target: polLeaf([P1]),
    intermediates: [pol.int],
    anchors: [pol.root],
    requiredPolicies: [P1],
    expect: 'valid',
  });
  add({
    name: 'required policy not asserted',
    target: polLeaf([P1]),
    intermediates: [pol.int],
    anchors: [pol.root],
    requiredPolicies: [P2],
    expect: 'policy',
  });
  add({
    name: 'required policy with a certificate without policies',
    target: h.leaf,
    requiredPolicies: [P1],
    expect: 'policy',
  });
  const polP2 = nc({ policies: [P2] });
  add({
    name: 'intermediate restricts to another policy',
    target: issueCert(leafSpec(polP2.intP, newKey(), { policies: [P1] })),
    intermediates: [polP2.int],
    anchors: [polP2.root],
    requiredPolicies: [P1],
    expect: 'policy',
  });
  const reqExp = nc({ requireExplicitPolicy: 0, policies: [P1] });
  add({
    name: 'requireExplicitPolicy in the chain with a leaf without policies',
    target: issueCert(leafSpec(reqExp.intP, newKey())),
    intermediates: [reqExp.int],
    anchors: [reqExp.root],
    expect: 'policy',
  });
  const inh = nc({ policies: ['2.5.29.32.0'], inhibitAnyPolicy: 0 });
  add({
    name: 'inhibitAnyPolicy stops anyPolicy below',
    target: issueCert(leafSpec(inh.intP, newKey(), { policies: ['2.5.29.32.0'] })),
    intermediates: [inh.int],
    anchors: [inh.root],
    requiredPolicies: [P1],
    expect: 'policy',
  });

  const mapped = nc({ policies: [P1], policyMappings: [[P1, P2]] });
  const mappedLeaf = issueCert(leafSpec(mapped.intP, newKey(), { policies: [P2] }));
  const mapBase = { target: mappedLeaf, intermediates: [mapped.int], anchors: [mapped.root] };
  add({
    name: 'policy mapped by the intermediate satisfies the issuer-domain policy',
    ...mapBase,
    requiredPolicies: [P1],
    expect: 'valid',
  });
  add({
    name: 'subject-domain policy of a mapping is not an authority policy',
    ...mapBase,
    requiredPolicies: [P2],
    expect: 'policy',
  });
  const unmappedLeaf = issueCert(leafSpec(mapped.intP, newKey(), { policies: [P1] }));
  add({
    name: 'issuer-domain policy asserted below a mapping no longer matches',
    ...mapBase,
    target: unmappedLeaf,
    requiredPolicies: [P1],
    expect: 'policy',
  });

  // revocation by CRL
  const crlMode = { mode: 'hard-fail' as const };
  const leafSerial = serialOf(h.leaf);
  const revokedCrl = issueCrl({
    issuer: h.intP,
    thisUpdate: at(-DAY),
    nextUpdate: at(7 * DAY),
    crlNumber: 2,
    revoked: [{ serial: leafSerial, date: at(-2 * DAY), reason: 1 }],
  });
  add({
    name: 'not revoked according to CRLs',
    target: h.leaf,
    crls: [h.rootCrl, h.intCrl],
    ...crlMode,
    expect: 'valid',
  });
  add({
    name: 'revoked by CRL',
    target: h.leaf,
    crls: [h.rootCrl, revokedCrl],
    ...crlMode,
    expect: 'revoked',
  });
  const intRevoked = issueCrl({
    issuer: h.rootP,
    thisUpdate: at(-DAY),
    nextUpdate: at(7 * DAY),
    crlNumber: 2,
    revoked: [{ serial: serialOf(h.int), date: at(-2 * DAY) }],
  });
  add({
    name: 'intermediate revoked by the root CRL',
    target: h.leaf,
    crls: [intRevoked, h.intCrl],
    ...crlMode,
    expect: 'revoked',
  });
  const complete = issueCrl({
    issuer: h.intP,
    thisUpdate: at(-DAY),
    nextUpdate: at(7 * DAY),
    crlNumber: 10,
    freshest: 'http://crl.truc.test/delta.crl',
  });
  const delta = issueCrl({
    issuer: h.intP,
    thisUpdate: at(-3_600_000),
    nextUpdate: at(DAY),
    crlNumber: 11,
    baseCrlNumber: 10,
    revoked: [{ serial: leafSerial, date: at(-2 * 3_600_000), reason: 4 }],
  });
  add({
    name: 'revoked by delta CRL',
    target: h.leaf,
    crls: [h.rootCrl, complete, delta],
    ...crlMode,
    useDeltas: true,
    expect: 'revoked',
  });
  const staleDelta = issueCrl({
    issuer: h.intP,
    thisUpdate: at(-3_600_000),
    nextUpdate: at(DAY),
    crlNumber: 13,
    baseCrlNumber: 12,
    revoked: [{ serial: leafSerial, date: at(-2 * 3_600_000) }],
  });
  add({
    name: 'delta CRL on a base we lack still proves revocation',
    target: h.leaf,
    crls: [h.rootCrl, complete, staleDelta],
    ...crlMode,
    useDeltas: true,
    expect: 'revoked',
  });
  const deltaGood = issueCrl({
    issuer: h.intP,
    thisUpdate: at(-3_600_000),
    nextUpdate: at(DAY),
    crlNumber: 11,
    baseCrlNumber: 10,
  });
  add({
    name: 'complete and delta CRL both silent',
    target: h.leaf,
    crls: [h.rootCrl, complete, deltaGood],
    ...crlMode,
    useDeltas: true,
    expect: 'valid',
  });
  const held = issueCrl({
    issuer: h.intP,
    thisUpdate: at(-DAY),
    nextUpdate: at(7 * DAY),
    crlNumber: 20,
    freshest: 'http://crl.truc.test/delta.crl',
    revoked: [{ serial: leafSerial, date: at(-2 * DAY), reason: 6 }],
  });
  const released = issueCrl({
    issuer: h.intP,
    thisUpdate: at(-3_600_000),
    nextUpdate: at(DAY),
    crlNumber: 21,
    baseCrlNumber: 20,
    revoked: [{ serial: leafSerial, date: at(-2 * 3_600_000), reason: 8 }],
  });
  add({
    name: 'on hold in the complete CRL, removed by the delta',
    target: h.leaf,
    crls: [h.rootCrl, held, released],
    ...crlMode,
    useDeltas: true,
    expect: 'valid',
  });
  add({
    name: 'on hold in the complete CRL',
    target: h.leaf,
    crls: [h.rootCrl, held],
    ...crlMode,
    expect: 'revoked',
  });
  add({
    name: 'CRL with a bad signature gives no status',
    target: h.leaf,
    crls: [h.rootCrl, corrupt(revokedCrl)],
    ...crlMode,
    expect: 'revocation_unknown',
  });
  const expiredCrl = issueCrl({
    issuer: h.intP,
    thisUpdate: at(-30 * DAY),
    nextUpdate: at(-23 * DAY),
    crlNumber: 1,
  });
  add({
    name: 'CRL past its nextUpdate gives no status',
    target: h.leaf,
    crls: [h.rootCrl, expiredCrl],
    ...crlMode,
    expect: 'revocation_unknown',
  });
  add({
    name: 'no revocation information, hard-fail',
    target: h.leaf,
    crls: [],
    ...crlMode,
    expect: 'revocation_unknown',
  });
  add({
    name: 'no revocation information, soft-fail',
    target: h.leaf,
    crls: [],
    mode: 'soft-fail',
    expect: 'valid',
    interop: false,
  });
  const userOnly = issueCrl({
    issuer: h.rootP,
    thisUpdate: at(-DAY),
    nextUpdate: at(7 * DAY),
    crlNumber: 3,
    idp: { onlyUser: true },
    revoked: [{ serial: serialOf(h.int), date: at(-2 * DAY) }],
  });
  add({
    name: 'user-certificates-only CRL does not cover a CA',
    target: h.leaf,
    crls: [userOnly, h.intCrl],
    ...crlMode,
    expect: 'revocation_unknown',
  });

  // revocation by OCSP
  const responderKey = newKey();
  const responder = issueCert({
    subject: 'C=VN, O=Truc, CN=Truc OCSP',
    key: responderKey,
    issuer: h.intP,
    notBefore: at(-DAY * 30),
    notAfter: at(YEAR),
    eku: ['1.3.6.1.5.5.7.3.9'],
    keyUsage: ['digitalSignature'],
  });
  const ocspFor = (status: 'good' | 'revoked', extra: Partial<Parameters<typeof issueOcsp>[0]> = {}) =>
    issueOcsp({
      cert: h.leaf,
      issuerCert: h.int,
      signer: responderKey,
      signerCert: responder,
      responderName: 'C=VN, O=Truc, CN=Truc OCSP',
      status,
      thisUpdate: at(-3_600_000),
      nextUpdate: at(DAY),
      revocationTime: at(-2 * DAY),
      ...extra,
    });
  const ocspBase = { target: h.leaf, crls: [h.rootCrl], interop: false, mode: 'hard-fail' as const };
  add({
    name: 'good by OCSP from a delegated responder',
    ...ocspBase,
    ocsp: [ocspFor('good')],
    expect: 'valid',
  });
  add({
    name: 'good by OCSP with a SHA-256 CertID, responder by key',
    ...ocspBase,
    ocsp: [ocspFor('good', { hash: 'sha256', byKey: true })],
    expect: 'valid',
  });
  add({
    name: 'revoked by OCSP from a delegated responder',
    ...ocspBase,
    ocsp: [ocspFor('revoked')],
    expect: 'revoked',
  });
  add({
    name: 'good by OCSP signed by the CA itself',
    ...ocspBase,
    ocsp: [
      issueOcsp({
        cert: h.leaf,
        issuerCert: h.int,
        signer: h.intKey,
        responderName: INT,
        status: 'good',
        thisUpdate: at(-3_600_000),
        nextUpdate: at(DAY),
      }),
    ],
    expect: 'valid',
  });
  const noEku = issueCert({
    subject: 'C=VN, O=Truc, CN=Truc OCSP',
    key: responderKey,
    issuer: h.intP,
    notBefore: at(-DAY * 30),
    notAfter: at(YEAR),
    keyUsage: ['digitalSignature'],
  });
  add({
    name: 'OCSP responder without OCSPSigning is not authorised',
    ...ocspBase,
    ocsp: [ocspFor('revoked', { signerCert: noEku })],
    expect: 'revocation_unknown',
  });
  const otherCa = hierarchy();
  const foreign = issueCert({
    subject: 'C=VN, O=Truc, CN=Truc OCSP',
    key: responderKey,
    issuer: { name: INT, key: otherCa.intKey },
    notBefore: at(-DAY * 30),
    notAfter: at(YEAR),
    eku: ['1.3.6.1.5.5.7.3.9'],
  });
  add({
    name: 'OCSP responder certified by another CA is not authorised',
    ...ocspBase,
    ocsp: [ocspFor('good', { signerCert: foreign })],
    expect: 'revocation_unknown',
  });
  add({
    name: 'unauthorised OCSP responder, soft-fail',
    ...ocspBase,
    ocsp: [ocspFor('good', { signerCert: noEku })],
    mode: 'soft-fail',
    expect: 'valid',
  });
  add({
    name: 'stale OCSP response',
    ...ocspBase,
    ocsp: [ocspFor('good', { thisUpdate: at(-3 * DAY), nextUpdate: at(-DAY) })],
    expect: 'revocation_unknown',
  });
  add({
    name: 'OCSP response for another certificate',
    ...ocspBase,
    ocsp: [ocspFor('good', { cert: otherCa.leaf })],
    expect: 'revocation_unknown',
  });
  return out;
}

/** The validatePath input for a scenario. */
export function inputOf(s: Scenario) {
  return {
    target: s.target,
    intermediates: s.intermediates,
    trustAnchors: s.anchors,
    time: s.time,
    ...(s.purpose ? { purpose: s.purpose } : {}),
    ...(s.requiredPolicies ? { requiredPolicies: s.requiredPolicies } : {}),
    revocation: { mode: s.mode ?? 'off', crls: s.crls ?? [], ocspResponses: s.ocsp ?? [] },
  } as const;
}
