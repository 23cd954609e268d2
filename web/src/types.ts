/** The shapes the platform's JSON APIs answer with, as far as the console reads them. */
export interface Alert {
  id: string;
  ruleId: string;
  title: string;
  author: string | null;
  kind: 'rule' | 'correlation';
  level: string;
  severity: number;
  tags: string[];
  attack: string[];
  group: Record<string, unknown>;
  count: number;
  value: number | null;
  eventIds: string[];
  sample: unknown;
  firstAt: string;
  lastAt: string;
  status: 'new' | 'acknowledged' | 'closed';
  closeReason: string | null;
  assignee: string | null;
  createdAt: string;
  updatedAt: string;
  notes?: { author: string; text: string; at: string }[];
}

export interface StoredEvent {
  id: string;
  ts: string;
  action: string;
  outcome: string | null;
  host: string | null;
  user: string | null;
  sourceIp: string | null;
  part: string | null;
  intake: string | null;
  rules: string[];
  event: Record<string, unknown>;
}

export interface Rule {
  id: string;
  title: string;
  kind: string;
  level?: string;
  author?: string;
  status?: string;
  tags: string[];
  file: string;
  enabled: boolean;
  filter: Record<string, unknown> | null;
}

export interface Vendor {
  id: string;
  name: string;
  country: string | null;
  taxId: string | null;
  contact: string | null;
  createdAt: string;
}

export interface Product {
  id: string;
  vendorId: string;
  vendorName: string;
  name: string;
  kind: string;
  description: string | null;
  createdAt: string;
}

export interface Counts {
  PASS: number;
  FAIL: number;
  ACCEPTABLE: number;
  UNSUPPORTED: number;
  SKIPPED: number;
  ERROR: number;
}

export interface Run {
  id: string;
  productVersionId: string | null;
  productName: string;
  productVersion: string;
  adapter: string;
  profile: string | null;
  verdict: 'PASS' | 'FAIL' | null;
  counts: Counts;
  signed: boolean;
  startedAt: string;
  finishedAt: string;
  operator: string;
}

export interface ConformityCertificate {
  number: string;
  productVersionId: string;
  vendorName: string;
  productName: string;
  version: string;
  algorithms: string[];
  profile: string;
  standard: string;
  runId: string | null;
  issuedAt: string;
  validUntil: string;
  status: 'issued' | 'suspended' | 'revoked';
  statusReason: string | null;
}

export interface Licence {
  number: string;
  vendorId: string;
  vendorName: string;
  productId: string | null;
  productName: string | null;
  kind: string;
  scope: string | null;
  issuedAt: string;
  expiresAt: string;
  status: 'issued' | 'suspended' | 'revoked';
  statusReason: string | null;
}

export interface Version {
  id: string;
  productId: string;
  productName: string;
  vendorName: string;
  version: string;
  algorithms: string[];
  createdAt: string;
}

export interface ProductDetail extends Product {
  versions: (Version & { runs: Run[]; certificates: ConformityCertificate[] })[];
  licences: Licence[];
}

export interface Certificate {
  serial: string;
  ca: string;
  profile: string;
  subject: string;
  keyAlgorithm: string;
  notBefore: string;
  notAfter: string;
  status: 'good' | 'revoked' | 'hold';
  revokedAt: string | null;
  reason: string | null;
  requestId: string | null;
  requestedBy: string | null;
  issuedAt: string;
  certificate: string;
}

/** The exchange: the central server's registry and the security servers of this process. */
export interface ExchangeMember {
  memberClass: string;
  memberCode: string;
  name: string;
  subsystems: string[];
}

export interface ExchangeServerRow {
  ownerClass: string;
  ownerCode: string;
  serverCode: string;
  address: string;
  maintenance: boolean;
  /** what the owner tells clients while the server is in maintenance */
  maintenanceMessage?: string;
  authCertHashes: string[];
  clients: { memberClass: string; memberCode: string; subsystemCode: string }[];
}

export interface RegistrationRequestView {
  id: string;
  type: string;
  server: string;
  status: 'pending' | 'approved' | 'rejected';
  receivedAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  reason: string | null;
  payload: Record<string, unknown>;
  /** encryption-cert(-deletion): the certificate carried, or the registered one a deletion names (null once gone) */
  encryptionCertificate?: EncryptionCertSummary | null;
}

/** a member's encryption certificate as the central server decodes it */
export interface EncryptionCertSummary {
  hash: string;
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  keyType: string;
  status: 'valid' | 'expired' | 'not-yet-valid';
}

/** GET /api/v1/central/encryption-certs */
export interface MemberEncryptionCert extends EncryptionCertSummary {
  memberClass: string;
  memberCode: string;
  memberName: string | null;
  registeredAt: string;
  requestId: string | null;
}

export interface ServiceHealth {
  service: string;
  requests: number;
  failures: number;
  lastSuccessAt?: string;
  lastFailureAt?: string;
  lastError?: string;
}

export interface SecurityServerStatus {
  server: string;
  configuration: { version: number; expiresAt: string; usable: boolean } | null;
  confSource?: unknown;
  ocsp: { name: string; fetchedAt: string | null; lastError?: string }[];
  log: Record<string, unknown>;
  signer: { batches: number; signed: number };
  services: ServiceHealth[];
  listeners: { informationSystems: string; peers: string };
}

export interface AccessRight {
  service: string;
  subject: string;
  method: string;
  path: string;
}

export interface ServerServices {
  clients: string[];
  /** each client's connection type: http, https-noauth, https */
  connections?: Record<string, string>;
  /** information systems' TLS certificates registered per subsystem */
  isCerts?: Record<string, { sha256: string; subject: string; notAfter: string }[]>;
  services: {
    service: string;
    url: string;
    timeoutMs?: number;
    disabled?: boolean;
    /** X-Road's service type: OPENAPI when an OpenAPI 3 description is registered */
    type?: 'REST' | 'OPENAPI';
    openapi?: { format: string; endpoints: { method: string; path: string }[]; title?: string; version?: string };
    wsdl?: { format: 'wsdl'; operations: { name: string; version?: string }[]; title?: string; targetNamespace?: string };
    access: AccessRight[];
  }[];
  localGroups: Record<string, string[]>;
}
