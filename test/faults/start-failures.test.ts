/**
 * Starts that fail, as an operator meets them: NATS or PostgreSQL not answering (a port of the test's own
 * with nothing behind it), a key store sealed with a passphrase started without it. Each must say what is
 * wrong with a stable code — `bus_unavailable` and `database_unavailable` (503), not `invalid_config` — and
 * leave nothing behind: no data folder it made, no stray `kek.bin` beside keys it cannot open.
 */
import { describe, it, expect } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';
import { spawn } from 'node:child_process';
import { loadConfig, type Config } from '../../src/config.js';
import { openPlatform } from '../../src/platform.js';
import { tmp } from '../helpers/openssl.js';
import { freePort } from './nats-server.js';

const config = (dataDir: string, o: Record<string, unknown>): Config =>
  loadConfig({ env: {}, overrides: { dataDir, log: { level: 'silent' }, ...o } as any });

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('the start should have failed');
    },
    (e: unknown) => e as { code: string; status: number; message: string },
  );

describe('failed starts', () => {
  it('NATS not answering: bus_unavailable (503), and the data folder it made is gone', async () => {
    const dataDir = join(tmp(), 'data');
    const port = await freePort();
    const e = await failure(openPlatform(config(dataDir, { database: { url: 'memory://' }, bus: { kind: 'nats', url: `nats://127.0.0.1:${port}` } })));
    expect(e).toMatchObject({ code: 'bus_unavailable', status: 503 });
    expect(e.message).toContain(`127.0.0.1:${port}`);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('PostgreSQL not answering: database_unavailable (503), and the data folder it made is gone', async () => {
    const dataDir = join(tmp(), 'data');
    const port = await freePort();
    const e = await failure(openPlatform(config(dataDir, { database: { url: `postgres://postgres@127.0.0.1:${port}/truc` } })));
    expect(e).toMatchObject({ code: 'database_unavailable', status: 503 });
    expect(existsSync(dataDir)).toBe(false);
  });

  it('a key store sealed with a passphrase, started without it: says so, keeps the keys, writes no kek.bin', async () => {
    const dataDir = join(tmp(), 'data');
    const keys = { software: { dir: join(dataDir, 'keys'), passphrase: 'the passphrase' } };
    const first = await openPlatform(config(dataDir, { database: { url: 'memory://' }, keys }));
    await first.keys.default.generate('EC-P256', 'kept');
    await first.close();
    const before = readdirSync(dataDir).sort();

    const e = await failure(openPlatform(config(dataDir, { database: { url: 'memory://' }, keys: { software: { dir: keys.software.dir } } })));
    expect(e.code).toBe('key_store');
    expect(e.message).toMatch(/^kho khoá phần mềm .* niêm phong bằng mật khẩu.* \/ the software key store .* sealed with a passphrase: set TRUC_KEY_PASSPHRASE/);
    expect(existsSync(join(dataDir, 'kek.bin'))).toBe(false);
    expect(readdirSync(dataDir).sort()).toEqual(before); // what existed stays

    // with the passphrase again, the key is there
    const again = await openPlatform(config(dataDir, { database: { url: 'memory://' }, keys }));
    expect((await again.keys.default.list()).map((k) => k.label)).toContain('kept');
    await again.close();
  });

  it('truc start failing after the platform opened (its port taken): exit 1 with the reason, and the first start\'s folder is gone', async () => {
    const dataDir = join(tmp(), 'data');
    const port = await freePort();
    const taken = createServer();
    await new Promise<void>((ok) => taken.listen(port, '127.0.0.1', ok));
    try {
      const child = spawn(process.execPath, [resolve(import.meta.dirname, '../../bin/truc.js'), '--data-dir', dataDir, 'start', '--port', String(port)], {
        env: { ...process.env, TRUC_LOG_LEVEL: 'silent' },
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.stdout.resume();
      const code = await new Promise<number | null>((ok) => child.on('exit', ok));
      expect(code).toBe(1);
      expect(stderr).toContain('EADDRINUSE');
      // the CA hierarchy, tokens and keys were made inside it with the embedded database: all gone together
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      taken.close();
    }
  }, 120_000);
});
