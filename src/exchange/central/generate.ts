/**
 * Global configuration generation. From the registry: the shared parameters (members with their
 * subsystems and encryption certificates, security servers with their addresses, authentication-certificate
 * hashes and clients, approved CAs with their OCSP responders, approved TSAs, global groups, settings) and
 * the private parameters (registration URL, the central server's TLS certificate hash to pin, the
 * management member), each as canonical JSON bytes; a directory naming them by SHA-512, with the next
 * version number, its time and its expiry; the directory's bytes signed with the configuration-signing key.
 *
 * Several central processes may share one PostgreSQL: a round runs in one transaction under an advisory
 * lock, re-reads the latest version there and writes `latest + 1` (the version is also the primary key),
 * so two processes never publish the same version twice, and the second finds nothing left to do.
 */
import type { Sql } from '../../store/index.js';
import { appendAudit } from '../../audit/index.js';
import { TrucError } from '../../errors.js';
import type { ConfDirectory, PrivateParameters, SharedParameters } from '../conf/model.js';
import { canonicalBytes, sha256Hex, sha512Hex, type SignedDirectory } from '../conf/signed.js';
import { emit, loadSettings, type CentralContext } from './context.js';
import type { ConfSigner } from './signing-key.js';
import * as store from './store.js';

const LOCK_KEY = 0x78635f67; // "xc_g"

export interface BuiltParameters {
  shared: SharedParameters;
  private: PrivateParameters;
}

export async function buildParameters(sql: Sql, instance: string): Promise<BuiltParameters> {
  const settings = await loadSettings(sql);
  const members = await store.listMembers(sql);
  const servers = await store.listServers(sql);
  const groups = await store.listGroups(sql);
  const cas = await store.listCaEntries(sql);
  const tsas = await store.listTsaEntries(sql);
  const encryption = new Map<string, { certificate: string; hash: string }[]>();
  for (const c of await store.listEncryptionCerts(sql)) {
    const k = `${c.memberClass}/${c.memberCode}`;
    const list = encryption.get(k) ?? [];
    list.push({ certificate: c.certificate.toString('base64'), hash: c.hash });
    encryption.set(k, list);
  }
  const shared: SharedParameters = {
    instance,
    memberClasses: settings.memberClasses,
    members: members.map((m) => {
      const enc = encryption.get(`${m.memberClass}/${m.memberCode}`);
      return { memberClass: m.memberClass, memberCode: m.memberCode, name: m.name, subsystems: m.subsystems.map((s) => ({ subsystemCode: s })), ...(enc ? { encryptionCertificates: enc } : {}) };
    }),
    securityServers: servers.map((s) => ({
      owner: { memberClass: s.ownerClass, memberCode: s.ownerCode },
      serverCode: s.serverCode,
      address: s.address,
      authCertHashes: s.authCertHashes,
      clients: s.clients,
      ...(s.maintenance ? { maintenance: true, ...(s.maintenanceMessage ? { maintenanceMessage: s.maintenanceMessage } : {}) } : {}),
    })),
    approvedCAs: cas.map((c) => ({
      name: c.name,
      certificate: c.certificate.toString('base64'),
      intermediates: c.intermediates.map((i) => i.toString('base64')),
      ocspUrls: c.ocspUrls,
      memberFromCert: 'subject-serialNumber' as const,
    })),
    approvedTSAs: tsas.map((t) => ({ name: t.name, url: t.url, certificate: t.certificate.toString('base64') })),
    globalGroups: groups.map((g) => ({ code: g.code, description: g.description, members: g.members })),
    settings: {
      ocspFreshnessSeconds: settings.ocspFreshnessSeconds,
      refreshSeconds: settings.refreshSeconds,
      ...(settings.monitoringClient ? { monitoringClient: settings.monitoringClient } : {}),
    },
  };
  const priv: PrivateParameters = {
    instance,
    registrationUrl: settings.registrationUrl,
    centralTlsCertHash: settings.centralTlsCertHash,
    managementMember: settings.managementMember ?? { memberClass: '', memberCode: '' },
  };
  return { shared, private: priv };
}

