/**
 * X-Road's operational and environmental monitoring (PR-OPMON, PR-ENVMONMES), answered by the provider's server for its owner:
 *
 * - `getSecurityServerOperationalData`: the operational records (one per exchange and side) finished in
 *   `searchCriteria` `recordsFrom`..`recordsTo` (Unix seconds, inclusive), optionally of the services one
 *   provider offers (`client`: PR-OPMON's "client identifier of the service provider"), with the fields
 *   `outputSpec` names (all when it names none). The answer is a
 *   `multipart/related` message: the envelope with `recordsCount`, `records` (`cid:` of the attachment) and,
 *   when the answer stops short of `recordsTo`, `nextRecordsFrom`; then the records as gzipped JSON
 *   (`{"records":[…]}`, Annex B's fields).
 * - `getSecurityServerHealthData`: per service this server provides (of one provider when `filterCriteria`
 *   names it), the last answered and failed request since it started and the last ten minutes' counts,
 *   durations and sizes — to any client, as X-Road's HealthDataRequestHandler answers.
 *
 * - `getSecurityServerMetrics` (X-Road's environmental monitoring, PR-ENVMONMES): the system's and this server's
 *   state as metric sets, for the owner and the central monitoring client.
 *
 * The services are the server owner's, with no subsystem (`SERVICE:VN/GOV/000.00.00.G22/getSecurityServerHealthData`)
 * and reached through the client's own server as any service is (signed, logged both sides). Who asks decides
 * which operational records are seen, as in X-Road: the central monitoring client the configuration names, and
 * the owner's subsystems when the `securityServer` header names this server (PR-OPMON §2), see every record and
 * `securityServerInternalIp`; any other client only the exchanges it took part in, as client or as provider,
 * without that field. A malformed query is refused with the fault X-Road's op-monitor daemon sends, which its
 * server proxy passes on: `Server.ServerProxy.OpMonitor.Client.InvalidRequest`.
 */
