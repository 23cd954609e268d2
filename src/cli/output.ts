/**
 * How the CLI reports: results on stdout (JSON with --json), errors on stderr as one clear line, and exit
 * codes by kind — 2 usage, 3 bad input, 4 not found, 5 conflict, 1 anything else.
 */
import { readFileSync } from 'node:fs';
import { TrucError, isTrucError } from '../errors.js';

export function exitCodeFor(e: unknown): number {
  if (!isTrucError(e)) return 1;
  if (e.status === 404) return 4;
  if (e.status === 409) return 5;
  if (e.status >= 400 && e.status < 500) return 3;
  return 1;
}

export function fail(e: unknown): never {
  // an error worded for the message path carries its Vietnamese apart (`reason_vi`): shown first, English beside
  const vi = isTrucError(e) && typeof e.detail?.reason_vi === 'string' && !e.message.includes(e.detail.reason_vi) ? `${e.detail.reason_vi} / ` : '';
  const msg = isTrucError(e) ? `error [${e.code}]: ${vi}${e.message}` : `error: ${(e as Error)?.message ?? String(e)}`;
  process.stderr.write(msg + '\n');
  process.exit(exitCodeFor(e));
}

/** A file named on the command line; a missing or unreadable one (or a folder) is bad input (exit 3) naming it. */
export function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const [vi, en] = code === 'ENOENT' ? ['không có tệp này', 'no such file'] : code === 'EISDIR' ? ['là một thư mục, không phải tệp', 'a folder, not a file'] : ['không đọc được', (e as Error).message];
    throw new TrucError('bad_request', `${what} ${path}: ${vi} / ${en}`);
  }
}

export function table(rows: Record<string, unknown>[], cols: string[]): string {
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(w[i])).join('  ').trimEnd();
  return [line(cols), line(w.map((n) => '-'.repeat(n))), ...rows.map((r) => line(cols.map((c) => String(r[c] ?? ''))))].join('\n');
}