export interface GenerateOptions {
  /** build a new version even when nothing changed and the current one is young */
  force?: boolean;
  actor?: string;
}

export class Generator {
  constructor(
    private readonly ctx: CentralContext,
    private readonly signer: () => Promise<ConfSigner>,
  ) {}

  /**
   * One round: a new version when forced, when there is none, when the registry changed since the latest,
   * or when the latest has used half its validity. Answers the version written, or null when none was due.
   */
  async generate(opts: GenerateOptions = {}): Promise<store.VersionRow | null> {
    const signer = await this.signer();
    const actor = opts.actor ?? 'system';
    let written: store.VersionRow | null = null;
    try {
      written = await this.ctx.db.tx(async (sql) => {
        await sql.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
        const latest = await store.latestVersion(sql);
        const revision = await store.currentRevision(sql);
        const settings = await loadSettings(sql);
        const now = this.ctx.clock();
        const halfLife = latest ? latest.generatedAt.getTime() + (latest.expiresAt.getTime() - latest.generatedAt.getTime()) / 2 : 0;
        const due = opts.force || !latest || latest.revision < revision || now.getTime() >= halfLife || !latest.certificateHash || latest.certificateHash !== sha256Hex(signer.certificate);
        if (!due) return null;
        const { shared, private: priv } = await buildParameters(sql, this.ctx.instance);
        const sharedBytes = canonicalBytes(shared);
        const privBytes = canonicalBytes(priv);
        const parts = [
          { name: 'shared-params' as const, bytes: sharedBytes, hash: sha512Hex(sharedBytes) },
          { name: 'private-params' as const, bytes: privBytes, hash: sha512Hex(privBytes) },
        ];
        const version = (latest?.version ?? 0) + 1;
        const directory: ConfDirectory = {
          instance: this.ctx.instance,
          version,
          generatedAt: now.toISOString(),
          expiresAt: new Date(now.getTime() + settings.validitySeconds * 1000).toISOString(),
          parts: parts.map((p) => ({ name: p.name, hash: p.hash, path: `parts/${p.hash}` })),
        };
        const bytes = canonicalBytes(directory);
        const signature = await signer.sign(bytes);
        const row: store.VersionRow = {
          version,
          revision,
          directory: bytes,
          signature,
          signatureAlgorithm: signer.scheme,
          certificateHash: sha256Hex(signer.certificate),
          generatedAt: now,
          expiresAt: new Date(directory.expiresAt),
        };
        await store.insertVersion(sql, row, parts);
        await appendAudit(
          sql,
          [{ actor, action: 'central.conf.generate', target: `${this.ctx.instance}#${version}`, outcome: 'success', detail: { version, revision, expiresAt: directory.expiresAt, parts: parts.map((p) => ({ name: p.name, hash: p.hash })) } }],
          now,
        );
        return row;
      });
    } catch (e) {
      emit(this.ctx, 'conf.generate.failed', 'failure', actor, { error: (e as Error).message.slice(0, 300) }, (e as Error).message.slice(0, 300));
      throw e;
    }
    if (written) emit(this.ctx, 'conf.generated', 'success', actor, { version: written.version, expiresAt: written.expiresAt.toISOString() });
    return written;
  }

  latest(): Promise<store.VersionRow | null> {
    return store.latestVersion(this.ctx.db);
  }

  /** The latest version as served: `{ directory, signatureAlgorithm, signature, certificateHash }`. */
  async signedDirectory(): Promise<SignedDirectory> {
    const v = await this.latest();
    if (!v) throw new TrucError('not_found', `no configuration has been generated for ${this.ctx.instance} yet`);
    return signedOf(v);
  }

  part(hash: string): Promise<Buffer | null> {
    if (!/^[0-9a-f]{128}$/.test(hash)) return Promise.resolve(null);
    return store.getPart(this.ctx.db, hash);
  }
}

export const signedOf = (v: store.VersionRow): SignedDirectory => ({
  directory: v.directory.toString('base64'),
  signatureAlgorithm: v.signatureAlgorithm as SignedDirectory['signatureAlgorithm'],
  signature: v.signature.toString('base64'),
  certificateHash: v.certificateHash,
});
