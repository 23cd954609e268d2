/**
 * Running the HTTP roles: listen, keep CRLs fresh on a schedule, and shut down cleanly on a signal.
 */
import type { FastifyInstance } from 'fastify';
import type { Platform } from '../platform.js';
import { listCas, refreshCrls } from '../pki/index.js';
import { buildApp } from './app.js';
import { OcspResponder } from '../pki/ocsp/index.js';
import { TimeStampAuthority } from '../pki/tsa/index.js';
import { MonitorService, monitorConfig } from '../monitor/index.js';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function startServer(p: Platform): Promise<RunningServer> {
  const ocsp = new OcspResponder(p.pki, p.issuer, p.config.ocsp, p.log);
  await ocsp.start();
  let tsa: TimeStampAuthority | undefined = new TimeStampAuthority(p.pki, p.issuer, p.config.tsa, p.log);
  try {
    await tsa.start();
  } catch (err) {
    p.log.error({ err }, 'time-stamping authority not started (set tsa.ca when there are several issuing CAs)');
    tsa = undefined;
  }
  const mcfg = monitorConfig(p.config.monitor);
  const monitor = mcfg.enabled ? await MonitorService.start({ db: p.db, bus: p.bus, log: p.log, config: mcfg }) : undefined;
  if (monitor) p.log.info({ syslog: monitor.addresses, rules: monitor.detection.engine.detector.stats().rules }, 'monitoring started');
  const app = await buildApp(p, { ocsp, ...(tsa ? { tsa } : {}), ...(monitor ? { monitor } : {}) });
  const addr = await app.listen({ host: p.config.http.host, port: p.config.http.port });
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
  await refresh();
  const timer = setInterval(refresh, p.config.crl.intervalMinutes * 60_000);
  timer.unref();
  return {
    app,
    url: addr,
    async close() {
      clearInterval(timer);
      await app.close();
      await monitor?.stop();
      await ocsp.stop();
    },
  };
}
