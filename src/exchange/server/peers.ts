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

  constructor(
    private readonly creds: TlsCredentials,
    private readonly opts: { timeoutMs: number; maxSockets: number },
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
      if (!der) throw new TrucError('cert_invalid', `${serverText(server.id)} presented no certificate`);
      pin = { der, hash: createHash('sha256').update(der).digest('hex') };
      this.pinned.set(socket, pin);
    }
    const { der, hash } = pin;
    if (!server.authCertHashes.map((h) => h.toLowerCase()).includes(hash)) {
      socket.destroy();
      throw new TrucError('cert_invalid', `${serverText(server.id)} presented a certificate that is not the one registered for it in the global configuration`, { hash });
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
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}
