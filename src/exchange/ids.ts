/**
 * Identifiers of the axis, as X-Road writes them. An instance (`VN`) holds members of a class (`GOV`, `PROV`,
 * `COM`, …) with a member code (for agencies the `NNN.NN.NN.Xnn` code, e.g. `000.00.00.G22`); a member has
 * subsystems (`vanthu`), only subsystems are clients, and a subsystem provides services with an optional
 * version. Text forms:
 *
 *   MEMBER:VN/GOV/000.00.00.G22
 *   SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu
 *   SERVICE:VN/GOV/000.00.00.G22/vanthu/getDocument[/v1]
 *   SERVER:VN/GOV/000.00.00.G22/ss1
 *   GLOBALGROUP:VN/bo-nganh           LOCALGROUP:nhom-noi-bo
 *
 * and the `X-Road-Client` header form without the type (`VN/GOV/000.00.00.G22/vanthu`). Parts may not be
 * empty nor hold `/`, `:`, `;`, `%`, `\`, white space or control characters (X-Road's rule), nor invisible
 * format characters (a right-to-left override, a zero-width space: names that read as another's), may not be
 * `.` or `..` (an /r1/ path cannot carry them: clients resolve them away), and are at most 255 characters;
 * parsing refuses anything else with `bad_identifier`, in English with `reason_vi` beside.
 */
import { TrucError } from '../errors.js';

export interface MemberId {
  instance: string;
  memberClass: string;
  memberCode: string;
}
export interface SubsystemId extends MemberId {
  subsystemCode: string;
}
export interface ServiceId extends SubsystemId {
  serviceCode: string;
  serviceVersion?: string;
}
export interface ServerId extends MemberId {
  serverCode: string;
}

const MAX_PART = 255;
// X-Road forbids these in identifier parts; we also forbid white space, control characters and invisible
// format characters (U+202E RIGHT-TO-LEFT OVERRIDE, U+200B ZERO WIDTH SPACE, …: an identifier that reads as another's)
const FORBIDDEN = /[/:;%\\\s\p{Cc}\p{Cf}]/u;

/** the Vietnamese names of identifier parts, for `reason_vi` */
const PART_VI: Record<string, string> = {
  instance: 'mã hệ thống (instance)',
  'member class': 'loại thành viên',
  'member code': 'mã thành viên',
  'subsystem code': 'mã phân hệ',
  'service code': 'mã dịch vụ',
  'service version': 'phiên bản dịch vụ',
  'server code': 'mã máy chủ an ninh',
  'group code': 'mã nhóm',
  'CA name': 'tên CA',
};
const partVi = (what: string) => PART_VI[what] ?? what;

