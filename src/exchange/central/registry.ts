/**
 * The registry an operator keeps: members, their subsystems, security servers, global groups, approved
 * certification authorities (with their OCSP responders) and time-stamping authorities, and the settings
 * the configuration carries. Identifiers are checked with `ids.ts`; every change is audited, published and
 * marks the configuration for regeneration.
 */
import { X509Certificate } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { TrucError } from '../../errors.js';
import { checkPart, memberId, memberText, serverText, subsystemText, type MemberId, type ServerId, type SubsystemId } from '../ids.js';
import { listCas, urls, type PkiContext } from '../../pki/index.js';
import { change, conflict, DEFAULT_CENTRAL_SETTINGS, loadSettings, type CentralContext, type CentralSettings } from './context.js';
import * as store from './store.js';
import { sha256Hex } from '../conf/signed.js';

type MemberRef = Pick<MemberId, 'memberClass' | 'memberCode'>;
type SubsystemRef = Pick<SubsystemId, 'memberClass' | 'memberCode' | 'subsystemCode'>;
type ServerRef = Pick<ServerId, 'memberClass' | 'memberCode' | 'serverCode'>;

const MAX_NAME = 500;
const MAX_CERT = 16 * 1024;
const MAX_URLS = 8;

/** the Vietnamese names of what the registry checks, for its refusals (Vietnamese, then English) */
const VI: Record<string, string> = {
  'member name': 'tên thành viên',
  'group description': 'mô tả nhóm',
  'TSA name': 'tên TSA',
  'member class description': 'mô tả loại thành viên',
  'OCSP URL': 'URL OCSP',
  'TSA URL': 'URL TSA',
  'the CA certificate': 'chứng thư CA',
  'an intermediate certificate': 'chứng thư CA trung gian',
  'the TSA certificate': 'chứng thư TSA',
};
const vi = (what: string) => VI[what] ?? what;

function text(what: string, v: unknown, max = MAX_NAME): string {
  if (typeof v !== 'string' || v.trim().length === 0 || v.length > max || /\p{Cc}/u.test(v))
    throw new TrucError('bad_request', `${vi(what)} phải có 1–${max} ký tự in được / ${what} must be 1–${max} printable characters`);
  return v.trim().normalize('NFC');
}

export function checkUrl(what: string, v: unknown, schemes = ['http:', 'https:']): string {
  if (typeof v !== 'string' || v.length > 2000) throw new TrucError('bad_request', `${vi(what)} không phải URL / ${what} is not a URL`);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new TrucError('bad_request', `${vi(what)} "${v.slice(0, 80)}" không phải URL / ${what} "${v.slice(0, 80)}" is not a URL`);
  }
  if (!schemes.includes(u.protocol)) throw new TrucError('bad_request', `${vi(what)} phải dùng ${schemes.join(' hoặc ')} / ${what} must use ${schemes.join(' or ')}`);
  return v;
}

/**
 * Addresses that name no host a security server could listen on: "this network" (0.0.0.0/8, RFC 1122
 * 3.2.1.3, with 0.0.0.0 the unspecified address), the limited broadcast address and IPv6's unspecified
 * address (also as IPv4-mapped). Loopback and private addresses stay allowed: a test axis runs on
 * 127.0.0.1, and an agency's servers may well sit in a private network.
 */
const NO_HOST = new BlockList();
NO_HOST.addSubnet('0.0.0.0', 8, 'ipv4');
NO_HOST.addAddress('255.255.255.255', 'ipv4');
NO_HOST.addAddress('::', 'ipv6');
/** an RFC 1123 label: letters, digits and hyphens, 1–63, neither first nor last a hyphen */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/**
 * host or host:port of a security server's peer listener: a DNS name of RFC 1123 labels whose last label
 * is not all digits (RFC 3696 2: `1.2.3`, `2130706433` and `999.999.999.999` are no names, though some
 * resolvers read them as IPv4), a dotted-quad IPv4 address, or an IPv6 address in brackets; the port
 * 1–65535 written without leading zeros.
 */
