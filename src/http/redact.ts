/**
 * Local file paths never leave in a problem document: a message such as "no vector folder
 * /srv/truc/vectors/x" or an `ENOENT … open '/var/lib/truc/keys/…'` tells a stranger how the machine is
 * laid out. Paths under the platform's own folders and the usual file-system roots are cut to their last
 * element; URL paths (`/api/v1/…`) are left alone.
 */
import { homedir, tmpdir } from 'node:os';
import { basename, isAbsolute, resolve } from 'node:path';

// top-level folders that are not also likely JSON pointer steps (a schema error's `/data/0` stays)
const ROOTS = ['home', 'tmp', 'var', 'etc', 'usr', 'opt', 'root', 'srv', 'mnt', 'work', 'Users', 'private', 'Volumes'];
const TAIL = String.raw`[^\s'"\x60,;:()<>\[\]{}]*`;
/** fields of a problem document that are never paths, or must stay as they are */
const KEEP = new Set(['type', 'title', 'status', 'code', 'instance']);

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A function that cuts local paths out of a text; `extra` are folders of this deployment (data, profiles…). */
export function pathRedactor(extra: readonly string[] = []): (s: string) => string {
  const prefixes = [...new Set([...extra.map((x) => resolve(x)), process.cwd(), tmpdir(), homedir()].filter((x) => isAbsolute(x) && x.length > 1))]
    .sort((a, b) => b.length - a.length)
    .map(escape);
  const re = new RegExp(
    [
      ...prefixes.map((p) => `${p}(?:[/\\\\]${TAIL})?`),
      `(?<![\\w.:/])/(?:${ROOTS.join('|')})/${TAIL}`,
      String.raw`\b[A-Za-z]:\\${TAIL}`,
    ].join('|'),
    'g',
  );
  return (s) => s.replace(re, (m) => `…/${basename(m.replace(/\\/g, '/')) || '…'}`);
}

/** The problem document with every string (but its type, title, code and instance) cleared of local paths. */
export function redactProblem<T extends Record<string, unknown>>(problem: T, cut: (s: string) => string): T {
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return cut(v);
    if (depth > 4 || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, depth + 1)]));
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(problem)) out[k] = KEEP.has(k) ? v : walk(v, 0);
  return out as T;
}
