/**
 * How the CLI reports: results on stdout (JSON with --json), errors on stderr as one clear line, and exit
 * codes by kind — 2 usage, 3 bad input, 4 not found, 5 conflict, 1 anything else.
 */
import { isTrucError } from '../errors.js';

export function exitCodeFor(e: unknown): number {
  if (!isTrucError(e)) return 1;
  if (e.status === 404) return 4;
  if (e.status === 409) return 5;
  if (e.status >= 400 && e.status < 500) return 3;
  return 1;
}

export function fail(e: unknown): never {
  const msg = isTrucError(e) ? `error [${e.code}]: ${e.message}` : `error: ${(e as Error)?.message ?? String(e)}`;
  process.stderr.write(msg + '\n');
  process.exit(exitCodeFor(e));
}

export function table(rows: Record<string, unknown>[], cols: string[]): string {
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(w[i])).join('  ').trimEnd();
  return [line(cols), line(w.map((n) => '-'.repeat(n))), ...rows.map((r) => line(cols.map((c) => String(r[c] ?? ''))))].join('\n');
}
