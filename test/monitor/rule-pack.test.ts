import { describe, it, expect, beforeAll } from 'vitest';
import { Engine, loadRules, type SigmaDocument } from '../../src/monitor/sigma/index.js';
import { BUILTIN_RULES_DIR, derive, LocalHour, normalizeWindows, parseSyslog, parseWindowsXml } from '../../src/monitor/index.js';
import { makeEvent, type SecurityEvent } from '../../src/bus/index.js';

let docs: SigmaDocument[];
const hour = new LocalHour('Asia/Ho_Chi_Minh');

beforeAll(async () => {
  const r = await loadRules(BUILTIN_RULES_DIR);
  expect(r.rejected).toEqual([]);
  docs = r.documents;
});

function prepared(e: SecurityEvent, intake: 'bus' | 'syslog' = 'bus'): SecurityEvent {
  return derive(e, new Date(e['@timestamp']), intake, hour);
}

/** Titles of the alerts (plain matches that generate, and correlations) for a sequence of events. */
function alertsFor(events: SecurityEvent[]): string[] {
  const engine = new Engine(docs);
  const out: string[] = [];
  for (const e of events) {
    const r = engine.process(e as unknown as Record<string, unknown>);
    out.push(...r.alerts.map((a) => a.title), ...r.correlations.map((c) => c.title));
  }
  return out;
}

const at = (iso: string, plusSec = 0) => new Date(Date.parse(iso) + plusSec * 1000);

const authFailed = (ip: string, i: number, base = '2026-03-02T03:00:00Z') =>
  prepared(makeEvent('http', 'auth.failed', 'failure', { category: ['authentication'], source: { ip }, user: { name: 'anonymous' }, reason: 'unauthenticated', at: at(base, i) }));