import type { IncomingMessage } from 'node:http';
import { X509Certificate, createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { availableParallelism, freemem, loadavg, networkInterfaces, release, totalmem, type, uptime } from 'node:os';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { TrucError, isTrucError } from '../../errors.js';
import type { GlobalConf } from '../conf/global.js';
import { MEMBER_SERVICES, memberId, parseMessageService, parseSubsystem, sameMember, sameSubsystem, serverText, subsystemId, type ServiceId, type SubsystemId } from '../ids.js';
import { TRUC_VERSION } from '../../version.js';
import { ServedWindow, type ServerContext } from './context.js';
import type { OpRecord } from './oprecords.js';
import { bodyElements, localAnswer, localMultipartAnswer, soapEnvelope, xmlEscape, type BodyElement, type ParsedSoap } from './soap.js';
import { serviceType, type ServerSnapshot, type ServiceRow } from './store.js';
import { META_SERVICES, SOAP_META_SERVICES } from './metaservices.js';
import { xroadFault } from './xroad-error.js';

/** X-Road's names of a service's type in operational monitoring (REST, WSDL, OPENAPI3) */
const opmonServiceType = (row: ServiceRow) => (serviceType(row) === 'OPENAPI' ? 'OPENAPI3' : serviceType(row));

export const OPMON_NS = 'http://x-road.eu/xsd/op-monitoring.xsd';
/** at most this many records in one answer (X-Road's default); the rest through nextRecordsFrom */
export const OPMON_MAX_RECORDS = 10_000;
/**
 * Records of the last seconds are not given yet: a later query would find more of them. The buffer is written
 * before each query, so a record finished before this offset is in the database (X-Road's default is 60 s
 * for its separate daemon). A query that starts within them is refused, as X-Road refuses it.
 */
export const OPMON_OFFSET_SECONDS = 2;
/** the window of the health data's statistics (ServedWindow's ten minutes) */
export const HEALTH_PERIOD_SECONDS = ServedWindow.MINUTES * 60;
const ATTACHMENT = 'operational-monitoring-data.json.gz';

/** Annex B's fields, in its order: what outputSpec may name. */
export const OUTPUT_FIELDS = [
  'monitoringDataTs',
  'securityServerInternalIp',
  'securityServerType',
  'requestInTs',
  'requestOutTs',
  'responseInTs',
  'responseOutTs',
  'clientXRoadInstance',
  'clientMemberClass',
  'clientMemberCode',
  'clientSubsystemCode',
  'serviceXRoadInstance',
  'serviceMemberClass',
  'serviceMemberCode',
  'serviceSubsystemCode',
  'serviceCode',
  'restMethod',
  'restPath',
  'serviceVersion',
  'representedPartyClass',
  'representedPartyCode',
  'messageId',
  'messageUserId',
  'messageIssue',
  'messageProtocolVersion',
  'clientSecurityServerAddress',
  'serviceSecurityServerAddress',
  'requestSize',
  'requestMimeSize',
  'requestAttachmentCount',
  'responseSize',
  'responseMimeSize',
  'responseAttachmentCount',
  'succeeded',
  'serviceType',
  'faultCode',
  'faultString',
  'statusCode',
  'xRoadVersion',
  'xRequestId',
] as const;
const KNOWN_FIELDS: ReadonlySet<string> = new Set(OUTPUT_FIELDS);

/**
 * A malformed monitoring query. X-Road's op-monitor daemon refuses it as the client's mistake
 * (X_INVALID_REQUEST with the `Client` prefix), its request handler adds `Server.ServerProxy.OpMonitor`, and the
 * server proxy passes the daemon's fault on unchanged: the consumer reads
 * `Server.ServerProxy.OpMonitor.Client.InvalidRequest`, which a monitoring client written for X-Road matches.
 */
const invalid = (en: string, vi: string) => new TrucError('bad_request', en, { xroadFault: 'OpMonitor.Client.InvalidRequest', reason_vi: vi });

/** An identifier in the request's body (`searchCriteria/client`, `filterCriteria/client`): a subsystem or a member. */
interface Partner {
  member: { instance: string; memberClass: string; memberCode: string };
  subsystemCode?: string;
}

function partner(els: BodyElement[], at: string): Partner | undefined {
  const el = els.find((e) => e.path === at);
  if (!el) return undefined;
  const part = (name: string) => els.find((e) => e.path === `${at}/${name}`)?.text;
  try {
    const m = memberId(part('xRoadInstance') ?? '', part('memberClass') ?? '', part('memberCode') ?? '');
    if (el.objectType === 'MEMBER') return { member: m };
    if (el.objectType === 'SUBSYSTEM') return { member: m, subsystemCode: subsystemId(m, part('subsystemCode') ?? '').subsystemCode };
  } catch (e) {
    throw invalid(`${at} is not an identifier: ${isTrucError(e) ? e.message : ''}`, `${at} không phải định danh hợp lệ`);
  }
  throw invalid(`${at} is a MEMBER or a SUBSYSTEM, not "${el.objectType ?? ''}"`, `${at} phải là MEMBER hoặc SUBSYSTEM`);
}

const memberPath = (m: Partner['member']) => `${m.instance}/${m.memberClass}/${m.memberCode}`;

/** The exchanges a client took part in, as client or as the service's provider: all that one who does not see all is given. */
function takingPart(client: SubsystemId) {
  const m = memberPath(client);
  return { clients: [`SUBSYSTEM:${m}/${client.subsystemCode}`], clientPrefixes: [], servicePrefixes: [`SERVICE:${m}/${client.subsystemCode}/`] };
}

/**
 * The exchanges with services `searchCriteria/client` provides: PR-OPMON §2 names it "the client identifier of
 * the service provider", and X-Road matches it in that role only. A member names its own services (the
 * monitoring services, with no subsystem), not its subsystems': X-Road compares the subsystem code too, an
 * absent one with none.
 */
function providedBy(p: Partner) {
  const m = memberPath(p.member);
  return p.subsystemCode !== undefined
    ? { clients: [], clientPrefixes: [], servicePrefixes: [`SERVICE:${m}/${p.subsystemCode}/`] }
    : { clients: [], clientPrefixes: [], servicePrefixes: [], services: [...MEMBER_SERVICES].map((code) => `SERVICE:${m}/${code}`) };
}

/** Whether the client is the central monitoring client the global configuration names. */
function isMonitoringClient(conf: GlobalConf, client: SubsystemId): boolean {
  const mc = conf.shared.settings.monitoringClient;
  return !!mc && sameSubsystem(client, { instance: conf.instance, ...mc });
}

/** Whether the client is this server's owner (one of its subsystems: only subsystems are clients of the axis). */
const isOwner = (ctx: ServerContext, client: SubsystemId) => sameMember(client, ctx.id);

/**
 * Whether the request's `securityServer` header names this server. PR-OPMON §2 has the owner name its server
 * there, and X-Road takes a caller for the owner only then (isServerOwner looks the owner up by that
 * header): an owner that leaves it out sees what any other client sees.
 */
function namesThisServer(ctx: ServerContext, request: ParsedSoap): boolean {
  const s = request.fields.securityServer;
  if (!s || s.objectType !== 'SERVER') return false;
  const p = s.parts;
  return p.xRoadInstance === ctx.id.instance && p.memberClass === ctx.id.memberClass && p.memberCode === ctx.id.memberCode && p.serverCode === ctx.id.serverCode;
}

function seconds(el: BodyElement | undefined, name: string): number {
  if (!el) throw invalid(`searchCriteria/${name} is required (Unix time in seconds)`, `cần searchCriteria/${name} (thời điểm Unix, giây)`);
  if (!/^-?\d{1,15}$/.test(el.text)) throw invalid(`searchCriteria/${name} is not a Unix time in seconds: "${el.text.slice(0, 40)}"`, `searchCriteria/${name} không phải thời điểm Unix tính bằng giây`);
  return Number(el.text);
}

const sec = (r: OpRecord) => Math.floor(r.finishedAt.getTime() / 1000);

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * The server's internal IP address (Annex B's securityServerInternalIp, an IPv4 address): the one its
 * information systems' listener is bound to, or — bound to every address, or to an IPv6 one — the host's
 * first IPv4 address that is not loopback; 127.0.0.1 on a host with none.
 */
