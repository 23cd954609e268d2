/**
 * CRLs (RFC 5280 section 5) read as revocation evidence: the signed bytes, issuer, validity window, CRL
 * number, delta indicator, issuing distribution point, and the revoked entries indexed by serial number
 * and certificate issuer (entries of an indirect CRL may belong to other CAs, via certificateIssuer).
 */
import { createHash } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { checkTree, children, parseOne, readElement, type Element } from '../../asn1/reader.js';
import { nameFromElement, type DistinguishedName } from './name.js';
import { readGeneralNames, type GeneralName } from './general-name.js';
import { readDistributionPointName } from './certificate.js';
import {
  readBigUint,
  readBitString,
  readBoolean,
  readOid,
  readSerial,
  readTime,
  serialKey,
} from './primitives.js';
import { OID, UNDERSTOOD_CRL_ENTRY_EXTENSIONS, UNDERSTOOD_CRL_EXTENSIONS } from './oids.js';
import { MAX_CRL_BYTES, MAX_CRL_ENTRIES } from './limits.js';

export interface IssuingDistributionPoint {
  fullName?: GeneralName[];
  relativeName?: boolean;
  onlyUserCerts: boolean;
  onlyCACerts: boolean;
  onlySomeReasons?: number;
  indirectCRL: boolean;
  onlyAttributeCerts: boolean;
}

export interface CrlEntry {
  revocationDate: Date;
  reason?: number;
}

export interface Crl {
  der: Buffer;
  tbs: Buffer;
  signatureAlgorithm: Buffer;
  signatureAlgorithmMatches: boolean;
  signature: Buffer;
  issuer: DistinguishedName;
  thisUpdate: Date;
  nextUpdate?: Date;
  crlNumber?: bigint;
  /** present on a delta CRL: the complete CRL number it builds on */
  baseCrlNumber?: bigint;
  idp?: IssuingDistributionPoint;
  /** a critical CRL or entry extension we do not process: the CRL must not be used */
  unknownCritical?: string;
  /** key: serial (hex) | certificate issuer name key */
  entries: Map<string, CrlEntry>;
  fingerprint: string;
}

export const REMOVE_FROM_CRL = 8;

function one(buf: Buffer, what: string): Element {
  const el = readElement(buf, 0, what);
  if (el.end !== buf.length) throw new TrucError('malformed_der', `${what}: trailing bytes`);
  return el;
}

function readIdp(value: Buffer): IssuingDistributionPoint {
  const idp: IssuingDistributionPoint = {
    onlyUserCerts: false,
    onlyCACerts: false,
    indirectCRL: false,
    onlyAttributeCerts: false,
  };
  for (const f of children(one(value, 'issuingDistributionPoint'), 'issuingDistributionPoint', 6)) {
    switch (f.tag) {
      case 0xa0:
        Object.assign(idp, readDistributionPointName(f, 'issuingDistributionPoint'));
        break;
      case 0x81:
        idp.onlyUserCerts = readBoolean(f, 'onlyContainsUserCerts', 0x81);
        break;
      case 0x82:
        idp.onlyCACerts = readBoolean(f, 'onlyContainsCACerts', 0x82);
        break;
      case 0x83: {
        const bs = readBitString(f, 'onlySomeReasons', 0x83);
        idp.onlySomeReasons = (bs.bytes[0] ?? 0) | ((bs.bytes[1] ?? 0) << 8);
        break;
      }
      case 0x84:
        idp.indirectCRL = readBoolean(f, 'indirectCRL', 0x84);
        break;
      case 0x85:
        idp.onlyAttributeCerts = readBoolean(f, 'onlyContainsAttributeCerts', 0x85);
        break;
      default:
        throw new TrucError('malformed_der', 'issuingDistributionPoint: unexpected field');
    }
  }
  return idp;
}

function readExtensions(el: Element, what: string): { oid: string; critical: boolean; value: Buffer }[] {
  const [list] = el.tag === 0x30 ? [el] : children(el, what, 1);
  if (!list) return [];
  return children(list, what, 64).map((e) => {
    const parts = children(e, what, 3);
    const oid = readOid(parts[0], what);
    const critical = parts.length === 3 ? readBoolean(parts[1], what) : false;
    const val = parts[parts.length - 1];
    if (parts.length < 2 || val.tag !== 0x04)
      throw new TrucError('malformed_der', `${what} ${oid}: bad value`);
    return { oid, critical, value: val.value };
  });
}

