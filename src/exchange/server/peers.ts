/**
 * Connections to other security servers: one keep-alive pool per peer address, TLS 1.3 with this server's
 * authentication certificate, and the peer's certificate pinned to a hash the global configuration lists
 * for that server (checked on every new connection before a byte of a message is sent). When several
 * servers provide a service, the first to complete a TLS handshake wins and is remembered for a while;
 * a peer that failed is tried last until it answers again.
 */
import https from 'node:https';
import tls, { type TLSSocket } from 'node:tls';
import { createHash, type KeyObject } from 'node:crypto';
import type { ClientRequest } from 'node:http';
import { TrucError } from '../../errors.js';
import type { ConfServerView } from '../conf/global.js';
import { serverText } from '../ids.js';
import { ALPN_FRAMED, ALPN_FRAMED_CONFIRMED, FramedReader } from './channel.js';

/** A framed connection to a peer (`./channel.ts`), its certificate pinned when it was opened. */
export interface FramedConn {
  socket: TLSSocket;
  reader: FramedReader;
  certDer: Buffer;
  hash: string;
  busy: boolean;
}

interface FramedPool {
  idle: FramedConn[];
  count: number;
  waiters: Array<(c: FramedConn | null) => void>;
}

/** how long a peer that answered ALPN with HTTP only is spoken to over HTTP before it is asked again */
const HTTP_ONLY_MS = 10 * 60_000;

export interface TlsCredentials {
  key: KeyObject;
  /** this server's authentication certificate and its chain, DER */
  cert: Buffer;
  chain: Buffer[];
}

