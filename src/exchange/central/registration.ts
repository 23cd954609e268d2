/**
 * The registration service: security servers ask, the central server checks, an operator decides.
 *
 * A request is verified before it is stored: the payload's exact bytes are canonical JSON and name this
 * instance, its time is within the allowed skew, its id was never seen; the owner member exists; the
 * owner's signing certificate signed the payload, names the owner in its subject's serialNumber
 * (`INSTANCE/CLASS/CODE`), chains to an approved CA for signing (keyUsage nonRepudiation) and is proven
 * good by a fresh OCSP response from that CA or its delegated responder; for an authentication
 * certificate the authentication key signed the same bytes (proof of possession) and that certificate
 * chains for TLS client and server use, with its own fresh OCSP response; a member's encryption certificate
 * names the member too and chains for key agreement (EC) or key encipherment (RSA), with its own fresh OCSP
 * response — it has no proof of possession (such a key cannot sign): the owner's signature over its hash
 * and the CA that certified it bind it to the member. A valid request waits as
 * `pending` (or is approved at once when `autoApprove` is set) — unless a request of the same kind about
 * the same certificate or client is pending already (X-Road's MR_EXISTS: `duplicate`). `approve` asks the
 * approved CA's OCSP responders again about every certificate the request carried (it may have waited for
 * days: ./cert-status.ts), then applies it to the registry in the transaction that marks it approved.
 * Every refusal is audited and published with its code, in Vietnamese with English beside; until the
 * owner's signing certificate is verified the refusal is recorded as `anonymous`'s, with the server the
 * request claims in the detail (anybody can write a server's name into a payload).
 */
import { X509Certificate } from 'node:crypto';
import { isTrucError, TrucError } from '../../errors.js';
import { SCHEMES, type SignatureScheme } from '../../crypto/algorithms.js';
import { verifyWith } from '../../crypto/sign.js';
import { parseCertificate, validatePath, type Purpose } from '../../pki/path/index.js';
import { decodeName } from '../../pki/index.js';
import { checkPart, serverText, subsystemText, memberText } from '../ids.js';
import { canonicalBytes, sha256Hex } from '../conf/signed.js';
import { REQUEST_TYPES, checkMaintenanceMessage, type RegistrationPayload, type RegistrationType } from '../conf/registration-request.js';
import { appendAudit, recordAudit } from '../../audit/index.js';
import type { Sql } from '../../store/index.js';
import { change, emit, loadSettings, refused, type CentralContext } from './context.js';
import { checkAddress } from './registry.js';
import * as store from './store.js';
import { describeEncryptionCert, type EncryptionCertSummary } from './encryption-cert-view.js';
import { askResponders, httpOcspFetcher, type OcspFetcher } from './cert-status.js';

const MAX_PAYLOAD = 8 * 1024;
const MAX_CERT = 16 * 1024;
const MAX_OCSP = 16 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const ID = /^[A-Za-z0-9._-]{8,128}$/;

/** signing certificates: non-repudiation (the agency-signing profile); authentication: TLS both ways (agency-auth) */
export const SIGNING_PURPOSE: Purpose = { keyUsage: ['nonRepudiation'] };
export const AUTH_PURPOSE: Purpose = { keyUsage: ['digitalSignature'], extendedKeyUsage: ['clientAuth', 'serverAuth'] };
/** a member's encryption certificate (agency-encryption, agency-encryption-rsa): EC keys agree keys, RSA keys encipher them */
export const ENCRYPTION_PURPOSE: Record<'ec' | 'rsa', Purpose> = { ec: { keyUsage: ['keyAgreement'] }, rsa: { keyUsage: ['keyEncipherment'] } };
/** encryption certificates a member may hold at once (an old and a new one during a rotation, and some room) */
export const MAX_ENCRYPTION_CERTS = 4;

/** a refusal of the request itself: `message` in Vietnamese with English beside */
const invalid = (reason: string, message: string, detail: Record<string, unknown> = {}) => new TrucError('registration_invalid', message, { reason, ...detail });
/** the Vietnamese of a request's status, for the refusals that name it */
const STATUS_VI: Record<store.RequestStatus, string> = { pending: 'đang chờ', approved: 'đã được phê duyệt', rejected: 'đã bị từ chối' };
const notFound = (id: string) => new TrucError('not_found', `không có yêu cầu đăng ký ${id} / no registration request ${id}`, { reason_vi: `không có yêu cầu đăng ký ${id}` });
const decided = (id: string, status: store.RequestStatus) => new TrucError('conflict', `yêu cầu ${id} ${STATUS_VI[status]} / request ${id} is already ${status}`, { requestStatus: status });
const notRegisteredMember = (m: string, client = false) =>
  new TrucError('unknown_member', client ? `thành viên ${m} sở hữu phân hệ chưa được đăng ký / the client's member ${m} is not registered` : `${m} chưa phải thành viên đã đăng ký / ${m} is not a registered member`, { member: m });

function b64(field: string, v: unknown, max: number): Buffer {
  if (typeof v !== 'string' || v.length === 0 || v.length > Math.ceil((max * 4) / 3) + 4 || !BASE64.test(v)) throw invalid('malformed', `${field} không phải base64 của tối đa ${max} byte / ${field} is not base64 of at most ${max} bytes`);
  return Buffer.from(v, 'base64');
}

function scheme(field: string, v: unknown): SignatureScheme {
  if (typeof v !== 'string' || !Object.hasOwn(SCHEMES, v)) throw invalid('malformed', `${field} không phải thuật toán chữ ký được biết / ${field} is not a known signature scheme`);
  return v as SignatureScheme;
}