describe('built-in rule pack', () => {
  it('every rule is ours, with an id, a level and ATT&CK tags', () => {
    for (const d of docs) {
      expect(d.author).toBe('Trục');
      expect(d.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(d.level).toBeTruthy();
      expect(d.tags.some((t) => t.startsWith('attack.'))).toBe(true);
    }
  });

  it('API token guessing: 10 failures from one address in a minute, once per burst', () => {
    const events = Array.from({ length: 15 }, (_, i) => authFailed('203.0.113.9', i));
    expect(alertsFor(events)).toEqual(['API token guessing']);
  });

  it('API token guessing: not for 9 failures, nor spread over addresses, nor slower than a minute', () => {
    expect(alertsFor(Array.from({ length: 9 }, (_, i) => authFailed('203.0.113.9', i)))).toEqual([]);
    expect(alertsFor(Array.from({ length: 20 }, (_, i) => authFailed(`203.0.113.${i}`, i)))).toEqual([]);
    expect(alertsFor(Array.from({ length: 12 }, (_, i) => authFailed('203.0.113.9', i * 7)))).toEqual([]);
  });

  const ssh = (line: string) => prepared(parseSyslog(line, { timezone: 'Asia/Ho_Chi_Minh', now: Date.parse('2026-03-02T04:00:00Z') }), 'syslog');

  it('SSH brute force from Linux auth logs', () => {
    const lines = Array.from(
      { length: 12 },
      (_, i) => `<38>1 2026-03-02T03:10:${String(i).padStart(2, '0')}+00:00 web01 sshd 812 - - Failed password for invalid user admin${i} from 198.51.100.7 port ${40000 + i} ssh2`,
    );
    expect(alertsFor(lines.map(ssh))).toEqual(['SSH brute force from one address']);
  });

  it('SSH: successful logins in working hours and few failures raise nothing', () => {
    const ok = Array.from({ length: 30 }, (_, i) => ssh(`<38>1 2026-03-02T03:10:${String(i).padStart(2, '0')}+00:00 web01 sshd 812 - - Accepted publickey for ops from 10.1.1.${i} port 5000 ssh2: ED25519 SHA256:abc`));
    const fails = Array.from({ length: 5 }, (_, i) => ssh(`<38>1 2026-03-02T03:11:0${i}+00:00 web01 sshd 812 - - Failed password for ops from 10.1.1.1 port 5000 ssh2`));
    expect(alertsFor([...ok, ...fails])).toEqual([]);
  });

  it('access outside permitted hours: a login at 22:30 in Hà Nội, not one at 10:00', () => {
    // 15:30 UTC is 22:30 in Asia/Ho_Chi_Minh; 03:00 UTC is 10:00
    const night = ssh('<38>1 2026-03-02T15:30:00+00:00 web01 sshd 812 - - Accepted password for lan from 10.1.1.5 port 5000 ssh2');
    const day = ssh('<38>1 2026-03-02T03:00:00+00:00 web01 sshd 812 - - Accepted password for lan from 10.1.1.5 port 5000 ssh2');
    expect(night.truc!.local_hour).toBe(22);
    expect(alertsFor([night])).toEqual(['Access outside permitted hours']);
    expect(alertsFor([day])).toEqual([]);
    const op = (iso: string, user: string) => prepared(makeEvent('pki', 'certificate.revoked', 'success', { user: { name: user }, category: ['configuration', 'iam'], at: new Date(iso) }));
    expect(alertsFor([op('2026-03-02T23:10:00Z', 'ra.officer')])).toEqual(['Operation outside permitted hours']); // 06:10 local
    expect(alertsFor([op('2026-03-02T02:10:00Z', 'ra.officer'), op('2026-03-02T23:10:00Z', 'system')])).toEqual([]);
    // the platform's own parts and other agencies' systems through the axis are not people at work at night
    expect(alertsFor([op('2026-03-02T23:10:00Z', 'system:demo'), op('2026-03-02T23:10:00Z', 'system:edoc'), op('2026-03-02T23:10:00Z', 'xroad:VN/GOV/000.00.00.G09/vanthu')])).toEqual([]);
    expect(alertsFor([op('2026-03-02T23:10:00Z', 'systemadmin')])).toEqual(['Operation outside permitted hours']);
  });

  /** A Windows Security logon event as the XML intake receives it, normalised and derived as stored. */
  const winLogon = (id: number, iso: string, data: Record<string, string>) => {
    const xml =
      `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>` +
      `<Provider Name="Microsoft-Windows-Security-Auditing" Guid="{54849625-5478-4994-a5ba-3e3b0328c30d}"/>` +
      `<EventID>${id}</EventID><TimeCreated SystemTime="${iso}"/><Channel>Security</Channel><Computer>dc01.bo.gov.vn</Computer>` +
      `</System><EventData>${Object.entries(data).map(([k, v]) => `<Data Name="${k}">${v}</Data>`).join('')}</EventData></Event>`;
    const [e] = parseWindowsXml(xml);
    return prepared(normalizeWindows(e!)!, 'windows' as 'bus');
  };
  const person = { SubjectUserSid: 'S-1-5-18', SubjectUserName: 'DC01$', TargetUserSid: 'S-1-5-21-1-2-3-1105', TargetUserName: 'nguyenvana', TargetDomainName: 'BO', LogonType: '10', IpAddress: '198.51.100.20', IpPort: '50123' };

  it('access outside permitted hours sees Windows logons (4624, 4648) of people, not of machines and services', () => {
    const night = '2026-03-02T15:30:00.1234567Z'; // 22:30 in Hà Nội
    expect(alertsFor([winLogon(4624, night, person)])).toEqual(['Access outside permitted hours']);
    expect(alertsFor([winLogon(4624, night, { ...person, LogonType: '2' })])).toEqual(['Access outside permitted hours']);
    expect(alertsFor([winLogon(4624, night, { ...person, LogonType: '3' })])).toEqual(['Access outside permitted hours']);
    expect(alertsFor([winLogon(4648, night, { SubjectUserSid: 'S-1-5-21-1-2-3-1105', SubjectUserName: 'nguyenvana', TargetUserName: 'administrator', TargetDomainName: 'BO', TargetServerName: 'fs01' })])).toEqual([
      'Access outside permitted hours',
    ]);
    // in working hours, and a failed logon, raise nothing
    expect(alertsFor([winLogon(4624, '2026-03-02T03:00:00Z', person), winLogon(4625, night, person)])).toEqual([]);
    // not people: computer accounts, anonymous, service identities, window manager and font driver accounts, services and batch
    const notPeople = [
      { ...person, TargetUserName: 'WS01$', TargetUserSid: 'S-1-5-21-1-2-3-1201', LogonType: '3' },
      { ...person, TargetUserName: 'ANONYMOUS LOGON', TargetUserSid: 'S-1-5-7', TargetDomainName: 'NT AUTHORITY', LogonType: '3' },
      { ...person, TargetUserName: 'SYSTEM', TargetUserSid: 'S-1-5-18', TargetDomainName: 'NT AUTHORITY', LogonType: '5' },
      { ...person, TargetUserName: 'HỆ THỐNG', TargetUserSid: 'S-1-5-18', TargetDomainName: 'NT AUTHORITY', LogonType: '0' },
      { ...person, TargetUserName: 'LOCAL SERVICE', TargetUserSid: 'S-1-5-19', TargetDomainName: 'NT AUTHORITY', LogonType: '5' },
      { ...person, TargetUserName: 'NETWORK SERVICE', TargetUserSid: 'S-1-5-20', TargetDomainName: 'NT AUTHORITY', LogonType: '5' },
      { ...person, TargetUserName: 'DWM-1', TargetUserSid: 'S-1-5-90-0-1', TargetDomainName: 'Window Manager', LogonType: '2' },
      { ...person, TargetUserName: 'UMFD-1', TargetUserSid: 'S-1-5-96-0-1', TargetDomainName: 'Font Driver Host', LogonType: '2' },
      { ...person, TargetUserName: 'svc_backup', LogonType: '4' },
      { ...person, TargetUserName: 'svc_sql', LogonType: '5' },
    ];
    expect(alertsFor(notPeople.map((d) => winLogon(4624, night, d)))).toEqual([]);
    expect(alertsFor([winLogon(4648, night, { SubjectUserName: 'nguyenvana', TargetUserName: 'FS01$', TargetServerName: 'fs01' })])).toEqual([]);
  });

  it('repeated denied operations by one user: 5 in 5 minutes', () => {
    const denied = (user: string, i: number) =>
      prepared(makeEvent('http', 'access.denied', 'failure', { category: ['iam'], user: { name: user }, source: { ip: '10.0.0.3' }, at: at('2026-03-02T03:00:00Z', i * 30) }));
    expect(alertsFor([0, 1, 2, 3, 4].map((i) => denied('auditor.x', i)))).toEqual(['Repeated denied operations by one user']);
    expect(alertsFor([0, 1, 2, 3].map((i) => denied('auditor.x', i)))).toEqual([]);
    expect(alertsFor([0, 1, 2, 3, 4].map((i) => denied(`u${i}`, i)))).toEqual([]);
  });

  it('use of a revoked certificate: OCSP query of a revoked certificate, authentication refused as revoked', () => {
    const q = prepared(makeEvent('ocsp', 'revoked.queried', 'unknown', { category: ['iam'], source: { ip: '10.0.0.8' }, truc: { serial: '0a1b', status: 'revoked' } }));
    expect(alertsFor([q])).toEqual(['Revoked certificate presented']);
    const refused = prepared(makeEvent('http', 'auth.failed', 'failure', { category: ['authentication'], source: { ip: '10.0.0.8' }, reason: 'certificate revoked' }));
    expect(alertsFor([refused])).toEqual(['Authentication with a revoked certificate']);
    const good = prepared(makeEvent('ocsp', 'request.malformed', 'failure', { category: ['network'], source: { ip: '10.0.0.8' }, reason: 'bad DER' }));
    expect(alertsFor([good, authFailed('10.0.0.8', 0)])).toEqual([]);
  });

  it('audit chain tampering (and not a verified chain)', () => {
    const broken = prepared(makeEvent('audit', 'audit.chain.broken', 'failure', { category: ['configuration'] }));
    const verified = prepared(makeEvent('audit', 'audit.chain.verified', 'success', { category: ['configuration'], user: { name: 'system' } }));
    expect(alertsFor([broken])).toEqual(['Audit chain tampering']);
    expect(alertsFor([verified])).toEqual([]);
  });

  it('mass download: 50 documents by one user in 10 minutes, not 49', () => {
    const dl = (user: string, i: number) =>
      prepared(makeEvent('exchange', 'document.download', 'success', { category: ['file'], user: { name: user }, file: { name: `cv-${i}.pdf` }, at: at('2026-03-02T03:00:00Z', i * 10) }));
    expect(alertsFor(Array.from({ length: 50 }, (_, i) => dl('chuyenvien', i)))).toEqual(['Mass download of documents by one user']);
    expect(alertsFor(Array.from({ length: 49 }, (_, i) => dl('chuyenvien', i)))).toEqual([]);
  });

  it('classified document to a recipient without clearance', () => {
    const sent = (level: unknown, clearance: unknown) =>
      prepared(makeEvent('exchange', 'edoc.sent', 'success', { category: ['file'], user: { name: 'vanthu' }, at: at('2026-03-02T03:00:00Z'), truc: { classification: { level }, recipient: { id: 'org-b', clearance } } }));
    expect(alertsFor([sent('Tối mật', 'Mật')])).toEqual(['Classified document sent to a recipient not cleared for it']);
    expect(alertsFor([sent(3, 1)])).toHaveLength(1);
    expect(alertsFor([sent('Mật', 'Tuyệt mật'), sent('Mật', 'Mật'), sent('unclassified', undefined)])).toEqual([]);
  });

  // what the security servers publish when they refuse a message (src/exchange/server/context.ts, publishRefusal)
  const refused = (side: 'provider' | 'consumer', code: string, client = 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu', i = 0) =>
    prepared(
      makeEvent('exchange', `exchange.${side}.refused`, 'failure', {
        category: ['network'],
        reason: code,
        at: at('2026-03-02T03:00:00Z', i * 5),
        truc: { server: 'SERVER:VN/PROV/000.00.31.H29/ss-hcm', side, code, client, service: 'SERVICE:VN/PROV/000.00.31.H29/vanthu/thong-tin' },
      }),
    );

  it('exchange: an altered or forged message, a replay, a revoked or untrusted certificate', () => {
    expect(alertsFor([refused('provider', 'bad_message_signature')])).toEqual(['Exchange message altered or forged']);
    expect(alertsFor([refused('consumer', 'bad_message_signature')])).toEqual(['Exchange message altered or forged']);
    expect(alertsFor([refused('provider', 'replayed_message')])).toEqual(['Exchange message replayed']);
    for (const code of ['cert_revoked', 'cert_invalid']) expect(alertsFor([refused('provider', code)])).toEqual(['Security server refused a revoked or untrusted certificate']);
    // the information system's own mistakes are not security alerts
    for (const code of ['bad_request', 'unknown_service', 'unknown_client', 'too_large', 'service_failed']) expect(alertsFor([refused('consumer', code)]), code).toEqual([]);
  });

  it('exchange: a security server refusing traffic for an expired configuration, stale OCSP or a log past its grace period', () => {
    for (const code of ['conf_expired', 'ocsp_stale', 'timestamp_unavailable']) expect(alertsFor([refused('consumer', code)]), code).toEqual(['Security server refusing traffic (configuration, OCSP or time-stamps)']);
    const refusing = prepared(makeEvent('exchange', 'messagelog.refusing', 'failure', { category: ['database'], truc: { server: 'SERVER:VN/GOV/000.00.00.G22/ss-vpcp', graceMs: 14_400_000 } }));
    const resumed = prepared(makeEvent('exchange', 'messagelog.resumed', 'success', { category: ['database'], truc: { server: 'SERVER:VN/GOV/000.00.00.G22/ss-vpcp' } }));
    expect(alertsFor([refusing])).toEqual(['Security server refusing traffic (configuration, OCSP or time-stamps)']);
    expect(alertsFor([resumed])).toEqual([]);
  });

  it('exchange: ten access denials of one client in five minutes, not nine, nor ten spread over clients', () => {
    const denied = (n: number, client: (i: number) => string) => Array.from({ length: n }, (_, i) => refused('provider', 'access_denied', client(i), i));
    expect(alertsFor(denied(10, () => 'SUBSYSTEM:VN/GOV/000.00.00.G09/tra-cuu'))).toEqual(['Repeated exchange access denied for one client']);
    expect(alertsFor(denied(9, () => 'SUBSYSTEM:VN/GOV/000.00.00.G09/tra-cuu'))).toEqual([]);
    expect(alertsFor(denied(10, (i) => `SUBSYSTEM:VN/GOV/000.00.00.G09/he-thong-${i}`))).toEqual([]);
  });

  it('malware detected by the scanning service', () => {
    const hit = prepared(makeEvent('scan', 'malware.detected', 'failure', { category: ['malware', 'file'], file: { name: 'x.pdf' } }));
    expect(alertsFor([hit])).toEqual(['Malware in a file received by the platform']);
  });
});
