/**
 * Syslog listeners: UDP (RFC 5426, one message a datagram), TCP (RFC 6587 framing) and TLS (RFC 5425).
 * Over TCP and TLS a full intake queue pauses the socket, so the sender's own buffers and TCP's flow control
 * hold the excess; over UDP there is no way to push back, so a message that finds the queue full is counted
 * (`refused.syslog-udp` in the statistics) — operators who cannot lose any should send over TCP.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { MonitorConfig } from '../config.js';
import { checkEvent, derive, type LocalHour } from '../events/normalize.js';
import type { IntakeQueue } from './queue.js';
import { SyslogFramer } from './framing.js';
import { parseSyslog } from './syslog.js';

export interface SyslogAddresses {
  udp?: { host: string; port: number };
  tcp?: { host: string; port: number };
  tls?: { host: string; port: number };
}

export class SyslogServer {
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  private tls: tls.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  readonly addresses: SyslogAddresses = {};

  constructor(
    private readonly cfg: MonitorConfig,
    private readonly queue: IntakeQueue,
    private readonly hour: LocalHour,
    private readonly log: Logger,
  ) {}

  private toEvent(line: string, sender: string | undefined) {
    const event = parseSyslog(line, { timezone: this.cfg.timezone, ...(sender ? { sender } : {}) });
    const c = checkEvent(event);
    if (!c.ok) return undefined;
    return { event: derive(c.event, c.at, 'syslog', this.hour), at: c.at, intake: 'syslog' as const };
  }

  async start(): Promise<SyslogAddresses> {
    const s = this.cfg.syslog;
    if (s.udp) {
      const sock = dgram.createSocket(net.isIPv6(s.udp.host) ? 'udp6' : 'udp4');
      sock.on('message', (msg, rinfo) => {
        if (msg.length > s.maxMessageBytes) return this.queue.refuse('syslog-udp');
        if (!this.queue.hasRoom()) return this.queue.refuse('syslog-udp');
        const q = this.toEvent(msg.toString('utf8'), rinfo.address);
        if (q) this.queue.push(q);
      });
      sock.on('error', (err) => this.log.error({ err }, 'syslog UDP socket error'));
      await new Promise<void>((res, rej) => {
        sock.once('error', rej);
        sock.bind(s.udp!.port, s.udp!.host, () => {
          sock.off('error', rej);
          res();
        });
      });
      this.udp = sock;
      this.addresses.udp = { host: s.udp.host, port: sock.address().port };
    }
    if (s.tcp) {
      this.tcp = net.createServer((sock) => this.stream(sock));
      this.bound(this.tcp, 'tcp');
      this.addresses.tcp = await this.listen(this.tcp, s.tcp.host, s.tcp.port);
    }
    if (s.tls) {
      this.tls = tls.createServer(
        {
          cert: readFileSync(s.tls.cert),
          key: readFileSync(s.tls.key),
          ...(s.tls.ca ? { ca: readFileSync(s.tls.ca), requestCert: true, rejectUnauthorized: true } : {}),
        },
        (sock) => this.stream(sock),
      );
      this.bound(this.tls, 'tls');
      this.addresses.tls = await this.listen(this.tls, s.tls.host, s.tls.port);
    }
    return this.addresses;
  }

  /**
   * At most `syslog.maxConnections` connections a listener (senders keep one open for as long as they run, so
   * there is no idle limit; without a bound, anyone who can reach the port could hold descriptors until the
   * process has none left): a connection beyond it is closed as it comes, counted (`refused.syslog-tcp-connection`, `…-tls-connection`)
   * and logged.
   */
  private bound(server: net.Server, transport: 'tcp' | 'tls'): void {
    server.maxConnections = this.cfg.syslog.maxConnections;
    server.on('drop', (d) => {
      this.queue.refuse(`syslog-${transport}-connection`);
      this.log.warn({ transport, remote: d?.remoteAddress, max: this.cfg.syslog.maxConnections }, 'syslog connection refused: too many connections');
    });
  }

  private listen(server: net.Server, host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((res, rej) => {
      server.once('error', rej);
      server.listen(port, host, () => {
        server.off('error', rej);
        res({ host, port: (server.address() as net.AddressInfo).port });
      });
    });
  }

  private stream(sock: net.Socket): void {
    this.sockets.add(sock);
    const framer = new SyslogFramer(this.cfg.syslog.maxMessageBytes);
    const sender = sock.remoteAddress;
    let pending: string[] = [];
    let waiting = false;
    const drain = async () => {
      waiting = true;
      while (pending.length) {
        const line = pending.shift()!;
        const q = this.toEvent(line, sender);
        if (!q) continue;
        while (!this.queue.hasRoom()) {
          sock.pause();
          try {
            await this.queue.room();
          } catch {
            // the intake closed (the monitor stops): what the sender still had in flight is not taken
            pending = [];
            sock.destroy();
            return;
          }
        }
        this.queue.push(q);
      }
      waiting = false;
      if (!sock.destroyed) sock.resume();
    };
    sock.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = framer.push(chunk);
      } catch (e) {
        this.log.warn({ err: e, sender }, 'syslog stream closed');
        sock.destroy();
        return;
      }
      if (!lines.length) return;
      pending = pending.concat(lines);
      if (!waiting) void drain();
    });
    sock.on('error', () => {});
    sock.on('close', () => this.sockets.delete(sock));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.udp?.close();
    await Promise.all(
      [this.tcp, this.tls].map((s) => (s ? new Promise<void>((r) => s.close(() => r())) : Promise.resolve())),
    );
  }
}