interface Parsed {
  payload: RegistrationPayload;
  bytes: Buffer;
  signingCert: Buffer;
  signingOcsp: Buffer;
  signature: Buffer;
  signatureAlgorithm: SignatureScheme;
  auth?: { cert: Buffer; ocsp: Buffer; pop: Buffer; scheme: SignatureScheme };
  /** the client member's consent (client requests for another member's subsystem) */
  client?: { cert: Buffer; ocsp: Buffer; signature: Buffer; scheme: SignatureScheme };
  /** encryption-cert: the member's encryption certificate and its OCSP response */
  encryption?: { cert: Buffer; ocsp: Buffer };
}

/** Reads the envelope and the payload, bounded and field by field. */
export function parseRequest(body: unknown): Parsed {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('malformed', 'yêu cầu không phải đối tượng JSON / the request is not a JSON object');
  const r = body as Record<string, unknown>;
  const known = new Set([
    'payload',
    'signingCert',
    'signingOcsp',
    'signatureAlgorithm',
    'signature',
    'authCert',
    'authOcsp',
    'popAlgorithm',
    'proofOfPossession',
    'clientSigningCert',
    'clientSigningOcsp',
    'clientSignatureAlgorithm',
    'clientSignature',
    'encryptionCert',
    'encryptionOcsp',
  ]);
  for (const k of Object.keys(r)) if (!known.has(k)) throw invalid('malformed', `trường lạ "${k.slice(0, 40)}" / unknown field "${k.slice(0, 40)}"`);
  const bytes = b64('payload', r.payload, MAX_PAYLOAD);
  let p: any;
  try {
    p = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid('malformed', 'payload không phải JSON / the payload is not JSON');
  }
  if (!p || typeof p !== 'object' || Array.isArray(p)) throw invalid('malformed', 'payload không phải đối tượng JSON / the payload is not an object');
  if (!canonicalBytes(p).equals(bytes)) throw invalid('malformed', 'payload không ở dạng chuẩn (khoá theo thứ tự, không khoảng trắng) / the payload is not in canonical form (sorted keys, no white space)');
  const payload = checkPayload(p);
  const out: Parsed = {
    payload,
    bytes,
    signingCert: b64('signingCert', r.signingCert, MAX_CERT),
    signingOcsp: b64('signingOcsp', r.signingOcsp, MAX_OCSP),
    signature: b64('signature', r.signature, 1024),
    signatureAlgorithm: scheme('signatureAlgorithm', r.signatureAlgorithm),
  };
  if (payload.type !== 'auth-cert' && [r.authCert, r.authOcsp, r.popAlgorithm, r.proofOfPossession].some((f) => f !== undefined))
    throw invalid('malformed', 'chỉ yêu cầu auth-cert mới mang chứng thư xác thực và bằng chứng sở hữu khoá / only an auth-cert request carries an authentication certificate and its proof of possession');
  if (payload.type === 'auth-cert') {
    if (r.authCert === undefined || r.proofOfPossession === undefined || r.authOcsp === undefined)
      throw invalid('malformed', 'yêu cầu auth-cert phải mang chứng thư xác thực, phản hồi OCSP của nó và bằng chứng sở hữu khoá / an auth-cert request carries the authentication certificate, its OCSP response and a proof of possession');
    out.auth = {
      cert: b64('authCert', r.authCert, MAX_CERT),
      ocsp: b64('authOcsp', r.authOcsp, MAX_OCSP),
      pop: b64('proofOfPossession', r.proofOfPossession, 1024),
      scheme: scheme('popAlgorithm', r.popAlgorithm),
    };
  }
  if (payload.type === 'encryption-cert') {
    if (r.encryptionCert === undefined || r.encryptionOcsp === undefined) throw invalid('malformed', 'yêu cầu encryption-cert phải mang chứng thư mã hoá và phản hồi OCSP của nó / an encryption-cert request carries the encryption certificate and its OCSP response');
    out.encryption = { cert: b64('encryptionCert', r.encryptionCert, MAX_CERT), ocsp: b64('encryptionOcsp', r.encryptionOcsp, MAX_OCSP) };
  } else if (r.encryptionCert !== undefined || r.encryptionOcsp !== undefined) throw invalid('malformed', 'chỉ yêu cầu encryption-cert mới mang chứng thư mã hoá / only an encryption-cert request carries an encryption certificate');
  const clientFields = [r.clientSigningCert, r.clientSigningOcsp, r.clientSignatureAlgorithm, r.clientSignature];
  if (clientFields.some((f) => f !== undefined)) {
    if (payload.type !== 'client') throw invalid('malformed', 'chỉ yêu cầu client mới mang chữ ký của thành viên sở hữu phân hệ / only a client request carries the client member’s signature');
    out.client = {
      cert: b64('clientSigningCert', r.clientSigningCert, MAX_CERT),
      ocsp: b64('clientSigningOcsp', r.clientSigningOcsp, MAX_OCSP),
      signature: b64('clientSignature', r.clientSignature, 1024),
      scheme: scheme('clientSignatureAlgorithm', r.clientSignatureAlgorithm),
    };
  }
  return out;
}

/** The payload fields of each request type beside the common ones: any other is refused, never stored unchecked. */
const TYPE_FIELDS: Record<RegistrationType, readonly string[]> = {
  'auth-cert': ['address', 'authCertHash'],
  'address-change': ['address'],
  'auth-cert-deletion': ['authCertHash'],
  'encryption-cert': ['encryptionCertHash'],
  'encryption-cert-deletion': ['encryptionCertHash'],
  client: ['client'],
  'client-deletion': ['client'],
  maintenance: ['maintenance', 'maintenanceMessage'],
};
const COMMON_FIELDS = new Set(['id', 'type', 'instance', 'server', 'createdAt']);
/** createdAt as the requests write it (toISOString): a time other parsers might read otherwise is refused */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

