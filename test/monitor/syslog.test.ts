import { describe, it, expect } from 'vitest';
import { parseSyslog, SyslogFramer, LocalHour } from '../../src/monitor/index.js';
import { fromLocal } from '../../src/monitor/intake/zone.js';

const ctx = { timezone: 'Asia/Ho_Chi_Minh', now: Date.parse('2026-03-02T10:00:00Z') };

describe('syslog parsing', () => {
  it('RFC 5424 with structured data (the RFC\'s own example)', () => {
    const e = parseSyslog(
      '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry...',
      ctx,
    ) as any;
    expect(e['@timestamp']).toBe('2003-10-11T22:14:15.003Z');
    expect(e.host.name).toBe('mymachine.example.com');
    expect(e.process.name).toBe('evntslog');
    expect(e.message).toBe('An application event log entry...');
    expect(e.log.syslog.facility).toEqual({ code: 20, name: 'local4' });
    expect(e.log.syslog.severity).toEqual({ code: 5, name: 'notice' });
    expect(e.log.syslog.msgid).toBe('ID47');
    expect(e.log.syslog.structured_data.exampleSDID_32473 ?? e.log.syslog.structured_data['exampleSDID@32473']).toEqual({ iut: '3', eventSource: 'Application', eventID: '1011' });
  });

  it('structured data: several elements, RFC 5424 escapes, a malformed element passed over', () => {
    const sd = (text: string) => {
      const e = parseSyslog(`<165>1 2003-10-11T22:14:15.003Z h app - ID47 ${text} msg`, ctx) as any;
      const d = e.log.syslog.structured_data ?? {};
      return Object.fromEntries(Object.entries(d).map(([k, v]) => [k.replace('_', '@'), v]));
    };
    expect(sd('[a@1 x="1"][b@2 y="q\\"uote" z="br\\]acket" w="back\\\\slash" v="\\n kept"]')).toEqual({
      'a@1': { x: '1' },
      'b@2': { y: 'q"uote', z: 'br]acket', w: 'back\\slash', v: '\\n kept' },
    });
    expect(sd('[origin]')).toEqual({ origin: {} });
    // a parameter without its quotes spoils its element only
    expect(sd('[bad x=1][good@3 k="v"]')).toEqual({ 'good@3': { k: 'v' } });
  });

  it('structured data of a run of "[" and "=" is read in one pass (a regular expression went back over it: ~8 s for one datagram)', () => {
    const e = parseSyslog(`<13>1 2026-01-01T00:00:00Z h a p m [${'['.repeat(60_000)}=] tail`, ctx) as any;
    expect(e.message).toBe('tail');
    expect(Object.keys(e.log.syslog.structured_data ?? {})).toEqual([]);
  });

  it('RFC 3164 read in the configured zone, year inferred', () => {
    const e = parseSyslog('<34>Oct 11 22:14:15 mymachine su[230]: \'su root\' failed for lonvick on /dev/pts/8', { ...ctx, now: Date.parse('2026-12-01T00:00:00Z') }) as any;
    expect(e['@timestamp']).toBe('2026-10-11T15:14:15.000Z'); // 22:14 at UTC+7
    expect(e.process).toEqual({ name: 'su', pid: 230 });
    expect(e.host.name).toBe('mymachine');
    expect(e.log.syslog.facility.name).toBe('auth');
    expect(e.logsource.service).toEqual(['su', 'syslog', 'auth']);
  });

  it('a 3164 stamp that would lie more than a day ahead belongs to last year', () => {
    const e = parseSyslog('<13>Dec 31 23:00:00 h app: x', { ...ctx, now: Date.parse('2026-01-01T00:00:00Z') }) as any;
    expect(e['@timestamp'].slice(0, 4)).toBe('2025');
  });

  it('sshd failures and successes become ECS authentication events', () => {
    const f = parseSyslog('<38>Mar  2 10:00:01 web01 sshd[812]: Failed password for invalid user oracle from 198.51.100.7 port 51234 ssh2', ctx) as any;
    expect(f.event).toMatchObject({ category: ['authentication'], action: 'ssh_login', outcome: 'failure', reason: 'invalid user' });
    expect(f.user.name).toBe('oracle');
    expect(f.source).toEqual({ ip: '198.51.100.7', port: 51234 });
    expect(f.logsource).toEqual({ product: 'linux', service: ['sshd', 'syslog', 'auth'], category: ['authentication'] });
    const ok = parseSyslog('<38>Mar  2 10:00:02 web01 sshd[813]: Accepted publickey for deploy from 2001:db8::5 port 40022 ssh2: ED25519 SHA256:x', ctx) as any;
    expect(ok.event).toMatchObject({ action: 'ssh_login', outcome: 'success' });
    expect(ok.user.name).toBe('deploy');
    expect(ok.source.ip).toBe('2001:db8::5');
    const pam = parseSyslog('<85>Mar  2 10:00:03 web01 sshd[814]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.7  user=root', ctx) as any;
    expect(pam.event).toMatchObject({ action: 'pam_authentication', outcome: 'failure' });
    expect(pam.user.name).toBe('root');
  });

  it('garbage stays a message', () => {
    const e = parseSyslog('hello world', ctx) as any;
    expect(e.message).toBe('hello world');
    expect(e.event.action).toBe('syslog.message');
  });

  it('zones: local wall time to instants, local hour', () => {
    expect(new Date(fromLocal('Asia/Ho_Chi_Minh', 2026, 0, 1, 7, 0, 0)).toISOString()).toBe('2026-01-01T00:00:00.000Z');
    const h = new LocalHour('Asia/Ho_Chi_Minh');
    expect(h.of(Date.parse('2026-01-01T23:59:00Z'))).toBe(6);
    expect(h.of(Date.parse('2026-01-01T11:00:00Z'))).toBe(18);
    const k = new LocalHour('Asia/Kolkata');
    expect(k.of(Date.parse('2026-01-01T00:29:00Z'))).toBe(5);
    expect(k.of(Date.parse('2026-01-01T00:31:00Z'))).toBe(6);
  });
});

describe('syslog stream framing (RFC 6587)', () => {
  it('octet counting and newlines, mixed, across chunk boundaries', () => {
    const f = new SyslogFramer(1000);
    const msg = '<13>1 - h a - - - hé';
    const len = Buffer.byteLength(msg);
    const all = Buffer.from(`${len} ${msg}${len} ${msg}<13>line one\n<13>line two\r\n`);
    const got: string[] = [];
    for (let i = 0; i < all.length; i += 3) got.push(...f.push(all.subarray(i, i + 3)));
    expect(got).toEqual([msg, msg, '<13>line one', '<13>line two']);
  });

  it('refuses oversized frames', () => {
    expect(() => new SyslogFramer(100).push(Buffer.from('5000 <13>'))).toThrow(/exceeds/);
    expect(() => new SyslogFramer(10).push(Buffer.from('<13>' + 'x'.repeat(20)))).toThrow(/exceeds/);
  });
});
