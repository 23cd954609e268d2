/**
 * Registration requests, the security server's side: what a request says (the payload, canonical JSON
 * bytes), how it is signed (the owner's signing key over the payload bytes; for an authentication
 * certificate also a proof of possession made with the authentication key over the same bytes), what it
 * carries (both certificates in DER with a fresh OCSP response each), and how it is sent: HTTPS to the
 * central server, whose TLS certificate must hash to the pin from the private parameters — a server with
 * another certificate is refused before a byte of the request leaves.
 *
 * An agency's encryption certificate (agency-encryption, for documents encrypted end to end to it) is
 * registered the same way (`encryption-cert`): its hash in the payload, the certificate and a fresh OCSP
 * response for it beside the signature. It carries no proof of possession: a key that only agrees keys or
 * decrypts cannot sign, so what binds it to the member is the owner's signature over its hash, the
 * certificate naming the member, and the CA that certified it (`encryptionCertRequest` builds one for a
 * security server).
 *
 * Convention of the whole exchange: a member's signing certificate names the member in its subject's
 * `serialNumber` attribute as `INSTANCE/CLASS/CODE` (e.g. `VN/GOV/000.00.00.G22`).
 */
import { request as httpsRequest } from 'node:https';
import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { TrucError, type ErrorCode } from '../../errors.js';
import type { SignatureScheme } from '../../crypto/algorithms.js';
import { canonicalBytes, sha256Hex } from './signed.js';
import type { GlobalConf } from './global.js';

/** The longest maintenance message a server's owner may give (X-Road's too: one short line for the clients). */
export const MAINTENANCE_MESSAGE_MAX = 255;

/**
 * A maintenance message as the central server takes it and the configuration carries it: text of 1–255
 * characters after trimming, one line, no control characters (it ends up in X-Road-Error answers' messages
 * and on the console).
 */
export function checkMaintenanceMessage(m: unknown): string {
  if (typeof m !== 'string') throw new TrucError('bad_request', 'thông báo bảo trì phải là văn bản / a maintenance message is text');
  const t = m.trim();
  if (!t) throw new TrucError('bad_request', 'thông báo bảo trì không được để trống / a maintenance message is not empty');
  if ([...t].length > MAINTENANCE_MESSAGE_MAX)
    throw new TrucError('bad_request', `thông báo bảo trì dài tối đa ${MAINTENANCE_MESSAGE_MAX} ký tự / a maintenance message has at most ${MAINTENANCE_MESSAGE_MAX} characters`);
  if (/[\p{Cc}\u2028\u2029]/u.test(t)) throw new TrucError('bad_request', 'thông báo bảo trì là một dòng, không có ký tự điều khiển / a maintenance message is one line without control characters');
  return t.normalize('NFC');
}

export const REQUEST_TYPES = ['auth-cert', 'client', 'client-deletion', 'address-change', 'maintenance', 'auth-cert-deletion', 'encryption-cert', 'encryption-cert-deletion'] as const;
export type RegistrationType = (typeof REQUEST_TYPES)[number];

export interface RegistrationPayload {
  /** unique per request: the central server refuses an id it has seen (replay) */
  id: string;
  type: RegistrationType;
  instance: string;
  /** the security server the request is about (its owner signs) */
  server: { memberClass: string; memberCode: string; serverCode: string };
  /** auth-cert, address-change: host or host:port of the server's peer listener */
  address?: string;
  /** auth-cert, auth-cert-deletion: SHA-256 hex of the authentication certificate's DER */
  authCertHash?: string;
  /** client, client-deletion: the subsystem */
  client?: { memberClass: string; memberCode: string; subsystemCode: string };
  /** maintenance: on or off */
  maintenance?: boolean;
  /** maintenance on: what clients are told meanwhile (checkMaintenanceMessage) */
  maintenanceMessage?: string;
  /** encryption-cert, encryption-cert-deletion: SHA-256 hex of the owner member's encryption certificate */
  encryptionCertHash?: string;
  /** ISO time the request was made; the central server accepts ±5 minutes */
  createdAt: string;
}

