/**
 * What a one-file command loads before it does anything (issue 18: `truc verify` under 1 s): the modules the
 * compiled command imports statically from the database's opening (src/database.ts) and from the validators
 * (src/sign/validate/file.ts), read from the bundler's own graph of the sources. Opening the database migrates
 * every part, so each part's migrations must come without the part's code: the notification secrets' table
 * once brought the vault with it, and with the vault the CMS encryption and its ASN.1 packages (~0.5 s of
 * CommonJS loading in every command on the embedded database). Packages load lazily, where they are needed.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { resolve } from 'node:path';
import { build, type Metafile } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '../..');

/** Modules reached from `from` through static imports, and the packages (not node:) they import statically. */
function reach(meta: Metafile, from: string): { modules: Set<string>; packages: Map<string, string> } {
  const modules = new Set([from]);
  const packages = new Map<string, string>();
  const queue = [from];
  while (queue.length) {
    const f = queue.shift()!;
    for (const i of meta.inputs[f]?.imports ?? []) {
      if (i.kind !== 'import-statement') continue;
      if (i.external) {
        if (!i.path.startsWith('node:')) packages.set(i.path, f);
      } else if (!modules.has(i.path)) {
        modules.add(i.path);
        queue.push(i.path);
      }
    }
  }
  return { modules, packages };
}

describe('truc: what a one-file command loads', () => {
  let meta: Metafile;
  beforeAll(async () => {
    // the build as scripts/build-cli.mjs makes it, written nowhere
    const r = await build({ entryPoints: [resolve(ROOT, 'src/cli/main.ts')], absWorkingDir: ROOT, bundle: true, splitting: true, format: 'esm', platform: 'node', packages: 'external', outdir: resolve(ROOT, 'dist/.graph'), metafile: true, write: false, logLevel: 'silent' });
    meta = r.metafile;
  }, 60_000);

  it('opening the database loads the migrations, not the parts: no package, no vault, no signing', () => {
    const { modules, packages } = reach(meta, 'src/database.ts');
    expect(modules.has('src/database.ts')).toBe(true);
    expect([...packages]).toEqual([]); // PGlite is imported when the engine starts (src/store/db.ts)
    expect([...modules].filter((m) => m === 'src/vault/index.ts' || /^src\/(vault\/cms|sign\/(cades|pades|xades|validate|pdf))\//.test(m))).toEqual([]);
  });

  it('the validators load no package before they read a file (pdf-lib, the XML stack, the OCSP schemas come when needed)', () => {
    const { modules, packages } = reach(meta, 'src/sign/validate/file.ts');
    expect(modules.size).toBeGreaterThan(10);
    expect([...packages]).toEqual([]);
  });
});