/** A value as a message may show it: control and invisible format characters written as \uXXXX. */
const shown = (v: string) => v.slice(0, 80).replace(/[\p{Cc}\p{Cf}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export function checkPart(what: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new TrucError('bad_identifier', `${what} is empty`, { part: what, reason_vi: `${partVi(what)} để trống` });
  if (value.length > MAX_PART)
    throw new TrucError('bad_identifier', `${what} is longer than ${MAX_PART} characters`, { part: what, reason_vi: `${partVi(what)} dài quá ${MAX_PART} ký tự` });
  if (FORBIDDEN.test(value))
    throw new TrucError('bad_identifier', `${what} "${shown(value)}" holds a character identifiers may not hold (/ : ; % \\, white space, control or invisible format characters)`, {
      part: what,
      value: shown(value),
      reason_vi: `${partVi(what)} "${shown(value)}" chứa ký tự định danh không được chứa (/ : ; % \\, khoảng trắng, ký tự điều khiển hoặc ký tự định dạng vô hình)`,
    });
  if (value === '.' || value === '..')
    throw new TrucError('bad_identifier', `${what} may not be "${value}": clients resolve "." and ".." away from a URL path`, {
      part: what,
      value,
      reason_vi: `${partVi(what)} không được là "${value}": máy khách bỏ "." và ".." khỏi đường dẫn URL`,
    });
  return value.normalize('NFC');
}

function parts(text: string, type: string, min: number, max: number): string[] {
  const prefix = `${type}:`;
  if (!text.startsWith(prefix))
    throw new TrucError('bad_identifier', `"${shown(text)}" is not a ${type} identifier`, { value: shown(text), reason_vi: `"${shown(text)}" không phải định danh ${type}` });
  return splitParts(text.slice(prefix.length), type, min, max);
}

function splitParts(body: string, what: string, min: number, max: number): string[] {
  const p = body.split('/');
  const n = min === max ? `${min}` : `${min}–${max}`;
  if (p.length < min || p.length > max)
    throw new TrucError('bad_identifier', `a ${what} identifier has ${n} parts separated by "/": "${shown(body)}"`, { value: shown(body), reason_vi: `định danh ${what} gồm ${n} phần cách nhau bởi "/": "${shown(body)}"` });
  return p;
}

export function memberId(instance: string, memberClass: string, memberCode: string): MemberId {
  return { instance: checkPart('instance', instance), memberClass: checkPart('member class', memberClass), memberCode: checkPart('member code', memberCode) };
}

export function subsystemId(m: MemberId, subsystemCode: string): SubsystemId {
  return { ...memberId(m.instance, m.memberClass, m.memberCode), subsystemCode: checkPart('subsystem code', subsystemCode) };
}

export function serviceId(s: SubsystemId, serviceCode: string, serviceVersion?: string): ServiceId {
  return { ...subsystemId(s, s.subsystemCode), serviceCode: checkPart('service code', serviceCode), ...(serviceVersion ? { serviceVersion: checkPart('service version', serviceVersion) } : {}) };
}

/**
 * A service a member offers itself, with no subsystem: on this axis only X-Road's monitoring services
 * (`getSecurityServerOperationalData`, `getSecurityServerHealthData`, PR-OPMON; `getSecurityServerMetrics`,
 * PR-ENVMONMES), which the owner of a security server offers. Its `subsystemCode` is empty, and its text has four parts:
 * `SERVICE:VN/GOV/000.00.00.G22/getSecurityServerHealthData`.
 */
export const MEMBER_SERVICES: ReadonlySet<string> = new Set(['getSecurityServerOperationalData', 'getSecurityServerHealthData', 'getSecurityServerMetrics']);

export function memberServiceId(m: MemberId, serviceCode: string): ServiceId {
  if (!MEMBER_SERVICES.has(serviceCode))
    throw new TrucError('unknown_service', `services of the axis belong to subsystems; a member itself offers only ${[...MEMBER_SERVICES].join(', ')}`, {
      reason_vi: `dịch vụ trên trục thuộc về phân hệ; bản thân thành viên chỉ cung cấp ${[...MEMBER_SERVICES].join(', ')}`,
    });
  return { ...memberId(m.instance, m.memberClass, m.memberCode), subsystemCode: '', serviceCode: checkPart('service code', serviceCode) };
}

/** Whether a service is one a member offers itself (see `memberServiceId`). */
export const isMemberService = (s: ServiceId) => s.subsystemCode === '';

export function serverId(m: MemberId, serverCode: string): ServerId {
  return { ...memberId(m.instance, m.memberClass, m.memberCode), serverCode: checkPart('server code', serverCode) };
}

/**
 * Parsed identifiers, by text: a security server parses the same few client and service identifiers on
 * every message (headers, signed header, log records, access checks), and the checks above cost more than
 * the lookup. Bounded (cleared when full); callers get their own copy; a text that fails is not kept.
 */
const CACHE_MAX = 4096;
function cached<T extends object>(cache: Map<string, Readonly<T>>, text: string, parse: (t: string) => T): T {
  const hit = cache.get(text);
  if (hit) return { ...hit };
  const v = parse(text);
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(text, Object.freeze({ ...v }));
  return v;
}
const members = new Map<string, Readonly<MemberId>>();
const subsystems = new Map<string, Readonly<SubsystemId>>();
const services = new Map<string, Readonly<ServiceId>>();
// a separate cache: parseService must keep refusing the member services parseMessageService reads
const memberServices = new Map<string, Readonly<ServiceId>>();
const servers = new Map<string, Readonly<ServerId>>();
const clientHeaders = new Map<string, Readonly<SubsystemId>>();

export function parseMember(text: string): MemberId {
  return cached(members, text, (t) => {
    const [i, c, m] = parts(t, 'MEMBER', 3, 3) as [string, string, string];
    return memberId(i, c, m);
  });
}

export function parseSubsystem(text: string): SubsystemId {
  return cached(subsystems, text, (t) => {
    const [i, c, m, s] = parts(t, 'SUBSYSTEM', 4, 4) as [string, string, string, string];
    return subsystemId(memberId(i, c, m), s);
  });
}

export function parseService(text: string): ServiceId {
  return cached(services, text, (t) => {
    const [i, c, m, s, code, v] = parts(t, 'SERVICE', 5, 6) as [string, string, string, string, string, string?];
    return serviceId(subsystemId(memberId(i, c, m), s), code, v);
  });
}

/**
 * A service identifier as the signed message header carries it: a subsystem's service, or a member's own
 * (four parts, see `memberServiceId`). Only the message path reads member services; what an operator
 * registers or grants is always a subsystem's (`parseService`).
 */
export function parseMessageService(text: string): ServiceId {
  // a subsystem's service, already read, or a text whose parts are not four: `parseService` (cached)
  if (services.has(text) || (!memberServices.has(text) && slashes(text) !== 3)) return parseService(text);
  return cached(memberServices, text, (t) => {
    const [i, c, m, code] = parts(t, 'SERVICE', 4, 4) as [string, string, string, string];
    return memberServiceId(memberId(i, c, m), code);
  });
}

function slashes(text: string): number {
  let n = 0;
  for (let i = text.indexOf('/'); i >= 0; i = text.indexOf('/', i + 1)) n++;
  return n;
}

export function parseServer(text: string): ServerId {
  return cached(servers, text, (t) => {
    const [i, c, m, s] = parts(t, 'SERVER', 4, 4) as [string, string, string, string];
    return serverId(memberId(i, c, m), s);
  });
}

/** The `X-Road-Client` header: `INSTANCE/CLASS/MEMBER/SUBSYSTEM` (a member alone is not a client). */
export function parseClientHeader(text: string): SubsystemId {
  return cached(clientHeaders, text, (t) => {
    const [i, c, m, s] = splitParts(t.trim(), 'X-Road-Client', 4, 4) as [string, string, string, string];
    return subsystemId(memberId(i, c, m), s);
  });
}

export const memberText = (m: MemberId) => `MEMBER:${m.instance}/${m.memberClass}/${m.memberCode}`;
export const subsystemText = (s: SubsystemId) => `SUBSYSTEM:${s.instance}/${s.memberClass}/${s.memberCode}/${s.subsystemCode}`;
export const serviceText = (s: ServiceId) =>
  s.subsystemCode === ''
    ? `SERVICE:${s.instance}/${s.memberClass}/${s.memberCode}/${s.serviceCode}`
    : `SERVICE:${s.instance}/${s.memberClass}/${s.memberCode}/${s.subsystemCode}/${s.serviceCode}${s.serviceVersion ? `/${s.serviceVersion}` : ''}`;
export const serverText = (s: ServerId) => `SERVER:${s.instance}/${s.memberClass}/${s.memberCode}/${s.serverCode}`;
/** `X-Road-Client` header form */
export const clientHeader = (s: SubsystemId) => `${s.instance}/${s.memberClass}/${s.memberCode}/${s.subsystemCode}`;

/** The member a subsystem, service or server belongs to. */
export const memberOf = (x: MemberId): MemberId => ({ instance: x.instance, memberClass: x.memberClass, memberCode: x.memberCode });
/** The subsystem a service belongs to. */
export const subsystemOf = (x: SubsystemId): SubsystemId => ({ ...memberOf(x), subsystemCode: x.subsystemCode });

export const sameMember = (a: MemberId, b: MemberId) => a.instance === b.instance && a.memberClass === b.memberClass && a.memberCode === b.memberCode;
export const sameSubsystem = (a: SubsystemId, b: SubsystemId) => sameMember(a, b) && a.subsystemCode === b.subsystemCode;

/** Agency codes as the national register writes them: `NNN.NN.NN.Xnn` (e.g. `000.00.00.G22`, `000.00.31.H29`). */
export const AGENCY_CODE = /^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$/;

/**
 * A represented party (X-Road's third-party representation extension, PR-THIRDPARTY): the party a client
 * subsystem acts for, which need not be a member — a code, and optionally its class.
 */
export interface RepresentedParty {
  partyClass?: string;
  partyCode: string;
}

const PARTY_MAX = 255;

function partyPart(text: string, what: string): string {
  if (!text) throw new TrucError('bad_request', `the represented party's ${what} is empty`, { reason_vi: `${what === 'code' ? 'mã' : 'loại'} của bên được đại diện để trống` });
  if (text.length > PARTY_MAX || /[\p{Cc}]/u.test(text))
    throw new TrucError('bad_request', `the represented party's ${what} is longer than ${PARTY_MAX} characters or holds control characters`, {
      reason_vi: `${what === 'code' ? 'mã' : 'loại'} của bên được đại diện dài quá ${PARTY_MAX} ký tự hoặc chứa ký tự điều khiển`,
    });
  return text;
}

/** Checks a represented party's parts (from a SOAP header, or decoded from REST's header). */
export function representedParty(partyClass: string | undefined, partyCode: string): RepresentedParty {
  return { ...(partyClass !== undefined ? { partyClass: partyPart(partyClass, 'class') } : {}), partyCode: partyPart(partyCode, 'code') };
}

/**
 * REST's `X-Road-Represented-Party` header: `[CLASS/]CODE`, each part percent-encoded UTF-8 (as the other
 * identifier headers); `bad_request` for anything else (three parts, an empty one, a broken escape).
 */
export function parseRepresentedPartyHeader(text: string): RepresentedParty {
  const parts = text.trim().split('/');
  if (parts.length > 2)
    throw new TrucError('bad_request', 'the X-Road-Represented-Party header is [CLASS/]CODE, not more parts', { reason_vi: 'tiêu đề X-Road-Represented-Party có dạng [LOẠI/]MÃ' });
  let decoded: string[];
  try {
    decoded = parts.map((p) => decodeURIComponent(p));
  } catch {
    throw new TrucError('bad_request', 'the X-Road-Represented-Party header holds a malformed percent-encoding', { reason_vi: 'tiêu đề X-Road-Represented-Party có mã hoá phần trăm sai' });
  }
  return decoded.length === 2 ? representedParty(decoded[0], decoded[1]!) : representedParty(undefined, decoded[0]!);
}

/** The header form of a represented party (each part percent-encoded where it must be). */
export const representedPartyHeader = (r: RepresentedParty) =>
  `${r.partyClass !== undefined ? `${encodeURIComponent(r.partyClass)}/` : ''}${encodeURIComponent(r.partyCode)}`;