/** The request as sent: base64 fields, so that the payload's exact bytes are what both sides hash. */
export interface RegistrationRequest {
  payload: string;
  signingCert: string;
  signingOcsp: string;
  signatureAlgorithm: SignatureScheme;
  signature: string;
  authCert?: string;
  authOcsp?: string;
  popAlgorithm?: SignatureScheme;
  proofOfPossession?: string;
  /** client requests for another member's subsystem: that member's signing certificate, OCSP and signature */
  clientSigningCert?: string;
  clientSigningOcsp?: string;
  clientSignatureAlgorithm?: SignatureScheme;
  clientSignature?: string;
  /** encryption-cert: the owner member's encryption certificate and a fresh OCSP response for it */
  encryptionCert?: string;
  encryptionOcsp?: string;
}

export interface KeySigner {
  /** signs the data (the store hashes per the scheme) */
  sign: (data: Buffer) => Promise<Buffer>;
  scheme: SignatureScheme;
  certificate: Buffer;
  /** a fresh OCSP response (DER) for `certificate` */
  ocsp: Buffer;
}

export interface BuildRegistration {
  type: RegistrationType;
  instance: string;
  server: RegistrationPayload['server'];
  address?: string;
  client?: RegistrationPayload['client'];
  maintenance?: boolean;
  maintenanceMessage?: string;
  /** the owner member's signing key (always) */
  signing: KeySigner;
  /** the server's authentication key (auth-cert requests); for auth-cert-deletion only its certificate */
  auth?: KeySigner | { certificate: Buffer };
  /** client requests for a subsystem of another member: that member's signing key (it consents) */
  clientSigning?: KeySigner;
  /** encryption-cert: the certificate and a fresh OCSP response (DER); encryption-cert-deletion: the certificate */
  encryption?: { certificate: Buffer; ocsp?: Buffer };
  id?: string;
  now?: Date;
}

export async function buildRegistrationRequest(b: BuildRegistration): Promise<RegistrationRequest> {
  const payload: RegistrationPayload = {
    id: b.id ?? randomUUID(),
    type: b.type,
    instance: b.instance,
    server: { memberClass: b.server.memberClass, memberCode: b.server.memberCode, serverCode: b.server.serverCode },
    createdAt: (b.now ?? new Date()).toISOString(),
  };
  if (b.address !== undefined) payload.address = b.address;
  if (b.client) payload.client = { memberClass: b.client.memberClass, memberCode: b.client.memberCode, subsystemCode: b.client.subsystemCode };
  if (b.maintenance !== undefined) payload.maintenance = b.maintenance;
  // checked by the central server (checkMaintenanceMessage), and by `truc ss register` before it sends
  if (b.maintenanceMessage !== undefined) payload.maintenanceMessage = b.maintenanceMessage;
  if (b.type === 'auth-cert' || b.type === 'auth-cert-deletion') {
    if (!b.auth) throw new TrucError('bad_request', `a ${b.type} request needs the authentication certificate`);
    payload.authCertHash = sha256Hex(b.auth.certificate);
  }
  if (b.type === 'encryption-cert' || b.type === 'encryption-cert-deletion') {
    if (!b.encryption) throw new TrucError('bad_request', `a ${b.type} request needs the encryption certificate`);
    payload.encryptionCertHash = sha256Hex(b.encryption.certificate);
  } else if (b.encryption) throw new TrucError('bad_request', `a ${b.type} request carries no encryption certificate`);
  const bytes = canonicalBytes(payload);
  const req: RegistrationRequest = {
    payload: bytes.toString('base64'),
    signingCert: b.signing.certificate.toString('base64'),
    signingOcsp: b.signing.ocsp.toString('base64'),
    signatureAlgorithm: b.signing.scheme,
    signature: (await b.signing.sign(bytes)).toString('base64'),
  };
  if (b.type === 'auth-cert') {
    const auth = b.auth as KeySigner;
    if (typeof auth.sign !== 'function') throw new TrucError('bad_request', 'an auth-cert request needs the authentication key to prove possession');
    req.authCert = auth.certificate.toString('base64');
    req.authOcsp = auth.ocsp.toString('base64');
    req.popAlgorithm = auth.scheme;
    req.proofOfPossession = (await auth.sign(bytes)).toString('base64');
  }
  if (b.type === 'encryption-cert') {
    if (!b.encryption!.ocsp?.length) throw new TrucError('bad_request', 'an encryption-cert request needs a fresh OCSP response for the certificate');
    req.encryptionCert = b.encryption!.certificate.toString('base64');
    req.encryptionOcsp = b.encryption!.ocsp.toString('base64');
  }
  if (b.clientSigning) {
    if (b.type !== 'client') throw new TrucError('bad_request', 'only a client request carries the client member’s signature');
    req.clientSigningCert = b.clientSigning.certificate.toString('base64');
    req.clientSigningOcsp = b.clientSigning.ocsp.toString('base64');
    req.clientSignatureAlgorithm = b.clientSigning.scheme;
    req.clientSignature = (await b.clientSigning.sign(bytes)).toString('base64');
  }
  return req;
}

