/**
 * Which rules an event is for. Rules name a logsource (product, category, service); events carry theirs,
 * explicitly (`logsource: {...}` on the event or passed by the caller) or derived:
 *
 * - Windows events (`Event.System.Channel`): product `windows`; the service from the channel, as in the
 *   Sigma taxonomy appendix (Security → security, System → system, Microsoft-Windows-Sysmon/Operational →
 *   sysmon, …); categories from the Sysmon event id (1 → process_creation, 3 → network_connection,
 *   7 → image_load, 11 → file_event, 12 → registry_add/registry_delete/registry_event, 13 → registry_set/
 *   registry_event, …) and from PowerShell (4103 → ps_module, 4104 → ps_script, 400/600/800 → ps_classic_*).
 *   Security 4688 is not mapped to process_creation: its fields (NewProcessName…) are not Sysmon's and need a
 *   pipeline first. The categories the intake put in ECS `event.category` are added too: the Windows intake
 *   marks logons (4624, 4625, 4648, 4776) `authentication`, so a rule for logins of any product
 *   (`category: authentication`, no product) sees Windows logons as it sees SSH's.
 * - Our own events (`event.dataset` = `truc.<part>`): product `truc`, service `<part>`, categories from
 *   `event.category`.
 *
 * A rule applies when every attribute it names is among the event's. An event of unknown logsource only meets
 * rules that name none.
 */
import type { RoutingKey } from './compile.js';

export interface EventLogsource {
  product?: string;
  categories: string[];
  services: string[];
}

const SYSMON_CATEGORIES: Record<number, string[]> = {
  1: ['process_creation'],
  2: ['file_change'],
  3: ['network_connection'],
  4: ['sysmon_status'],
  5: ['process_termination'],
  6: ['driver_load'],
  7: ['image_load'],
  8: ['create_remote_thread'],
  9: ['raw_access_thread'],
  10: ['process_access'],
  11: ['file_event'],
  12: ['registry_add', 'registry_delete', 'registry_event'],
  13: ['registry_set', 'registry_event'],
  14: ['registry_rename', 'registry_event'],
  15: ['create_stream_hash'],
  16: ['sysmon_status'],
  17: ['pipe_created'],
  18: ['pipe_created'],
  19: ['wmi_event'],
  20: ['wmi_event'],
  21: ['wmi_event'],
  22: ['dns_query'],
  23: ['file_delete'],
  24: ['clipboard_capture'],
  25: ['process_tampering'],
  26: ['file_delete_detected'],
  27: ['file_block_executable'],
  28: ['file_block_shredding'],
  29: ['file_executable_detected'],
  255: ['sysmon_error'],
};

/** Windows channel → Sigma service (taxonomy appendix, "Windows Folder / Service"). */
export const WINDOWS_CHANNEL_SERVICES: Record<string, string> = {
  application: 'application',
  'microsoft-windows-application-experience/program-telemetry': 'application-experience',
  'microsoft-windows-application-experience/program-compatibility-assistant': 'application-experience',
  'microsoft-windows-applocker/msi and script': 'applocker',
  'microsoft-windows-applocker/exe and dll': 'applocker',
  'microsoft-windows-applocker/packaged app-deployment': 'applocker',
  'microsoft-windows-applocker/packaged app-execution': 'applocker',
  'microsoft-windows-appmodel-runtime/admin': 'appmodel-runtime',
  'microsoft-windows-appxdeploymentserver/operational': 'appxdeployment-server',
  'microsoft-windows-appxpackaging/operational': 'appxpackaging-om',
  'microsoft-windows-bitlocker/bitlocker management': 'bitlocker',
  'microsoft-windows-bits-client/operational': 'bits-client',
  'microsoft-windows-capi2/operational': 'capi2',
  'microsoft-windows-certificateservicesclient-lifecycle-system/operational':
    'certificateservicesclient-lifecycle-system',
  'microsoft-windows-codeintegrity/operational': 'codeintegrity-operational',
  'microsoft-windows-dhcp-server/operational': 'dhcp',
  'microsoft-windows-diagnosis-scripted/operational': 'diagnosis-scripted',
  'microsoft-windows-dns client events/operational': 'dns-client',
  'dns server': 'dns-server',
  'microsoft-windows-dns-server/analytical': 'dns-server-analytic',
  'microsoft-windows-dns-server/audit': 'dns-server-audit',
  'microsoft-windows-driverframeworks-usermode/operational': 'driver-framework',
  'microsoft-windows-windows firewall with advanced security/firewall': 'firewall-as',
  'microsoft-windows-hyper-v-worker': 'hyper-v-worker',
  'microsoft-iis-configuration/operational': 'iis-configuration',
  'microsoft-windows-kernel-eventtracing': 'kernel-event-tracing',
  'microsoft-windows-kernel-shimengine/operational': 'kernel-shimengine',
  'microsoft-windows-kernel-shimengine/diagnostic': 'kernel-shimengine',
  'microsoft-windows-ldap-client/debug': 'ldap',
  'microsoft-windows-lsa/operational': 'lsa-server',
  'msexchange management': 'msexchange-management',
  'microsoft-windows-ntfs/operational': 'ntfs',
  'microsoft-windows-ntlm/operational': 'ntlm',
  'openssh/operational': 'openssh',
  'microsoft-windows-powershell/operational': 'powershell',
  'windows powershell': 'powershell-classic',
  'microsoft-windows-printservice/admin': 'printservice-admin',
  'microsoft-windows-printservice/operational': 'printservice-operational',
  security: 'security',
  'microsoft-windows-security-mitigations/kernel mode': 'security-mitigations',
  'microsoft-windows-security-mitigations/user mode': 'security-mitigations',
  'microsoft-windows-sense/operational': 'sense',
  'microsoft-servicebus-client': 'servicebus-client',
  'microsoft-servicebus-client/operational': 'servicebus-client',
  'microsoft-servicebus-client/admin': 'servicebus-client',
  'microsoft-windows-shell-core/operational': 'shell-core',
  'microsoft-windows-smbclient/security': 'smbclient-security',
  'microsoft-windows-smbclient/connectivity': 'smbclient-connectivity',
  'microsoft-windows-smbserver/connectivity': 'smbserver-connectivity',
  'microsoft-windows-sysmon/operational': 'sysmon',
  system: 'system',
  'microsoft-windows-taskscheduler/operational': 'taskscheduler',
  'microsoft-windows-terminalservices-localsessionmanager/operational':
    'terminalservices-localsessionmanager',
  'microsoft-windows-vhdmp/operational': 'vhdmp',
  'microsoft-windows-windows defender/operational': 'windefend',
  'microsoft-windows-wmi-activity/operational': 'wmi',
};

