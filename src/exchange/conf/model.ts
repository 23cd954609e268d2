/**
 * What the global configuration says: the values a security server trusts once the central server's
 * signature over them verifies against its anchor. The central server generates it (`../central`), the
 * configuration client downloads and verifies it (`./client`), and the security server reads it through a
 * `GlobalConf` (`./global.ts`). Certificates travel as base64 DER; hashes as lowercase hex SHA-256 of the DER.
 */

/** Shared parameters: the part every security server of the instance reads. */
export interface SharedParameters {
  instance: string;
  /** member classes in use, with a description */
  memberClasses: { code: string; description: string }[];
  members: ConfMember[];
  securityServers: ConfServer[];
  /** approved certification authorities: a trust anchor each, with its intermediates and OCSP responders */
  approvedCAs: ConfCa[];
  /** approved time-stamping authorities */
  approvedTSAs: ConfTsa[];
  globalGroups: ConfGroup[];
  settings: ConfSettings;
}

export interface ConfMember {
  memberClass: string;
  memberCode: string;
  name: string;
  subsystems: { subsystemCode: string }[];
  /**
   * the member's encryption certificates (profile agency-encryption or agency-encryption-rsa, registered by
   * a request its signing key signed and an operator approved), in the order they were registered; absent
   * when it has none. Two during a rotation: senders take the newest that validates.
   */
  encryptionCertificates?: ConfEncryptionCert[];
}

export interface ConfEncryptionCert {
  /** the certificate, base64 DER */
  certificate: string;
  /** SHA-256 (hex) of its DER */
  hash: string;
}

export interface ConfServer {
  /** owner member */
  owner: { memberClass: string; memberCode: string };
  serverCode: string;
  /** host or host:port the server's peer (inter-server) listener answers on */
  address: string;
  /** SHA-256 (hex) of each authentication certificate's DER registered for this server */
  authCertHashes: string[];
  /** clients served by this server: members' subsystems */
  clients: { memberClass: string; memberCode: string; subsystemCode: string }[];
  /** a server in maintenance mode takes no new messages; consumers pick another provider */
  maintenance?: boolean;
  /** what the server's owner tells clients while it is in maintenance (≤ 255 characters, one line) */
  maintenanceMessage?: string;
}

export interface ConfCa {
  /** a short name for the CA */
  name: string;
  /** trust anchor certificate, base64 DER */
  certificate: string;
  /** intermediate CA certificates, base64 DER */
  intermediates: string[];
  /** OCSP responder URLs for certificates under this CA (the first that answers wins) */
  ocspUrls: string[];
  /**
   * how the member is read from a signing certificate: the subject's serialNumber attribute holds
   * `INSTANCE/CLASS/CODE`
   */
  memberFromCert: 'subject-serialNumber';
}

export interface ConfTsa {
  name: string;
  url: string;
  /** the TSA's certificate, base64 DER */
  certificate: string;
}

export interface ConfGroup {
  code: string;
  description: string;
  members: { memberClass: string; memberCode: string; subsystemCode: string }[];
}

export interface ConfSettings {
  /** OCSP responses older than this are stale and the server they prove is refused (default 3600) */
  ocspFreshnessSeconds: number;
  /** how often security servers should fetch the configuration (default 60) */
  refreshSeconds: number;
  /** X-Road's central monitoring client: reads every server's operational data and health, not only its own */
  monitoringClient?: { memberClass: string; memberCode: string; subsystemCode: string };
}

/** Private parameters: what only security servers of this instance need to talk to the central server. */
export interface PrivateParameters {
  instance: string;
  /** the central server's registration service (HTTPS) */
  registrationUrl: string;
  /** SHA-256 (hex) of the central server's TLS certificate, pinned by security servers */
  centralTlsCertHash: string;
  /** the management member (owner of the central server) */
  managementMember: { memberClass: string; memberCode: string };
}

/**
 * The signed directory: which parts make up this version of the configuration, each with its SHA-512. Its
 * bytes are what the configuration-signing key signs.
 */
export interface ConfDirectory {
  instance: string;
  /** monotonically increasing; a client never accepts a version older than the one it holds */
  version: number;
  /** ISO time the directory was generated */
  generatedAt: string;
  /** ISO time after which a security server must not use it */
  expiresAt: string;
  parts: { name: 'shared-params' | 'private-params'; hash: string /* SHA-512 hex */; path: string /* relative URL */ }[];
}

/**
 * The configuration anchor an operator installs on a security server: where the configuration comes from
 * and which certificates may sign it.
 */
export interface ConfAnchor {
  instance: string;
  generatedAt: string;
  sources: { url: string; verificationCerts: string[] /* base64 DER */ }[];
}

export const DEFAULT_SETTINGS: ConfSettings = { ocspFreshnessSeconds: 3600, refreshSeconds: 60 };