export function internalIp(listenerHost: string | undefined, interfaces = networkInterfaces()): string {
  if (listenerHost && IPV4.test(listenerHost) && listenerHost !== '0.0.0.0') return listenerHost;
  for (const list of Object.values(interfaces))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal && IPV4.test(a.address)) return a.address;
  return '127.0.0.1';
}

/** Annex B's longest strings: faultString 2,048 characters, every other 255. */
const maxLength = (field: string) => (field === 'faultString' ? 2048 : 255);

/**
 * A string field cut to Annex B's maxLength (counted in characters, as JSON Schema counts them), so that a
 * schema-checking reader takes the record: a client may send an X-Road-UserId, X-Road-Issue or REST path
 * longer than that, which the exchange carries whole and the record keeps.
 */
export function fitField(field: string, value: string): string {
  const max = maxLength(field);
  if (value.length <= max) return value;
  return Array.from(value).slice(0, max).join('');
}

/** What a record names of this server and the one it exchanged with. */
interface RecordContext {
  /** this server's address in the global configuration */
  own: string | undefined;
  /** left out for a client that does not see all (X-Road's public output fields lack it) */
  internalIp?: string;
}

/** One operational record as Annex B writes it (fields this server does not keep are left out). */
function recordJson(at: RecordContext, snap: ServerSnapshot, r: OpRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    monitoringDataTs: sec(r),
    ...(at.internalIp !== undefined ? { securityServerInternalIp: at.internalIp } : {}),
    securityServerType: r.side === 'provider' ? 'Producer' : 'Client',
    requestInTs: r.startedAt.getTime(),
    ...(r.requestOutAt !== undefined ? { requestOutTs: r.requestOutAt } : {}),
    ...(r.responseInAt !== undefined ? { responseInTs: r.responseInAt } : {}),
    responseOutTs: r.finishedAt.getTime(),
  };
  if (r.client)
    try {
      const c = parseSubsystem(r.client);
      Object.assign(out, { clientXRoadInstance: c.instance, clientMemberClass: c.memberClass, clientMemberCode: c.memberCode, clientSubsystemCode: c.subsystemCode });
    } catch {
      // a refusal before the client was known
    }
  let service: ServiceId | undefined;
  if (r.service)
    try {
      service = parseMessageService(r.service);
      Object.assign(out, {
        serviceXRoadInstance: service.instance,
        serviceMemberClass: service.memberClass,
        serviceMemberCode: service.memberCode,
        ...(service.subsystemCode ? { serviceSubsystemCode: service.subsystemCode } : {}),
        serviceCode: service.serviceCode,
        ...(service.serviceVersion ? { serviceVersion: service.serviceVersion } : {}),
      });
    } catch {
      // not an identifier this server can read back
    }
  if (r.representedClass !== undefined) out.representedPartyClass = r.representedClass;
  if (r.representedCode !== undefined) out.representedPartyCode = r.representedCode;
  if (r.method) out.restMethod = r.method;
  if (r.path) out.restPath = r.path;
  out.messageId = r.messageId;
  if (r.userId) out.messageUserId = r.userId;
  if (r.issue) out.messageIssue = r.issue;
  if (r.protocol === 'soap') out.messageProtocolVersion = '4.0';
  // both servers' addresses, as X-Road gives them in both sides' records (X-Road Metrics pairs the two by them)
  const [clientSide, serviceSide] = r.side === 'provider' ? [r.peerAddress, at.own] : [at.own, r.peerAddress];
  if (clientSide) out.clientSecurityServerAddress = clientSide;
  if (serviceSide) out.serviceSecurityServerAddress = serviceSide;
  // a SOAP message's size is its SOAP part's, as X-Road counts it; with attachments (SOAP multipart; REST and
  // text/xml have none) the MIME size beside it: the SOAP part's and the attachments' contents together, their
  // headers and delimiters left out, as X-Road adds them up (records of earlier releases: the whole body)
  out.requestSize = r.requestSoapBytes ?? r.requestBytes;
  if (r.requestAttachments !== undefined) {
    out.requestAttachmentCount = r.requestAttachments;
    if (r.requestAttachments > 0) out.requestMimeSize = r.requestMimeBytes ?? r.requestBytes;
  }
  out.responseSize = r.responseSoapBytes ?? r.responseBytes;
  if (r.responseAttachments !== undefined) {
    out.responseAttachmentCount = r.responseAttachments;
    if (r.responseAttachments > 0) out.responseMimeSize = r.responseMimeBytes ?? r.responseBytes;
  }
  out.succeeded = !r.error;
  if (r.error) {
    // as the client was told it (records of an earlier release kept the code alone: the fault from it)
    out.faultCode = r.fault ?? xroadFault(r.side === 'provider' ? 'ServerProxy' : 'ClientProxy', new TrucError(r.error as never, r.error));
    out.faultString = r.faultString ?? r.error;
  }
  // the provider's own services have a known type; the consumer's side does not know the provider's
  const row = r.side === 'provider' && r.service ? snap.services.get(r.service) : undefined;
  if (row) out.serviceType = opmonServiceType(row);
  // a metaservice the provider's server answered itself: REST for PR-MREST's, WSDL for PR-META's, as X-Road records them
  else if (r.side === 'provider' && service?.subsystemCode && (r.protocol === 'soap' ? SOAP_META_SERVICES : META_SERVICES).has(service.serviceCode)) out.serviceType = r.protocol === 'soap' ? 'WSDL' : 'REST';
  if (r.status !== undefined) out.statusCode = r.status;
  out.xRoadVersion = `Trục ${TRUC_VERSION}`;
  if (r.requestId) out.xRequestId = r.requestId;
  for (const [k, v] of Object.entries(out)) if (typeof v === 'string') out[k] = fitField(k, v);
  return out;
}