const pem = (der: Buffer) => `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;

export function certChainPem(c: TlsCredentials): string {
  return [c.cert, ...c.chain].map(pem).join('');
}

export function keyPem(k: KeyObject): string {
  return k.export({ format: 'pem', type: 'pkcs8' }) as string;
}

/** host and port of a server's address (`host:port`, `[v6]:port`, or host with the default 5500) */
export function splitAddress(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(address) ?? /^([^:]+)(?::(\d+))?$/.exec(address);
  if (!m) throw new TrucError('peer_unreachable', `"${address}" is not a server address`);
  return { host: m[1]!, port: m[2] ? Number(m[2]) : 5500 };
}

const REMEMBER_MS = 10 * 60_000;

export class Peers {
  private readonly agents = new Map<string, https.Agent>();
  private readonly pinned = new WeakMap<TLSSocket, { der: Buffer; hash: string }>();
  private readonly chosen = new Map<string, { server: string; until: number }>();
  private readonly failedAt = new Map<string, number>();
  private readonly framedPools = new Map<string, FramedPool>();
  private readonly httpOnly = new Map<string, number>();
  private closed = false;
  /** framed connections opened so far (each a mutually authenticated TLS handshake): for diagnostics and tests */
  framedOpened = 0;

  constructor(
    private readonly creds: TlsCredentials,
    private readonly opts: { timeoutMs: number; maxSockets: number; /** the largest message a peer may send whole (`wholeMessageLimit`) */ maxWholeBytes?: number; /** false: HTTP/1.1 only, as an earlier release */ framed?: boolean; /** false: the framed channel without confirmations (truc/1), as an earlier release */ confirmations?: boolean },
  ) {}

  agent(address: string): https.Agent {
    let a = this.agents.get(address);
    if (!a) {
      a = new https.Agent({
        keepAlive: true,
        maxSockets: this.opts.maxSockets,
        maxFreeSockets: this.opts.maxSockets,
        key: keyPem(this.creds.key),
        cert: certChainPem(this.creds),
        minVersion: 'TLSv1.3',
        // the peer is pinned to its registered certificate hash below, and its chain and status are checked
        // from what it sends with each message; no name check (servers are known by hash, not by DNS name)
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
        timeout: this.opts.timeoutMs,
        scheduling: 'lifo',
        // no session resumption: every connection shows its certificate, which is what is pinned
        maxCachedSessions: 0,
        noDelay: true,
      } as https.AgentOptions);
      this.agents.set(address, a);
    }
    return a;
  }

  /**
   * A framed connection to the server (`./channel.ts`): an idle one from the pool (the most recently used
   * first), else a new one once the pool has room. Null when the server speaks only HTTP (an earlier
   * version): the caller sends over HTTP, and the server is asked again after a while. The connection's
   * certificate is checked against the hashes the configuration lists for the server each time it is taken.
   */
  async framed(server: ConfServerView): Promise<{ conn: FramedConn; reused: boolean } | null> {
    if (this.opts.framed === false) return null;
    const address = server.address;
    const until = this.httpOnly.get(address);
    if (until !== undefined) {
      if (until > Date.now()) return null;
      this.httpOnly.delete(address);
    }
    let pool = this.framedPools.get(address);
    if (!pool) this.framedPools.set(address, (pool = { idle: [], count: 0, waiters: [] }));
    let conn: FramedConn | null = null;
    let reused = false;
    while (!conn) {
      if (this.closed) throw new TrucError('peer_unreachable', 'this security server is stopping');
      const idle = pool.idle.pop();
      if (idle) {
        if (idle.socket.destroyed) continue;
        conn = idle;
        reused = true;
        break;
      }
      if (pool.count < this.opts.maxSockets) {
        pool.count++;
        try {
          conn = await this.connectFramed(address, pool);
        } catch (e) {
          pool.count--;
          this.wake(pool);
          throw e;
        }
        if (!conn) {
          pool.count--;
          this.wake(pool);
          return null;
        }
        break;
      }
      conn = await new Promise<FramedConn | null>((resolve) => pool!.waiters.push(resolve));
      if (conn) reused = true;
    }
    if (!server.authCertHashes.some((h) => h.toLowerCase() === conn!.hash)) {
      conn.socket.destroy();
      throw new TrucError('cert_invalid', `${serverText(server.id)} presented a certificate that is not the one registered for it in the global configuration`, {
        hash: conn.hash,
        reason_vi: `${serverText(server.id)} xuất trình chứng thư không phải chứng thư đã đăng ký cho nó trong cấu hình toàn cục`,
      });
    }
    conn.busy = true;
    return { conn, reused };
  }

  /** The exchange on the connection is over and the connection clean: back to the pool (or to a waiter). */
  release(conn: FramedConn): void {
    conn.busy = false;
    const pool = this.poolOfConn.get(conn);
    if (!pool || conn.socket.destroyed || conn.reader.midMessage || this.closed) {
      conn.socket.destroy();
      return;
    }
    const w = pool.waiters.shift();
    if (w) {
      conn.busy = true;
      w(conn);
    } else pool.idle.push(conn);
  }

  private readonly poolOfConn = new WeakMap<FramedConn, FramedPool>();
  private secureContext?: tls.SecureContext;

  /** A waiter may open a connection now that the pool has room (it loops and finds room). */
  private wake(pool: FramedPool): void {
    const w = pool.waiters.shift();
    if (w) w(null);
  }

  private connectFramed(address: string, pool: FramedPool): Promise<FramedConn | null> {
    const { host, port } = splitAddress(address);
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host,
        port,
        // parsed once: this server's key and certificate chain
        secureContext: (this.secureContext ??= tls.createSecureContext({ key: keyPem(this.creds.key), cert: certChainPem(this.creds), minVersion: 'TLSv1.3' })),
        ALPNProtocols: this.opts.confirmations === false ? [ALPN_FRAMED, 'http/1.1'] : [ALPN_FRAMED_CONFIRMED, ALPN_FRAMED, 'http/1.1'],
        // pinned to the configuration's hash (checked by the caller), chain and status checked per message
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
      });
      socket.setNoDelay(true);
      const fail = (e: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(e instanceof TrucError ? e : new TrucError('peer_unreachable', `${address}: ${e.message}`, { reason_vi: `không kết nối được tới ${address} (${(e as NodeJS.ErrnoException).code ?? e.message})` }));
      };
      const timer = setTimeout(
        () => fail(new TrucError('peer_unreachable', `${address} did not complete a TLS handshake within ${this.opts.timeoutMs} ms`, { reason_vi: `${address} không hoàn tất bắt tay TLS trong ${this.opts.timeoutMs} ms` })),
        this.opts.timeoutMs,
      );
      socket.once('error', fail);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        if (socket.alpnProtocol !== ALPN_FRAMED && socket.alpnProtocol !== ALPN_FRAMED_CONFIRMED) {
          // an earlier server: messages go over HTTP/1.1 to it
          this.httpOnly.set(address, Date.now() + HTTP_ONLY_MS);
          socket.destroy();
          resolve(null);
          return;
        }
        const der = socket.getPeerCertificate(false)?.raw;
        if (!der) return fail(new TrucError('cert_invalid', `${address} presented no certificate`, { reason_vi: `${address} không xuất trình chứng thư` }));
        this.framedOpened++;
        const conn: FramedConn = { socket, reader: new FramedReader(socket, this.opts.maxWholeBytes ?? 1024 * 1024, socket.alpnProtocol === ALPN_FRAMED_CONFIRMED), certDer: der, hash: createHash('sha256').update(der).digest('hex'), busy: false };
        this.poolOfConn.set(conn, pool);
        // errors end the connection; whoever is using it learns it from its reader or its writes
        socket.on('error', () => {});
        socket.once('close', () => {
          pool.count--;
          const i = pool.idle.indexOf(conn);
          if (i >= 0) pool.idle.splice(i, 1);
          this.wake(pool);
        });
        // silent too long: while in use the exchange fails; idle, the connection is simply closed
        // (the bound is longer while an exchange waits for its answer: the consumer's `answer`)
        socket.setTimeout(this.opts.timeoutMs, () => {
          const ms = socket.timeout ?? this.opts.timeoutMs;
          socket.destroy(conn.busy ? new TrucError('peer_failed', `${address} was silent for ${ms} ms`, { reason_vi: `${address} không trả lời trong ${ms} ms`, timedOut: true }) : undefined);
        });
        resolve(conn);
      });
    });
  }

  /** Resolves once the request's socket is connected and its certificate is one the server registered. */
  async pinnedSocket(req: ClientRequest, server: ConfServerView): Promise<{ certDer: Buffer; hash: string }> {
    const socket: TLSSocket = await new Promise((resolve, reject) => {
      req.once('error', reject);
      req.once('socket', (s) => {
        const ts = s as TLSSocket;
        ts.setNoDelay(true);
        if (!ts.connecting && ts.encrypted && (ts as any)._secureEstablished !== false) resolve(ts);
        else ts.once('secureConnect', () => resolve(ts));
      });
    });
    let pin = this.pinned.get(socket);
    if (!pin) {
      const der = socket.getPeerCertificate(false)?.raw;
      if (!der) throw new TrucError('cert_invalid', `${serverText(server.id)} presented no certificate`, { reason_vi: `${serverText(server.id)} không xuất trình chứng thư` });
      pin = { der, hash: createHash('sha256').update(der).digest('hex') };
      this.pinned.set(socket, pin);
    }
    const { der, hash } = pin;
    if (!server.authCertHashes.map((h) => h.toLowerCase()).includes(hash)) {
      socket.destroy();
      throw new TrucError('cert_invalid', `${serverText(server.id)} presented a certificate that is not the one registered for it in the global configuration`, {
        hash,
        reason_vi: `${serverText(server.id)} xuất trình chứng thư không phải chứng thư đã đăng ký cho nó trong cấu hình toàn cục`,
      });
    }
    return { certDer: der, hash };
  }

  /** Candidate providers in the order to try: the remembered fastest first, failed ones last. */
  async order(key: string, candidates: ConfServerView[]): Promise<ConfServerView[]> {
    if (candidates.length <= 1) return candidates;
    const now = Date.now();
    const c = this.chosen.get(key);
    let first = c && c.until > now ? candidates.find((s) => serverText(s.id) === c.server) : undefined;
    if (!first) {
      first = await this.race(candidates);
      if (first) this.chosen.set(key, { server: serverText(first.id), until: now + REMEMBER_MS });
    }
    const rest = candidates.filter((s) => s !== first).sort((a, b) => (this.failedAt.get(serverText(a.id)) ?? 0) - (this.failedAt.get(serverText(b.id)) ?? 0));
    return first ? [first, ...rest] : rest;
  }

  failed(server: ConfServerView, key?: string): void {
    this.failedAt.set(serverText(server.id), Date.now());
    if (key && this.chosen.get(key)?.server === serverText(server.id)) this.chosen.delete(key);
  }

  /** The first candidate to complete a TLS handshake (probe connections are closed at once). */
  private race(candidates: ConfServerView[]): Promise<ConfServerView | undefined> {
    return new Promise((resolve) => {
      let pending = candidates.length;
      let done = false;
      const sockets: TLSSocket[] = [];
      const finish = (s?: ConfServerView, force = false) => {
        if (done) return;
        if (s || force || --pending === 0) {
          done = true;
          for (const x of sockets) x.destroy();
          clearTimeout(timer);
          resolve(s);
        }
      };
      const timer = setTimeout(() => finish(undefined, true), this.opts.timeoutMs);
      for (const s of candidates) {
        let addr;
        try {
          addr = splitAddress(s.address);
        } catch {
          finish();
          continue;
        }
        const sock = tls.connect({ host: addr.host, port: addr.port, key: keyPem(this.creds.key), cert: certChainPem(this.creds), rejectUnauthorized: false, minVersion: 'TLSv1.3' });
        sockets.push(sock);
        sock.once('secureConnect', () => finish(s));
        sock.once('error', () => finish());
      }
    });
  }

  close(): void {
    this.closed = true;
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
    for (const p of this.framedPools.values()) {
      for (const c of p.idle) c.socket.destroy();
      p.idle = [];
      for (const w of p.waiters.splice(0)) w(null);
    }
  }
}
