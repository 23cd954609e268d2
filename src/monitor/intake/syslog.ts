/**
 * Syslog messages to events: RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`) and the older BSD
 * form of RFC 3164 (`<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`), to ECS fields (host.name, process.name,
 * process.pid, message, log.syslog.*). Linux authentication lines (sshd, PAM, sudo) are recognised further
 * (linux-auth.ts) so that SigmaHQ's linux rules and our pack see `event.category: authentication` with the
 * user, the source address and the outcome. A line that is not syslog at all is kept as a message of
 * unknown origin rather than dropped.
 */
import type { SecurityEvent } from '../../bus/index.js';
import { mapLinuxAuth } from './linux-auth.js';
import { fromLocal } from './zone.js';

const FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp',
  'security', 'console', 'solaris-cron', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
];
const SEVERITIES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'debug'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** SigmaHQ linux services our logsource names when the program is one of them. */
const LINUX_SERVICES = new Set(['sshd', 'sudo', 'su', 'cron', 'auditd', 'clamav', 'vsftpd', 'guacamole', 'named', 'sshd-session']);

export interface SyslogContext {
  /** zone of RFC 3164 time stamps */
  timezone: string;
  now?: number;
  /** address the message came from */
  sender?: string;
}

const RFC5424 =
  /^<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: ([\s\S]*))?$/;
