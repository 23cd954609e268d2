import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Notifier, emailChannel, sendMail, webhookChannel, type Alert } from '../../src/monitor/index.js';
import { openssl, tmp } from '../helpers/openssl.js';

interface Session {
  commands: string[];
  data: string;
  tls: boolean;
}

/** A small SMTP server (RFC 5321 replies; STARTTLS and AUTH PLAIN when given a certificate and a password). */
function smtpServer(opts: { cert?: { key: Buffer; cert: Buffer }; password?: string; refuseRcpt?: string }) {
  const sessions: Session[] = [];
  const server = net.createServer((raw) => {
    const s: Session = { commands: [], data: '', tls: false };
    sessions.push(s);
    let sock: net.Socket = raw;
    let buf = '';
    let inData = false;
    const say = (l: string) => sock.write(l + '\r\n');
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            say('250 2.0.0 queued');
          } else s.data += line + '\n';
          continue;
        }
        s.commands.push(line);
        const cmd = line.split(' ')[0]!.toUpperCase();
        if (cmd === 'EHLO') {
          const ext = [...(opts.cert && !s.tls ? ['STARTTLS'] : []), ...(opts.password ? ['AUTH PLAIN LOGIN'] : []), '8BITMIME'];
          say('250-test.local greets you');
          ext.forEach((e, k) => say(`250${k === ext.length - 1 ? ' ' : '-'}${e}`));
        } else if (cmd === 'STARTTLS') {
          say('220 2.0.0 ready');
          sock.removeListener('data', onData);
          const t = new tls.TLSSocket(sock, { isServer: true, key: opts.cert!.key, cert: opts.cert!.cert });
          s.tls = true;
          sock = t;
          t.on('data', onData);
        } else if (cmd === 'AUTH') {
          const cred = Buffer.from(line.split(' ')[2] ?? '', 'base64').toString().split('\0');
          say(cred[2] === opts.password ? '235 2.7.0 ok' : '535 5.7.8 bad credentials');
        } else if (cmd === 'MAIL') say('250 ok');
        else if (cmd === 'RCPT') say(opts.refuseRcpt && line.includes(opts.refuseRcpt) ? '550 5.1.1 no such user' : '250 ok');
        else if (cmd === 'DATA') {
          inData = true;
          say('354 go ahead');
        } else if (cmd === 'QUIT') {
          say('221 bye');
          sock.end();
        } else say('500 what');
      }
    };
    raw.on('data', onData);
    raw.on('error', () => {});
    say('220 test.local ESMTP');
  });
  return new Promise<{ port: number; sessions: Session[]; close: () => void }>((r) =>
    server.listen(0, '127.0.0.1', () => r({ port: (server.address() as net.AddressInfo).port, sessions, close: () => server.close() })),
  );
}

