/**
 * The allocator serving processes run with (scripts/malloc.sh, docs/operations.md): jemalloc preloaded when
 * the machine has it (scripts/install-deps.sh installs it). Tests that start servers as separate processes
 * start them that way, so that what operators run is what is tested.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

/** jemalloc's library path, or '' when the machine lacks it (or TRUC_MALLOC=system) */
export const serverMalloc: string = execFileSync('bash', [join(ROOT, 'scripts/malloc.sh')], { encoding: 'utf8' }).trim();

if (!serverMalloc) console.warn("servers started as separate processes run on glibc's malloc: scripts/malloc.sh found no jemalloc (scripts/install-deps.sh installs it)");

/** `env` with jemalloc preloaded as scripts/start.sh does */
export function withServerMalloc(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return serverMalloc ? { ...env, LD_PRELOAD: [serverMalloc, env.LD_PRELOAD].filter(Boolean).join(':') } : env;
}

/** whether process `pid` has jemalloc mapped */
export function runsJemalloc(pid: number): boolean {
  return /libjemalloc/.test(readFileSync(`/proc/${pid}/maps`, 'utf8'));
}
