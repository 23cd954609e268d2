/**
 * `<data>/server.json`: how a `truc` command finds the `truc start` that holds the embedded database, so
 * that `truc verify` and `truc ca list` go through its API instead of stopping at the folder's lock
 * (./beside.ts). The server writes it once listening — its pid, a loopback URL, the token it made for the
 * principal `cli:local` (role `cli-local`: reads certificates, validates files) and when it started — and
 * removes it, and revokes the token, when it stops.
 *
 * The file is created with O_EXCL and mode 0600 inside the 0700 data folder: the platform's user alone
 * reads it, as `bootstrap-tokens.txt`. One left by a server that died names a dead pid and is ignored by
 * the commands, and replaced at the next start, which also gives `cli:local` a new secret.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Platform } from '../platform.js';

export const SERVER_FILE = 'server.json';

export interface ServerInfo {
  pid: number;
  url: string;
  token: string;
  startedAt: string;
}

const pathOf = (dataDir: string) => join(dataDir, SERVER_FILE);

/** What the file says, when it is whole; undefined when there is none or it cannot be read. */
export function readServerFile(dataDir: string): ServerInfo | undefined {
  try {
    const j = JSON.parse(readFileSync(pathOf(dataDir), 'utf8')) as Partial<ServerInfo>;
    if (
      !Number.isInteger(j.pid) ||
      typeof j.url !== 'string' ||
      typeof j.token !== 'string' ||
      typeof j.startedAt !== 'string'
    )
      return undefined;
    return j as ServerInfo;
  } catch {
    return undefined;
  }
}

/** Writes the file for this process (replacing one left by a server that died); returns its removal. */
export function writeServerFile(dataDir: string, info: ServerInfo): () => void {
  const path = pathOf(dataDir);
  try {
    unlinkSync(path); // this process holds the database's lock: any file here was left by one that died
  } catch {
    // none
  }
  // O_EXCL: never through a link planted in its place
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(info) + '\n');
  } finally {
    closeSync(fd);
  }
  return () => {
    try {
      if (readServerFile(dataDir)?.pid === process.pid) unlinkSync(path);
    } catch {
      // already gone
    }
  };
}

/** The URL a command on this machine reaches a server listening at `address` by: a wildcard address is answered on loopback too. */
export function localUrl(
  address: { address: string; port: number } | string | null,
  tls: boolean,
): string | undefined {
  if (!address || typeof address === 'string') return undefined;
  const host =
    address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address;
  return `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

/**
 * At `truc start` on the embedded database, once the server listens: a new `cli:local` token and the file
 * naming it. Returns what `truc start` runs at stop: the file removed, the token revoked. Nothing is done on
 * PostgreSQL (no lock: commands open the database beside the server; several servers may share it) nor
 * with TLS (a command could not check the server's certificate on its own), nor when the server is not
 * reachable on loopback.
 */
export async function announceServer(
  p: Platform,
  address: { address: string; port: number } | string | null,
): Promise<() => Promise<void>> {
  const url = localUrl(address, !!(p.config.http.tls || p.config.http.autoTls));
  if (
    p.db.kind !== 'pglite' ||
    p.config.database.url.startsWith('memory://') ||
    p.config.http.tls ||
    p.config.http.autoTls ||
    !url ||
    !isLoopback(url)
  )
    return async () => {};
  const { issueLocalCliToken, revokePrincipal, LOCAL_CLI_PRINCIPAL } = await import('../http/auth/store.js');
  const token = await issueLocalCliToken(p.db);
  const remove = writeServerFile(p.config.dataDir, {
    pid: process.pid,
    url,
    token,
    startedAt: new Date().toISOString(),
  });
  process.once('exit', remove); // a start that fails later, or an exit without the stop below
  return async () => {
    remove();
    await revokePrincipal(p.db, LOCAL_CLI_PRINCIPAL).catch((err) =>
      p.log.warn({ err }, 'the local command line token was not revoked'),
    );
  };
}

/** A plain-HTTP URL on this machine's loopback interface. */
export function isLoopback(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:') return false;
  return (
    u.hostname === 'localhost' ||
    u.hostname === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(u.hostname)
  );
}