async function operationalData(ctx: ServerContext, conf: GlobalConf, client: SubsystemId, request: ParsedSoap): Promise<IncomingMessage> {
  const els = bodyElements(request);
  const from = seconds(
    els.find((e) => e.path === 'searchCriteria/recordsFrom'),
    'recordsFrom',
  );
  let to = seconds(
    els.find((e) => e.path === 'searchCriteria/recordsTo'),
    'recordsTo',
  );
  const wanted = partner(els, 'searchCriteria/client');
  // the checks and their order are X-Road's (OperationalDataRequestHandler): a period that cannot hold a
  // record yet is refused, not answered empty, so that a collector asking too early is told so
  if (from < 0) throw invalid(`recordsFrom (${from}) is a negative number`, `recordsFrom (${from}) là số âm`);
  if (to < 0) throw invalid(`recordsTo (${to}) is a negative number`, `recordsTo (${to}) là số âm`);
  if (to < from) throw invalid(`recordsTo (${to}) is before recordsFrom (${from})`, `recordsTo (${to}) trước recordsFrom (${from})`);
  // the first second whose records are not given yet
  const available = Math.floor(ctx.clock().getTime() / 1000) - OPMON_OFFSET_SECONDS;
  if (from >= available)
    throw invalid(`records from ${from} are not available yet: recordsFrom must be before ${available} (now − ${OPMON_OFFSET_SECONDS} s)`, `chưa có bản ghi từ ${from}: recordsFrom phải trước ${available} (hiện tại − ${OPMON_OFFSET_SECONDS} giây)`);
  const fields = els.filter((e) => e.path === 'outputSpec/outputField').map((e) => e.text);
  for (const f of fields) if (!KNOWN_FIELDS.has(f)) throw invalid(`outputSpec names an unknown field "${f.slice(0, 80)}"`, `outputSpec nêu trường không tồn tại "${f.slice(0, 80)}"`);
  const all = isMonitoringClient(conf, client) || (isOwner(ctx, client) && namesThisServer(ctx, request));
  const who = [];
  if (wanted) who.push(providedBy(wanted));
  if (!all) who.push(takingPart(client));
  // the last seconds are not given yet: the answer says where to go on
  let next: number | undefined;
  if (to >= available) {
    to = available - 1;
    next = available;
  }
  const got = await ctx.ops.finishedBetween(from * 1000, (to + 1) * 1000, OPMON_MAX_RECORDS + 1, who, ctx.limits.opmonScanRows);
  let rows = got.rows;
  // the first second not given whole: past the records an answer holds, or past the records a filtered
  // query reads; the answer stops before it, so that following nextRecordsFrom loses and repeats none
  let cut: number | undefined;
  if (rows.length > OPMON_MAX_RECORDS) cut = sec(rows[OPMON_MAX_RECORDS]!);
  if (got.scannedTo !== undefined) cut = Math.min(cut ?? Infinity, Math.floor(got.scannedTo / 1000));
  if (cut !== undefined) {
    rows = rows.filter((r) => sec(r) < cut);
    if (cut > from) next = cut;
    else {
      // a single second holding more than either bound is given whole
      rows = (await ctx.ops.finishedBetween(cut * 1000, (cut + 1) * 1000, OPMON_MAX_RECORDS * 10, who)).rows;
      next = cut + 1;
    }
  }
  const snap = await ctx.store.snapshot();
  // the server's internal address only for those who see all, even when outputSpec names it (X-Road's public output fields)
  const at: RecordContext = { own: conf.server(ctx.id)?.address, ...(all ? { internalIp: internalIp(ctx.isHost) } : {}) };
  const records = rows.map((r) => {
    const full = recordJson(at, snap, r);
    if (!fields.length) return full;
    const picked: Record<string, unknown> = {};
    for (const f of fields) if (f in full) picked[f] = full[f];
    return picked;
  });
  const payload = await promisify(gzip)(Buffer.from(JSON.stringify({ records }), 'utf8'));
  const envelope = soapEnvelope(
    request.fields,
    `<om:getSecurityServerOperationalDataResponse><om:recordsCount>${records.length}</om:recordsCount><om:records>cid:${ATTACHMENT}</om:records>` +
      `${next !== undefined ? `<om:nextRecordsFrom>${next}</om:nextRecordsFrom>` : ''}</om:getSecurityServerOperationalDataResponse>`,
    ` xmlns:om="${OPMON_NS}"`,
  );
  return localMultipartAnswer(envelope, { id: ATTACHMENT, type: 'application/gzip', binary: true, bytes: payload }, 'opmon');
}

