/**
 * A minimal SMTP client (RFC 5321) for alert mail: EHLO, STARTTLS when offered (RFC 3207), AUTH PLAIN when
 * credentials are configured (RFC 4954), MAIL/RCPT/DATA with dot-stuffing, QUIT. Enough to hand a message to
 * the agency's relay; no pooling, no pipelining. Every reply is checked and a refusal is an error with the
 * server's words.
 */
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

export interface SmtpOptions {
  host: string;
  port: number;
  /** implicit TLS from the first byte (port 465) */
  secure?: boolean;
  /** STARTTLS when the server offers it (default true); 'require' fails without it */
  starttls?: boolean | 'require';
  user?: string;
  password?: string;
  rejectUnauthorized?: boolean;
  /** CA certificates for the relay (tests) */
  ca?: string | Buffer;
  timeoutMs?: number;
  /** name announced in EHLO */
  name?: string;
}

export interface Mail {
  from: string;
  to: string[];
  subject: string;
  text: string;
}

class Conn {
  private buf = '';
  private waiters: ((line: { code: number; lines: string[] }) => void)[] = [];
  private replies: { code: number; lines: string[] }[] = [];
  private partial: string[] = [];
  private error: Error | undefined;

  constructor(
    public sock: net.Socket,
    private readonly timeoutMs: number,
  ) {
    this.attach(sock);
  }

  attach(sock: net.Socket): void {
    this.sock = sock;
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.data(d));
    sock.on('error', (e) => this.fail(e));
    sock.on('close', () => this.fail(new Error('SMTP connection closed')));
  }

  detach(): void {
    this.sock.removeAllListeners('data');
    this.sock.removeAllListeners('error');
    this.sock.removeAllListeners('close');
  }

  private fail(e: Error): void {
    this.error ??= e;
    for (const w of this.waiters.splice(0)) w({ code: 0, lines: [e.message] });
  }

  private data(d: string): void {
    this.buf += d;
    if (this.buf.length > 64 * 1024) return this.fail(new Error('SMTP reply too long'));
    let i: number;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i).replace(/\r$/, '');
      this.buf = this.buf.slice(i + 1);
      const m = /^(\d{3})([ -])(.*)$/.exec(line);
      if (!m) return this.fail(new Error(`bad SMTP reply: ${line.slice(0, 100)}`));
      this.partial.push(m[3]!);
      if (m[2] === ' ') {
        const r = { code: Number(m[1]), lines: this.partial };
        this.partial = [];
        const w = this.waiters.shift();
        if (w) w(r);
        else this.replies.push(r);
      }
    }
  }

  reply(): Promise<{ code: number; lines: string[] }> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('SMTP server did not answer in time')), this.timeoutMs);
      this.waiters.push((x) => {
        clearTimeout(t);
        if (x.code === 0) reject(new Error(x.lines[0]));
        else resolve(x);
      });
    });
  }

  async cmd(line: string | null, expect: number[], what: string): Promise<{ code: number; lines: string[] }> {
    if (line !== null) this.sock.write(line + '\r\n');
    const r = await this.reply();
    if (!expect.includes(r.code)) throw new Error(`SMTP ${what} refused: ${r.code} ${r.lines.join(' ')}`);
    return r;
  }
}

function address(a: string): string {
  const m = /<([^<>\s]+)>\s*$/.exec(a);
  const addr = m ? m[1]! : a.trim();
  if (!/^[^\s<>@]+@[^\s<>@]+$/.test(addr)) throw new Error(`not an e-mail address: ${a}`);
  return addr;
}

function header(v: string): string {
  // RFC 2047 encoded-word for anything not plain ASCII, and no line breaks in headers
  const clean = v.replace(/[\r\n]+/g, ' ');
  return /^[\x20-\x7e]*$/.test(clean) ? clean : `=?UTF-8?B?${Buffer.from(clean, 'utf8').toString('base64')}?=`;
}

export function formatMessage(mail: Mail, now = new Date()): string {
  const body = Buffer.from(mail.text.replace(/\r?\n/g, '\r\n'), 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n');
  return [
    `From: ${header(mail.from)}`,
    `To: ${mail.to.map(header).join(', ')}`,
    `Subject: ${header(mail.subject)}`,
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${randomBytes(12).toString('hex')}@truc>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    body,
  ].join('\r\n');
}

export async function sendMail(o: SmtpOptions, mail: Mail): Promise<void> {
  const timeoutMs = o.timeoutMs ?? 15_000;
  const tlsOpts = { servername: net.isIP(o.host) ? undefined : o.host, rejectUnauthorized: o.rejectUnauthorized ?? true, ...(o.ca ? { ca: o.ca } : {}) };
  const sock: net.Socket = await new Promise((resolve, reject) => {
    const s = o.secure ? tls.connect({ host: o.host, port: o.port, ...tlsOpts }) : net.connect({ host: o.host, port: o.port });
    const t = setTimeout(() => (s.destroy(), reject(new Error(`cannot reach SMTP server ${o.host}:${o.port}`))), timeoutMs);
    s.once(o.secure ? 'secureConnect' : 'connect', () => (clearTimeout(t), resolve(s)));
    s.once('error', (e) => (clearTimeout(t), reject(e)));
  });
  const c = new Conn(sock, timeoutMs);
  try {
    const name = o.name ?? hostname();
    await c.cmd(null, [220], 'greeting');
    let ehlo = await c.cmd(`EHLO ${name}`, [250], 'EHLO');
    const offers = (r: typeof ehlo, ext: string) => r.lines.slice(1).some((l) => l.toUpperCase().split(' ')[0] === ext);
    const wantTls = o.starttls ?? true;
    if (!o.secure && wantTls && offers(ehlo, 'STARTTLS')) {
      await c.cmd('STARTTLS', [220], 'STARTTLS');
      c.detach();
      const secure: tls.TLSSocket = await new Promise((resolve, reject) => {
        const s = tls.connect({ socket: sock, ...tlsOpts }, () => resolve(s));
        s.once('error', reject);
      });
      c.attach(secure);
      ehlo = await c.cmd(`EHLO ${name}`, [250], 'EHLO after STARTTLS');
    } else if (!o.secure && wantTls === 'require') {
      throw new Error('SMTP server does not offer STARTTLS');
    }
    if (o.user !== undefined) {
      const auth = ehlo.lines.slice(1).find((l) => /^AUTH\b/i.test(l));
      if (!auth || !/\bPLAIN\b/i.test(auth)) throw new Error('SMTP server does not offer AUTH PLAIN');
      const cred = Buffer.from(`\0${o.user}\0${o.password ?? ''}`, 'utf8').toString('base64');
      await c.cmd(`AUTH PLAIN ${cred}`, [235], 'AUTH');
    }
    await c.cmd(`MAIL FROM:<${address(mail.from)}>`, [250], 'MAIL FROM');
    for (const to of mail.to) await c.cmd(`RCPT TO:<${address(to)}>`, [250, 251], `RCPT TO ${to}`);
    await c.cmd('DATA', [354], 'DATA');
    const data = formatMessage(mail).replace(/^\./gm, '..');
    await c.cmd(`${data}\r\n.`, [250], 'message');
    await c.cmd('QUIT', [221], 'QUIT').catch(() => {});
  } finally {
    c.detach();
    c.sock.on('error', () => {});
    c.sock.destroy();
  }
}