function checkPayload(p: any): RegistrationPayload {
  if (typeof p.id !== 'string' || !ID.test(p.id)) throw invalid('malformed', 'id của payload phải gồm 8–128 ký tự A-Z a-z 0-9 . _ - / payload id must be 8–128 characters of A-Z a-z 0-9 . _ -');
  if (!(REQUEST_TYPES as readonly string[]).includes(p.type)) throw invalid('malformed', 'loại yêu cầu không được biết / unknown request type', { allowed: REQUEST_TYPES });
  const type = p.type as RegistrationType;
  for (const k of Object.keys(p))
    if (!COMMON_FIELDS.has(k) && !TYPE_FIELDS[type].includes(k)) throw invalid('malformed', `trường "${k.slice(0, 40)}" của payload không thuộc yêu cầu ${type} / the payload field "${k.slice(0, 40)}" is not one of a ${type} request`);
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      // ids.ts words its refusals in English with the Vietnamese in reason_vi; ours carry both in the message
      if (e instanceof TrucError) throw invalid('malformed', typeof e.detail?.reason_vi === 'string' ? `${e.detail.reason_vi} / ${e.message}` : e.message, typeof e.detail?.part === 'string' ? { part: e.detail.part } : {});
      throw e;
    }
  };
  const out: RegistrationPayload = wrap(() => ({
    id: p.id,
    type,
    instance: checkPart('instance', p.instance),
    server: {
      memberClass: checkPart('member class', p.server?.memberClass),
      memberCode: checkPart('member code', p.server?.memberCode),
      serverCode: checkPart('server code', p.server?.serverCode),
    },
    createdAt: p.createdAt,
  }));
  if (typeof p.createdAt !== 'string' || !ISO_UTC.test(p.createdAt) || Number.isNaN(Date.parse(p.createdAt))) throw invalid('malformed', 'createdAt của payload không phải thời điểm ISO 8601 UTC (2026-12-07T10:00:00.000Z) / payload createdAt is not an ISO 8601 UTC time (2026-12-07T10:00:00.000Z)');
  if (type === 'auth-cert' || type === 'address-change') out.address = wrap(() => checkAddress(p.address));
  if (type === 'auth-cert' || type === 'auth-cert-deletion') {
    if (typeof p.authCertHash !== 'string' || !/^[0-9a-f]{64}$/.test(p.authCertHash)) throw invalid('malformed', 'authCertHash của payload phải là SHA-256 dạng hex / payload authCertHash must be SHA-256 hex');
    out.authCertHash = p.authCertHash;
  }
  if (type === 'encryption-cert' || type === 'encryption-cert-deletion') {
    if (typeof p.encryptionCertHash !== 'string' || !/^[0-9a-f]{64}$/.test(p.encryptionCertHash)) throw invalid('malformed', 'encryptionCertHash của payload phải là SHA-256 dạng hex / payload encryptionCertHash must be SHA-256 hex');
    out.encryptionCertHash = p.encryptionCertHash;
  }
  if (type === 'client' || type === 'client-deletion')
    out.client = wrap(() => ({
      memberClass: checkPart('member class', p.client?.memberClass),
      memberCode: checkPart('member code', p.client?.memberCode),
      subsystemCode: checkPart('subsystem code', p.client?.subsystemCode),
    }));
  if (type === 'maintenance') {
    if (typeof p.maintenance !== 'boolean') throw invalid('malformed', 'maintenance của payload phải là true hoặc false / payload maintenance must be true or false');
    out.maintenance = p.maintenance;
    if (p.maintenanceMessage !== undefined) {
      if (!p.maintenance) throw invalid('malformed', 'maintenanceMessage của payload chỉ đi cùng maintenance true / payload maintenanceMessage goes only with maintenance true');
      out.maintenanceMessage = wrap(() => checkMaintenanceMessage(p.maintenanceMessage));
    }
  } else if (p.maintenanceMessage !== undefined) throw invalid('malformed', 'maintenanceMessage của payload chỉ có trong yêu cầu maintenance / payload maintenanceMessage goes only with a maintenance request');
  return out;
}

/** The member a signing certificate names: its subject's serialNumber, `INSTANCE/CLASS/CODE`. */
export function memberOfSigningCert(der: Buffer): string | null {
  try {
    const attrs = decodeName(parseCertificate(der).subject.der).filter((a) => a.type === 'serialNumber');
    return attrs.length === 1 ? attrs[0].value : null;
  } catch {
    return null;
  }
}

export interface SubmitMeta {
  ip?: string;
}

export interface RequestView {
  id: string;
  type: string;
  server: string;
  status: store.RequestStatus;
  receivedAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  reason: string | null;
  payload: RegistrationPayload;
  /**
   * encryption-cert and encryption-cert-deletion: the certificate decoded — the one the request carries, or
   * for a deletion the registered one it names (null once it is no longer registered)
   */
  encryptionCertificate?: EncryptionCertSummary | null;
}

/** the encryption certificate an encryption-cert request carries, decoded; null when unreadable */
function carriedEncryptionCert(r: store.RequestRow, now: Date): EncryptionCertSummary | null {
  try {
    return describeEncryptionCert(Buffer.from(String(r.request.encryptionCert), 'base64'), now);
  } catch {
    return null;
  }
}

export const requestView = (r: store.RequestRow): RequestView => ({
  id: r.id,
  type: r.type,
  server: r.server,
  status: r.status,
  receivedAt: r.receivedAt.toISOString(),
  decidedBy: r.decidedBy,
  decidedAt: r.decidedAt?.toISOString() ?? null,
  reason: r.reason,
  payload: JSON.parse(r.payload.toString('utf8')),
});

/** who a refusal of a submission is recorded under: `anonymous` until the owner's signing certificate is verified */
interface Asker {
  actor: string;
  /** the server the payload names, once it could be read */
  claimed?: string;
}

