/**
 * Linux authentication lines (sshd, PAM, sudo) to ECS authentication events: who, from where, with what
 * outcome. The patterns are OpenSSH's and Linux-PAM's own messages; anything else is left as it came.
 */
import type { SecurityEvent } from '../../bus/index.js';

interface Mapping {
  re: RegExp;
  action: string;
  outcome: 'success' | 'failure';
  reason?: string;
  /** capture groups: user, ip, port, method */
  fields: { user?: number; ip?: number; port?: number; method?: number };
}

const SSHD: Mapping[] = [
  {
    re: /^Failed (password|publickey|keyboard-interactive\/pam|none) for invalid user (.*?) from (\S+) port (\d+)/,
    action: 'ssh_login',
    outcome: 'failure',
    reason: 'invalid user',
    fields: { method: 1, user: 2, ip: 3, port: 4 },
  },
  {
    re: /^Failed (password|publickey|keyboard-interactive\/pam|none) for (.*?) from (\S+) port (\d+)/,
    action: 'ssh_login',
    outcome: 'failure',
    fields: { method: 1, user: 2, ip: 3, port: 4 },
  },
  {
    re: /^Accepted (password|publickey|keyboard-interactive\/pam|gssapi-with-mic|hostbased) for (.*?) from (\S+) port (\d+)/,
    action: 'ssh_login',
    outcome: 'success',
    fields: { method: 1, user: 2, ip: 3, port: 4 },
  },
  {
    re: /^Invalid user (.*?) from (\S+)(?: port (\d+))?/,
    action: 'ssh_invalid_user',
    outcome: 'failure',
    reason: 'invalid user',
    fields: { user: 1, ip: 2, port: 3 },
  },
  {
    re: /^maximum authentication attempts exceeded for (?:invalid user )?(.*?) from (\S+) port (\d+)/,
    action: 'ssh_max_attempts',
    outcome: 'failure',
    fields: { user: 1, ip: 2, port: 3 },
  },
];

const PAM_FAILURE = /pam_unix\((\S+)\): authentication failure;.*?rhost=(\S*)(?:\s+user=(\S+))?/;
const SUDO = /^\s*(\S+) : (?:.*?; )?TTY=\S+ ; PWD=\S+ ; USER=(\S+) ; COMMAND=(.*)$/;

function authenticationCategory(event: SecurityEvent): void {
  event.event.category = ['authentication'];
  const ls = event.logsource as { category?: string[] } | undefined;
  if (ls) ls.category = ['authentication'];
}

export function mapLinuxAuth(event: SecurityEvent, program: string, message: string): void {
  if (program === 'sshd' || program === 'sshd-session') {
    for (const m of SSHD) {
      const r = m.re.exec(message);
      if (!r) continue;
      authenticationCategory(event);
      event.event.action = m.action;
      event.event.outcome = m.outcome;
      event.event.type = ['start'];
      if (m.reason) event.event.reason = m.reason;
      if (m.fields.user) event.user = { name: r[m.fields.user]!.slice(0, 256) };
      if (m.fields.ip) {
        const port = m.fields.port && r[m.fields.port] ? Number(r[m.fields.port]) : undefined;
        event.source = { ip: r[m.fields.ip]!, ...(port !== undefined ? { port } : {}) };
      }
      if (m.fields.method) (event as any).truc = { ...((event as any).truc ?? {}), auth_method: r[m.fields.method] };
      return;
    }
  }
  const pam = PAM_FAILURE.exec(message);
  if (pam) {
    authenticationCategory(event);
    event.event.action = 'pam_authentication';
    event.event.outcome = 'failure';
    if (pam[3]) event.user = { name: pam[3] };
    if (pam[2]) event.source = { ip: pam[2] };
    return;
  }
  if (program === 'sudo') {
    const s = SUDO.exec(message);
    if (s) {
      event.event.category = ['process'];
      event.event.action = 'sudo';
      event.event.outcome = 'success';
      event.user = { name: s[1]!, ...({ effective: { name: s[2] } } as object) };
      event.process = { ...(event.process ?? {}), command_line: s[3] };
    }
  }
}
