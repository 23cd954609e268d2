/**
 * A certificate as people read it: subject, issuer, validity, the key and the signature algorithm, and
 * every extension by name (Vietnamese first, English beside) with its value in words — what the console's
 * certificate view and `GET /api/v1/certificates/{serial}?decode=1` show. Read with the path validator's
 * parser (bounded, hostile input refused); an extension it does not decode is listed by OID with its bytes.
 */
import { createPublicKey } from 'node:crypto';
import { children, readElement } from '../asn1/reader.js';
import { parseCertificate, type Certificate } from './path/certificate.js';
import { describeName } from './path/name.js';
import { OID } from './path/oids.js';
import { readOid } from './path/primitives.js';
import { EKU_OIDS } from './profile.js';
import type { GeneralName } from './path/general-name.js';

export interface DescribedExtension {
  oid: string;
  /** Vietnamese name */
  name: string;
  /** English name */
  nameEn: string;
  critical: boolean;
  /** the value in words, one line per item */
  value: string[];
}

export interface DescribedCertificate {
  version: number;
  serial: string;
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  signatureAlgorithm: string;
  publicKey: string;
  sha256: string;
  extensions: DescribedExtension[];
}

const SIGNATURE_ALGORITHMS: Record<string, string> = {
  '1.2.840.113549.1.1.5': 'RSA PKCS#1 v1.5 with SHA-1',
  '1.2.840.113549.1.1.11': 'RSA PKCS#1 v1.5 with SHA-256',
  '1.2.840.113549.1.1.12': 'RSA PKCS#1 v1.5 with SHA-384',
  '1.2.840.113549.1.1.13': 'RSA PKCS#1 v1.5 with SHA-512',
  '1.2.840.113549.1.1.10': 'RSA-PSS',
  '1.2.840.10045.4.3.2': 'ECDSA with SHA-256',
  '1.2.840.10045.4.3.3': 'ECDSA with SHA-384',
  '1.2.840.10045.4.3.4': 'ECDSA with SHA-512',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};

const EXTENSIONS: Record<string, [string, string]> = {
  [OID.subjectKeyIdentifier]: ['Định danh khoá chủ thể', 'Subject Key Identifier'],
  [OID.authorityKeyIdentifier]: ['Định danh khoá CA cấp', 'Authority Key Identifier'],
  [OID.keyUsage]: ['Mục đích dùng khoá', 'Key Usage'],
  [OID.extKeyUsage]: ['Mục đích dùng mở rộng', 'Extended Key Usage'],
  [OID.basicConstraints]: ['Ràng buộc cơ bản', 'Basic Constraints'],
  [OID.subjectAltName]: ['Tên thay thế của chủ thể', 'Subject Alternative Name'],
  [OID.issuerAltName]: ['Tên thay thế của CA cấp', 'Issuer Alternative Name'],
  [OID.crlDistributionPoints]: ['Điểm phân phối CRL', 'CRL Distribution Points'],
  [OID.freshestCRL]: ['CRL bổ sung mới nhất', 'Freshest CRL'],
  [OID.authorityInfoAccess]: ['Truy cập thông tin CA', 'Authority Information Access'],
  [OID.subjectInfoAccess]: ['Truy cập thông tin chủ thể', 'Subject Information Access'],
  [OID.certificatePolicies]: ['Chính sách chứng thư', 'Certificate Policies'],
  [OID.policyMappings]: ['Ánh xạ chính sách', 'Policy Mappings'],
  [OID.policyConstraints]: ['Ràng buộc chính sách', 'Policy Constraints'],
  [OID.inhibitAnyPolicy]: ['Cấm chính sách bất kỳ', 'Inhibit anyPolicy'],
  [OID.nameConstraints]: ['Ràng buộc tên', 'Name Constraints'],
  [OID.ocspNoCheck]: ['Không kiểm tra OCSP', 'OCSP No Check'],
  [OID.subjectDirectoryAttributes]: ['Thuộc tính thư mục chủ thể', 'Subject Directory Attributes'],
  '1.3.6.1.5.5.7.1.3': ['Tuyên bố chứng thư đủ điều kiện', 'Qualified Certificate Statements'],
  '1.3.6.1.4.1.11129.2.4.2': ['Dấu thời gian minh bạch chứng thư', 'Signed Certificate Timestamps'],
};

const KEY_USAGE_VI: Record<string, string> = {
  digitalSignature: 'ký số',
  nonRepudiation: 'chống chối bỏ',
  contentCommitment: 'chống chối bỏ',
  keyEncipherment: 'mã hoá khoá',
  dataEncipherment: 'mã hoá dữ liệu',
  keyAgreement: 'thoả thuận khoá',
  keyCertSign: 'ký chứng thư',
  cRLSign: 'ký CRL',
  encipherOnly: 'chỉ mã hoá',
  decipherOnly: 'chỉ giải mã',
};

const EKU_VI: Record<string, string> = {
  serverAuth: 'xác thực máy chủ',
  clientAuth: 'xác thực máy khách',
  codeSigning: 'ký mã',
  emailProtection: 'bảo vệ thư điện tử',
  timeStamping: 'cấp dấu thời gian',
  OCSPSigning: 'ký trả lời OCSP',
  documentSigning: 'ký văn bản',
};
const EKU_NAMES = Object.fromEntries(Object.entries(EKU_OIDS).map(([name, oid]) => [oid, name]));