export function checkAddress(v: unknown): string {
  const shown = String(v).slice(0, 80);
  const bad = (vi: string, en: string) => new TrucError('bad_request', `địa chỉ "${shown}" ${vi} / address "${shown}" ${en}`, { address: shown });
  if (typeof v !== 'string' || v.length === 0 || v.length > 300) throw bad('phải có dạng máy hoặc máy:cổng', 'must be host or host:port');
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*))(?::([^:]*))?$/.exec(v);
  if (!m) throw bad('phải có dạng máy hoặc máy:cổng (địa chỉ IPv6 đặt trong ngoặc vuông: [2001:db8::1]:5500)', 'must be host or host:port (an IPv6 address in brackets: [2001:db8::1]:5500)');
  const [, bracketed, name, port] = m;
  if (port !== undefined && (!/^[1-9]\d{0,4}$/.test(port) || Number(port) > 65535)) throw bad('có cổng không phải số 1–65535 viết không có số 0 đứng đầu', 'has a port that is not 1–65535 written without leading zeros');
  if (bracketed !== undefined) {
    if (isIP(bracketed) !== 6 || bracketed.includes('%')) throw bad('có trong ngoặc vuông một thứ không phải địa chỉ IPv6', 'holds in brackets something that is not an IPv6 address');
    if (NO_HOST.check(bracketed, 'ipv6')) throw bad('là địa chỉ không chỉ định, không phải một máy', 'is the unspecified address, not a host');
    return v.toLowerCase();
  }
  const host = name!;
  if (isIP(host) === 4) {
    if (NO_HOST.check(host, 'ipv4')) throw bad('là địa chỉ không chỉ định hay địa chỉ quảng bá, không phải một máy', 'is an unspecified or broadcast address, not a host');
    return v.toLowerCase();
  }
  const labels = host.split('.');
  if (host.length > 253 || !labels.every((l) => LABEL.test(l)))
    throw bad('không phải tên máy (các nhãn 1–63 chữ cái, chữ số hoặc dấu gạch nối, không bắt đầu hay kết thúc bằng dấu gạch nối, ngăn bằng dấu chấm) hay địa chỉ IP', 'is neither a host name (labels of 1–63 letters, digits or hyphens, no hyphen first or last, separated by dots) nor an IP address');
  if (/^\d+$/.test(labels[labels.length - 1]!)) throw bad('không phải tên máy (nhãn cuối toàn chữ số) hay địa chỉ IPv4 dạng a.b.c.d', 'is neither a host name (its last label is all digits) nor an IPv4 address a.b.c.d');
  return v.toLowerCase();
}

function certificate(what: string, der: Buffer, mustBeCa: boolean): X509Certificate {
  if (!Buffer.isBuffer(der) || der.length === 0 || der.length > MAX_CERT)
    throw new TrucError('malformed_der', `${vi(what)} không phải chứng thư dài tối đa ${MAX_CERT} byte / ${what} is not a certificate of at most ${MAX_CERT} bytes`);
  let c: X509Certificate;
  try {
    c = new X509Certificate(der);
  } catch {
    throw new TrucError('malformed_der', `${vi(what)} không phải chứng thư DER / ${what} is not a DER certificate`);
  }
  if (mustBeCa && !c.ca) throw new TrucError('cert_invalid', `${vi(what)} không phải chứng thư CA / ${what} is not a CA certificate`, { subject: c.subject });
  return c;
}

const registered = (what: string) => conflict(`${what} đã được đăng ký / ${what} is already registered`);
const notRegistered = (code: 'unknown_member' | 'not_found', what: string) => new TrucError(code, `${what} chưa được đăng ký / ${what} is not registered`);
const sameDer = (a: Buffer[], b: Buffer[]) => a.length === b.length && a.every((x, i) => x.equals(b[i]!));
const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** What approving a CA or a TSA under its name did: approved it, updated it (same certificate), or nothing. */
export type Approval = 'approved' | 'updated' | 'unchanged';

export class Registry {
  constructor(private readonly ctx: CentralContext) {}

  private member(m: MemberRef) {
    return memberId(this.ctx.instance, m.memberClass, m.memberCode);
  }

  async addMember(m: MemberRef & { name: string }, actor: string): Promise<void> {
    const id = this.member(m);
    const name = text('member name', m.name);
    await change(this.ctx, {
      actor,
      action: 'member.add',
      target: memberText(id),
      detail: { name },
      run: async (sql) => {
        const settings = await loadSettings(sql);
        if (!settings.memberClasses.some((c) => c.code === id.memberClass))
          throw new TrucError(
            'bad_identifier',
            `loại thành viên "${id.memberClass}" không thuộc hệ thống này (${settings.memberClasses.map((c) => c.code).join(', ')}) / member class "${id.memberClass}" is not one of this instance (${settings.memberClasses.map((c) => c.code).join(', ')})`,
            { part: 'member class' },
          );
        if (!(await store.insertMember(sql, { memberClass: id.memberClass, memberCode: id.memberCode, name }))) throw registered(memberText(id));
      },
    });
  }

  listMembers() {
    return store.listMembers(this.ctx.db);
  }

