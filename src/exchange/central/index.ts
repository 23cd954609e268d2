/**
 * The central server of an exchange instance. It keeps the registry (members and their encryption
 * certificates, subsystems, security servers, global groups, approved CAs and TSAs, settings), receives
 * registration requests from security servers and lets operators approve or reject them, and publishes the
 * signed global configuration that every security server downloads and verifies against its anchor. `CentralServer.open` migrates its tables,
 * stores the given initial settings, settles the configuration-signing key; `start()` generates on a schedule
 * (every `generateIntervalSeconds`, a new version only when the registry changed or the current one has used
 * half its validity). Several central processes may share one PostgreSQL.
 */
import type { Logger } from 'pino';
import { migrate, type Db } from '../../store/index.js';
import type { KeyStores } from '../../crypto/keystore.js';
import type { Bus } from '../../bus/index.js';
import { buildAnchor } from '../conf/anchor.js';
import type { ConfAnchor } from '../conf/model.js';
import { checkPart } from '../ids.js';
import { DEFAULT_CENTRAL_SETTINGS, loadSettings, type CentralContext, type CentralSettings } from './context.js';
import { Generator } from './generate.js';
import { Registration } from './registration.js';
import { Registry, checkSettings } from './registry.js';
import { ensureSigningKey, storedSigner, type ConfSigner, type SigningKeyInput } from './signing-key.js';
import { centralMigrations, getSettings, putSetting } from './store.js';
import { appendAudit } from '../../audit/index.js';

export { centralMigrations } from './store.js';
export { describeEncryptionCert, type EncryptionCertSummary, type EncryptionCertStatus } from './encryption-cert-view.js';
export { Registry, checkSettings } from './registry.js';
export { Registration, parseRequest, memberOfSigningCert, SIGNING_PURPOSE, AUTH_PURPOSE, ENCRYPTION_PURPOSE, MAX_ENCRYPTION_CERTS, type RequestView } from './registration.js';
export { Generator, buildParameters, signedOf } from './generate.js';
export { ensureSigningKey, type ConfSigner, type SigningKeyInput } from './signing-key.js';
export { DEFAULT_CENTRAL_SETTINGS, type CentralSettings, type CentralContext } from './context.js';
export type { VersionRow, RequestStatus, ServerRow, MemberRow, GroupRow, CaEntry, TsaEntry, EncryptionCertRow } from './store.js';

export interface CentralOpenOptions {
  db: Db;
  keys: KeyStores;
  bus: Bus;
  clock?: () => Date;
  log?: Logger;
  /** the instance this central server serves, e.g. `VN` */
  instance: string;
  /** the configuration-signing key; default: the stored one, or a new self-signed one in the default key store */
  signingKey?: SigningKeyInput;
  /** initial settings: stored for the keys not set yet (settings already in the database win) */
  settings?: Partial<CentralSettings>;
}

export class CentralServer {
  readonly registry: Registry;
  readonly registration: Registration;
  readonly generator: Generator;
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<unknown> | null = null;

  private constructor(
    readonly ctx: CentralContext,
    private signer: ConfSigner,
  ) {
    this.registry = new Registry(ctx);
    this.registration = new Registration(ctx);
    this.generator = new Generator(ctx, async () => {
      this.signer = await storedSigner(ctx, this.signer);
      return this.signer;
    });
  }

  static async open(o: CentralOpenOptions): Promise<CentralServer> {
    const instance = checkPart('instance', o.instance);
    await migrate(o.db, centralMigrations);
    const ctx: CentralContext = { db: o.db, keys: o.keys, bus: o.bus, clock: o.clock ?? (() => new Date()), log: o.log, instance };
    if (o.settings) {
      const clean = checkSettings(o.settings);
      await o.db.tx(async (sql) => {
        const have = await getSettings(sql);
        const fresh = Object.entries(clean).filter(([k]) => !(k in have));
        for (const [k, v] of fresh) await putSetting(sql, k, v);
        if (fresh.length)
          await appendAudit(sql, [{ actor: 'system', action: 'central.settings.init', target: instance, outcome: 'success', detail: { settings: Object.fromEntries(fresh) } }], ctx.clock());
      });
    }
    const signer = await ensureSigningKey(ctx, o.signingKey);
    return new CentralServer(ctx, signer);
  }

  get instance(): string {
    return this.ctx.instance;
  }

  settings(): Promise<CentralSettings> {
    return loadSettings(this.ctx.db);
  }

  /** the configuration-signing certificate (DER) anchors carry, as this process last read it */
  signingCertificate(): Buffer {
    return this.signer.certificate;
  }

  /** Replaces the configuration-signing key (for all processes sharing the database). */
  async setSigningKey(k: SigningKeyInput, actor: string): Promise<void> {
    this.signer = await ensureSigningKey(this.ctx, k, actor);
  }

  /** The anchor security servers install: the download URL (`{confBaseUrl}/conf/{instance}`) and the signing certificate. */
  async exportAnchor(baseUrl?: string): Promise<ConfAnchor> {
    this.signer = await storedSigner(this.ctx, this.signer);
    const base = (baseUrl ?? (await this.settings()).confBaseUrl).replace(/\/+$/, '');
    return buildAnchor({ instance: this.instance, sources: [{ url: `${base}/conf/${encodeURIComponent(this.instance)}`, verificationCerts: [this.signer.certificate] }], now: this.ctx.clock() });
  }

  /** Generates on a schedule; a failed round is logged and retried at the next tick. */
  async start(): Promise<void> {
    if (this.timer) return;
    const tick = async () => {
      this.round = this.generator.generate().catch((e) => this.ctx.log?.error({ err: e }, 'configuration generation failed'));
      await this.round;
      this.round = null;
    };
    await tick();
    const every = (await this.settings()).generateIntervalSeconds ?? DEFAULT_CENTRAL_SETTINGS.generateIntervalSeconds;
    this.timer = setInterval(() => {
      if (!this.round) void tick();
    }, every * 1000);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.round;
  }
}
