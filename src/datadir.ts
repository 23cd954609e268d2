/**
 * The data folder holds the database, the software keys and (by default) the key-encryption key that
 * seals them: it is the operator's alone. Opening it sets the process umask so that files created from now
 * on (PGlite's, the keys', the logs') are not readable by others, makes the folder 0700, and tightens an
 * existing embedded database left world-readable by earlier versions.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Create (or tighten) `dir` as a private data folder; returns the number of entries whose mode was tightened. */
export function secureDataDir(dir: string, embeddedDb?: string): number {
  try {
    process.umask(process.umask() | 0o077);
  } catch {
    /* worker threads cannot change the umask; the main thread does */
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let fixed = 0;
  const tighten = (path: string, isDir: boolean): void => {
    try {
      const st = lstatSync(path);
      if (st.isSymbolicLink() || typeof process.getuid !== 'function' || st.uid !== process.getuid()) return;
      if ((st.mode & 0o077) !== 0) {
        chmodSync(path, isDir ? st.mode & 0o700 : st.mode & 0o600);
        fixed++;
      }
    } catch {
      /* a file that vanished or is not ours stays as it is */
    }
  };
  tighten(dir, true);
  // an embedded (PGlite) database inside: every file 0600, every folder 0700 (bounded walk). Only a
  // database folder left open by an earlier version is walked: under umask 077 nothing new is created
  // open, and the walk (about a thousand files) would otherwise cost every command's start
  if (embeddedDb && !/^[a-z]+:\/\//i.test(embeddedDb) && existsSync(embeddedDb) && (lstatSync(embeddedDb).mode & 0o077) !== 0) {
    const stack = [embeddedDb];
    let seen = 0;
    while (stack.length && seen < 100_000) {
      const d = stack.pop()!;
      tighten(d, true);
      let entries;
      try {
        entries = readdirSync(d, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        seen++;
        const path = join(d, e.name);
        if (e.isDirectory()) stack.push(path);
        else if (e.isFile()) tighten(path, false);
      }
    }
  }
  return fixed;
}
