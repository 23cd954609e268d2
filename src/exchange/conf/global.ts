/**
 * A verified global configuration, as the security server reads it: who the members and their subsystems
 * are, which servers serve which clients at which address with which authentication certificates, which
 * CAs, OCSP responders and TSAs are approved, the global groups, and each member's encryption
 * certificates. Lookups are indexed once per version.
 * `usable(now)` is false once the configuration has expired, and the server then refuses traffic.
 */
import { createHash } from 'node:crypto';
import { TrucError } from '../../errors.js';
import type { ConfCa, ConfDirectory, ConfServer, ConfTsa, SharedParameters } from './model.js';
import { clientHeader, serverText, type MemberId, type ServerId, type SubsystemId } from '../ids.js';

const memberKey = (m: { memberClass: string; memberCode: string }) => `${m.memberClass}/${m.memberCode}`;
const subsystemKey = (s: { memberClass: string; memberCode: string; subsystemCode: string }) => `${s.memberClass}/${s.memberCode}/${s.subsystemCode}`;

export interface ConfServerView extends ConfServer {
  id: ServerId;
}

/**
 * A server in maintenance mode as a refusal names it: `SERVER:VN/… (its owner's message)`, the message as
 * the central server took it (one line, at most 255 characters; cut there again should a configuration hold more).
 */
export function maintenanceText(s: ConfServerView): string {
  const m = s.maintenanceMessage ? [...s.maintenanceMessage].slice(0, 255).join('').replace(/[\p{Cc}\u2028\u2029]/gu, ' ') : '';
  return m ? `${serverText(s.id)} (${m})` : serverText(s.id);
}

export class GlobalConf {
  readonly instance: string;
  readonly version: number;
  readonly generatedAt: Date;
  readonly expiresAt: Date;
  private readonly members = new Map<string, SharedParameters['members'][number]>();
  private readonly servers = new Map<string, ConfServerView>();
  private readonly serversOfClient = new Map<string, ConfServerView[]>();
  private readonly serverByAuthHash = new Map<string, ConfServerView>();
  private readonly groups = new Map<string, Set<string>>();
  private readonly caByName = new Map<string, ConfCa>();

  constructor(
    readonly shared: SharedParameters,
    directory: Pick<ConfDirectory, 'version' | 'generatedAt' | 'expiresAt'>,
  ) {
    this.instance = shared.instance;
    this.version = directory.version;
    this.generatedAt = new Date(directory.generatedAt);
    this.expiresAt = new Date(directory.expiresAt);
    for (const m of shared.members) this.members.set(memberKey(m), m);
    for (const s of shared.securityServers) {
      const view: ConfServerView = {
        ...s,
        id: { instance: shared.instance, memberClass: s.owner.memberClass, memberCode: s.owner.memberCode, serverCode: s.serverCode },
      };
      this.servers.set(serverText(view.id), view);
      for (const h of s.authCertHashes) this.serverByAuthHash.set(h.toLowerCase(), view);
      for (const c of s.clients) {
        const k = subsystemKey(c);
        const list = this.serversOfClient.get(k) ?? [];
        list.push(view);
        this.serversOfClient.set(k, list);
      }
    }
    for (const g of shared.globalGroups) this.groups.set(g.code, new Set(g.members.map(subsystemKey)));
    for (const ca of shared.approvedCAs) this.caByName.set(ca.name, ca);
  }

  /** false once the configuration has expired: the server must then refuse traffic */
  usable(now: Date): boolean {
    return now.getTime() < this.expiresAt.getTime();
  }

  /** throws conf_expired when the configuration may no longer be used */
  assertUsable(now: Date): void {
    if (!this.usable(now))
      throw new TrucError('conf_expired', `the global configuration (version ${this.version}) expired at ${this.expiresAt.toISOString()}; traffic is refused until a fresh one is downloaded`, {
        version: this.version,
        expiresAt: this.expiresAt.toISOString(),
        reason_vi: `cấu hình toàn cục (phiên bản ${this.version}) đã hết hạn lúc ${this.expiresAt.toISOString()}; máy chủ từ chối trao đổi cho tới khi tải được cấu hình mới`,
      });
  }

  member(m: Pick<MemberId, 'memberClass' | 'memberCode'>) {
    return this.members.get(memberKey(m));
  }

  /**
   * The member's encryption certificates (DER) as the configuration lists them, in registration order;
   * an entry whose hash is not that of its certificate is left out. Empty when it has none.
   */
  encryptionCertificates(m: Pick<MemberId, 'memberClass' | 'memberCode'>): Buffer[] {
    const list = this.member(m)?.encryptionCertificates;
    if (!Array.isArray(list)) return [];
    const out: Buffer[] = [];
    for (const e of list) {
      if (!e || typeof e.certificate !== 'string' || typeof e.hash !== 'string') continue;
      const der = Buffer.from(e.certificate, 'base64');
      if (der.length && certHash(der) === e.hash.toLowerCase()) out.push(der);
    }
    return out;
  }

  hasSubsystem(s: SubsystemId): boolean {
    if (s.instance !== this.instance) return false;
    return this.member(s)?.subsystems.some((x) => x.subsystemCode === s.subsystemCode) ?? false;
  }

  server(id: ServerId): ConfServerView | undefined {
    return this.servers.get(serverText(id));
  }

  allServers(): ConfServerView[] {
    return [...this.servers.values()];
  }

  /** servers that have this subsystem among their clients (providers of its services) */
  serversOf(s: SubsystemId): ConfServerView[] {
    if (s.instance !== this.instance) return [];
    return this.serversOfClient.get(subsystemKey(s)) ?? [];
  }

  isClientOf(server: ServerId, s: SubsystemId): boolean {
    return this.serversOf(s).some((v) => v.serverCode === server.serverCode && v.owner.memberClass === server.memberClass && v.owner.memberCode === server.memberCode);
  }

  /** the server that registered this authentication certificate (SHA-256 hex of its DER) */
  serverByAuthCert(hash: string): ConfServerView | undefined {
    return this.serverByAuthHash.get(hash.toLowerCase());
  }

  inGlobalGroup(code: string, s: SubsystemId): boolean {
    return s.instance === this.instance && (this.groups.get(code)?.has(subsystemKey(s)) ?? false);
  }

  approvedCAs(): ConfCa[] {
    return this.shared.approvedCAs;
  }

  approvedTSAs(): ConfTsa[] {
    return this.shared.approvedTSAs;
  }

  get settings() {
    return this.shared.settings;
  }

  /** a readable label for logs and errors */
  describeClient(s: SubsystemId): string {
    return clientHeader(s);
  }
}

export function certHash(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}
