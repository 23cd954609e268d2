/**
 * Whether the compiled `truc` (scripts/build-cli.mjs, dist/cli/) may run instead of the sources. It may only
 * when it was built from what is under src/ now: every file there, and the build script itself, must be
 * older than the moment that build started. Otherwise — no build, an edit since, a build under way — the
 * sources run through tsx. A stale build must never answer: tests and people run `truc` while the sources
 * change under them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const DIST = 'dist/cli';
export const STAMP = 'dist/cli/current.json';
/** What the build is made of, besides src/: a change to these calls for a new build too. */
const INPUTS = ['scripts/build-cli.mjs', 'bin/fresh.js', 'tsconfig.json'];
/**
 * File times come from a coarse clock and the stamp from a fine one: a file saved just after the build
 * started may carry a time a little before it. Anything saved this close to the start counts as newer.
 */
const MARGIN_MS = 2000;

/** The newest modification time under `dir` (files only; editors' hidden and backup files skipped). */
function newest(dir, limit) {
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || e.name.endsWith('~')) continue;
    const p = join(dir, e.name);
    const t = e.isDirectory() ? newest(p, limit) : e.isFile() ? statSync(p).mtimeMs : 0;
    if (t > max) max = t;
    if (max >= limit) break; // one newer file is enough to refuse the build
  }
  return max;
}

/**
 * The compiled entry point under `root` when it is fresh, or why not: `{ entry }` or `{ reason }`.
 */
export function freshBuild(root) {
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(join(root, STAMP), 'utf8'));
  } catch {
    return { reason: 'not built (npm run build)' };
  }
  const entry = join(root, DIST, String(stamp.id), 'main.js');
  try {
    statSync(entry);
  } catch {
    return { reason: `${entry} is missing` };
  }
  const limit = Number(stamp.startedAt) - MARGIN_MS;
  if (!Number.isFinite(limit)) return { reason: 'unreadable build stamp' };
  if (newest(join(root, 'src'), limit) >= limit) return { reason: 'src/ changed since the build' };
  for (const f of INPUTS) {
    let t = 0;
    try {
      t = statSync(join(root, f)).mtimeMs;
    } catch {
      // an input that is not there (a copy without tsconfig.json) changes nothing
    }
    if (t >= limit) return { reason: `${f} changed since the build` };
  }
  return { entry };
}
