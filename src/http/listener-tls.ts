/**
 * The platform's own HTTPS listener on a certificate from its own CA (`truc start --tls`, `http.autoTls`;
 * issue 13, in transit): at start the platform issues itself a short-lived `platform-listener` certificate
 * for the names it answers under (a software key: Node's TLS needs the private key in memory), keeps it in
 * `pki_service_cert` like the OCSP responder's and the TSA's, and serves TLS 1.3 with it and the chain up
 * to (not including) the root. A timer renews it once two thirds of its life have passed, or when the names
 * asked for change, and hands the new key and chain to the listening server (`setSecureContext`): open
 * connections finish on the old certificate, new ones get the new one, nothing restarts.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { Server } from 'node:https';
import { toPem } from '../asn1/der.js';
import { caChain, getCa, defaultIssuingCa } from '../pki/index.js';
import { ensureServiceCert, type ServiceCertRow } from '../pki/service-cert.js';
import type { Platform } from '../platform.js';
import { TrucError } from '../errors.js';
import type { SoftwareKeyStore } from '../crypto/software-keystore.js';

export const LISTENER_SERVICE = 'http-listener';
export const LISTENER_PROFILE = 'platform-listener';
const SLOT = 'default';

export interface AutoTlsOptions {
  /** DNS names and IP addresses the certificate names (default: localhost, 127.0.0.1, ::1 and the listen/public host) */
  names?: string[];
  /** issuing CA; default the only issuing CA */
  ca?: string;
  requestClientCert?: boolean;
}

/** Key and chain to serve, in the shapes Node's TLS takes. */
export interface ListenerMaterial {
  /** PKCS#8 PEM (Node's TLS takes no KeyObject); kept in memory only, never written out */
  key: string;
  /** leaf then issuing CAs up to the root (the root left out: a client has it or does not) */
  cert: string;
  /** the root CA (PEM): what a client of this listener trusts */
  root: string;
  serial: string;
  notAfter: Date;
  names: string[];
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]', '']);

/** The names the listener's certificate carries: those configured, else this machine's and the ones the platform is reached by. */
export function listenerNames(p: Pick<Platform, 'config'>): string[] {
  const http = p.config.http;
  const given = http.autoTls?.names;
  const names = given?.length ? [...given] : ['localhost', '127.0.0.1', '::1'];
  if (!given?.length) {
    const host = http.host.replace(/^\[(.*)\]$/, '$1');
    if (!WILDCARD_HOSTS.has(host)) names.push(host);
    try {
      names.push(new URL(p.config.publicUrl).hostname.replace(/^\[(.*)\]$/, '$1'));
    } catch {
      /* publicUrl is checked by the configuration schema */
    }
  }
  return [...new Set(names.map((n) => (isIP(n) ? n : n.toLowerCase())))];
}

function split(names: string[]): { dns: string[]; ip: string[] } {
  return { dns: names.filter((n) => !isIP(n)), ip: names.filter((n) => isIP(n)) };
}

/** Whether a stored certificate names exactly these names (a name added or dropped asks for a new one). */
export function certNamesMatch(der: Buffer, names: string[]): boolean {
  const x = new X509Certificate(der);
  const san = x.subjectAltName ?? '';
  const count = san ? san.split(', ').length : 0;
  if (count !== names.length) return false;
  return names.every((n) => (isIP(n) ? x.checkIP(n) !== undefined : x.checkHost(n, { wildcards: false, partialWildcards: false }) === n));
}

function softwareStore(p: Platform): SoftwareKeyStore {
  let software: Partial<SoftwareKeyStore> | undefined;
  try {
    software = p.pki.keys.get('software') as Partial<SoftwareKeyStore>;
  } catch {
    software = undefined;
  }
  if (!software || typeof software.tlsPrivateKey !== 'function')
    throw new TrucError('invalid_config', 'khoá của cổng HTTPS cần kho khoá phần mềm / the HTTPS listener needs the software key store');
  return software as SoftwareKeyStore;
}

