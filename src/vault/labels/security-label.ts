/**
 * The classification as an ESS security label (RFC 2634 §5.4) in a CMS signer's signed attributes, so the
 * signature covers it: ESSSecurityLabel ::= SET { security-policy-identifier OID, security-classification
 * INTEGER, privacy-mark UTF8String }. The policy OID sits under a placeholder arc for Viet Nam
 * (2.16.704.1.101.1) until an official one is assigned.
 */
import { oid, int, utf8, seq, set, tlv } from '../../asn1/der.js';
import { children, decodeOid, parseOne, type Element } from '../../asn1/reader.js';
import { TrucError } from '../../errors.js';
import { ESS_CLASSIFICATION, LEVELS, type Level } from './levels.js';

export const ID_AA_SECURITY_LABEL = '1.2.840.113549.1.9.16.2.2';
/** placeholder: the security policy of the Law on Protection of State Secrets */
export const VN_STATE_SECRETS_POLICY = '2.16.704.1.101.1';

const MARK: Record<Level, string> = { unclassified: 'KHÔNG MẬT', mat: 'MẬT', 'toi-mat': 'TỐI MẬT', 'tuyet-mat': 'TUYỆT MẬT' };

export interface SecurityLabel {
  level: Level;
  policy: string;
  privacyMark?: string;
}

/** The DER `Attribute` (id-aa-securityLabel) for a CAdES signer's signed attributes. */
export function securityLabelAttribute(level: Level, policy = VN_STATE_SECRETS_POLICY): Buffer {
  // SET members in DER order: OID (06) < INTEGER (02)? — DER sorts SET (not SET OF) by tag: INTEGER, OID, UTF8String
  const label = tlv(0x31, int(ESS_CLASSIFICATION[level]), oid(policy), utf8(MARK[level]));
  return seq(oid(ID_AA_SECURITY_LABEL), set(label));
}

/** Finds and reads the security label among DER-encoded signed attributes (the SET OF or [0] form). */
export function readSecurityLabel(signedAttrs: Uint8Array): SecurityLabel | null {
  let attrs: Element[];
  try {
    attrs = children(parseOne(Buffer.from(signedAttrs), 'signed attributes'), 'signed attributes', 100);
  } catch {
    throw new TrucError('malformed_cms', 'signed attributes are not DER');
  }
  for (const a of attrs) {
    const [type, values] = children(a, 'attribute', 2);
    if (!type || type.tag !== 0x06 || decodeOid(type.value) !== ID_AA_SECURITY_LABEL) continue;
    const vals = children(values, 'attribute values', 2);
    if (vals.length !== 1) throw new TrucError('malformed_cms', 'a security label attribute must have exactly one value');
    let policy: string | undefined;
    let cls: number | undefined;
    let mark: string | undefined;
    for (const f of children(vals[0], 'ESSSecurityLabel', 8)) {
      if (f.tag === 0x06) policy = decodeOid(f.value);
      else if (f.tag === 0x02) cls = f.value.length <= 2 ? f.value.readUIntBE(0, f.value.length) : -1;
      else if (f.tag === 0x0c || f.tag === 0x13) mark = f.value.toString('utf8');
    }
    if (!policy) throw new TrucError('malformed_cms', 'security label without a policy identifier');
    const level = LEVELS.find((l) => ESS_CLASSIFICATION[l] === cls);
    if (!level) throw new TrucError('label_missing', `security label classification ${cls} is not one of ours`);
    return { level, policy, ...(mark ? { privacyMark: mark } : {}) };
  }
  return null;
}

