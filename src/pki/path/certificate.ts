/**
 * A certificate read for path validation: the exact signed bytes, the names in comparison form and the
 * extensions the RFC 5280 algorithm consults, decoded once. Parsing faces hostile input: size capped, DER
 * well-formedness and nesting checked before anything else, counts of every repeated element bounded.
 */
import { createHash } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { checkTree, children, parseOne, readElement, type Element } from '../../asn1/reader.js';
import { nameFromElement, type DistinguishedName } from './name.js';
import { readGeneralName, readGeneralNames, type GeneralName } from './general-name.js';
import {
  bitSet,
  readBitString,
  readBoolean,
  readOid,
  readSerial,
  readSmallUint,
  readTime,
  serialKey,
} from './primitives.js';
import { KEY_USAGE_BITS, OID, type KeyUsageName } from './oids.js';
import { MAX_CERT_BYTES } from './limits.js';

export interface Extension {
  critical: boolean;
  value: Buffer;
}

export interface DistributionPoint {
  fullName?: GeneralName[];
  /** nameRelativeToCRLIssuer is present (not supported for matching) */
  relativeName?: boolean;
  reasons?: number;
  crlIssuer?: GeneralName[];
}

export interface NameConstraints {
  permitted: GeneralName[];
  excluded: GeneralName[];
}

export interface Certificate {
  der: Buffer;
  tbs: Buffer;
  signatureAlgorithm: Buffer;
  signatureAlgorithmMatches: boolean;
  signature: Buffer;
  version: number;
  serial: Buffer;
  serialHex: string;
  issuer: DistinguishedName;
  subject: DistinguishedName;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  /** subjectPublicKey BIT STRING content (what OCSP key hashes and key identifiers cover) */
  publicKeyBits: Buffer;
  /** SHA-256 of the DER, hex: identity for loop detection and caches */
  fingerprint: string;
  selfIssued: boolean;
  extensions: Map<string, Extension>;
  basicConstraints?: { ca: boolean; pathLen?: number };
  keyUsage?: Set<KeyUsageName>;
  extKeyUsage?: string[];
  subjectKeyId?: Buffer;
  authorityKeyId?: Buffer;
  /** the authority key identifier names the issuer's issuer and serial (authorityCertIssuer/SerialNumber) */
  authorityKeyIdByIssuer?: boolean;
  subjectAltNames: GeneralName[];
  nameConstraints?: NameConstraints;
  policies?: string[];
  policyMappings?: [string, string][];
  policyConstraints?: { requireExplicitPolicy?: number; inhibitPolicyMapping?: number };
  inhibitAnyPolicy?: number;
  crlDistributionPoints: DistributionPoint[];
  ocspUrls: string[];
}

const MAX_EXTENSIONS = 64;
const MAX_POLICIES = 64;
const MAX_SUBTREES = 256;

function one(buf: Buffer, what: string): Element {
  const el = readElement(buf, 0, what);
  if (el.end !== buf.length) throw new TrucError('malformed_der', `${what}: trailing bytes`);
  return el;
}

function seqOf(buf: Buffer, what: string, max: number): Element[] {
  const el = one(buf, what);
  if (el.tag !== 0x30) throw new TrucError('malformed_der', `${what}: expected a SEQUENCE`);
  return children(el, what, max);
}

export function readDistributionPoints(value: Buffer, what = 'CRL distribution points'): DistributionPoint[] {
  return seqOf(value, what, 32).map((dpEl) => readDistributionPoint(dpEl, what));
}

function readDistributionPoint(dpEl: Element, what: string): DistributionPoint {
  const dp: DistributionPoint = {};
  for (const f of children(dpEl, what, 3)) {
    if (f.tag === 0xa0) {
      const [nm] = children(f, what, 1);
      if (nm?.tag === 0xa0) dp.fullName = readGeneralNames(nm, what);
      else if (nm?.tag === 0xa1) dp.relativeName = true;
      else throw new TrucError('malformed_der', `${what}: bad distribution point name`);
    } else if (f.tag === 0x81) {
      const bs = readBitString(f, what, 0x81);
      dp.reasons = (bs.bytes[0] ?? 0) | ((bs.bytes[1] ?? 0) << 8);
    } else if (f.tag === 0xa2) {
      dp.crlIssuer = readGeneralNames(f, what);
    } else throw new TrucError('malformed_der', `${what}: unexpected field`);
  }
  return dp;
}