  /** Members' encryption certificates (registered through signed requests), or one member's. */
  listEncryptionCerts(m?: MemberRef) {
    return store.listEncryptionCerts(this.ctx.db, m ? { memberClass: m.memberClass, memberCode: m.memberCode } : undefined);
  }

  async addSubsystem(s: SubsystemRef, actor: string): Promise<void> {
    const m = this.member(s);
    const code = checkPart('subsystem code', s.subsystemCode);
    const id = { ...m, subsystemCode: code };
    await change(this.ctx, {
      actor,
      action: 'subsystem.add',
      target: subsystemText(id),
      run: async (sql) => {
        if (!(await store.getMember(sql, m.memberClass, m.memberCode))) throw notRegistered('unknown_member', memberText(m));
        if (!(await store.insertSubsystem(sql, { memberClass: m.memberClass, memberCode: m.memberCode, subsystemCode: code }))) throw registered(subsystemText(id));
      },
    });
  }

  listSubsystems() {
    return store.listSubsystems(this.ctx.db);
  }

  /** Registers a security server directly (operators; security servers normally register through requests). */
  async addServer(s: ServerRef & { address: string }, actor: string): Promise<void> {
    const m = this.member(s);
    const serverCode = checkPart('server code', s.serverCode);
    const address = checkAddress(s.address);
    const id = { ...m, serverCode };
    await change(this.ctx, {
      actor,
      action: 'server.add',
      target: serverText(id),
      detail: { address },
      run: async (sql) => {
        if (!(await store.getMember(sql, m.memberClass, m.memberCode))) throw notRegistered('unknown_member', memberText(m));
        const key = { ownerClass: m.memberClass, ownerCode: m.memberCode, serverCode };
        if (await store.getServer(sql, key)) throw registered(serverText(id));
        await store.upsertServer(sql, key, address);
      },
    });
  }

  listServers() {
    return store.listServers(this.ctx.db);
  }

  /** Removes a security server with its certificates and clients (its traffic stops with the next configuration). */
  async removeServer(s: ServerRef, actor: string): Promise<void> {
    const id = { ...this.member(s), serverCode: checkPart('server code', s.serverCode) };
    await change(this.ctx, {
      actor,
      action: 'server.remove',
      target: serverText(id),
      run: async (sql) => {
        if (!(await store.deleteServer(sql, { ownerClass: id.memberClass, ownerCode: id.memberCode, serverCode: id.serverCode }))) throw notRegistered('not_found', serverText(id));
      },
    });
  }

  async addGlobalGroup(g: { code: string; description: string }, actor: string): Promise<void> {
    const code = checkPart('group code', g.code);
    const description = text('group description', g.description);
    await change(this.ctx, {
      actor,
      action: 'group.add',
      target: `GLOBALGROUP:${this.ctx.instance}/${code}`,
      detail: { description },
      run: async (sql) => {
        if (!(await store.insertGroup(sql, code, description))) throw conflict(`nhóm toàn cục ${code} đã có / global group ${code} exists already`);
      },
    });
  }

  async addGroupMember(code: string, s: SubsystemRef, actor: string): Promise<void> {
    const group = checkPart('group code', code);
    const sub = { ...this.member(s), subsystemCode: checkPart('subsystem code', s.subsystemCode) };
    await change(this.ctx, {
      actor,
      action: 'group.member.add',
      target: `GLOBALGROUP:${this.ctx.instance}/${group}`,
      detail: { member: subsystemText(sub) },
      run: async (sql) => {
        if (!(await store.groupExists(sql, group))) throw new TrucError('not_found', `không có nhóm toàn cục ${group} / no global group ${group}`);
        if (!(await store.hasSubsystem(sql, sub))) throw notRegistered('unknown_member', subsystemText(sub));
        if (!(await store.addGroupMember(sql, group, sub))) throw conflict(`${subsystemText(sub)} đã ở trong nhóm ${group} / ${subsystemText(sub)} is already in ${group}`);
      },
    });
  }

  async removeGroupMember(code: string, s: SubsystemRef, actor: string): Promise<void> {
    const group = checkPart('group code', code);
    const sub = { ...this.member(s), subsystemCode: checkPart('subsystem code', s.subsystemCode) };
    await change(this.ctx, {
      actor,
      action: 'group.member.remove',
      target: `GLOBALGROUP:${this.ctx.instance}/${group}`,
      detail: { member: subsystemText(sub) },
      run: async (sql) => {
        if (!(await store.deleteGroupMember(sql, group, sub))) throw new TrucError('not_found', `${subsystemText(sub)} không ở trong nhóm ${group} / ${subsystemText(sub)} is not in ${group}`);
      },
    });
  }