const num = (v: number | undefined, tag: string, int: boolean) => (v === undefined || !Number.isFinite(v) ? '' : `<om:${tag}>${int ? Math.round(v) : v}</om:${tag}>`);

async function healthData(ctx: ServerContext, request: ParsedSoap): Promise<IncomingMessage> {
  const els = bodyElements(request);
  // every service's, whoever asks: X-Road's HealthDataRequestHandler filters by filterCriteria alone. Its
  // provider must be the one named: a member's own services (with no subsystem), not its subsystems', as X-Road
  // compares the whole provider identifier
  const wanted = partner(els, 'filterCriteria/client');
  const provides = (s: ServiceId) => !wanted || (sameMember(s, wanted.member) && s.subsystemCode === (wanted.subsystemCode ?? ''));
  const now = ctx.clock().getTime();
  const snap = await ctx.store.snapshot();
  const items: string[] = [];
  for (const [text, h] of [...ctx.health].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!h.served) continue;
    let s: ServiceId;
    try {
      s = parseMessageService(text);
    } catch {
      continue;
    }
    if (!provides(s)) continue;
    const served = h.served;
    const st = served.window.summary(now);
    const row = snap.services.get(text);
    const parts: Record<string, string> = { xRoadInstance: s.instance, memberClass: s.memberClass, memberCode: s.memberCode, ...(s.subsystemCode ? { subsystemCode: s.subsystemCode } : {}), serviceCode: s.serviceCode, ...(s.serviceVersion ? { serviceVersion: s.serviceVersion } : {}) };
    items.push(
      '<om:serviceEvents>' +
        `<om:service id:objectType="SERVICE">${Object.entries(parts)
          .map(([k, v]) => `<id:${k}>${xmlEscape(v)}</id:${k}>`)
          .join('')}</om:service>` +
        num(served.lastSuccessAt, 'lastSuccessfulRequestTimestamp', true) +
        num(served.lastFailureAt, 'lastUnsuccessfulRequestTimestamp', true) +
        (row ? `<om:serviceType>${opmonServiceType(row)}</om:serviceType>` : '') +
        '<om:lastPeriodStatistics>' +
        `<om:successfulRequestCount>${st.ok}</om:successfulRequestCount><om:unsuccessfulRequestCount>${st.failed}</om:unsuccessfulRequestCount>` +
        (st.ok
          ? num(st.duration.min, 'requestMinDuration', true) +
            num(st.duration.avg, 'requestAverageDuration', false) +
            num(st.duration.max, 'requestMaxDuration', true) +
            num(st.duration.sd, 'requestDurationStdDev', false) +
            num(st.requestSize.min, 'requestMinSize', true) +
            num(st.requestSize.avg, 'requestAverageSize', false) +
            num(st.requestSize.max, 'requestMaxSize', true) +
            num(st.requestSize.sd, 'requestSizeStdDev', false) +
            num(st.responseSize.min, 'responseMinSize', true) +
            num(st.responseSize.avg, 'responseAverageSize', false) +
            num(st.responseSize.max, 'responseMaxSize', true) +
            num(st.responseSize.sd, 'responseSizeStdDev', false)
          : '') +
        '</om:lastPeriodStatistics></om:serviceEvents>',
    );
  }
  const body = soapEnvelope(
    request.fields,
    `<om:getSecurityServerHealthDataResponse><om:monitoringStartupTimestamp>${ctx.ops.since.getTime()}</om:monitoringStartupTimestamp>` +
      `<om:statisticsPeriodSeconds>${HEALTH_PERIOD_SECONDS}</om:statisticsPeriodSeconds><om:servicesEvents>${items.join('')}</om:servicesEvents></om:getSecurityServerHealthDataResponse>`,
    ` xmlns:om="${OPMON_NS}"`,
  );
  return localAnswer(body, 'text/xml; charset=utf-8');
}