/** The name of a DistributionPointName CHOICE inside an issuingDistributionPoint ([0] of that SEQUENCE). */
export function readDistributionPointName(
  el: Element,
  what: string,
): { fullName?: GeneralName[]; relativeName?: boolean } {
  const [nm] = children(el, what, 1);
  if (nm?.tag === 0xa0) return { fullName: readGeneralNames(nm, what) };
  if (nm?.tag === 0xa1) return { relativeName: true };
  throw new TrucError('malformed_der', `${what}: bad distribution point name`);
}

function readSubtrees(el: Element, what: string): GeneralName[] {
  return children(el, what, MAX_SUBTREES).map((st) => {
    const parts = children(st, what, 3);
    if (st.tag !== 0x30 || parts.length === 0)
      throw new TrucError('malformed_der', `${what}: bad GeneralSubtree`);
    // minimum and maximum are MUST-default in RFC 5280; a subtree using them is read as if they were absent
    return readGeneralName(parts[0], what);
  });
}

function decodeExtensions(cert: Certificate): void {
  const ext = (oid: string) => cert.extensions.get(oid)?.value;
  let v: Buffer | undefined;
  if ((v = ext(OID.basicConstraints))) {
    const parts = seqOf(v, 'basicConstraints', 2);
    let i = 0;
    let ca = false;
    if (parts[i]?.tag === 0x01) ca = readBoolean(parts[i++], 'basicConstraints');
    const pathLen = parts[i] ? readSmallUint(parts[i], 'basicConstraints pathLen') : undefined;
    cert.basicConstraints = { ca, ...(pathLen !== undefined ? { pathLen } : {}) };
  }
  if ((v = ext(OID.keyUsage))) {
    const bs = readBitString(one(v, 'keyUsage'), 'keyUsage');
    cert.keyUsage = new Set(KEY_USAGE_BITS.filter((_, i) => bitSet(bs, i)));
  }
  if ((v = ext(OID.extKeyUsage)))
    cert.extKeyUsage = seqOf(v, 'extKeyUsage', 64).map((e) => readOid(e, 'extKeyUsage'));
  if ((v = ext(OID.subjectKeyIdentifier))) {
    const el = one(v, 'subjectKeyIdentifier');
    if (el.tag !== 0x04) throw new TrucError('malformed_der', 'subjectKeyIdentifier: expected OCTET STRING');
    cert.subjectKeyId = el.value;
  }
  if ((v = ext(OID.authorityKeyIdentifier))) {
    for (const f of seqOf(v, 'authorityKeyIdentifier', 3)) {
      if (f.tag === 0x80) cert.authorityKeyId = f.value;
      else if (f.tag === 0xa1 || f.tag === 0x82) cert.authorityKeyIdByIssuer = true;
    }
  }
  if ((v = ext(OID.subjectAltName))) {
    const el = one(v, 'subjectAltName');
    cert.subjectAltNames = readGeneralNames(el, 'subjectAltName');
  }
  if ((v = ext(OID.nameConstraints))) {
    const nc: NameConstraints = { permitted: [], excluded: [] };
    for (const f of seqOf(v, 'nameConstraints', 2)) {
      if (f.tag === 0xa0) nc.permitted = readSubtrees(f, 'nameConstraints');
      else if (f.tag === 0xa1) nc.excluded = readSubtrees(f, 'nameConstraints');
      else throw new TrucError('malformed_der', 'nameConstraints: unexpected field');
    }
    cert.nameConstraints = nc;
  }
  if ((v = ext(OID.certificatePolicies))) {
    const list = seqOf(v, 'certificatePolicies', MAX_POLICIES).map((p) => {
      const [idEl] = children(p, 'certificatePolicies', 2);
      if (!idEl) throw new TrucError('malformed_der', 'certificatePolicies: empty PolicyInformation');
      return readOid(idEl, 'certificatePolicies');
    });
    if (new Set(list).size !== list.length)
      throw new TrucError('malformed_der', 'certificatePolicies: a policy appears twice');
    cert.policies = list;
  }
  if ((v = ext(OID.policyMappings))) {
    cert.policyMappings = seqOf(v, 'policyMappings', MAX_POLICIES).map((m) => {
      const [a, b] = children(m, 'policyMappings', 2);
      if (!a || !b) throw new TrucError('malformed_der', 'policyMappings: bad mapping');
      return [readOid(a, 'policyMappings'), readOid(b, 'policyMappings')];
    });
  }
  if ((v = ext(OID.policyConstraints))) {
    const pc: { requireExplicitPolicy?: number; inhibitPolicyMapping?: number } = {};
    for (const f of seqOf(v, 'policyConstraints', 2)) {
      if (f.tag === 0x80) pc.requireExplicitPolicy = readSmallUint(f, 'policyConstraints', 0x80);
      else if (f.tag === 0x81) pc.inhibitPolicyMapping = readSmallUint(f, 'policyConstraints', 0x81);
    }
    cert.policyConstraints = pc;
  }
  if ((v = ext(OID.inhibitAnyPolicy)))
    cert.inhibitAnyPolicy = readSmallUint(one(v, 'inhibitAnyPolicy'), 'inhibitAnyPolicy');
  if ((v = ext(OID.crlDistributionPoints))) cert.crlDistributionPoints = readDistributionPoints(v);
  if ((v = ext(OID.authorityInfoAccess))) {
    for (const ad of seqOf(v, 'authorityInfoAccess', 32)) {
      const [m, loc] = children(ad, 'authorityInfoAccess', 2);
      if (!m || !loc) throw new TrucError('malformed_der', 'authorityInfoAccess: bad AccessDescription');
      const gn = readGeneralName(loc, 'authorityInfoAccess');
      if (readOid(m, 'authorityInfoAccess') === OID.accessOcsp && gn.type === 'uri')
        cert.ocspUrls.push(gn.value);
    }
  }
}