  listGroups() {
    return store.listGroups(this.ctx.db);
  }

  /**
   * Approves a certification authority: its trust anchor certificate, the intermediates below it that
   * issue members' certificates, and the OCSP responders that answer for them. A name already approved is
   * a conflict unless it names the same trust anchor: then its intermediates and OCSP responders are
   * brought up to date (what `approvePlatformCas` does at every `truc central serve --approve-platform-ca`
   * as the platform's hierarchy grows) — a trust anchor is never replaced under its name: withdraw it first.
   */
  async approveCa(ca: { name: string; certificate: Buffer; intermediates?: Buffer[]; ocspUrls: string[] }, actor: string): Promise<Approval> {
    const name = checkPart('CA name', ca.name);
    const anchor = certificate('the CA certificate', ca.certificate, true);
    const intermediates = (ca.intermediates ?? []).slice(0, 17);
    if ((ca.intermediates ?? []).length > 16) throw new TrucError('too_large', 'tối đa 16 chứng thư CA trung gian / at most 16 intermediate certificates');
    for (const i of intermediates) certificate('an intermediate certificate', i, true);
    if (!Array.isArray(ca.ocspUrls) || ca.ocspUrls.length === 0 || ca.ocspUrls.length > MAX_URLS)
      throw new TrucError('bad_request', `cần 1–${MAX_URLS} URL OCSP / 1–${MAX_URLS} OCSP URLs are needed`);
    const ocspUrls = ca.ocspUrls.map((u) => checkUrl('OCSP URL', u));
    const entry = { name, certificate: ca.certificate, intermediates, ocspUrls };
    return change(this.ctx, {
      actor,
      action: 'ca.approve',
      target: name,
      detail: { subject: anchor.subject, sha256: sha256Hex(ca.certificate), intermediates: intermediates.length, ocspUrls },
      run: async (sql): Promise<Approval> => {
        if (await store.insertCa(sql, entry)) return 'approved';
        const old = await store.getCaEntry(sql, name);
        if (!old || !old.certificate.equals(ca.certificate))
          throw conflict(`tên CA "${name}" đã được phê duyệt cho một chứng thư khác; hãy rút phê duyệt trước / the CA name "${name}" is approved already for another certificate; withdraw it first`, {
            sha256: old ? sha256Hex(old.certificate) : undefined,
          });
        if (sameDer(old.intermediates, intermediates) && sameList(old.ocspUrls, ocspUrls)) return 'unchanged';
        await store.updateCa(sql, entry);
        return 'updated';
      },
    });
  }

  /** Convenience: approves this platform's own CA hierarchy (each root with the CAs below it). */
  async approvePlatformCas(pki: PkiContext, actor: string, ocspUrl = urls.ocsp(pki)): Promise<string[]> {
    const cas = (await listCas(pki.db)).filter((c) => c.status === 'active');
    const roots = cas.filter((c) => c.parentId === null);
    const names: string[] = [];
    for (const root of roots) {
      const below: Buffer[] = [];
      let level = [root.id];
      while (level.length) {
        const next = cas.filter((c) => c.parentId !== null && level.includes(c.parentId));
        below.push(...next.map((c) => c.certificate));
        level = next.map((c) => c.id);
      }
      await this.approveCa({ name: root.id, certificate: root.certificate, intermediates: below, ocspUrls: [ocspUrl] }, actor);
      names.push(root.id);
    }
    if (!names.length) throw new TrucError('unknown_ca', 'nền tảng này chưa có hệ thống CA (truc ca init) / this platform has no CA hierarchy yet (truc ca init)');
    return names;
  }

  /** Withdraws a CA's approval: certificates under it no longer register, and security servers stop trusting it. */
  async removeCa(name: string, actor: string): Promise<void> {
    const n = checkPart('CA name', name);
    await change(this.ctx, {
      actor,
      action: 'ca.remove',
      target: n,
      run: async (sql) => {
        if (!(await store.deleteCa(sql, n))) throw new TrucError('not_found', `không có CA "${n}" được phê duyệt / no approved CA "${n}"`);
      },
    });
  }

  listCas() {
    return store.listCaEntries(this.ctx.db);
  }

