/**
 * Running the HTTP roles: listen, keep CRLs fresh on a schedule, and shut down cleanly on a signal.
 */
import type { FastifyInstance } from 'fastify';
import type { Platform } from '../platform.js';
import { listCas, refreshCrls } from '../pki/index.js';
import { buildApp } from './app.js';
import { OcspResponder } from '../pki/ocsp/index.js';
import { TimeStampAuthority } from '../pki/tsa/index.js';
import { MonitorService, NotifySecrets, monitorConfig } from '../monitor/index.js';
import { join } from 'node:path';
import type { Db } from '../store/index.js';
import type { BodyCipher } from '../exchange/log/cipher.js';
import type { MessageLogApi } from '../exchange/log/types.js';
import { openCentral, startAxis, type Axis } from '../exchange/axis.js';
import { startDemoDesks, type DemoDesks } from '../exchange/edoc/demo.js';
import type { DocumentDesk } from '../exchange/edoc/desk.js';
import { TrucError } from '../errors.js';
import { ROLES, type Role } from '../roles.js';
import { ensureListenerMaterial, ListenerRenewal, listenerTlsOptions } from './listener-tls.js';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  /** the HTTPS listener's own certificate and its renewal (truc start --tls) */
  listener?: ListenerRenewal;
  close(): Promise<void>;
}

export interface StartOptions {
  /** the roles to run (default the platform's, all unless `truc start --roles` chose) */
  roles?: readonly Role[];
  /** opens a security server's message log in a folder; the demonstration axis runs only when given */
  openLog?: (db: Db, dir: string, o: { cipher?: BodyCipher }) => Promise<MessageLogApi>;
}

/**
 * Whether `truc start` runs the demonstration axis: as configured, else on the embedded default (PGlite, no
 * security server of its own) with a fixed port, since the axis's configuration names the platform's URL.
 */
export function demoAxisWanted(p: Platform): boolean {
  const x = p.config.exchange;
  // the demonstration axis fetches its configuration, OCSP and time-stamps from this listener over plain
  // HTTP on loopback; behind TLS it is not run (a demonstration, not a production part)
  if (p.config.http.tls || p.config.http.autoTls) return false;
  if (x?.demo !== undefined) return x.demo && p.config.http.port !== 0;
  return p.db.kind === 'pglite' && !x?.server && p.config.http.port !== 0;
}

/** Whether a listen address reaches only this machine: 127.0.0.0/8, ::1, localhost (and their IPv4-mapped forms). */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * Plain HTTP only on loopback unless the operator says otherwise (issue 13, in transit): a listener without
 * http.tls on any other address (0.0.0.0, ::, a LAN address, a name) is refused before anything starts,
 * unless http.allowPlainHttp (or `truc start --insecure-http`) is set.
 */
export function assertTransportAllowed(http: Platform['config']['http']): void {
  if (http.tls && http.autoTls)
    throw new TrucError('invalid_config', 'http.tls (tệp chứng thư) và http.autoTls (--tls) loại trừ nhau / http.tls (certificate files) and http.autoTls (--tls) exclude each other');
  if (http.clientCertRoutes?.length && !http.tls?.requestClientCert && !http.autoTls?.requestClientCert)
    throw new TrucError(
      'invalid_config',
      'http.clientCertRoutes cần cổng HTTPS hỏi chứng thư máy khách (http.tls.requestClientCert hoặc http.autoTls.requestClientCert) / http.clientCertRoutes needs an HTTPS listener asking for client certificates (http.tls.requestClientCert or http.autoTls.requestClientCert)',
    );
  if (http.tls || http.autoTls || http.allowPlainHttp || isLoopbackHost(http.host)) return;
  throw new TrucError(
    'invalid_config',
    `HTTP không mã hoá trên địa chỉ ${http.host} (không phải loopback) bị từ chối: cấu hình http.tls, hoặc đặt http.allowPlainHttp: true / --insecure-http (truc start, truc central serve) nếu cố ý (ví dụ sau một reverse proxy TLS) / ` +
      `plain HTTP on ${http.host} (not loopback) is refused: configure http.tls, or set http.allowPlainHttp: true / --insecure-http (truc start, truc central serve) if intended (e.g. behind a TLS reverse proxy)`,
  );
}