export const ENVMON_NS = 'http://x-road.eu/xsd/monitoring';

const metric = (kind: 'numeric' | 'string', name: string, value: string | number | undefined) =>
  value === undefined || (typeof value === 'number' && !Number.isFinite(value)) ? '' : `<m:${kind}Metric><m:name>${xmlEscape(name)}</m:name><m:value>${xmlEscape(String(value))}</m:value></m:${kind}Metric>`;
const metricSet = (name: string, inner: string) => `<m:metricSet><m:name>${xmlEscape(name)}</m:name>${inner}</m:metricSet>`;

/**
 * The host's metrics, by name: /proc's view of memory, swap and this process's descriptors (Linux); what cannot
 * be read is left out.
 */
async function hostMetrics(): Promise<[name: string, xml: string][]> {
  const read = (p: string) => readFile(p, 'utf8').catch(() => '');
  const meminfo = await read('/proc/meminfo');
  const kib = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(meminfo);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const limits = /^Max open files\s+(\d+)/m.exec(await read('/proc/self/limits'));
  const fds = await readdir('/proc/self/fd').then(
    (l) => l.length,
    () => undefined,
  );
  const stat = await read('/proc/self/stat');
  // the fields after the command's name (which may itself hold ") "): vsize is the 23rd of the line
  const vsize = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[20];
  const named: [string, 'numeric' | 'string', string | number | undefined][] = [
    ['OperatingSystem', 'string', `${type()} ${release()}`],
    ['TotalPhysicalMemory', 'numeric', totalmem()],
    ['FreePhysicalMemory', 'numeric', kib('MemAvailable') ?? freemem()],
    ['TotalSwapSpace', 'numeric', kib('SwapTotal')],
    ['FreeSwapSpace', 'numeric', kib('SwapFree')],
    ['CommittedVirtualMemory', 'numeric', vsize ? Number(vsize) : undefined],
    ['OpenFileDescriptorCount', 'numeric', fds],
    ['MaxFileDescriptorCount', 'numeric', limits ? Number(limits[1]) : undefined],
    ['SystemCpuLoad', 'numeric', Math.min(1, loadavg()[0]! / Math.max(1, availableParallelism()))],
    ['ProcessResidentMemory', 'numeric', process.memoryUsage.rss()],
    ['Uptime', 'numeric', Math.round(uptime())],
  ];
  return named.map(([name, kind, value]) => [name, metric(kind, name, value)]);
}

