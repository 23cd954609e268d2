/**
 * Running the HTTP roles: listen, keep CRLs fresh on a schedule, and shut down cleanly on a signal.
 */
import type { FastifyInstance } from 'fastify';
import type { Platform } from '../platform.js';
import { listCas, refreshCrls } from '../pki/index.js';
import { buildApp } from './app.js';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function startServer(p: Platform): Promise<RunningServer> {
  const app = await buildApp(p);
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
    },
  };
}