function generalName(n: GeneralName): string {
  switch (n.type) {
    case 'dns':
      return `DNS: ${n.value}`;
    case 'email':
      return `email: ${n.value}`;
    case 'uri':
      return `URI: ${n.value}`;
    case 'ip':
      return `IP: ${n.value.length === 4 ? [...n.value].join('.') : (n.value.toString('hex').match(/.{4}/g) ?? []).join(':')}`;
    case 'dir':
      return `DirName: ${describeName(n.value)}`;
    default:
      return `otherName [${n.tag}]`;
  }
}

const hex = (b: Buffer) => (b.toString('hex').match(/../g) ?? []).join(':').toUpperCase();

function algorithmOf(identifier: Buffer): string {
  try {
    const [o] = children(readElement(identifier, 0, 'AlgorithmIdentifier'), 'AlgorithmIdentifier', 2);
    const oid = o ? readOid(o, 'AlgorithmIdentifier') : '';
    return SIGNATURE_ALGORITHMS[oid] ?? oid;
  } catch {
    return 'không đọc được (unreadable)';
  }
}

function publicKeyOf(spki: Buffer): string {
  try {
    const k = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    const d = k.asymmetricKeyDetails ?? {};
    if (k.asymmetricKeyType === 'ec') return `EC ${d.namedCurve ?? ''}`.trim();
    if (k.asymmetricKeyType === 'rsa' || k.asymmetricKeyType === 'rsa-pss') return `RSA ${d.modulusLength ?? '?'} bit`;
    return String(k.asymmetricKeyType ?? 'unknown').toUpperCase();
  } catch {
    return 'không đọc được (unreadable)';
  }
}

function valueOf(c: Certificate, oid: string, raw: Buffer): string[] {
  switch (oid) {
    case OID.subjectKeyIdentifier:
      return c.subjectKeyId ? [hex(c.subjectKeyId)] : [];
    case OID.authorityKeyIdentifier:
      return c.authorityKeyId ? [hex(c.authorityKeyId)] : [];
    case OID.keyUsage:
      return [...(c.keyUsage ?? [])].map((u) => `${KEY_USAGE_VI[u] ?? u} (${u})`);
    case OID.extKeyUsage:
      return (c.extKeyUsage ?? []).map((o) => {
        const name = EKU_NAMES[o];
        return name ? `${EKU_VI[name] ?? name} (${name}, ${o})` : o;
      });
    case OID.basicConstraints:
      return c.basicConstraints?.ca
        ? [`CA: có (yes)${c.basicConstraints.pathLen !== undefined ? `, độ dài đường tối đa (path length) ${c.basicConstraints.pathLen}` : ''}`]
        : ['CA: không (no) — chứng thư đầu cuối (end entity)'];
    case OID.subjectAltName:
      return c.subjectAltNames.map(generalName);
    case OID.crlDistributionPoints:
      return c.crlDistributionPoints.flatMap((d) => (d.fullName ?? []).map(generalName));
    case OID.authorityInfoAccess:
      return c.ocspUrls.map((u) => `OCSP: ${u}`);
    case OID.certificatePolicies:
      return c.policies ?? [];
    case OID.inhibitAnyPolicy:
      return c.inhibitAnyPolicy !== undefined ? [`sau (after) ${c.inhibitAnyPolicy}`] : [];
    case OID.policyConstraints:
      return c.policyConstraints ? Object.entries(c.policyConstraints).map(([k, v]) => `${k}: ${v}`) : [];
    case OID.policyMappings:
      return (c.policyMappings ?? []).map(([a, b]) => `${a} → ${b}`);
    case OID.nameConstraints:
      return c.nameConstraints
        ? [...c.nameConstraints.permitted.map((n) => `cho phép (permitted) ${generalName(n)}`), ...c.nameConstraints.excluded.map((n) => `loại trừ (excluded) ${generalName(n)}`)]
        : [];
    case OID.ocspNoCheck:
      return ['có (present)'];
    default:
      return [raw.length > 64 ? `${hex(raw.subarray(0, 64))}… (${raw.length} byte)` : hex(raw)];
  }
}

export function describeCertificate(der: Buffer): DescribedCertificate {
  const c = parseCertificate(der);
  const extensions: DescribedExtension[] = [];
  for (const [oid, e] of c.extensions) {
    const [name, nameEn] = EXTENSIONS[oid] ?? ['Phần mở rộng khác', oid];
    let value: string[];
    try {
      value = valueOf(c, oid, e.value);
    } catch {
      value = [hex(e.value.subarray(0, 64))];
    }
    extensions.push({ oid, name, nameEn, critical: e.critical, value });
  }
  return {
    version: c.version,
    serial: c.serialHex,
    subject: describeName(c.subject),
    issuer: describeName(c.issuer),
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    signatureAlgorithm: algorithmOf(c.signatureAlgorithm),
    publicKey: publicKeyOf(c.spki),
    sha256: c.fingerprint,
    extensions,
  };
}