/** An instant as ISO 8601 to the second (a certificate's validity has no fractions): `2026-12-07T08:00:00Z`. */
const isoSecond = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * This server's authentication and signing certificates, as X-Road's Certificates metric set lists its token's
 * (CertificateInfoSensor): a set `certificate-<hash>` each, the hash the certificate's SHA-256 — current
 * X-Road's certificate hash, still under the field name `sha1Hash` — in upper-case hex with a colon every two
 * characters, type `AUTH_OR_SIGN` (X-Road does not tell the two apart there). `active` says whether the
 * certificate is within its validity now.
 */
function certificateMetrics(ctx: ServerContext): string {
  const now = ctx.clock().getTime();
  const one = (der: Buffer) => {
    const c = new X509Certificate(der);
    const from = new Date(c.validFrom);
    const to = new Date(c.validTo);
    const hash = createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
    return metricSet(
      `certificate-${hash}`,
      metric('string', 'sha1Hash', hash) +
        metric('string', 'notBefore', isoSecond(from)) +
        metric('string', 'notAfter', isoSecond(to)) +
        metric('string', 'certificateType', 'AUTH_OR_SIGN') +
        metric('string', 'active', String(from.getTime() <= now && now <= to.getTime())),
    );
  };
  return metricSet('Certificates', one(ctx.authCert) + one(ctx.signCert));
}