/**
 * Other names SigmaHQ's rules use for a service: the taxonomy says `servicebus-client`, its rule (and
 * pySigma's Windows pipeline) say `microsoft-servicebus-client`. A channel's event carries both, so either
 * spelling reaches it.
 */
const SERVICE_ALIASES: Record<string, string[]> = {
  'servicebus-client': ['microsoft-servicebus-client'],
};

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(v: unknown): string | undefined {
  if (isObj(v) && '#text' in v) v = v['#text'];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

function windows(system: Record<string, unknown>, meta: unknown): EventLogsource {
  const channel = (text(system.Channel) ?? '').toLowerCase();
  const id = Number(text(system.EventID));
  const services: string[] = [];
  const categories: string[] = [];
  const service = WINDOWS_CHANNEL_SERVICES[channel];
  if (service) services.push(service, ...(SERVICE_ALIASES[service] ?? []));
  if (service === 'sysmon') categories.push(...(SYSMON_CATEGORIES[id] ?? []));
  const ps =
    channel === 'microsoft-windows-powershell/operational' || channel === 'powershellcore/operational';
  if (ps && id === 4103) categories.push('ps_module');
  if (ps && id === 4104) categories.push('ps_script');
  if (channel === 'windows powershell') {
    if (id === 400) categories.push('ps_classic_start');
    if (id === 600) categories.push('ps_classic_provider_start');
    if (id === 800) categories.push('ps_classic_script');
  }
  // the intake's own categories (ECS `event.category`, e.g. authentication for 4624/4625/4648/4776):
  // rules written for every product's logins (category: authentication) must see Windows logons too
  if (isObj(meta)) for (const c of strings(meta.category)) if (!categories.includes(c)) categories.push(c);
  return { product: 'windows', categories, services };
}

function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v.toLowerCase()];
  if (Array.isArray(v))
    return v.filter((x): x is string => typeof x === 'string').map((x) => x.toLowerCase());
  return [];
}

/** The logsource of an event, or undefined when nothing tells. */
export function deriveLogsource(event: Record<string, unknown>): EventLogsource | undefined {
  const explicit = event.logsource;
  if (isObj(explicit)) {
    return {
      ...(typeof explicit.product === 'string' ? { product: explicit.product.toLowerCase() } : {}),
      categories: strings(explicit.category),
      services: strings(explicit.service),
    };
  }
  const ev = event.Event;
  if (isObj(ev) && isObj(ev.System)) return windows(ev.System, event.event);
  const meta = event.event;
  if (isObj(meta) && typeof meta.dataset === 'string' && meta.dataset.startsWith('truc.')) {
    return {
      product: 'truc',
      categories: strings(meta.category),
      services: [meta.dataset.slice(5).toLowerCase()],
    };
  }
  return undefined;
}

export function logsourceSignature(ls: EventLogsource | undefined): string {
  if (!ls) return '';
  return `${ls.product ?? ''}|${ls.categories.join(',')}|${ls.services.join(',')}`;
}

export function routes(rule: RoutingKey, ls: EventLogsource | undefined): boolean {
  if (!rule.product && !rule.category && !rule.service) return true;
  if (!ls) return false;
  if (rule.product && rule.product !== ls.product) return false;
  if (rule.category && !ls.categories.includes(rule.category)) return false;
  if (rule.service && !ls.services.includes(rule.service)) return false;
  return true;
}