const RFC3164 = /^<(\d{1,3})>([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (?:(\S+) )?([^:\[\s]+)(?:\[(\d+)\])?: ?([\s\S]*)$/;
const RFC3164_NOTAG = /^<(\d{1,3})>([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\S+) ([\s\S]*)$/;

function nil(v: string | undefined): string | undefined {
  return v === undefined || v === '-' ? undefined : v;
}

/** a character that ends an SD-NAME (RFC 5424 §6.3.2: not '=', space, ']' or '"'; nor '[' here) */
function endsName(c: string): boolean {
  return c === '=' || c === ']' || c === '"' || c === '[' || c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

/**
 * The structured data's elements (`[id name="value" …]`, at most 64), read in one forward pass. A malformed
 * element is passed over from where it went wrong, never read again from its start: the regular expression
 * this replaces went back over a run of '[' for every start, quadratic — one 64 KiB datagram held the event
 * loop for ~8 s.
 */
function structuredData(sd: string): Record<string, Record<string, string>> | undefined {
  if (sd === '-') return undefined;
  const out: Record<string, Record<string, string>> = {};
  const n = sd.length;
  let i = sd.indexOf('[');
  let count = 0;
  while (i >= 0 && i < n && count < 64) {
    let j = i + 1;
    const idStart = j;
    while (j < n && !endsName(sd[j]!)) j++;
    const id = sd.slice(idStart, j);
    const params: Record<string, string> = {};
    let ok = id.length > 0;
    while (ok) {
      while (j < n && (sd[j] === ' ' || sd[j] === '\t')) j++;
      if (sd[j] === ']') {
        j++;
        break;
      }
      const nameStart = j;
      while (j < n && !endsName(sd[j]!)) j++;
      if (j === nameStart || sd[j] !== '=' || sd[j + 1] !== '"') {
        ok = false;
        break;
      }
      const name = sd.slice(nameStart, j);
      j += 2;
      let value = '';
      let closed = false;
      while (j < n) {
        const c = sd[j]!;
        if (c === '\\' && j + 1 < n) {
          const e = sd[j + 1]!;
          // RFC 5424 escapes '"', '\\' and ']'; any other backslash is kept as it is
          value += e === '"' || e === '\\' || e === ']' ? e : c + e;
          j += 2;
        } else if (c === '"') {
          closed = true;
          j++;
          break;
        } else {
          value += c;
          j++;
        }
      }
      if (!closed) {
        ok = false;
        break;
      }
      params[name] = value;
    }
    if (ok) {
      out[id] = params;
      count++;
    }
    // the next element: after this one, or after where this one went wrong
    i = sd.indexOf('[', Math.max(j, i + 1));
  }
  return out;
}

function priority(pri: number): { facility: { code: number; name: string }; severity: { code: number; name: string }; priority: number } {
  const f = pri >> 3;
  const s = pri & 7;
  return { facility: { code: f, name: FACILITIES[f] ?? String(f) }, severity: { code: s, name: SEVERITIES[s]! }, priority: pri };
}

/** Year of a BSD time stamp: the current one unless that puts it more than a day ahead. */
function bsdTime(tz: string, now: number, mon: string, day: string, h: string, mi: string, s: string): number | undefined {
  const mo = MONTHS.indexOf(mon);
  if (mo < 0) return undefined;
  const y = new Date(now).getUTCFullYear();
  let t = fromLocal(tz, y, mo, Number(day), Number(h), Number(mi), Number(s));
  if (t > now + 86_400_000) t = fromLocal(tz, y - 1, mo, Number(day), Number(h), Number(mi), Number(s));
  return t;
}

/** One syslog message (without framing) to an event. */
export function parseSyslog(line: string, ctx: SyslogContext): SecurityEvent {
  const now = ctx.now ?? Date.now();
  const text = line.replace(/^\uFEFF/, '').replace(/[\r\n]+$/, '');
  let at = now;
  let host: string | undefined;
  let app: string | undefined;
  let pid: string | undefined;
  let message = text;
  const syslog: Record<string, unknown> = {};
  let m = RFC5424.exec(text);
  if (m) {
    Object.assign(syslog, priority(Number(m[1])), { version: Number(m[2]) });
    const ts = nil(m[3]);
    if (ts) {
      const t = Date.parse(ts);
      if (!Number.isNaN(t)) at = t;
    }
    host = nil(m[4]);
    app = nil(m[5]);
    pid = nil(m[6]);
    const msgid = nil(m[7]);
    if (msgid) syslog.msgid = msgid;
    const sd = structuredData(m[8]!);
    if (sd) syslog.structured_data = sd;
    message = (m[9] ?? '').replace(/^\uFEFF/, '');
  } else if ((m = RFC3164.exec(text))) {
    Object.assign(syslog, priority(Number(m[1])));
    at = bsdTime(ctx.timezone, now, m[2]!, m[3]!, m[4]!, m[5]!, m[6]!) ?? now;
    host = m[7];
    app = m[8];
    pid = m[9];
    message = m[10]!;
  } else if ((m = RFC3164_NOTAG.exec(text))) {
    Object.assign(syslog, priority(Number(m[1])));
    at = bsdTime(ctx.timezone, now, m[2]!, m[3]!, m[4]!, m[5]!, m[6]!) ?? now;
    host = m[7];
    message = m[8]!;
  } else {
    const p = /^<(\d{1,3})>([\s\S]*)$/.exec(text);
    if (p && Number(p[1]) < 192) {
      Object.assign(syslog, priority(Number(p[1])));
      message = p[2]!;
    }
  }
  if (Number.isNaN(at) || at > now + 86_400_000) at = now;
  const pidNum = pid !== undefined && /^\d{1,10}$/.test(pid) ? Number(pid) : undefined;
  const program = app?.toLowerCase();
  const facility = (syslog.facility as { name?: string } | undefined)?.name;
  const services = ['syslog'];
  if (program && LINUX_SERVICES.has(program)) services.unshift(program === 'sshd-session' ? 'sshd' : program);
  if (facility === 'auth' || facility === 'authpriv') services.push('auth');
  const event: SecurityEvent = {
    '@timestamp': new Date(at).toISOString(),
    event: { kind: 'event', category: [], action: 'syslog.message', outcome: 'unknown', module: 'syslog', dataset: 'syslog' },
    message,
    ...(host ? { host: { name: host } } : {}),
    ...(app || pidNum !== undefined ? { process: { ...(app ? { name: app } : {}), ...(pidNum !== undefined ? { pid: pidNum } : {}) } } : {}),
    log: { syslog: { ...syslog, ...(app ? { appname: app } : {}), ...(pid ? { procid: pid } : {}), ...(host ? { hostname: host } : {}) }, ...(ctx.sender ? { source: { address: ctx.sender } } : {}) },
    logsource: { product: 'linux', service: services },
  };
  if (program) mapLinuxAuth(event, program, message);
  return event;
}