export function parseCertificate(der: Buffer): Certificate {
  checkTree(der, 'certificate', 32);
  const root = parseOne(der, 'certificate', MAX_CERT_BYTES);
  const top = children(root, 'certificate', 3);
  if (root.tag !== 0x30 || top.length !== 3)
    throw new TrucError('malformed_der', 'certificate: expected 3 fields');
  const [tbsEl, algEl, sigEl] = top;
  const f = children(tbsEl, 'tbsCertificate', 10);
  let i = 0;
  let version = 1;
  if (f[i]?.tag === 0xa0) {
    const [vEl] = children(f[i++], 'version', 1);
    version = readSmallUint(vEl, 'version') + 1;
  }
  const serial = readSerial(f[i++], 'serialNumber');
  const innerAlg = f[i++];
  const issuerEl = f[i++];
  const validity = f[i++];
  const subjectEl = f[i++];
  const spkiEl = f[i++];
  if (!innerAlg || !issuerEl || !validity || !subjectEl || !spkiEl)
    throw new TrucError('malformed_der', 'tbsCertificate: missing fields');
  const [nb, na] = children(validity, 'validity', 2);
  if (!nb || !na) throw new TrucError('malformed_der', 'validity: missing times');
  const spkiParts = children(spkiEl, 'subjectPublicKeyInfo', 2);
  if (spkiParts.length !== 2) throw new TrucError('malformed_der', 'subjectPublicKeyInfo: expected 2 fields');
  const extensions = new Map<string, Extension>();
  for (; i < f.length; i++) {
    if (f[i].tag === 0x81 || f[i].tag === 0x82) continue; // unique identifiers: obsolete, ignored
    if (f[i].tag !== 0xa3 || version !== 3)
      throw new TrucError('malformed_der', 'tbsCertificate: unexpected field');
    const [extsEl] = children(f[i], 'extensions', 1);
    if (!extsEl) throw new TrucError('malformed_der', 'extensions: empty');
    for (const e of children(extsEl, 'extensions', MAX_EXTENSIONS)) {
      const parts = children(e, 'extension', 3);
      const oid = readOid(parts[0], 'extension');
      const critical = parts.length === 3 ? readBoolean(parts[1], 'extension critical') : false;
      const val = parts[parts.length - 1];
      if (parts.length < 2 || val.tag !== 0x04)
        throw new TrucError('malformed_der', `extension ${oid}: bad value`);
      if (extensions.has(oid)) throw new TrucError('malformed_der', `extension ${oid} appears twice`);
      extensions.set(oid, { critical, value: val.value });
    }
  }
  const issuer = nameFromElement(issuerEl, 'issuer');
  const subject = nameFromElement(subjectEl, 'subject');
  const cert: Certificate = {
    der,
    tbs: tbsEl.raw,
    signatureAlgorithm: algEl.raw,
    signatureAlgorithmMatches: algEl.raw.equals(innerAlg.raw),
    signature: readBitString(sigEl, 'signature').bytes,
    version,
    serial,
    serialHex: serialKey(serial),
    issuer,
    subject,
    notBefore: readTime(nb, 'notBefore'),
    notAfter: readTime(na, 'notAfter'),
    spki: spkiEl.raw,
    publicKeyBits: readBitString(spkiParts[1], 'subjectPublicKey').bytes,
    fingerprint: createHash('sha256').update(der).digest('hex'),
    selfIssued: issuer.key === subject.key,
    extensions,
    subjectAltNames: [],
    crlDistributionPoints: [],
    ocspUrls: [],
  };
  decodeExtensions(cert);
  return cert;
}
