/**
 * Long-running commands (`truc start`, `truc ocsp serve`): open the platform, start a service on it, and
 * on SIGINT or SIGTERM stop the service, close the platform and exit. A failure to open or to start is
 * reported like any command error (message and exit code), with the platform closed.
 */
import { existsSync, rmSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import type { Config } from '../config.js';
import type { Platform } from '../platform.js';
import { fail } from './output.js';
import type { Role } from '../roles.js';

/** `start` returns the service's stop function. */
export async function runUntilSignal(cfg: Config, start: (p: Platform) => Promise<() => Promise<void>>, opts: { roles?: readonly Role[] } = {}): Promise<void> {
  const made = madeByStart(cfg);
  let p: Platform;
  try {
    const { openPlatform } = await import('../platform.js');
    p = await openPlatform(cfg, { serving: true, ...(opts.roles ? { roles: opts.roles } : {}) });
  } catch (e) {
    fail(e);
  }
  // serving processes are meant to start with the old space's limit raised (docs/operations.md, Production)
  if (!process.execArgv.some((a) => a.startsWith('--initial-old-space-size')))
    p.log.info(
      'Node khởi động không có --initial-old-space-size: nội dung lớn tốn thêm CPU cho thu gom bộ nhớ (Node started without --initial-old-space-size: large bodies cost more CPU in garbage collection; start serving processes as node --initial-old-space-size=128 bin/truc.js …, docs/operations.md)',
    );
  try {
    const stopService = await start(p);
    const stop = async () => {
      p.log.info('stopping');
      await stopService();
      // the roots kept for `truc verify`, which then need not open the database (./anchors.ts)
      const { closeKeeping } = await import('./anchors.js');
      await closeKeeping(p.config, p.db, () => p.close());
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } catch (e) {
    await p.close().catch(() => {});
    removeMade(cfg, made);
    fail(e);
  }
}

/**
 * What a first start makes (data folder, key store folder, kek.bin) that did not exist before it. openPlatform
 * removes them when it fails itself; a start that fails after the platform opened (the port taken, the first
 * start's bootstrap failing) removes them here — but only when the database lives inside one of them too, so
 * that nothing outside keeps rows (a CA hierarchy on PostgreSQL) whose keys would be gone.
 */
function madeByStart(cfg: Config): string[] {
  return [cfg.keys.software.kekFile ?? join(cfg.dataDir, 'kek.bin'), cfg.keys.software.dir, cfg.dataDir].filter((p) => !existsSync(p));
}

function removeMade(cfg: Config, made: string[]): void {
  const url = cfg.database.url;
  const embedded = !/^postgres(ql)?:\/\//.test(url);
  const inside = (dir: string) => {
    const r = relative(dir, url);
    return url === 'memory://' || (!r.startsWith('..') && !isAbsolute(r));
  };
  if (!embedded || !made.some(inside)) return;
  for (const p of made) rmSync(p, { recursive: true, force: true });
}
