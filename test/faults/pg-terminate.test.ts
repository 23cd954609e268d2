/**
 * PostgreSQL backends terminated (pg_terminate_backend) while certificates are being issued, on a
 * database and a NATS server of the test's own. Every issuance that was acknowledged has its certificate,
 * its audit record and exactly one event at the consumer; every one that failed left nothing behind (no
 * half state); the audit chain is intact; and the platform issues again without a restart.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { openPlatform, type Platform } from '../../src/platform.js';
import { initHierarchy, searchCerts } from '../../src/pki/index.js';
import { searchAudit, verifyAuditChain } from '../../src/audit/index.js';
import { DEFAULT_HIERARCHY } from '../../src/cli/bootstrap.js';
import { NatsBus } from '../../src/bus/nats.js';
import type { OutboxBus } from '../../src/bus/outbox.js';
import { freshPostgresUrl, postgresWanted } from '../helpers/db.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { OwnNats, NATS_SERVER } from './nats-server.js';

describe.skipIf((!NATS_SERVER || !postgresWanted()) && process.env.CI !== 'true')('PostgreSQL backends terminated mid-issuance', () => {
  let nats: OwnNats;
  let p: Platform;
  let url: string;
  let sub: NatsBus;
  const dir = tmp();
  const stream = `TRUC_P_${randomBytes(3).toString('hex').toUpperCase()}`;
  const prefix = `tp${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    nats = await OwnNats.start();
    url = await freshPostgresUrl();
    const dataDir = tmp('truc-data-');
    p = await openPlatform(
      loadConfig({
        env: {},
        overrides: {
          dataDir,
          database: { url, poolSize: 6 },
          keys: { software: { dir: `${dataDir}/keys`, passphrase: 'test passphrase' } },
          log: { level: 'silent' },
          bus: { kind: 'nats', url: nats.url, stream, subjectPrefix: prefix },
        } as any,
      }),
    );
    await initHierarchy(p.pki, DEFAULT_HIERARCHY, 'test');
    sub = await NatsBus.connect({ servers: nats.url, stream, subjectPrefix: prefix });
  }, 60_000);
  afterAll(async () => {
    await sub?.close();
    await p?.close();
    await nats?.stop();
  });

  it('acknowledged issuances are complete with their events, failed ones leave nothing, and issuance recovers', async () => {
    const seen = new Map<string, number>();
    sub.subscribe('truc.pki.certificate.issued', (_s, e) => {
      const serial = String((e.truc as any)?.serial);
      seen.set(serial, (seen.get(serial) ?? 0) + 1);
    }, { durable: 'counter' });

    const { csr } = opensslCsr(dir, '/C=VN/O=Bộ Nội vụ/CN=Terminated');
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const dbName = new URL(url).pathname.slice(1);
    const kill = () =>
      admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [dbName]);

    const results: PromiseSettledResult<{ serial: string }>[] = [];
    let kills = 0;
    for (let round = 0; round < 3; round++) {
      // settled from the start: a request may fail before the kill is even sent
      const batch = Promise.allSettled(Array.from({ length: 60 }, (_, i) => p.issuer.issue({ profile: 'agency-signing', csr, requestId: `t${round}-${i}` }, 'ra')));
      // backends terminated a few times while the batch is in flight
      let done = false;
      void batch.then(() => (done = true));
      for (let k = 0; k < 2 + round && !done; k++) {
        await new Promise((r) => setTimeout(r, 1 + round * 4));
        await kill();
        kills++;
      }
      results.push(...(await batch));
    }
    await admin.end();
    const ok = results.filter((r): r is PromiseFulfilledResult<{ serial: string }> => r.status === 'fulfilled').map((r) => r.value.serial);
    const failed = results.length - ok.length;

    // the platform issues again without a restart (the pool opens new connections)
    let after: string | null = null;
    for (let i = 0; i < 20 && !after; i++)
      after = await p.issuer.issue({ profile: 'agency-signing', csr, requestId: `after-${i}` }, 'ra').then(
        (c) => c.serial,
        () => null,
      );
    expect(after).toBeTruthy();
    ok.push(after!);

    // what was acknowledged is there, with its audit record; what failed left no certificate
    const stored = new Set((await searchCerts(p.db, { limit: 1000 } as any)).map((c: any) => c.serial));
    for (const s of ok) expect(stored.has(s)).toBe(true);
    const audited = new Set((await searchAudit(p.db, { action: 'ca.issue', limit: 1000 })).filter((r) => r.outcome === 'success').map((r) => r.target));
    const leafs = (await searchCerts(p.db, { profile: 'agency-signing', limit: 1000 } as any)).length;
    expect(leafs).toBe(ok.length); // no certificate without an acknowledged issuance
    expect((await verifyAuditChain(p.db)).ok).toBe(true);
    expect(audited.size).toBeGreaterThan(0);

    // every acknowledged issuance's event reaches the consumer exactly once
    const outbox = p.bus as OutboxBus;
    expect(await outbox.drained(20_000)).toBe(true);
    const end = Date.now() + 20_000;
    while (ok.some((s) => !seen.has(s)) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    for (const s of ok) expect(seen.get(s)).toBe(1);
    expect(seen.size).toBe(ok.length);
    expect(kills).toBeGreaterThan(0);
    console.log(`terminated backends ${kills} times: ${ok.length} issued, ${failed} failed and left nothing`);
  }, 120_000);
});
