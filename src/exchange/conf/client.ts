/**
 * The configuration client of a security server. It downloads the signed directory from the anchor's
 * sources, verifies the signature against the anchor's certificates, refuses a version older than the one
 * it holds (`conf_outdated`), an expired one (`conf_expired`) and anything that does not verify
 * (`conf_invalid`); it fetches only the parts whose hash it does not hold yet and checks each against its
 * SHA-512 in the directory. The last good configuration is kept on disk (directory as signed, parts by
 * hash, written by rename) and verified again when the client is created, so a restarted server works
 * offline until that configuration expires.
 *
 * `start()` refreshes on a schedule: every `intervalMs` (default the configuration's own refreshSeconds)
 * after a success; after a failure it retries with exponential back-off from `minIntervalMs` up to
 * `maxBackoffMs`, reset by the next success. Every download has a timeout and the timer is re-armed
 * whatever happened, so an outage never leaves it stuck.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { TrucError, isTrucError } from '../../errors.js';
import { GlobalConf } from './global.js';
import type { ConfAnchor, ConfDirectory, PrivateParameters, SharedParameters } from './model.js';
import { MAX_DIRECTORY_BYTES, MAX_PART_BYTES, sha512Hex, verifySignedDirectory } from './signed.js';

export type Fetch = (url: string, init?: { signal?: AbortSignal; headers?: Record<string, string>; redirect?: 'manual' | 'follow' | 'error' }) => Promise<Response>;

export interface ConfClientOptions {
  anchor: ConfAnchor;
  /** cache folder (created when missing) */
  dir: string;
  fetch?: Fetch;
  clock?: () => Date;
  log?: Logger;
  /** pause after a success; default the configuration's refreshSeconds (60 s) */
  intervalMs?: number;
  /** the shortest pause, and the first retry after a failure (default 1 s) */
  minIntervalMs?: number;
  /** the longest retry pause (default 5 min) */
  maxBackoffMs?: number;
  /** a download that takes longer is abandoned (default 15 s) */
  timeoutMs?: number;
  onChange?: (conf: GlobalConf) => void;
}

export interface ConfStatus {
  instance: string;
  version: number | null;
  source: string | null;
  fetchedAt: string | null;
  generatedAt: string | null;
  expiresAt: string | null;
  expired: boolean | null;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  /** the last download's failure: `message` in English, `reason_vi` the same in Vietnamese */
  lastError: { code: string; message: string; reason_vi?: string; at: string } | null;
  consecutiveFailures: number;
  nextAttemptInMs: number | null;
}

interface Held {
  conf: GlobalConf;
  private: PrivateParameters | undefined;
  directory: ConfDirectory;
  envelope: unknown;
  source: string;
  fetchedAt: Date;
  parts: Map<string, Buffer>;
}

/** what a download is, for its errors in both languages */
interface What {
  en: string;
  vi: string;
}
const DIRECTORY: What = { en: 'the directory', vi: 'danh mục cấu hình' };
const partWhat = (name: string): What => ({ en: `part ${name}`, vi: `phần ${name}` });

/** a configuration refused for what it holds; the operator reads why in both languages (`reason_vi` beside) */
const invalid = (vi: string, en: string, detail?: Record<string, unknown>) => new TrucError('conf_invalid', en, { ...detail, reason_vi: vi });

async function readLimited(res: Response, max: number, what: What): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > max) throw invalid(`${what.vi} lớn hơn ${max} byte`, `${what.en} is larger than ${max} bytes`);
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw invalid(`${what.vi} lớn hơn ${max} byte`, `${what.en} is larger than ${max} bytes`);
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

function parseJsonPart<T>(bytes: Buffer, name: What): T {
  try {
    const v = JSON.parse(bytes.toString('utf8'));
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as T;
  } catch {
    throw invalid(`phần ${name.vi} không phải một đối tượng JSON`, `the ${name.en} part is not a JSON object`);
  }
}

