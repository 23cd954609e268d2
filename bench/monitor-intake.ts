/**
 * Intake throughput: events per second through normalisation, Sigma detection (the built-in pack),
 * batched storage and alerting — directly (MonitorService.submit) and over HTTP batches (POST /api/v1/events
 * on a listening server) — on PGlite and, when a server answers, PostgreSQL. Prints JSON; `run()` returns it.
 */
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { openPlatform } from '../src/platform.js';
import { buildApp } from '../src/http/app.js';
import { createToken } from '../src/http/auth/store.js';
import { makeEvent } from '../src/bus/index.js';
import { MonitorService, monitorConfig } from '../src/monitor/index.js';
import { freshPostgresUrl, postgresWanted } from '../test/helpers/db.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const title = 'Monitoring intake';
export const describe = 'events/s through intake, Sigma detection and batched storage, direct and over HTTP batches, on PGlite and PostgreSQL';

function events(n: number, offset: number): unknown[] {
  const out: unknown[] = [];
  // working hours in Hà Nội (10:00 local) so that the off-hours rules stay quiet: the bench measures intake
  const now = Date.parse(new Date().toISOString().slice(0, 10) + 'T03:00:00Z') + offset;
  for (let i = 0; i < n; i++) {
    const k = offset + i;
    out.push(
      k % 3 === 0
        ? makeEvent('http', 'auth.failed', 'failure', { category: ['authentication'], source: { ip: `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}` }, user: { name: `u${k % 997}` }, at: new Date(now - (n - i)) })
        : makeEvent('exchange', 'document.view', 'success', { category: ['file'], user: { name: `u${k % 997}` }, host: { name: `ss-${k % 13}` }, file: { name: `doc-${k}.pdf` }, at: new Date(now - (n - i)) }),
    );
  }
  return out;
}

async function one(db: 'pglite' | 'postgres', url: string, total: number, batch: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'truc-bench-'));
  const config = loadConfig({ env: {}, overrides: { dataDir, database: { url }, keys: { software: { dir: `${dataDir}/keys`, passphrase: 'bench passphrase' } }, log: { level: 'silent' } } as any });
  const p = await openPlatform(config);
  const m = await MonitorService.start({ db: p.db, bus: p.bus, log: pino({ level: 'silent' }), config: monitorConfig({ queue: { batchSize: batch, capacity: 100_000 } }), listen: false, subscribe: false, scanner: null });
  try {
    // direct
    let t = performance.now();
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < total; i += batch) {
      let r = m.submit(events(batch, i), 'http');
      while (!r) {
        await m.queue.room(batch);
        r = m.submit(events(batch, i), 'http');
      }
      pending.push(r);
      if (pending.length >= 8) await pending.shift();
    }
    await Promise.all(pending);
    const direct = total / ((performance.now() - t) / 1000);
    // HTTP: 4 concurrent clients posting batches
    const app = await buildApp(p, { monitor: m });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const token = (await createToken(p.db, 'bench sender', ['event-sender'])).token;
    const bodies = Array.from({ length: Math.ceil(total / batch) }, (_, i) => JSON.stringify(events(batch, total + i * batch)));
    t = performance.now();
    let next = 0;
    const client = async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        for (;;) {
          const r = await fetch(`${base}/api/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
          await r.arrayBuffer();
          if (r.status === 202) break;
          if (r.status !== 503) throw new Error(`intake answered ${r.status}`);
          await new Promise((res) => setTimeout(res, 50));
        }
      }
    };
    await Promise.all([client(), client(), client(), client()]);
    const http = (bodies.length * batch) / ((performance.now() - t) / 1000);
    await app.close();
    return { database: db, events: total, batch, directPerSecond: Math.round(direct), httpPerSecond: Math.round(http), stored: await m.events.count(), alerts: m.stats.alertsRaised };
  } finally {
    await m.stop();
    await p.close();
  }
}

export async function run(opts: { events?: number; batch?: number } = {}) {
  const total = opts.events ?? 20_000;
  const batch = opts.batch ?? 500;
  const results = [await one('pglite', 'memory://', total, batch)];
  if (postgresWanted()) results.push(await one('postgres', await freshPostgresUrl(), total, batch));
  return { title, results };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().then((r) => console.log(JSON.stringify(r, null, 2)));
}