/** the certificates a request may carry, by the fields that carry them and their OCSP responses */
type CertRole = 'signing' | 'auth' | 'client-signing' | 'encryption';
const CARRIED: readonly (readonly [CertRole, string, string])[] = [
  ['signing', 'signingCert', 'signingOcsp'],
  ['auth', 'authCert', 'authOcsp'],
  ['client-signing', 'clientSigningCert', 'clientSigningOcsp'],
  ['encryption', 'encryptionCert', 'encryptionOcsp'],
];
const CERT_VI: Record<CertRole, string> = { signing: 'ký số', auth: 'xác thực', 'client-signing': 'ký số của thành viên sở hữu phân hệ', encryption: 'mã hoá' };

/**
 * What makes a second pending request the same as the first (X-Road's MR_EXISTS): the certificate, for an
 * auth-cert or encryption-cert request and their deletions (whichever server asks: a certificate is
 * registered once), the server and the subsystem for a client request or its deletion. Address changes
 * and maintenance set a state: a later request supersedes an earlier one, and both may wait (null).
 */
function sameAs(p: RegistrationPayload): { match: Record<string, unknown>; vi: string; en: string } | null {
  const sid = serverText({ instance: p.instance, ...p.server });
  const client = () => subsystemText({ instance: p.instance, ...p.client! });
  switch (p.type) {
    case 'auth-cert':
      return { match: { authCertHash: p.authCertHash }, vi: 'đăng ký chứng thư xác thực này', en: 'register this authentication certificate' };
    case 'auth-cert-deletion':
      return { match: { authCertHash: p.authCertHash }, vi: 'xoá chứng thư xác thực này', en: 'delete this authentication certificate' };
    case 'encryption-cert':
      return { match: { encryptionCertHash: p.encryptionCertHash }, vi: 'đăng ký chứng thư mã hoá này', en: 'register this encryption certificate' };
    case 'encryption-cert-deletion':
      return { match: { encryptionCertHash: p.encryptionCertHash }, vi: 'xoá chứng thư mã hoá này', en: 'delete this encryption certificate' };
    case 'client':
      return { match: { server: p.server, client: p.client }, vi: `đăng ký ${client()} làm phân hệ khách của ${sid}`, en: `register ${client()} as a client of ${sid}` };
    case 'client-deletion':
      return { match: { server: p.server, client: p.client }, vi: `xoá ${client()} khỏi các phân hệ khách của ${sid}`, en: `remove ${client()} from the clients of ${sid}` };
    default:
      return null;
  }
}

/** Whether a request of `type` whose payload holds `match` is pending (payloads are canonical JSON, UTF-8). */
async function pendingLike(sql: Sql, type: string, match: Record<string, unknown>): Promise<boolean> {
  const rows = await sql.query("SELECT id FROM xc_request WHERE status = 'pending' AND type = $1 AND convert_from(payload, 'UTF8')::jsonb @> $2::jsonb LIMIT 1", [type, JSON.stringify(match)]);
  return rows.length > 0;
}

/** the Purpose an encryption certificate is checked for, by its key type */
function encryptionPurposeOf(der: Buffer): Purpose {
  let keyType: string | undefined;
  try {
    keyType = new X509Certificate(der).publicKey.asymmetricKeyType;
  } catch {
    throw new TrucError('cert_invalid', 'không đọc được chứng thư mã hoá / the encryption certificate cannot be read', { reason: 'malformed', certificate: 'encryption' });
  }
  if (keyType !== 'ec' && keyType !== 'rsa')
    throw new TrucError('cert_invalid', `chứng thư mã hoá phải có khoá EC hoặc RSA, không phải ${keyType} / the encryption certificate must hold an EC or RSA key, not ${keyType}`, { reason: 'key_type', certificate: 'encryption' });
  return ENCRYPTION_PURPOSE[keyType];
}

const submitRefusals = new WeakSet<object>();

/**
 * Whether a refusal of a submission was audited by the registration service already (the HTTP route
 * audits what is refused before the service sees the request — the body, the schema — and not these).
 */
export function submitRefusalAudited(e: unknown): boolean {
  return typeof e === 'object' && e !== null && submitRefusals.has(e);
}

export class Registration {
  /** how approval asks the CAs' OCSP responders (replaceable: a responder reached otherwise, tests) */
  ocspFetcher: OcspFetcher = httpOcspFetcher;

  constructor(private readonly ctx: CentralContext) {}

