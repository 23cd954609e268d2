#!/usr/bin/env node
/**
 * `npm run build` (`--if-stale`: only when the last build is older than the sources): compiles the `truc` command (src/cli/main.ts and what it imports) into plain JavaScript
 * under dist/cli/, so that a start costs no TypeScript compilation. npm packages stay outside the bundle
 * (node_modules is read at run time); each command's part is its own chunk, loaded when that command runs.
 *
 * The sources stay the truth: bin/truc.js runs the build only when it is newer than every file under src/
 * and this script, and otherwise runs the sources through tsx (bin/fresh.js). Each build goes to a folder
 * of its own, named in dist/cli/current.json once complete, so a build never changes files under a `truc`
 * that is running — its later chunks are still where it expects them.
 */
import { build } from 'esbuild';
import { readFile, writeFile, rename, rm, readdir, stat, mkdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIST, STAMP, freshBuild } from '../bin/fresh.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Builds older than this, other than the current one, are removed (a `truc` started before may still read one). */
const KEEP_OLD_MS = 60 * 60 * 1000;

/**
 * The bundle lives in dist/cli/<id>/, not beside the sources: `import.meta.url` and `import.meta.dirname`
 * in a source file become its own place under src/ again, so that files read at run time (bundled
 * profiles, Sigma and YARA rules, the signing worker, the project root) are found where they are.
 */
function sourcePaths(outdir) {
  return {
    name: 'source-paths',
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => {
        let text = await readFile(args.path, 'utf8');
        if (text.includes('import.meta')) {
          const file = relative(outdir, args.path).split('\\').join('/');
          const dir = relative(outdir, dirname(args.path)).split('\\').join('/');
          text = text
            .replaceAll('import.meta.url', `new URL(${JSON.stringify(file)}, import.meta.url).href`)
            .replaceAll('import.meta.dirname', `(import.meta.dirname + ${JSON.stringify('/' + dir)})`);
        }
        return { contents: text, loader: 'ts' };
      });
    },
  };
}

async function main() {
  // scripts/start.sh and scripts/test.sh: only when the sources changed since the last build
  if (process.argv.includes('--if-stale') && freshBuild(ROOT).entry) return;
  // taken before any source is read: a file saved during the build is newer than the stamp, so not trusted
  const startedAt = Date.now();
  const id = `${startedAt.toString(36)}-${process.pid}`;
  const outdir = join(ROOT, DIST, id);
  await mkdir(outdir, { recursive: true });
  try {
    await build({
      entryPoints: [join(ROOT, 'src/cli/main.ts')],
      outdir,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20.19',
      packages: 'external',
      sourcemap: 'linked', // for NODE_OPTIONS=--enable-source-maps; not loaded otherwise
      logLevel: 'warning',
      plugins: [sourcePaths(outdir)],
    });
  } catch (e) {
    await rm(outdir, { recursive: true, force: true });
    throw e;
  }
  const tmp = join(ROOT, `${STAMP}.${process.pid}.tmp`);
  await writeFile(tmp, JSON.stringify({ id, startedAt, node: process.version }) + '\n');
  await rename(tmp, join(ROOT, STAMP)); // atomic: readers see the old build or the new one, never half
  for (const name of await readdir(join(ROOT, DIST))) {
    if (name === id || name === 'current.json') continue;
    const p = join(ROOT, DIST, name);
    const s = await stat(p).catch(() => null);
    if (s && Date.now() - s.mtimeMs > KEEP_OLD_MS) await rm(p, { recursive: true, force: true });
  }
  console.error(`built the truc command in ${Date.now() - startedAt} ms (${relative(ROOT, outdir)})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
