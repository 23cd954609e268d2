/**
 * The parsed rule set kept on disk, so that a command that loads thousands of rules (a hunt over one small
 * file) does not parse and validate their YAML each time: parsing SigmaHQ's 3,777 files takes seconds, reading
 * back the same documents as JSON a tenth of one. The cache is keyed by the rule files' paths, sizes and
 * modification times and by the parser's own sources, so a changed rule or parser rebuilds it; a missing,
 * stale, truncated or altered cache file (its body carries a SHA-256) is rebuilt from the YAML, never trusted.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { loadRuleFiles, ruleFiles, type LoadResult, type RuleFile } from './load.js';
import type { SigmaDocument } from './types.js';

/** Bumped when what is written changes shape. */
const FORMAT = 2;
/** Cache files kept per folder; older ones (other rule sets, older parsers) are removed. */
const KEEP = 4;

/** Where caches go: TRUC_CACHE_DIR, else the user's cache folder for the platform. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TRUC_CACHE_DIR) return resolve(env.TRUC_CACHE_DIR);
  if (process.platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'truc', 'Cache');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'truc');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'truc');
}

let parserHash: string | undefined;

/** What the parsed form depends on besides the rules: the parser, the schemas and the document types. */
function parserVersion(): string {
  if (parserHash) return parserHash;
  const h = createHash('sha256').update(`format ${FORMAT}\n`);
  const dir = import.meta.dirname;
  for (const f of ['parse.ts', 'load.ts', 'types.ts', 'validate.ts', 'schema/detection.json', 'schema/correlation.json', 'schema/filter.json']) {
    try {
      h.update(f).update(readFileSync(join(dir, f)));
    } catch {
      // a packaging without sources: the format and the rules still key the cache
      h.update(`${f} absent`);
    }
  }
  return (parserHash = h.digest('hex'));
}

export function cacheKey(files: readonly RuleFile[]): string {
  const h = createHash('sha256').update(parserVersion());
  for (const f of files) h.update(`\n${resolve(f.path)}\u0000${f.size}\u0000${f.mtimeMs}`);
  return h.digest('hex');
}

export interface CachedLoad extends LoadResult {
  /** hit: read from the cache; built: parsed from YAML and written; uncached: parsed, the cache not writable */
  cache: 'hit' | 'built' | 'uncached';
  /** the cache file, when there is one */
  cacheFile?: string;
}

/** Typed fields that are the very values of the document's `raw` form: written once, in `raw`. */
const SHARED = ['detection', 'logsource', 'description'] as const;
const FROM_RAW = '$fromRaw';

function pack(d: SigmaDocument): Record<string, unknown> {
  const o: Record<string, unknown> = { ...d };
  const from: string[] = [];
  for (const k of SHARED) {
    if (k in o && o[k] !== undefined && o[k] === d.raw[k]) {
      delete o[k];
      from.push(k);
    }
  }
  if (from.length) o[FROM_RAW] = from;
  return o;
}

function unpack(o: Record<string, unknown>): SigmaDocument {
  const from = o[FROM_RAW];
  if (Array.isArray(from)) {
    const raw = o.raw as Record<string, unknown>;
    for (const k of from) if ((SHARED as readonly unknown[]).includes(k)) o[k as string] = raw[k as string];
    delete o[FROM_RAW];
  }
  return o as unknown as SigmaDocument;
}

interface Header {
  format: number;
  key: string;
  sha256: string;
  length: number;
}

async function readCache(file: string, key: string): Promise<LoadResult | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    return undefined;
  }
  const nl = bytes.indexOf(0x0a);
  if (nl < 0) return undefined;
  try {
    const head = JSON.parse(bytes.subarray(0, nl).toString('latin1')) as Header;
    const body = bytes.subarray(nl + 1);
    if (head.format !== FORMAT || head.key !== key || head.length !== body.length) return undefined;
    if (createHash('sha256').update(body).digest('hex') !== head.sha256) return undefined;
    // the body is ASCII (see writeCache): latin1 decodes it several times faster than UTF-8 would
    const r = JSON.parse(body.toString('latin1')) as LoadResult;
    if (!Array.isArray(r.documents) || !Array.isArray(r.rejected) || typeof r.files !== 'number') return undefined;
    for (let i = 0; i < r.documents.length; i++) r.documents[i] = unpack(r.documents[i] as unknown as Record<string, unknown>);
    return r;
  } catch {
    return undefined;
  }
}

async function writeCache(dir: string, file: string, key: string, r: LoadResult): Promise<boolean> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // non-ASCII characters escaped (JSON allows \uXXXX anywhere in a string): decoding stays on the fast path
    const text = JSON.stringify({ documents: r.documents.map(pack), rejected: r.rejected, files: r.files }).replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
    const body = Buffer.from(text, 'latin1');
    const head: Header = { format: FORMAT, key, sha256: createHash('sha256').update(body).digest('hex'), length: body.length };
    // written aside and renamed: a reader never sees half a file, and two writers never mix theirs
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, Buffer.concat([Buffer.from(`${JSON.stringify(head)}\n`), body]), { mode: 0o600 });
    await rename(tmp, file);
    await prune(dir, file);
    return true;
  } catch {
    return false;
  }
}

async function prune(dir: string, keep: string): Promise<void> {
  const names = (await readdir(dir)).filter((n) => /^rules-[0-9a-f]+\.json(\.\d+\.[0-9a-f]+\.tmp)?$/.test(n));
  const dated = await Promise.all(
    names.map(async (n) => ({ p: join(dir, n), t: await stat(join(dir, n)).then((s) => s.mtimeMs, () => 0) })),
  );
  dated.sort((a, b) => b.t - a.t);
  const old = dated.filter((d) => d.p !== keep).slice(KEEP - 1);
  // a temporary file younger than a minute may be another process's write in progress
  await Promise.all(old.filter((d) => !d.p.endsWith('.tmp') || Date.now() - d.t > 60_000).map((d) => rm(d.p, { force: true })));
}

/**
 * Loads rule folders or files as `loadRules` does, through the cache in `dir` (default `cacheDir()/sigma`);
 * `dir: null` reads the YAML without any cache.
 */
export async function loadRulesCached(paths: string | readonly string[], o: { dir?: string | null } = {}): Promise<CachedLoad> {
  const files = await ruleFiles(paths);
  if (o.dir === null) return { ...(await loadRuleFiles(files)), cache: 'uncached' };
  const dir = o.dir ?? join(cacheDir(), 'sigma');
  const key = cacheKey(files);
  const file = join(dir, `rules-${key.slice(0, 32)}.json`);
  const hit = await readCache(file, key);
  if (hit) return { ...hit, cache: 'hit', cacheFile: file };
  const r = await loadRuleFiles(files);
  const written = await writeCache(dir, file, key, r);
  return { ...r, cache: written ? 'built' : 'uncached', ...(written ? { cacheFile: file } : {}) };
}