  /** Verifies and stores a request; answers its id and status (pending, or approved under autoApprove). */
  async submit(body: unknown, meta: SubmitMeta = {}): Promise<{ id: string; status: 'pending' | 'approved' }> {
    const asker: Asker = { actor: 'anonymous' };
    let target = 'registration';
    try {
      const parsed = parseRequest(body);
      const p = parsed.payload;
      const server = serverText({ instance: p.instance, ...p.server });
      asker.claimed = server;
      target = p.id;
      // the server's name is the owner's word only once its signing certificate is verified
      await this.verify(parsed, () => (asker.actor = `server:${server}`));
      const actor = asker.actor;
      const same = sameAs(p);
      const inserted = await this.ctx.db.tx(async (sql) => {
        if (same) {
          // two such requests arriving together (on two central processes) must not both find none pending
          await sql.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`xc_request:${p.type}:${JSON.stringify(same.match)}`]);
          if (await store.getRequest(sql, p.id)) return false;
          if (await pendingLike(sql, p.type, same.match))
            throw invalid('duplicate', `một yêu cầu ${same.vi} đang chờ phê duyệt / a request to ${same.en} is pending already`, { pending: true });
        }
        const ok = await store.insertRequest(sql, {
          id: p.id,
          type: p.type,
          server,
          payload: parsed.bytes,
          request: body as Record<string, unknown>,
          status: 'pending',
          receivedAt: this.ctx.clock(),
        });
        if (ok) {
          await appendAudit(sql, [{ actor, action: 'central.registration.submit', target: p.id, outcome: 'success', detail: { type: p.type, server, ip: meta.ip ?? null } }], this.ctx.clock());
        }
        return ok;
      });
      if (!inserted) throw invalid('replay', `yêu cầu ${p.id} đã được nhận trước đó / request ${p.id} was already received`);
      emit(this.ctx, 'registration.received', 'success', actor, { id: p.id, type: p.type, server }, undefined, meta.ip);
      if ((await loadSettings(this.ctx.db)).autoApprove) {
        // verified a moment ago, OCSP responses included: not asked again
        await this.approveAs(p.id, 'auto-approve', false);
        return { id: p.id, status: 'approved' };
      }
      return { id: p.id, status: 'pending' };
    } catch (e) {
      await this.refusedSubmit(asker, target, e, meta.ip);
      throw e;
    }
  }

  /** Audits and publishes a refused submission, as context.ts's `refused` does, with the server claimed. */
  private async refusedSubmit(asker: Asker, target: string, e: unknown, ip?: string): Promise<void> {
    if (!isTrucError(e)) return;
    submitRefusals.add(e);
    const why = typeof e.detail?.reason === 'string' ? { why: e.detail.reason } : {};
    const claimed = asker.actor === 'anonymous' && asker.claimed ? { claimedServer: asker.claimed } : {};
    await recordAudit(this.ctx.db, {
      actor: asker.actor,
      action: 'central.registration.submit',
      target: target.slice(0, 200),
      outcome: 'failure',
      detail: { code: e.code, reason: e.message.slice(0, 500), ...why, ...claimed, ...(ip ? { ip } : {}) },
    }).catch((err) => this.ctx.log?.error({ err }, 'audit write failed'));
    emit(this.ctx, 'registration.submit.refused', 'failure', asker.actor, { target: target.slice(0, 200), code: e.code, ...why, ...claimed }, e.message.slice(0, 300), ip);
  }

  /** `ownerVerified` is called once the owner's signature and signing certificate (chain, OCSP) are verified. */
  private async verify(r: Parsed, ownerVerified: () => void): Promise<void> {
    const p = r.payload;
    const settings = await loadSettings(this.ctx.db);
    const now = this.ctx.clock();
    if (p.instance !== this.ctx.instance)
      throw invalid('wrong_instance', `yêu cầu dành cho hệ thống ${p.instance}, máy chủ trung tâm này phục vụ ${this.ctx.instance} / the request is for instance ${p.instance}, this central server serves ${this.ctx.instance}`);
    const skew = Math.abs(Date.parse(p.createdAt) - now.getTime());
    if (skew > settings.maxClockSkewSeconds * 1000)
      throw invalid(
        'bad_time',
        `yêu cầu được lập lúc ${p.createdAt}, lệch quá ${settings.maxClockSkewSeconds} giây so với giờ của máy chủ trung tâm (${now.toISOString()}): hãy kiểm tra đồng bộ thời gian (NTP) / the request was made at ${p.createdAt}, more than ${settings.maxClockSkewSeconds} s from the central server's time ${now.toISOString()}`,
      );
    if (await store.getRequest(this.ctx.db, p.id)) throw invalid('replay', `yêu cầu ${p.id} đã được nhận trước đó / request ${p.id} was already received`);
    const owner = { instance: p.instance, memberClass: p.server.memberClass, memberCode: p.server.memberCode };
    if (!(await store.getMember(this.ctx.db, owner.memberClass, owner.memberCode))) throw notRegisteredMember(memberText(owner));

    // the owner's signature over the exact payload bytes, by a certificate naming the owner, that chains to
    // an approved CA and is good now: only then is the request the owner's (checked first for that reason)
    let signingKey;
    try {
      signingKey = new X509Certificate(r.signingCert).publicKey;
    } catch {
      throw new TrucError('cert_invalid', 'không đọc được chứng thư ký số / the signing certificate cannot be read', { reason: 'malformed', certificate: 'signing' });
    }
    if (!verifyWith(signingKey, r.signatureAlgorithm, r.bytes, r.signature))
      throw invalid('bad_signature', 'chữ ký bằng khoá ký số của chủ máy chủ không khớp với nội dung yêu cầu / the signature of the owner’s signing key does not verify over the payload');
    const named = memberOfSigningCert(r.signingCert);
    const expected = `${owner.instance}/${owner.memberClass}/${owner.memberCode}`;
    if (named !== expected)
      throw invalid(
        'wrong_owner',
        `chứng thư ký số ghi ${named === null ? 'không thành viên nào' : `"${named}"`} trong serialNumber của chủ thể, chủ máy chủ là ${expected} / the signing certificate names ${named === null ? 'no member' : `"${named}"`} in its subject serialNumber; the server's owner is ${expected}`,
        { expected, named },
      );
    await this.checkCertificate('signing', r.signingCert, r.signingOcsp, SIGNING_PURPOSE, settings.ocspFreshnessSeconds, now);
    ownerVerified();

    if (r.auth) {
      if (sha256Hex(r.auth.cert) !== p.authCertHash)
        throw invalid('malformed', 'authCertHash không phải băm của chứng thư xác thực kèm theo / authCertHash is not the hash of the authentication certificate carried');
      let authKey;
      try {
        authKey = new X509Certificate(r.auth.cert).publicKey;
      } catch {
        throw new TrucError('cert_invalid', 'không đọc được chứng thư xác thực / the authentication certificate cannot be read', { reason: 'malformed', certificate: 'auth' });
      }
      if (!verifyWith(authKey, r.auth.scheme, r.bytes, r.auth.pop))
        throw invalid('bad_proof_of_possession', 'bằng chứng sở hữu khoá không khớp với khoá của chứng thư xác thực / the proof of possession does not verify with the authentication certificate’s key');
    }

    // the encryption certificate is the owner member's: its hash is what the owner signed, and it names the member
    let encryptionPurpose: Purpose | undefined;
    if (r.encryption) {
      if (sha256Hex(r.encryption.cert) !== p.encryptionCertHash)
        throw invalid('malformed', 'encryptionCertHash không phải băm của chứng thư mã hoá kèm theo / encryptionCertHash is not the hash of the encryption certificate carried');
      encryptionPurpose = encryptionPurposeOf(r.encryption.cert);
      const encNamed = memberOfSigningCert(r.encryption.cert);
      if (encNamed !== expected)
        throw invalid('wrong_owner', `chứng thư mã hoá ghi ${encNamed === null ? 'không thành viên nào' : `"${encNamed}"`} trong serialNumber, chủ máy chủ là ${expected} / the encryption certificate names ${encNamed === null ? 'no member' : `"${encNamed}"`} in its subject serialNumber; the server's owner is ${expected}`, { expected, named: encNamed, certificate: 'encryption' });
    }

    // a subsystem of another member becomes this server's client only with that member's consent: its
    // own signing key over the same bytes (otherwise any owner could offer itself as another's provider)
    const c = p.client;
    const foreignClient = p.type === 'client' && c && (c.memberClass !== owner.memberClass || c.memberCode !== owner.memberCode);
    if (foreignClient) {
      const cm = memberText({ instance: p.instance, ...c });
      if (!r.client) throw invalid('client_signature_missing', `phân hệ của thành viên khác (${cm}) cần cả chữ ký của thành viên đó / a subsystem of another member (${cm}) needs that member’s signature too`);
      let clientKey;
      try {
        clientKey = new X509Certificate(r.client.cert).publicKey;
      } catch {
        throw new TrucError('cert_invalid', 'không đọc được chứng thư ký số của thành viên sở hữu phân hệ / the client member’s signing certificate cannot be read', { reason: 'malformed', certificate: 'client-signing' });
      }
      if (!verifyWith(clientKey, r.client.scheme, r.bytes, r.client.signature))
        throw invalid('bad_signature', 'chữ ký của thành viên sở hữu phân hệ không khớp với nội dung yêu cầu / the client member’s signature does not verify over the payload');
      const clientNamed = memberOfSigningCert(r.client.cert);
      const clientExpected = `${p.instance}/${c.memberClass}/${c.memberCode}`;
      if (clientNamed !== clientExpected)
        throw invalid(
          'wrong_owner',
          `chứng thư ký số của thành viên sở hữu phân hệ ghi ${clientNamed === null ? 'không thành viên nào' : `"${clientNamed}"`}, phân hệ thuộc ${clientExpected} / the client member's signing certificate names ${clientNamed === null ? 'no member' : `"${clientNamed}"`}; the client belongs to ${clientExpected}`,
          { expected: clientExpected, named: clientNamed },
        );
    } else if (r.client) throw invalid('malformed', 'phân hệ thuộc chủ máy chủ: không cần chữ ký thứ hai / the client belongs to the server’s owner: no second signature is expected');

    if (r.auth) await this.checkCertificate('auth', r.auth.cert, r.auth.ocsp, AUTH_PURPOSE, settings.ocspFreshnessSeconds, now);
    if (r.client) await this.checkCertificate('client-signing', r.client.cert, r.client.ocsp, SIGNING_PURPOSE, settings.ocspFreshnessSeconds, now);
    if (r.encryption) await this.checkCertificate('encryption', r.encryption.cert, r.encryption.ocsp, encryptionPurpose!, settings.ocspFreshnessSeconds, now);

    // what the request is about must make sense now (checked again when it is approved)
    await this.checkApplicable(p);
  }

  /**
   * The certificates a pending request carried, checked again at its approval with a response the CA's
   * responders give now (./cert-status.ts): revoked while the request waited is `cert_revoked`. When no
   * responder answers, the response the request carried still speaks for its certificate while it is
   * within the freshness limit (a responder down for a moment does not stop approvals); past it, the
   * status cannot be confirmed and the approval is refused (`ocsp_stale`). The request stays pending in
   * either case: deciding it is the operator's (a hold can be lifted, a responder comes back), and its
   * rejection says why in their words.
   */
  private async recheck(r: store.RequestRow): Promise<void> {
    const settings = await loadSettings(this.ctx.db);
    const now = this.ctx.clock();
    const cas = await store.listCaEntries(this.ctx.db);
    for (const [which, certField, ocspField] of CARRIED) {
      const b64 = r.request[certField];
      if (typeof b64 !== 'string') continue;
      const cert = Buffer.from(b64, 'base64');
      const purpose = which === 'auth' ? AUTH_PURPOSE : which === 'encryption' ? encryptionPurposeOf(cert) : SIGNING_PURPOSE;
      const asked = await askResponders(cas, cert, now, settings.ocspFreshnessSeconds * 1000, this.ocspFetcher);
      if ('response' in asked) {
        await this.checkCertificate(which, cert, asked.response, purpose, settings.ocspFreshnessSeconds, now);
        continue;
      }
      try {
        await this.checkCertificate(which, cert, Buffer.from(String(r.request[ocspField] ?? ''), 'base64'), purpose, settings.ocspFreshnessSeconds, now);
      } catch (e) {
        if (!isTrucError(e) || e.code !== 'ocsp_stale') throw e;
        throw new TrucError(
          'ocsp_stale',
          `không xác nhận được trạng thái hiện tại của chứng thư ${CERT_VI[which]}: không máy chủ OCSP nào của CA trả lời được, và phản hồi OCSP kèm theo yêu cầu đã cũ quá ${settings.ocspFreshnessSeconds} giây; hãy thử phê duyệt lại khi máy chủ OCSP hoạt động / the ${which} certificate's status cannot be confirmed now: no OCSP responder of its CA gave a usable answer (${asked.unavailable}) and the response the request carried is older than ${settings.ocspFreshnessSeconds} s; approve again once the responder answers`,
          { certificate: which, reason: 'status_unconfirmed' },
        );
      }
      this.ctx.log?.warn({ request: r.id, certificate: which, why: asked.unavailable }, 'no OCSP responder answered at approval: the response the request carried, still fresh, was used');
    }
  }

  /** The certificate chains to an approved CA for the purpose, and its OCSP response is good and fresh. */
  private async checkCertificate(which: CertRole, cert: Buffer, ocsp: Buffer, purpose: Purpose, freshnessSeconds: number, now: Date): Promise<void> {
    const vi = CERT_VI[which];
    const cas = await store.listCaEntries(this.ctx.db);
    if (!cas.length) throw new TrucError('cert_invalid', 'chưa có tổ chức cung cấp dịch vụ chứng thực nào được phê duyệt / no certification authority is approved yet', { reason: 'no_approved_ca', certificate: which });
    const result = await validatePath({
      target: cert,
      intermediates: cas.flatMap((c) => c.intermediates),
      trustAnchors: cas.map((c) => c.certificate),
      time: now,
      purpose,
      revocation: { mode: 'hard-fail', ocspResponses: [ocsp], targetOnly: true },
    });
    if (!result.valid) {
      if (result.reason === 'revoked') throw new TrucError('cert_revoked', `chứng thư ${vi} đã bị thu hồi / the ${which} certificate is revoked`, { certificate: which, reason: 'revoked' });
      if (result.reason === 'revocation_unknown')
        throw new TrucError('ocsp_stale', `không có phản hồi OCSP hợp lệ, còn hiệu lực chứng minh chứng thư ${vi} còn tốt / no valid, current OCSP response proves the ${which} certificate good: ${result.message}`, { certificate: which, reason: 'revocation_unknown' });
      throw new TrucError('cert_invalid', `chứng thư ${vi} không hợp lệ cho mục đích này / the ${which} certificate is not valid for this use: ${result.message}`, { certificate: which, reason: result.reason });
    }
    // the path validator took the response as current (thisUpdate ≤ now ≤ nextUpdate); fresh is stricter
    const evidence = result.revocationEvidence.find((e) => e.kind === 'ocsp');
    if (!evidence) throw new TrucError('ocsp_stale', `không có phản hồi OCSP chứng minh chứng thư ${vi} còn tốt / no OCSP response proves the ${which} certificate good`, { certificate: which });
    if (now.getTime() - evidence.thisUpdate.getTime() > freshnessSeconds * 1000)
      throw new TrucError('ocsp_stale', `phản hồi OCSP cho chứng thư ${vi} đã quá cũ / the OCSP response for the ${which} certificate was produced at ${evidence.thisUpdate.toISOString()}, older than ${freshnessSeconds} s`, {
        certificate: which,
        thisUpdate: evidence.thisUpdate.toISOString(),
      });
  }

  /** Whether the registry is in a state the request can apply to. */
  private async checkApplicable(p: RegistrationPayload, sql: Sql = this.ctx.db): Promise<void> {
    const key = { ownerClass: p.server.memberClass, ownerCode: p.server.memberCode, serverCode: p.server.serverCode };
    const sid = serverText({ instance: p.instance, ...p.server });
    if (!(await store.getMember(sql, key.ownerClass, key.ownerCode))) throw notRegisteredMember(memberText({ instance: p.instance, memberClass: key.ownerClass, memberCode: key.ownerCode }));
    if (p.type === 'auth-cert') {
      const holder = await store.serverOfAuthCert(sql, p.authCertHash!);
      if (holder)
        throw invalid('duplicate', `chứng thư xác thực này đã được đăng ký (cho ${holder.serverCode}) / this authentication certificate is already registered (to ${holder.serverCode})`);
      return;
    }
    const server = await store.getServer(sql, key);
    if (!server) throw invalid('unknown_server', `${sid} chưa phải máy chủ an ninh đã đăng ký / ${sid} is not a registered security server`);
    if (p.type === 'encryption-cert' || p.type === 'encryption-cert-deletion') {
      const owner = { memberClass: key.ownerClass, memberCode: key.ownerCode };
      const mid = memberText({ instance: p.instance, ...owner });
      const held = await store.getEncryptionCert(sql, p.encryptionCertHash!);
      if (p.type === 'encryption-cert-deletion') {
        if (!held || held.memberClass !== owner.memberClass || held.memberCode !== owner.memberCode)
          throw invalid('unknown_cert', `chứng thư mã hoá này không được đăng ký cho ${mid} / that encryption certificate is not registered to ${mid}`);
        return;
      }
      if (held) throw invalid('duplicate', `chứng thư mã hoá này đã được đăng ký (cho ${held.memberClass}/${held.memberCode}) / this encryption certificate is already registered (to ${held.memberClass}/${held.memberCode})`);
      if ((await store.listEncryptionCerts(sql, owner)).length >= MAX_ENCRYPTION_CERTS)
        throw invalid('too_many', `${mid} đã có ${MAX_ENCRYPTION_CERTS} chứng thư mã hoá: hãy xoá một chứng thư cũ trước / ${mid} already holds ${MAX_ENCRYPTION_CERTS} encryption certificates: delete an old one first`, { max: MAX_ENCRYPTION_CERTS });
      return;
    }
    if (p.type === 'client' || p.type === 'client-deletion') {
      const c = p.client!;
      const text = subsystemText({ instance: p.instance, ...c });
      if (!(await store.getMember(sql, c.memberClass, c.memberCode))) throw notRegisteredMember(memberText({ instance: p.instance, ...c }), true);
      const has = server.clients.some((x) => x.memberClass === c.memberClass && x.memberCode === c.memberCode && x.subsystemCode === c.subsystemCode);
      if (p.type === 'client' && has) throw invalid('duplicate', `${text} đã là phân hệ khách của ${sid} / ${text} is already a client of ${sid}`);
      if (p.type === 'client-deletion' && !has) throw invalid('unknown_client', `${text} không phải phân hệ khách của ${sid} / ${text} is not a client of ${sid}`);
    }
    if (p.type === 'auth-cert-deletion' && !server.authCertHashes.includes(p.authCertHash!))
      throw invalid('unknown_cert', `chứng thư xác thực đó không được đăng ký cho ${sid} / that authentication certificate is not registered to ${sid}`);
  }

  /**
   * Applies a pending request to the registry, once its certificates are checked again (`recheck`: outside
   * the transaction, which must not wait on an OCSP responder).
   */
  async approve(id: string, actor: string): Promise<RequestView> {
    return this.approveAs(id, actor, true);
  }

  private async approveAs(id: string, actor: string, recheck: boolean): Promise<RequestView> {
    const target = String(id).slice(0, 200);
    if (recheck) {
      try {
        const r = await store.getRequest(this.ctx.db, id);
        // an unknown or decided request is refused in the transaction below
        if (r?.status === 'pending') await this.recheck(r);
      } catch (e) {
        await refused(this.ctx, actor, 'registration.approve', target, e);
        throw e;
      }
    }
    return change(this.ctx, {
      actor,
      action: 'registration.approve',
      target,
      run: async (sql) => {
        const r = await store.getRequest(sql, id, true);
        if (!r) throw notFound(id);
        if (r.status !== 'pending') throw decided(id, r.status);
        const p = JSON.parse(r.payload.toString('utf8')) as RegistrationPayload;
        await this.checkApplicable(p, sql);
        await this.apply(sql, p, r);
        const at = this.ctx.clock();
        await store.decideRequest(sql, id, 'approved', actor, at, null);
        return requestView({ ...r, status: 'approved', decidedBy: actor, decidedAt: at });
      },
    });
  }

  async reject(id: string, actor: string, reason: string): Promise<RequestView> {
    const why = typeof reason === 'string' && reason.trim() ? reason.trim().slice(0, 1000) : 'người vận hành từ chối / rejected by the operator';
    return change(this.ctx, {
      actor,
      action: 'registration.reject',
      target: String(id).slice(0, 200),
      detail: { reason: why },
      confChange: false,
      run: async (sql) => {
        const r = await store.getRequest(sql, id, true);
        if (!r) throw notFound(id);
        if (r.status !== 'pending') throw decided(id, r.status);
        const at = this.ctx.clock();
        await store.decideRequest(sql, id, 'rejected', actor, at, why);
        return requestView({ ...r, status: 'rejected', decidedBy: actor, decidedAt: at, reason: why });
      },
    });
  }

  async list(status?: store.RequestStatus, limit = 100): Promise<RequestView[]> {
    const rows = await store.listRequests(this.ctx.db, status, Math.min(Math.max(1, limit), 1000));
    return Promise.all(rows.map((r) => this.view(r)));
  }

  async get(id: string): Promise<RequestView | null> {
    const r = await store.getRequest(this.ctx.db, id);
    return r ? this.view(r) : null;
  }

  /** requestView, with the encryption certificate an encryption-cert request carries or a deletion names */
  private async view(r: store.RequestRow): Promise<RequestView> {
    const v = requestView(r);
    if (r.type === 'encryption-cert') v.encryptionCertificate = carriedEncryptionCert(r, this.ctx.clock());
    else if (r.type === 'encryption-cert-deletion') {
      const held = typeof v.payload.encryptionCertHash === 'string' ? await store.getEncryptionCert(this.ctx.db, v.payload.encryptionCertHash) : null;
      v.encryptionCertificate = held ? describeEncryptionCert(held.certificate, this.ctx.clock()) : null;
    }
    return v;
  }

  private async apply(sql: Sql, p: RegistrationPayload, r: store.RequestRow): Promise<void> {
    const key = { ownerClass: p.server.memberClass, ownerCode: p.server.memberCode, serverCode: p.server.serverCode };
    switch (p.type) {
      case 'auth-cert': {
        const der = Buffer.from(String(r.request.authCert), 'base64');
        await store.upsertServer(sql, key, p.address!);
        await store.addAuthCert(sql, key, p.authCertHash!, der);
        return;
      }
      case 'client':
        await store.insertSubsystem(sql, p.client!);
        await store.addClient(sql, key, p.client!);
        return;
      case 'client-deletion':
        await store.deleteClient(sql, key, p.client!);
        return;
      case 'address-change':
        await store.setServerAddress(sql, key, p.address!);
        return;
      case 'maintenance':
        // the payload as signed; the message as checked when the request came (trimmed, NFC)
        await store.setMaintenance(sql, key, p.maintenance!, p.maintenanceMessage === undefined ? undefined : checkMaintenanceMessage(p.maintenanceMessage));
        return;
      case 'auth-cert-deletion':
        await store.deleteAuthCert(sql, key, p.authCertHash!);
        return;
      case 'encryption-cert': {
        const der = Buffer.from(String(r.request.encryptionCert), 'base64');
        const c = parseCertificate(der);
        await store.addEncryptionCert(sql, { hash: p.encryptionCertHash!, memberClass: key.ownerClass, memberCode: key.ownerCode, certificate: der, notBefore: c.notBefore, notAfter: c.notAfter, requestId: r.id }, this.ctx.clock());
        return;
      }
      case 'encryption-cert-deletion':
        await store.deleteEncryptionCert(sql, { memberClass: key.ownerClass, memberCode: key.ownerCode }, p.encryptionCertHash!);
        return;
    }
  }
}
