/**
 * A real platform for tests: the given database (PGlite in memory or a fresh PostgreSQL database), a
 * temporary data folder with sealed software keys, the repository's profiles, the default hierarchy.
 */
import { loadConfig } from '../../src/config.js';
import { openPlatform, type Platform } from '../../src/platform.js';
import { initHierarchy } from '../../src/pki/index.js';
import { DEFAULT_HIERARCHY } from '../../src/cli/bootstrap.js';
import { rmSync } from 'node:fs';
import { tmp } from './openssl.js';
import { migratedPgliteDir } from './pglite-template.js';
import type { SecurityEvent } from '../../src/bus/index.js';

export interface TestPlatform extends Platform {
  events: { subject: string; event: SecurityEvent }[];
}

export async function testPlatform(
  dbUrl: string,
  opts: {
    init?: boolean;
    deltas?: boolean;
    pkcs11?: { module: string; tokenLabel: string; pin: string };
    /** further configuration (bus, instance, crl, …): each key replaces the default's */
    overrides?: Record<string, unknown>;
    /** record every event in `events` (default true; a NATS bus then carries one more subscriber) */
    record?: boolean;
  } = {},
): Promise<TestPlatform> {
  const dataDir = tmp('truc-data-');
  // an in-memory database starts from a copy of a migrated one: the same engine, seconds sooner
  const copy = dbUrl === 'memory://' ? await migratedPgliteDir() : undefined;
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      database: { url: copy ?? dbUrl },
      keys: { software: { dir: `${dataDir}/keys`, passphrase: 'test passphrase' }, ...(opts.pkcs11 ? { pkcs11: opts.pkcs11 } : {}) },
      log: { level: 'silent' },
      publicUrl: 'http://127.0.0.1:8080',
      crl: { deltas: opts.deltas ?? true },
      ...opts.overrides,
    } as any,
  });
  const p = (await openPlatform(config)) as TestPlatform;
  p.events = [];
  if (copy) {
    // the copy is ~40 MB on disk where the in-memory database took none: removed with the platform
    const close = p.close.bind(p);
    p.close = async () => {
      await close();
      rmSync(copy, { recursive: true, force: true });
    };
  }
  if (opts.record !== false)
    p.bus.subscribe('>', (subject, event) => {
      p.events.push({ subject, event });
    });
  if (opts.init !== false) await initHierarchy(p.pki, DEFAULT_HIERARCHY, 'test');
  return p;
}