export function parseCrl(der: Buffer): Crl {
  checkTree(der, 'CRL', 32);
  const root = parseOne(der, 'CRL', MAX_CRL_BYTES);
  const top = children(root, 'CRL', 3);
  if (root.tag !== 0x30 || top.length !== 3) throw new TrucError('malformed_der', 'CRL: expected 3 fields');
  const [tbsEl, algEl, sigEl] = top;
  const f = children(tbsEl, 'tbsCertList', 8);
  let i = 0;
  if (f[i]?.tag === 0x02) i++; // version
  const innerAlg = f[i++];
  const issuerEl = f[i++];
  const thisEl = f[i++];
  if (!innerAlg || !issuerEl || !thisEl) throw new TrucError('malformed_der', 'tbsCertList: missing fields');
  const issuer = nameFromElement(issuerEl, 'CRL issuer');
  const crl: Crl = {
    der,
    tbs: tbsEl.raw,
    signatureAlgorithm: algEl.raw,
    signatureAlgorithmMatches: algEl.raw.equals(innerAlg.raw),
    signature: readBitString(sigEl, 'CRL signature').bytes,
    issuer,
    thisUpdate: readTime(thisEl, 'thisUpdate'),
    entries: new Map(),
    fingerprint: createHash('sha256').update(der).digest('hex'),
  };
  if (f[i] && (f[i].tag === 0x17 || f[i].tag === 0x18)) crl.nextUpdate = readTime(f[i++], 'nextUpdate');
  let revokedEl: Element | undefined;
  if (f[i]?.tag === 0x30) revokedEl = f[i++];
  if (f[i]?.tag === 0xa0) {
    for (const e of readExtensions(f[i++], 'CRL extension')) {
      // RFC 5280 5.2.3: the CRL number is never critical; one marked critical is an extension we do not
      // process as written, and the CRL is not used
      if (e.oid === OID.crlNumber && e.critical) crl.unknownCritical = `${e.oid} (critical cRLNumber)`;
      else if (e.oid === OID.crlNumber) crl.crlNumber = readBigUint(one(e.value, 'cRLNumber'), 'cRLNumber');
      else if (e.oid === OID.deltaCRLIndicator)
        crl.baseCrlNumber = readBigUint(one(e.value, 'deltaCRLIndicator'), 'deltaCRLIndicator');
      else if (e.oid === OID.issuingDistributionPoint) crl.idp = readIdp(e.value);
      else if (e.critical && !UNDERSTOOD_CRL_EXTENSIONS.has(e.oid)) crl.unknownCritical = e.oid;
    }
  }
  if (i !== f.length) throw new TrucError('malformed_der', 'tbsCertList: unexpected field');
  if (revokedEl) {
    let entryIssuer = issuer.key;
    for (const r of children(revokedEl, 'revokedCertificates', MAX_CRL_ENTRIES)) {
      const parts = children(r, 'revoked entry', 3);
      if (parts.length < 2) throw new TrucError('malformed_der', 'revoked entry: missing fields');
      const entry: CrlEntry = { revocationDate: readTime(parts[1], 'revocationDate') };
      if (parts[2]) {
        for (const e of readExtensions(parts[2], 'CRL entry extension')) {
          if (e.oid === OID.reasonCode) {
            const el = one(e.value, 'reasonCode');
            if (el.tag !== 0x0a || el.value.length !== 1)
              throw new TrucError('malformed_der', 'reasonCode: bad value');
            entry.reason = el.value[0];
          } else if (e.oid === OID.certificateIssuer && crl.idp?.indirectCRL) {
            const dir = readGeneralNames(one(e.value, 'certificateIssuer'), 'certificateIssuer').find(
              (n) => n.type === 'dir',
            );
            if (dir && dir.type === 'dir') entryIssuer = dir.value.key;
          } else if (e.critical && !UNDERSTOOD_CRL_ENTRY_EXTENSIONS.has(e.oid)) crl.unknownCritical = e.oid;
        }
      }
      crl.entries.set(`${serialKey(readSerial(parts[0], 'revoked serial'))}|${entryIssuer}`, entry);
    }
  }
  return crl;
}