/** What `encryptionCertRequest` needs of a security server (a `SecurityServer` is one). */
export interface RequestingServer {
  ctx: {
    id: { instance: string; memberClass: string; memberCode: string; serverCode: string };
    own: { response(name: 'sign'): Buffer; refresh(conf: GlobalConf, force?: boolean): Promise<void> };
    conf(): GlobalConf;
    clock(): Date;
  };
  /** the owner member's signing key and certificate */
  memberSigner(): Promise<{ sign(data: Uint8Array): Promise<Buffer> | Buffer; scheme: SignatureScheme; certificate: Uint8Array }>;
}

/**
 * A request registering (`encryption-cert`, with `ocsp`: a fresh OCSP response for the certificate) or
 * deleting (`encryption-cert-deletion`) the server's owner member's encryption certificate, signed with the
 * owner's signing key (its OCSP response fetched first when the server holds none).
 */
export async function encryptionCertRequest(server: RequestingServer, type: 'encryption-cert' | 'encryption-cert-deletion', certificate: Buffer, ocsp?: Buffer): Promise<RegistrationRequest> {
  const conf = server.ctx.conf();
  if (!server.ctx.own.response('sign').length) await server.ctx.own.refresh(conf, true);
  const signingOcsp = server.ctx.own.response('sign');
  if (!signingOcsp.length) throw new TrucError('ocsp_stale', 'không lấy được phản hồi OCSP cho chứng thư ký số của máy chủ / no OCSP response could be fetched for the server’s signing certificate');
  const signer = await server.memberSigner();
  const { id } = server.ctx;
  return buildRegistrationRequest({
    type,
    instance: id.instance,
    server: { memberClass: id.memberClass, memberCode: id.memberCode, serverCode: id.serverCode },
    signing: { sign: async (d) => Buffer.from(await signer.sign(d)), scheme: signer.scheme, certificate: Buffer.from(signer.certificate), ocsp: signingOcsp },
    encryption: { certificate, ...(ocsp ? { ocsp } : {}) },
    now: server.ctx.clock(),
  });
}

export interface SubmitResult {
  id: string;
  status: 'pending' | 'approved';
}

const MAX_ANSWER = 64 * 1024;

