/**
 * `truc` as the CLI tests run it: `node bin/truc.js` with the test's environment, its exit status and output.
 *
 * What a `truc` process costs (docs/testing.md): ≈0.8 s of CPU to load the signing commands before any work,
 * and ≈2.4 s more for PostgreSQL's initdb inside PGlite when its data folder has no database yet. So:
 *  - `trucDataDir` gives a data folder whose database is already created and migrated (a copy of the
 *    template of ./pglite-template.ts at `<folder>/db`), where `truc ca init`, `truc start` and the rest run
 *    as on any folder that holds a database but no CA yet. Tests of a truly fresh folder keep `tmp()`.
 *  - `TrucLanes` runs commands that do not depend on each other side by side, each lane on its own copy of
 *    an initialised data folder (the embedded database admits one process at a time, and a second one is
 *    refused, so two commands never share a folder at once). The whole suite runs one file at a time
 *    (vitest's default on 2 cores), so a file that waits on one child process leaves a core idle.
 */
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, renameSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { tmp } from './openssl.js';
import { afterAll } from 'vitest';
import { migratedPgliteDir } from './pglite-template.js';

/** the folders made here (≈40 MB each), removed after the test file that imports this (a hook of its root suite) */
const made: string[] = [];
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export interface TrucResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** A new data folder (named by `prefix`) whose embedded database exists and is migrated, with no CA and no keys yet; removed after the file's tests. */
export async function trucDataDir(prefix = 'truc-cli-'): Promise<string> {
  const dir = tmp(prefix);
  made.push(dir);
  renameSync(await migratedPgliteDir(), join(dir, 'db'));
  return dir;
}

/** A copy of a data folder (database, keys, files beside them), for a command that must not change the original; removed after the file's tests. */
export function copyDataDir(from: string, prefix = 'truc-cli-copy-'): string {
  const dir = tmp(prefix);
  made.push(dir);
  cpSync(from, dir, { recursive: true });
  return dir;
}

export function trucSync(env: NodeJS.ProcessEnv, args: string[], timeout = 120_000): TrucResult {
  const r = spawnSync(process.execPath, ['bin/truc.js', ...args], { env, encoding: 'utf8', timeout });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function trucAsync(env: NodeJS.ProcessEnv, args: string[], timeout = 120_000): Promise<TrucResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/truc.js', ...args], { env, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      resolve({ status: typeof code === 'number' ? code : -1, stdout, stderr });
    });
  });
}

/** How many commands a file runs at once: one more than the cores, so a core is not idle while a child starts — at most 4 (each lane is a 40 MB copy and a ≈200 MB process). */
export const LANES = Math.min(4, Math.max(2, availableParallelism() + 1));

/**
 * Lanes of `truc` commands over copies of one initialised data folder: `run` waits for a free lane and runs
 * the command on that lane's folder. Commands given to one lane one after another (`lane`) see each
 * other's changes; across lanes they see only what was in the folder when the copies were made.
 */
export class TrucLanes {
  private free: NodeJS.ProcessEnv[];
  private waiting: ((env: NodeJS.ProcessEnv) => void)[] = [];

  /** `n` copies of `env.TRUC_DATA_DIR` as it is now */
  constructor(env: NodeJS.ProcessEnv, n = LANES) {
    this.free = Array.from({ length: n }, () => ({ ...env, TRUC_DATA_DIR: copyDataDir(env.TRUC_DATA_DIR!) }));
  }

  /** runs `work` with a lane of its own: its commands run one after another on that lane's folder */
  async lane<T>(work: (truc: (...args: string[]) => Promise<TrucResult>) => Promise<T>): Promise<T> {
    const env = this.free.pop() ?? (await new Promise<NodeJS.ProcessEnv>((r) => this.waiting.push(r)));
    try {
      return await work((...args) => trucAsync(env, args));
    } finally {
      const next = this.waiting.shift();
      if (next) next(env);
      else this.free.push(env);
    }
  }

  /** one command on the next free lane */
  run(...args: string[]): Promise<TrucResult> {
    return this.lane((truc) => truc(...args));
  }
}