  /**
   * Approves a time-stamping authority. A name already approved is a conflict unless it names the same
   * certificate (then its URL is brought up to date): a TSA's certificate is never replaced under its name.
   */
  async approveTsa(t: { name: string; url: string; certificate: Buffer }, actor: string): Promise<Approval> {
    const name = text('TSA name', t.name, 200);
    const url = checkUrl('TSA URL', t.url);
    const c = certificate('the TSA certificate', t.certificate, false);
    const entry = { name, url, certificate: t.certificate };
    return change(this.ctx, {
      actor,
      action: 'tsa.approve',
      target: name,
      detail: { url, subject: c.subject, sha256: sha256Hex(t.certificate) },
      run: async (sql): Promise<Approval> => {
        if (await store.insertTsa(sql, entry)) return 'approved';
        const old = await store.getTsaEntry(sql, name);
        if (!old || !old.certificate.equals(t.certificate))
          throw conflict(`tên TSA "${name}" đã được phê duyệt cho một chứng thư khác; hãy rút phê duyệt trước / the TSA name "${name}" is approved already for another certificate; withdraw it first`, {
            sha256: old ? sha256Hex(old.certificate) : undefined,
          });
        if (old.url === url) return 'unchanged';
        await store.updateTsa(sql, entry);
        return 'updated';
      },
    });
  }

  async removeTsa(name: string, actor: string): Promise<void> {
    const n = text('TSA name', name, 200);
    await change(this.ctx, {
      actor,
      action: 'tsa.remove',
      target: n,
      run: async (sql) => {
        if (!(await store.deleteTsa(sql, n))) throw new TrucError('not_found', `không có TSA "${n}" được phê duyệt / no approved TSA "${n}"`);
      },
    });
  }

  listTsas() {
    return store.listTsaEntries(this.ctx.db);
  }

  settings(): Promise<CentralSettings> {
    return loadSettings(this.ctx.db);
  }

  async setSettings(values: Partial<CentralSettings>, actor: string): Promise<CentralSettings> {
    const clean = checkSettings(values);
    await change(this.ctx, {
      actor,
      action: 'settings.set',
      target: this.ctx.instance,
      detail: { settings: clean },
      run: async (sql) => {
        for (const [k, v] of Object.entries(clean)) await store.putSetting(sql, k, v);
      },
    });
    return this.settings();
  }
}

const POSITIVE = ['ocspFreshnessSeconds', 'refreshSeconds', 'validitySeconds', 'generateIntervalSeconds', 'maxClockSkewSeconds'] as const;

/** Settings are checked one by one; an unknown name is refused rather than stored and ignored. */
export function checkSettings(values: Partial<CentralSettings>): Partial<CentralSettings> {
  if (!values || typeof values !== 'object' || Array.isArray(values)) throw new TrucError('bad_request', 'thiết lập phải là một đối tượng JSON / settings must be an object');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) {
    if (!Object.hasOwn(DEFAULT_CENTRAL_SETTINGS, k))
      throw new TrucError('bad_request', `máy chủ trung tâm không có thiết lập "${k.slice(0, 80)}" / unknown setting "${k.slice(0, 80)}": not one of the central server's settings`, { known: Object.keys(DEFAULT_CENTRAL_SETTINGS) });
    if ((POSITIVE as readonly string[]).includes(k)) {
      if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 10 * 365 * 86400) throw new TrucError('bad_request', `${k} must be a positive integer (seconds)`);
    } else if (k === 'autoApprove') {
      if (typeof v !== 'boolean') throw new TrucError('bad_request', 'autoApprove must be true or false');
    } else if (k === 'registrationUrl') {
      if (v !== '') checkUrl(k, v, ['https:']);
    } else if (k === 'confBaseUrl') {
      checkUrl(k, v);
    } else if (k === 'centralTlsCertHash') {
      if (typeof v !== 'string' || !(v === '' || /^[0-9a-f]{64}$/.test(v))) throw new TrucError('bad_request', 'centralTlsCertHash must be SHA-256 lowercase hex');
    } else if (k === 'managementMember') {
      if (v !== null) {
        const m = v as MemberRef;
        checkPart('member class', m?.memberClass);
        checkPart('member code', m?.memberCode);
      }
    } else if (k === 'monitoringClient') {
      if (v !== null) {
        const m = v as MemberRef & { subsystemCode: string };
        checkPart('member class', m?.memberClass);
        checkPart('member code', m?.memberCode);
        checkPart('subsystem code', m?.subsystemCode);
      }
    } else if (k === 'memberClasses') {
      if (!Array.isArray(v) || v.length === 0 || v.length > 64) throw new TrucError('bad_request', 'memberClasses must list 1–64 classes');
      for (const c of v as { code: string; description: string }[]) {
        checkPart('member class', c?.code);
        text('member class description', c?.description);
      }
    }
    out[k] = v;
  }
  if (typeof out.validitySeconds === 'number' && out.validitySeconds < 60) throw new TrucError('bad_request', 'validitySeconds must be at least 60');
  return out as Partial<CentralSettings>;
}