/** The id a request's payload gives it (undefined when the payload is not one: the central server will say why). */
function requestIdOf(request: RegistrationRequest): string | undefined {
  try {
    const id = JSON.parse(Buffer.from(request.payload, 'base64').toString('utf8'))?.id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sends a request to the central server's registration URL over HTTPS, refusing (with `cert_invalid`) a
 * server whose TLS certificate's SHA-256 differs from `pinnedTlsCertSha256Hex`. The pin replaces the usual
 * chain check: the central server's certificate may be self-signed. A 2xx answer is taken only when it
 * names the request sent and a status a received request has (pending, approved): anything else — a
 * proxy's page, another request's id, `rejected` — is `peer_failed`, not a registration the operator is
 * told went through.
 */
export function submitRegistration(url: string, pinnedTlsCertSha256Hex: string, request: RegistrationRequest, opts: { timeoutMs?: number } = {}): Promise<SubmitResult> {
  const u = new URL(url);
  if (u.protocol !== 'https:') return Promise.reject(new TrucError('bad_request', 'URL đăng ký phải dùng https / the registration URL must use https'));
  if (!/^[0-9a-fA-F]{64}$/.test(pinnedTlsCertSha256Hex)) return Promise.reject(new TrucError('bad_request', 'giá trị ghim phải là SHA-256 dạng hex / the pin must be a SHA-256 hex'));
  const pin = Buffer.from(pinnedTlsCertSha256Hex, 'hex');
  const body = Buffer.from(JSON.stringify(request));
  const sentId = requestIdOf(request);
  return new Promise<SubmitResult>((resolve, reject) => {
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(e);
    };
    const req = httpsRequest(
      {
        method: 'POST',
        hostname: u.hostname.replace(/^\[|\]$/g, ''),
        port: u.port || 443,
        path: `${u.pathname}${u.search}`,
        agent: false,
        // the chain is not what we trust here: the pin is, checked below before the body is written
        rejectUnauthorized: false,
        servername: /^[\d.]+$|:/.test(u.hostname) ? undefined : u.hostname,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
        timeout: opts.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER) return fail(new TrucError('peer_failed', `máy chủ trung tâm trả lời quá ${MAX_ANSWER} byte / the central server answered too much`));
          chunks.push(c);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          let json: any;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            return reject(new TrucError('peer_failed', `máy chủ trung tâm trả lời ${res.statusCode} không kèm JSON / the central server answered ${res.statusCode} without JSON`));
          }
          if (res.statusCode && res.statusCode >= 200 && res.statusCode < 300) {
            const id: unknown = json?.id;
            const status: unknown = json?.status;
            if (sentId !== undefined && id === sentId && (status === 'pending' || status === 'approved')) return resolve({ id, status });
            const shown = (v: unknown) => JSON.stringify(v ?? null).slice(0, 80);
            return reject(
              new TrucError(
                'peer_failed',
                `máy chủ trung tâm trả lời ${res.statusCode} nhưng không xác nhận đã nhận yêu cầu ${sentId ?? ''} (id ${shown(id)}, trạng thái ${shown(status)}) / the central server answered ${res.statusCode} without confirming it received request ${sentId ?? ''} (id ${shown(id)}, status ${shown(status)})`,
                { reason: 'unconfirmed', httpStatus: res.statusCode },
              ),
            );
          }
          const message = typeof json?.detail === 'string' ? json.detail : `máy chủ trung tâm từ chối yêu cầu đăng ký (${res.statusCode}) / registration refused (${res.statusCode})`;
          const err = new TrucError((typeof json?.code === 'string' ? json.code : 'peer_failed') as ErrorCode, message, json && typeof json === 'object' ? json : undefined);
          // a code this version does not know is still the central server's refusal
          reject(err.status === undefined ? new TrucError('peer_failed', message, { code: json?.code }) : err);
        });
        res.on('error', fail);
      },
    );
    req.on('timeout', () => fail(new TrucError('peer_unreachable', 'máy chủ trung tâm không trả lời kịp / the central server did not answer in time')));
    req.on('error', (e) => fail(new TrucError('peer_unreachable', `không kết nối được tới máy chủ trung tâm / cannot reach the central server: ${e.message}`)));
    req.on('socket', (socket) => {
      (socket as TLSSocket).once('secureConnect', () => {
        const peer = (socket as TLSSocket).getPeerCertificate(false);
        const got = peer?.raw ? createHash('sha256').update(peer.raw).digest() : Buffer.alloc(32);
        if (!peer?.raw || !timingSafeEqual(got, pin))
          return fail(new TrucError('cert_invalid', 'máy chủ trung tâm xuất trình chứng thư TLS khác chứng thư đã ghim / the central server presented a TLS certificate other than the pinned one', { reason: 'pin_mismatch', presented: got.toString('hex') }));
        req.end(body);
      });
    });
  });
}