/**
 * The listener's certificate row, issued or renewed when needed: none yet, less than a third of its life
 * left, or naming other names than those asked for now.
 */
async function listenerCert(p: Platform, names: string[], now: Date): Promise<{ row: ServiceCertRow; issued: boolean }> {
  const o = p.config.http.autoTls ?? {};
  if (!names.length) throw new TrucError('invalid_config', 'http.autoTls.names: cần ít nhất một tên / at least one name is needed');
  softwareStore(p);
  return ensureServiceCert(
    p.pki,
    p.issuer,
    LISTENER_SERVICE,
    SLOT,
    async () => {
      const ca = o.ca ? await getCa(p.db, o.ca) : await defaultIssuingCa(p.pki);
      if (!ca) throw new TrucError('invalid_config', `http.autoTls.ca: không có CA "${o.ca}" / no CA "${o.ca}"`);
      return {
        ca,
        profile: LISTENER_PROFILE,
        commonName: names.find((n) => !isIP(n)) ?? names[0]!,
        keyStore: 'software',
        altNames: split(names),
        actor: 'platform',
      };
    },
    { now, renewIf: (have) => !certNamesMatch(have.certificate, names) },
  );
}

/** Key (PEM) and chain of a listener certificate, as Node's TLS takes them. */
async function materialOf(p: Platform, row: ServiceCertRow, names: string[]): Promise<ListenerMaterial> {
  // issuing CA up to the root: the chain served is all but the root, which clients hold
  const cas = await caChain(p.pki, row.caId);
  const chain = cas.slice(0, -1).map((c) => c.certificate);
  return {
    key: (await softwareStore(p).tlsPrivateKey(row.keyId)).export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: [row.certificate, ...chain].map((d) => toPem('CERTIFICATE', d)).join(''),
    root: toPem('CERTIFICATE', cas[cas.length - 1]!.certificate),
    serial: row.serial,
    notAfter: row.notAfter,
    names,
  };
}

/** The listener's current certificate (issued or renewed when needed) with its key and chain. */
export async function ensureListenerMaterial(p: Platform, now = new Date()): Promise<{ material: ListenerMaterial; issued: boolean }> {
  const names = listenerNames(p);
  const { row, issued } = await listenerCert(p, names, now);
  return { issued, material: await materialOf(p, row, names) };
}

/** Node TLS options for the listener: TLS 1.3 only, optional client certificates checked by the API's own authentication. */
export function listenerTlsOptions(m: ListenerMaterial, requestClientCert: boolean): Record<string, unknown> {
  return { key: m.key, cert: m.cert, ca: m.root, minVersion: 'TLSv1.3', requestCert: requestClientCert, rejectUnauthorized: false };
}

/** Renews the listener's certificate on a timer and swaps it into the running server. */
export class ListenerRenewal {
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly p: Platform,
    private readonly server: Server,
    public material: ListenerMaterial,
    private readonly everyMs = 3_600_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), this.everyMs);
    this.timer.unref();
  }

  /** One check: renews when due and serves the new certificate to new connections. True when renewed. */
  async check(now = new Date()): Promise<boolean> {
    if (this.running) return false;
    this.running = true;
    try {
      // the key and chain are read only when the certificate changed
      const names = listenerNames(this.p);
      const { row, issued } = await listenerCert(this.p, names, now);
      if (!issued) return false;
      const material = await materialOf(this.p, row, names);
      this.server.setSecureContext(listenerTlsOptions(material, this.p.config.http.autoTls?.requestClientCert ?? false));
      this.material = material;
      this.p.log.info({ serial: material.serial, notAfter: material.notAfter, names: material.names }, 'chứng thư cổng HTTPS đã gia hạn (HTTPS listener certificate renewed)');
      return true;
    } catch (err) {
      // the old certificate keeps serving; the next check tries again
      this.p.log.error({ err }, 'gia hạn chứng thư cổng HTTPS thất bại (HTTPS listener certificate renewal failed)');
      return false;
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