/**
 * `getSecurityServerMetrics` (X-Road's environmental monitoring, PR-ENVMONMES): one metric set named after the
 * server holding exactly `proxyVersion` and the set `systemMetrics` (§2.2), which holds everything else — the
 * system's memory, swap, load and descriptors, the certificates' validity (`Certificates`), and Trục's own
 * message-log state (`messageLog`: records waiting for a time-stamp, the last one, whether new messages are
 * refused) — so that a reader of X-Road's answer finds each where X-Road puts it. `outputSpec/outputField`
 * names the metrics and sets of systemMetrics to give (none named: all), as X-Road's SystemMetricsFilter picks
 * them. For the owner and the central monitoring client only, as in X-Road, which asks no securityServer
 * header of them here.
 */
function securityServerMetrics(ctx: ServerContext, conf: GlobalConf, client: SubsystemId, request: ParsedSoap): Promise<IncomingMessage> {
  if (!isOwner(ctx, client) && !isMonitoringClient(conf, client))
    return Promise.reject(
      new TrucError('access_denied', `the metrics of ${serverText(ctx.id)} are for its owner and the central monitoring client`, {
        reason_vi: `số liệu của ${serverText(ctx.id)} chỉ dành cho chủ sở hữu máy chủ và hệ thống giám sát trung tâm`,
      }),
    );
  return (async () => {
    const names = new Set(bodyElements(request).filter((e) => e.path === 'outputSpec/outputField').map((e) => e.text));
    const wanted = (name: string) => names.size === 0 || names.has(name);
    const log = ctx.log.health();
    const system: [string, string][] = [
      ['Certificates', wanted('Certificates') ? certificateMetrics(ctx) : ''],
      ...(await hostMetrics()),
      [
        'messageLog',
        metricSet(
          'messageLog',
          metric('numeric', 'unstampedRecords', log.unstamped) +
            metric('string', 'lastTimestampAt', log.lastTimestampAt?.toISOString()) +
            metric('string', 'refusingNewMessages', String(log.refusing)),
        ),
      ],
    ];
    const inner =
      metric('string', 'proxyVersion', `Trục ${TRUC_VERSION}`) +
      metricSet(
        'systemMetrics',
        system
          .filter(([name]) => wanted(name))
          .map(([, xml]) => xml)
          .join(''),
      );
    const body = soapEnvelope(request.fields, `<m:getSecurityServerMetricsResponse>${metricSet(serverText(ctx.id), inner)}</m:getSecurityServerMetricsResponse>`, ` xmlns:m="${ENVMON_NS}"`);
    return localAnswer(body, 'text/xml; charset=utf-8');
  })();
}

/** The answer to a monitoring request addressed to this server's owner. */
export function opmonAnswer(ctx: ServerContext, conf: GlobalConf, service: ServiceId, client: SubsystemId, request: ParsedSoap): Promise<IncomingMessage> {
  if (service.serviceCode === 'getSecurityServerOperationalData') return operationalData(ctx, conf, client, request);
  if (service.serviceCode === 'getSecurityServerHealthData') return healthData(ctx, request);
  if (service.serviceCode === 'getSecurityServerMetrics') return securityServerMetrics(ctx, conf, client, request);
  return Promise.reject(new TrucError('unknown_service', `${service.serviceCode} is not an operational monitoring service`));
}

