/**
 * Loading rule folders: every `.yml`/`.yaml` file below a directory, recursively (symbolic links are not
 * followed), parsed and validated file by file. Returns what loaded and what was rejected, with file, line and
 * reason, so one bad rule never hides the others.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseRules, LIMITS } from './parse.js';
import type { Rejection, SigmaDocument } from './types.js';

export interface LoadResult {
  documents: SigmaDocument[];
  rejected: Rejection[];
  files: number;
}

export const LOAD_LIMITS = { files: 50_000, depth: 32 } as const;

async function walk(dir: string, depth: number, out: string[]): Promise<void> {
  if (depth > LOAD_LIMITS.depth || out.length >= LOAD_LIMITS.files) return;
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, depth + 1, out);
    else if (e.isFile() && /\.ya?ml$/i.test(e.name)) out.push(p);
    if (out.length >= LOAD_LIMITS.files) return;
  }
}

/** Loads one file or every rule file under one or more directories. */
export async function loadRules(paths: string | readonly string[]): Promise<LoadResult> {
  const files: string[] = [];
  for (const p of typeof paths === 'string' ? [paths] : paths) {
    const st = await lstat(p);
    if (st.isDirectory()) await walk(p, 0, files);
    else files.push(p);
  }
  const documents: SigmaDocument[] = [];
  const rejected: Rejection[] = [];
  for (const f of files) {
    const st = await lstat(f);
    if (st.size > LIMITS.fileBytes) {
      rejected.push({ file: f, line: 1, reason: `file larger than ${LIMITS.fileBytes} bytes` });
      continue;
    }
    const r = parseRules(await readFile(f, 'utf8'), f);
    documents.push(...r.documents);
    rejected.push(...r.rejected);
  }
  return { documents, rejected, files: files.length };
}
