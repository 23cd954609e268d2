/**
 * Which vector files a run takes, from what an operator types: a file name in the vector folder
 * (`aes_gcm_test.json`, with or without `.gz`), a path, a glob over names (`ecdsa_*_test.json`), or a
 * family name (`aead`, `mac`, `ecdsa`…, every file whose schema that family runs). With nothing named, a
 * profile's suites, else every file. Each spec must match something: a typo is an error, not a shorter run.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { TrucError } from '../errors.js';
import type { Profile } from './profile.js';
import { FAMILIES } from './wycheproof/families.js';
import { loadVectorFile, type VectorFile } from './wycheproof/file.js';
import { loadSchemaSet, type SchemaSet } from './wycheproof/schema.js';

/** The vector files shared with the project (see ../shared/README.md), from the working directory. */
export const DEFAULT_VECTOR_DIR = resolve(process.cwd(), '../shared/vectors/wycheproof/testvectors_v1');

const MAX_SUITES = 500;

function globRegex(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}(\\.gz)?$`);
}

async function namesIn(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => /\.json(\.gz)?$/.test(n)).sort();
  } catch {
    throw new TrucError('not_found', `no vector folder ${dir}`, { dir });
  }
}

export async function resolveSuites(specs: readonly string[], o: { dir: string; profile?: Profile }): Promise<VectorFile[]> {
  const picked = new Map<string, string>(); // path → spec
  const familyNames = new Set(FAMILIES.map((f) => f.name));
  let all: VectorFile[] | undefined;
  const loadAll = async () => (all ??= await Promise.all((await namesIn(o.dir)).map((n) => loadVectorFile(join(o.dir, n)))));
  const byPath = new Map<string, VectorFile>();

  for (const spec of specs) {
    const before = picked.size;
    if (familyNames.has(spec)) {
      const schemas = new Set(FAMILIES.find((f) => f.name === spec)!.schemas);
      for (const f of await loadAll()) if (schemas.has(f.doc.schema)) picked.set(join(o.dir, fileOf(f, o.dir)), spec);
    } else if (/[*?]/.test(spec)) {
      const dir = spec.includes('/') ? dirname(resolve(spec)) : o.dir;
      const re = globRegex(basename(spec));
      for (const n of await namesIn(dir)) if (re.test(n)) picked.set(join(dir, n), spec);
    } else if (spec.includes('/') && existsSync(spec) && statSync(spec).isFile()) {
      picked.set(resolve(spec), spec);
    } else {
      for (const n of [spec, `${spec}.gz`, `${spec}.json`, `${spec}.json.gz`]) {
        const p = join(o.dir, n);
        if (!spec.includes('/') && existsSync(p)) {
          picked.set(p, spec);
          break;
        }
      }
    }
    if (picked.size === before) throw new TrucError('not_found', `no vector file matches "${spec}" (in ${o.dir})`, { suite: spec });
  }

  if (specs.length === 0) {
    for (const f of await loadAll()) {
      const m = o.profile?.suites.some((s) => s.match.algorithms?.includes(f.doc.algorithm) || s.match.files?.includes(f.name) || s.match.schemas?.includes(f.doc.schema));
      if (!o.profile || m) picked.set(join(o.dir, fileOf(f, o.dir)), '');
    }
    if (picked.size === 0) throw new TrucError('not_found', `no vector file in ${o.dir}${o.profile ? ` for profile ${o.profile.id}` : ''}`);
  }
  if (picked.size > MAX_SUITES) throw new TrucError('bad_request', `${picked.size} vector files: at most ${MAX_SUITES} a run`);
  for (const f of all ?? []) byPath.set(join(o.dir, fileOf(f, o.dir)), f);
  const files: VectorFile[] = [];
  for (const p of [...picked.keys()].sort()) files.push(byPath.get(p) ?? (await loadVectorFile(p)));
  return files;
}

// loadVectorFile strips .gz from the name; find which stored name it came from
const stored = new WeakMap<VectorFile, string>();
function fileOf(f: VectorFile, dir: string): string {
  let n = stored.get(f);
  if (!n) {
    n = existsSync(join(dir, `${f.name}.gz`)) ? `${f.name}.gz` : f.name;
    stored.set(f, n);
  }
  return n;
}

/** The schema set beside the vectors (`../schemas`), when there is one. */
export async function schemasFor(dir: string): Promise<SchemaSet | undefined> {
  const s = resolve(dir, '../schemas');
  return existsSync(s) ? loadSchemaSet(s) : undefined;
}