export async function startServer(p: Platform, so: StartOptions = {}): Promise<RunningServer> {
  assertTransportAllowed(p.config.http);
  const roles = new Set<string>(so.roles ?? p.roles ?? ROLES);
  const all = ROLES.every((r) => roles.has(r));
  const ocsp = roles.has('ocsp') ? new OcspResponder(p.pki, p.issuer, p.config.ocsp, p.log) : undefined;
  await ocsp?.start();
  let tsa: TimeStampAuthority | undefined = roles.has('tsa') ? new TimeStampAuthority(p.pki, p.issuer, p.config.tsa, p.log) : undefined;
  try {
    await tsa?.start();
  } catch (err) {
    p.log.error({ err }, 'time-stamping authority not started (set tsa.ca when there are several issuing CAs)');
    tsa = undefined;
  }
  const mcfg = monitorConfig(p.config.monitor);
  const secrets = NotifySecrets.of(p);
  const monitor = roles.has('monitor') && mcfg.enabled ? await MonitorService.start({ db: p.db, bus: p.bus, log: p.log, config: mcfg, secrets }) : undefined;
  if (monitor) p.log.info({ syslog: monitor.addresses, rules: monitor.detection.engine.detector.stats().rules }, 'monitoring started');
  // the demonstration axis: a central server on this platform (its configuration served by this app) and
  // three agencies' security servers started once the app listens
  const demo = all && so.openLog && demoAxisWanted(p);
  const central = demo ? await openCentral(p, p.config.publicUrl) : undefined;
  let axis: Axis | undefined;
  let desks: DemoDesks | undefined;
  const startup: Record<string, 'starting' | 'running' | 'failed'> = demo ? { axis: 'starting', desks: 'starting' } : {};
  // the first agency's document desk answers /api/v1/doc on this app; it opens with the axis, after the app
  // listens (the axis downloads its configuration from it): until then its routes answer 503
  const lateDesk = new Proxy({} as DocumentDesk, {
    get(_t, k) {
      const d = desks?.desks[0]?.desk;
      if (!d) throw new TrucError('desk_unavailable', 'bàn văn thư chưa sẵn sàng: trục mẫu đang khởi động / the document desk is not ready: the demonstration axis is starting');
      const v = Reflect.get(d, k, d) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(d) : v;
    },
  });
  // HTTPS on the platform's own certificate (truc start --tls): issued (or renewed) before the app listens
  const own = p.config.http.autoTls ? (await ensureListenerMaterial(p)).material : undefined;
  if (own) p.log.info({ serial: own.serial, notAfter: own.notAfter, names: own.names }, 'cổng HTTPS dùng chứng thư của nền tảng (HTTPS listener on the platform\'s own certificate)');
  const app = await buildApp(p, {
    ...(own ? { https: listenerTlsOptions(own, p.config.http.autoTls?.requestClientCert ?? false) } : {}),
    ...(demo ? { docDesk: lateDesk } : {}),
    ocsp,
    ...(tsa ? { tsa } : {}),
    ...(monitor ? { monitor } : {}),
    ...(central ? { central, securityServers: () => axis?.members.map((m) => m.server) ?? [] } : {}),
    ...(demo ? { startup: () => ({ ...startup }) } : {}),
  });
  const addr = await app.listen({ host: p.config.http.host, port: p.config.http.port });
  const renewal = own ? new ListenerRenewal(p, app.server as unknown as import('node:https').Server, own) : undefined;
  renewal?.start();
  if (central && so.openLog) {
    const openLog = so.openLog;
    try {
      axis = await startAxis(p, central, {
        baseUrl: p.config.publicUrl.replace(/\/$/, ''),
        dir: join(p.config.dataDir, 'axis'),
        storage: 'folder',
        thread: p.config.database.thread,
        serving: true,
        isPort: p.config.exchange?.demoIsPort ?? 8181,
        peerPort: p.config.exchange?.demoPeerPort ?? 5501,
        openLog,
      });
      p.log.info(
        { servers: axis.members.map((m) => ({ server: m.server.ctx.idText, informationSystems: m.isUrl, peers: m.peerAddress })) },
        'trục liên thông mẫu đang chạy (demonstration axis running)',
      );
      startup.axis = 'running';
      try {
        desks = await startDemoDesks(p, axis, { dir: join(p.config.dataDir, 'axis') });
        p.log.info(
          { desks: desks.desks.map((d) => ({ agency: d.organId, edoc: d.url })), api: '/api/v1/doc', as: desks.desks[0]?.name, ...(desks.sample ? { sample: desks.sample.documentId } : {}) },
          'bàn văn thư của các cơ quan mẫu đang chạy (document desks running)',
        );
        startup.desks = 'running';
      } catch (err) {
        startup.desks = 'failed';
        p.log.error({ err }, 'the demonstration document desks did not start');
      }
    } catch (err) {
      startup.axis = startup.desks = 'failed';
      p.log.error({ err }, 'the demonstration axis did not start (set exchange.demo: false to skip it)');
    }
  }
  const refresh = async () => {
    try {
      const ids = (await listCas(p.db)).map((c) => c.id);
      // regenerate when within a quarter of the shortest validity of its nextUpdate
      const margin = (Math.min(p.config.crl.validityHours, p.config.crl.deltaValidityHours) * 3_600_000) / 4;
      const made = await refreshCrls(p.pki, ids, margin);
      if (made.length) p.log.info({ crls: made.map((c) => `${c.caId}#${c.number}${c.delta ? 'Δ' : ''}`) }, 'CRLs generated');
    } catch (e) {
      p.log.error({ err: e }, 'CRL refresh failed');
    }
  };
  // CRLs are the CA's: kept fresh only by a process with the ca role
  if (roles.has('ca')) await refresh();
  const timer = setInterval(() => void (roles.has('ca') && refresh()), p.config.crl.intervalMinutes * 60_000);
  timer.unref();
  return {
    app,
    url: addr,
    ...(renewal ? { listener: renewal } : {}),
    async close() {
      clearInterval(timer);
      renewal?.stop();
      await desks?.close().catch(() => {});
      await axis?.close().catch(() => {});
      await app.close();
      await monitor?.stop();
      await ocsp?.stop();
    },
  };
}