function checkShared(s: SharedParameters, instance: string): void {
  if (s.instance !== instance) throw invalid(`tham số chung dành cho hệ thống ${String(s.instance).slice(0, 40)}`, `the shared parameters are for instance ${String(s.instance).slice(0, 40)}`);
  for (const k of ['memberClasses', 'members', 'securityServers', 'approvedCAs', 'approvedTSAs', 'globalGroups'] as const)
    if (!Array.isArray(s[k])) throw invalid(`tham số chung thiếu danh sách ${k}`, `the shared parameters have no ${k} list`);
  if (!s.settings || typeof s.settings !== 'object') throw invalid('tham số chung thiếu phần thiết lập (settings)', 'the shared parameters have no settings');
}

export class ConfClient {
  private held: Held | undefined;
  private readonly fetchFn: Fetch;
  private readonly clock: () => Date;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<boolean> | null = null;
  private started = false;
  private failures = 0;
  private lastError: ConfStatus['lastError'] = null;
  private lastAttemptAt: Date | null = null;
  private lastSuccessAt: Date | null = null;
  private nextAt: number | null = null;
  private readonly listeners = new Set<(conf: GlobalConf) => void>();

  constructor(private readonly opts: ConfClientOptions) {
    this.fetchFn = opts.fetch ?? ((url, init) => fetch(url, init));
    this.clock = opts.clock ?? (() => new Date());
    if (opts.onChange) this.listeners.add(opts.onChange);
    mkdirSync(join(opts.dir, 'parts'), { recursive: true });
    this.loadFromDisk();
  }

  /** The configuration held (possibly expired: the server checks `usable(now)`), or undefined. */
  current(): GlobalConf | undefined {
    return this.held?.conf;
  }

  /** The private parameters of the configuration held (registration URL, central TLS pin). */
  privateParameters(): PrivateParameters | undefined {
    return this.held?.private;
  }