describe('SMTP client', () => {
  let cert: { key: Buffer; cert: Buffer };
  beforeAll(() => {
    const dir = tmp('smtp-');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')]);
    cert = { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) };
  });

  const mail = { from: 'Trục <monitor@truc.gov.vn>', to: ['soc@bo.gov.vn'], subject: 'Cảnh báo: API token guessing', text: 'line 1\n.leading dot\nĐà Nẵng' };

  it('plain: EHLO, MAIL, RCPT, DATA with dot-stuffing and UTF-8 headers, QUIT', async () => {
    const s = await smtpServer({});
    try {
      await sendMail({ host: '127.0.0.1', port: s.port, name: 'truc-test' }, mail);
      const sess = s.sessions[0]!;
      expect(sess.commands.slice(0, 4)).toEqual(['EHLO truc-test', 'MAIL FROM:<monitor@truc.gov.vn>', 'RCPT TO:<soc@bo.gov.vn>', 'DATA']);
      expect(sess.data).toMatch(/^Subject: =\?UTF-8\?B\?/m);
      const body = sess.data.split('\n\n')[1]!.replace(/\n/g, '');
      expect(Buffer.from(body, 'base64').toString()).toBe('line 1\r\n.leading dot\r\nĐà Nẵng');
    } finally {
      s.close();
    }
  });

  it('STARTTLS when offered, then AUTH PLAIN', async () => {
    const s = await smtpServer({ cert, password: 'mật khẩu' });
    try {
      await sendMail({ host: '127.0.0.1', port: s.port, user: 'monitor', password: 'mật khẩu', ca: cert.cert }, mail);
      const sess = s.sessions[0]!;
      expect(sess.tls).toBe(true);
      expect(sess.commands.filter((c) => c.startsWith('EHLO'))).toHaveLength(2);
      expect(sess.commands).toContain('STARTTLS');
      expect(sess.commands.some((c) => c.startsWith('AUTH PLAIN '))).toBe(true);
      await expect(sendMail({ host: '127.0.0.1', port: s.port, user: 'monitor', password: 'wrong', ca: cert.cert }, mail)).rejects.toThrow(/AUTH refused: 535/);
      // an untrusted certificate is refused
      await expect(sendMail({ host: '127.0.0.1', port: s.port }, mail)).rejects.toThrow();
    } finally {
      s.close();
    }
  });

  it('an e-mail channel naming a sealed password opens it at send time and authenticates with it', async () => {
    const s = await smtpServer({ cert, password: 'mật khẩu' });
    const asked: string[] = [];
    const secrets = { reveal: async (name: string) => (asked.push(name), name === 'smtp-password' ? 'mật khẩu' : 'wrong') };
    try {
      const ch = emailChannel({ host: '127.0.0.1', port: s.port, user: 'monitor', passwordSecret: 'smtp-password', secrets, ca: cert.cert, from: mail.from, to: mail.to });
      expect(asked).toEqual([]);
      await ch.send('subject', {}, 'body');
      expect(asked).toEqual(['smtp-password']);
      expect(s.sessions[0]!.commands.some((c) => c.startsWith('AUTH PLAIN '))).toBe(true);
      // without a vault the channel says so instead of sending without a password
      const none = emailChannel({ host: '127.0.0.1', port: s.port, user: 'monitor', passwordSecret: 'smtp-password', ca: cert.cert, from: mail.from, to: mail.to });
      await expect(none.send('subject', {}, 'body')).rejects.toMatchObject({ code: 'invalid_config' });
    } finally {
      s.close();
    }
  });

  it('reports refusals with the server\'s words; STARTTLS required but missing fails', async () => {
    const s = await smtpServer({ refuseRcpt: 'ghost' });
    try {
      await expect(sendMail({ host: '127.0.0.1', port: s.port }, { ...mail, to: ['ghost@bo.gov.vn'] })).rejects.toThrow(/550 5.1.1/);
      await expect(sendMail({ host: '127.0.0.1', port: s.port, starttls: 'require' }, mail)).rejects.toThrow(/STARTTLS/);
    } finally {
      s.close();
    }
  });

  it('an e-mail channel sends through the client', async () => {
    const s = await smtpServer({});
    try {
      const n = new Notifier([emailChannel({ host: '127.0.0.1', port: s.port, from: 'monitor@truc.gov.vn', to: ['soc@bo.gov.vn'] })], 10);
      n.notify(alert('1'));
      await n.close();
      expect(n.stats.sent).toBe(1);
      expect(s.sessions[0]!.data).toMatch(/^Subject: =\?UTF-8\?B\?/m);
    } finally {
      s.close();
    }
  });
});

function alert(id: string, level = 'high'): Alert {
  const t = new Date('2026-03-02T03:00:00Z');
  return {
    id, ruleId: 'r', title: `Alert ${id}`, author: 'Trục', kind: 'rule', level, severity: level === 'low' ? 2 : 4, tags: [], attack: ['attack.t1110'],
    groupKey: '', group: { 'source.ip': '1.2.3.4' }, count: 1, value: null, eventIds: ['1'], sample: null, firstAt: t, lastAt: t,
    status: 'new', closeReason: null, assignee: null, createdAt: t, updatedAt: t,
  };
}

describe('webhooks and rate limits', () => {
  let server: http.Server;
  let url: string;
  const received: any[] = [];
  let failFirst = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let b = '';
      req.on('data', (d) => (b += d));
      req.on('end', () => {
        if (failFirst > 0) {
          failFirst--;
          res.statusCode = 503;
          return res.end();
        }
        received.push({ body: JSON.parse(b), auth: req.headers.authorization });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook`;
  });
  afterAll(() => server.close());

  it('retries with backoff until delivered', async () => {
    received.length = 0;
    failFirst = 2;
    const ch = webhookChannel(url, { backoffMs: 10, headers: { authorization: 'Bearer x' } });
    const n = new Notifier([ch], 10);
    n.notify(alert('7'));
    await n.close();
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ auth: 'Bearer x', body: { type: 'alert', id: '7', rule: { author: 'Trục' }, attack: ['attack.t1110'] } });
  });

  it('sends at most N a minute and summarises the rest when the minute is over; honours the minimum level', async () => {
    received.length = 0;
    let now = 1_000_000;
    const n = new Notifier([webhookChannel(url, { backoffMs: 10, minLevel: 'medium' })], 3, undefined, () => now);
    for (let i = 0; i < 10; i++) n.notify(alert(String(i)));
    n.notify(alert('low', 'low'));
    await n.idle();
    expect(received.map((r) => r.body.id)).toEqual(['0', '1', '2']);
    now += 61_000;
    n.tick();
    await n.close();
    expect(received[3].body).toMatchObject({ type: 'summary', suppressed: 7 });
    expect(received[3].body.alerts).toHaveLength(7);
    expect(n.stats).toMatchObject({ sent: 4, summarized: 7 });
  });
});