  onChange(fn: (conf: GlobalConf) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  status(): ConfStatus {
    const h = this.held;
    const now = this.clock();
    return {
      instance: this.opts.anchor.instance,
      version: h?.directory.version ?? null,
      source: h?.source ?? null,
      fetchedAt: h?.fetchedAt.toISOString() ?? null,
      generatedAt: h?.directory.generatedAt ?? null,
      expiresAt: h?.directory.expiresAt ?? null,
      expired: h ? !h.conf.usable(now) : null,
      lastAttemptAt: this.lastAttemptAt?.toISOString() ?? null,
      lastSuccessAt: this.lastSuccessAt?.toISOString() ?? null,
      lastError: this.lastError,
      consecutiveFailures: this.failures,
      nextAttemptInMs: this.nextAt === null ? null : Math.max(0, this.nextAt - Date.now()),
    };
  }

  /**
   * Downloads and verifies the configuration from the first source that answers; true when a new version
   * was taken. Concurrent calls share one download.
   */
  refresh(): Promise<boolean> {
    if (!this.running)
      this.running = this.refreshOnce().finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async refreshOnce(): Promise<boolean> {
    this.lastAttemptAt = this.clock();
    const errors: TrucError[] = [];
    for (const source of this.opts.anchor.sources) {
      try {
        const changed = await this.fromSource(source);
        this.lastError = null;
        this.lastSuccessAt = this.clock();
        return changed;
      } catch (e) {
        const err = isTrucError(e) ? e : new TrucError('peer_unreachable', `configuration source ${source.url}: ${(e as Error).message}`, { reason_vi: `nguồn cấu hình ${source.url}: ${(e as Error).message}` });
        errors.push(err);
        // a refusal that comes from what we hold (older version) is the same at every source
      }
    }
    const first = errors.find((e) => e.code !== 'peer_unreachable') ?? errors[0];
    const vi = (first.detail as { reason_vi?: unknown } | undefined)?.reason_vi;
    this.lastError = { code: first.code, message: first.message, ...(typeof vi === 'string' ? { reason_vi: vi } : {}), at: this.clock().toISOString() };
    this.opts.log?.warn({ code: first.code, err: first.message }, 'global configuration download failed');
    throw first;
  }

  private async get(url: string, max: number, what: What): Promise<Buffer> {
    let res: Response;
    try {
      // the anchor names the sources: a redirect elsewhere is not followed
      res = await this.fetchFn(url, { signal: AbortSignal.timeout(this.opts.timeoutMs ?? 15_000), redirect: 'manual' });
    } catch (e) {
      const cause = (e as Error & { cause?: Error }).cause;
      const why = `${(e as Error).message}${cause?.message ? ` (${cause.message})` : ''}`;
      throw new TrucError('peer_unreachable', `cannot download ${what.en} from ${url}: ${why}`, { reason_vi: `không tải được ${what.vi} từ ${url}: ${why}` });
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      const to = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
      throw new TrucError('peer_unreachable', `${url} answered ${res.status} for ${what.en}${to ? ` (a redirect to ${to.slice(0, 200)}, not followed: the anchor names the sources)` : ''}`, {
        status: res.status,
        reason_vi: `${url} trả lời ${res.status} cho ${what.vi}${to ? ` (chuyển hướng tới ${to.slice(0, 200)}, không theo: mỏ neo đã nêu các nguồn)` : ''}`,
      });
    }
    return readLimited(res, max, what);
  }

  private async fromSource(source: ConfAnchor['sources'][number]): Promise<boolean> {
    const certs = source.verificationCerts.map((c) => Buffer.from(c, 'base64'));
    const raw = await this.get(`${source.url}/directory`, MAX_DIRECTORY_BYTES * 2, DIRECTORY);
    let env: unknown;
    try {
      env = JSON.parse(raw.toString('utf8'));
    } catch {
      throw invalid('danh mục đã ký không phải JSON', 'the signed directory is not JSON');
    }
    const { directory } = verifySignedDirectory(env, certs);
    if (directory.instance !== this.opts.anchor.instance)
      throw invalid(`cấu hình dành cho hệ thống ${directory.instance}, mỏ neo cho ${this.opts.anchor.instance}`, `the configuration is for instance ${directory.instance}, the anchor for ${this.opts.anchor.instance}`);
    const held = this.held;
    if (held && directory.version < held.directory.version)
      throw new TrucError('conf_outdated', `the source offers version ${directory.version}, older than version ${held.directory.version} held`, {
        offered: directory.version,
        held: held.directory.version,
        reason_vi: `nguồn đưa phiên bản ${directory.version}, cũ hơn phiên bản ${held.directory.version} đang giữ`,
      });
    const now = this.clock();
    if (Date.parse(directory.expiresAt) <= now.getTime())
      throw new TrucError('conf_expired', `the configuration offered (version ${directory.version}) expired at ${directory.expiresAt}`, {
        version: directory.version,
        expiresAt: directory.expiresAt,
        reason_vi: `cấu hình được đưa (phiên bản ${directory.version}) đã hết hạn lúc ${directory.expiresAt}`,
      });
    if (held && directory.version === held.directory.version) {
      const same =
        directory.parts.length === held.directory.parts.length &&
        directory.parts.every((p) => held.directory.parts.some((q) => q.name === p.name && q.hash === p.hash)) &&
        directory.expiresAt === held.directory.expiresAt &&
        directory.generatedAt === held.directory.generatedAt;
      if (!same) throw invalid(`phiên bản ${directory.version} được đưa với nội dung khác bản đang giữ`, `version ${directory.version} is offered with other contents than the one held`);
      held.fetchedAt = now;
      held.source = source.url;
      return false;
    }
    const parts = new Map<string, Buffer>();
    for (const p of directory.parts) {
      const have = held?.parts.get(p.hash) ?? this.partFromDisk(p.hash);
      const bytes = have ?? (await this.get(`${source.url}/${p.path}`, MAX_PART_BYTES, partWhat(p.name)));
      if (sha512Hex(bytes) !== p.hash) throw invalid(`phần ${p.name} không khớp giá trị băm trong danh mục đã ký`, `part ${p.name} does not match its hash in the signed directory`, { part: p.name });
      parts.set(p.hash, bytes);
    }
    const next = this.assemble(directory, env, parts, source.url, now);
    this.save(next);
    this.held = next;
    this.opts.log?.info({ version: directory.version, source: source.url, expiresAt: directory.expiresAt }, 'global configuration updated');
    for (const fn of this.listeners) {
      try {
        fn(next.conf);
      } catch (e) {
        this.opts.log?.error({ err: e }, 'configuration change listener failed');
      }
    }
    return true;
  }

  private assemble(directory: ConfDirectory, envelope: unknown, parts: Map<string, Buffer>, source: string, fetchedAt: Date): Held {
    const sharedRef = directory.parts.find((p) => p.name === 'shared-params')!;
    const shared = parseJsonPart<SharedParameters>(parts.get(sharedRef.hash)!, { en: 'shared parameters', vi: 'tham số chung' });
    checkShared(shared, this.opts.anchor.instance);
    const privRef = directory.parts.find((p) => p.name === 'private-params');
    const priv = privRef ? parseJsonPart<PrivateParameters>(parts.get(privRef.hash)!, { en: 'private parameters', vi: 'tham số riêng' }) : undefined;
    if (priv && priv.instance !== this.opts.anchor.instance)
      throw invalid(`tham số riêng dành cho hệ thống ${String(priv.instance).slice(0, 40)}`, `the private parameters are for instance ${String(priv.instance).slice(0, 40)}`);
    let conf: GlobalConf;
    try {
      conf = new GlobalConf(shared, directory);
    } catch (e) {
      throw invalid(`không đọc được tham số chung: ${(e as Error).message}`, `the shared parameters cannot be read: ${(e as Error).message}`);
    }
    return { conf, private: priv, directory, envelope, source, fetchedAt, parts };
  }

  private partFromDisk(hash: string): Buffer | undefined {
    const file = join(this.opts.dir, 'parts', hash);
    if (!existsSync(file)) return undefined;
    const b = readFileSync(file);
    return sha512Hex(b) === hash ? b : undefined;
  }

  private save(h: Held): void {
    const write = (file: string, data: Buffer | string) => {
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, data, { mode: 0o600 });
      renameSync(tmp, file);
    };
    for (const [hash, bytes] of h.parts) {
      const file = join(this.opts.dir, 'parts', hash);
      if (!existsSync(file)) write(file, bytes);
    }
    write(join(this.opts.dir, 'directory.json'), JSON.stringify({ source: h.source, fetchedAt: h.fetchedAt.toISOString(), signed: h.envelope }));
  }

  /** The last good configuration from the cache folder, verified again; a bad cache is ignored. */
  private loadFromDisk(): void {
    const file = join(this.opts.dir, 'directory.json');
    if (!existsSync(file)) return;
    try {
      const saved = JSON.parse(readFileSync(file, 'utf8'));
      const source = this.opts.anchor.sources.find((s) => s.url === saved.source) ?? this.opts.anchor.sources[0];
      const certs = this.opts.anchor.sources.flatMap((s) => s.verificationCerts.map((c) => Buffer.from(c, 'base64')));
      const { directory } = verifySignedDirectory(saved.signed, certs);
      if (directory.instance !== this.opts.anchor.instance) throw invalid('cấu hình lưu sẵn dành cho hệ thống khác', 'the cached configuration is for another instance');
      const parts = new Map<string, Buffer>();
      for (const p of directory.parts) {
        const b = this.partFromDisk(p.hash);
        if (!b) throw invalid(`phần ${p.name} lưu sẵn bị thiếu hoặc đã bị sửa`, `cached part ${p.name} is missing or altered`);
        parts.set(p.hash, b);
      }
      this.held = this.assemble(directory, saved.signed, parts, source.url, new Date(saved.fetchedAt));
      this.opts.log?.info({ version: directory.version, expiresAt: directory.expiresAt }, 'global configuration loaded from the cache');
    } catch (e) {
      this.opts.log?.warn({ err: (e as Error).message }, 'the cached global configuration was not usable; it will be downloaded');
    }
  }

  /** Refreshes now and then on the schedule, until `stop()`. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedule(0);
  }

  stop(): void {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.nextAt = null;
  }

  private schedule(ms: number): void {
    if (!this.started) return;
    if (this.timer) clearTimeout(this.timer);
    this.nextAt = Date.now() + ms;
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    const min = Math.max(1, this.opts.minIntervalMs ?? 1000);
    let next: number;
    try {
      await this.refresh();
      this.failures = 0;
      const interval = this.opts.intervalMs ?? (this.held?.conf.settings.refreshSeconds ?? 60) * 1000;
      next = Math.max(min, interval);
    } catch {
      this.failures++;
      const max = Math.max(min, this.opts.maxBackoffMs ?? 300_000);
      next = Math.min(max, min * 2 ** Math.min(this.failures - 1, 30));
    }
    this.schedule(next);
  }
}
