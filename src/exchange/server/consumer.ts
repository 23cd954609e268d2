/**
 * The consumer side: an information system calls its own security server with X-Road's REST protocol,
 *
 *   METHOD /r1/{instance}/{class}/{member}/{subsystem}/{service}[/path]     X-Road-Client: I/C/M/S
 *
 * and the server checks that the client is one of its own, finds the servers that provide the service,
 * streams the signed message to the fastest over pinned mutual TLS, logs the request before its
 * signature leaves (so the provider can never act on a message this side has not logged), then reads the
 * provider's signed response, verifies it (signature, certificate path and status, binding to the
 * request), logs it, and only then answers the information system.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { TrucError, isTrucError } from '../../errors.js';
import { clientHeader, isMemberService, memberText, memberOf, parseClientHeader, parseRepresentedPartyHeader, parseServer, parseService, parseSubsystem, sameMember, serverText, serviceId, subsystemId, memberId, serviceText, subsystemText, subsystemOf, type ServerId, type ServiceId, type SubsystemId } from '../ids.js';
import { BodyCollector, bodyStream, forwardFramed } from './body.js';
import { FRAME_ABORT, FRAME_BODY, FRAME_HEADER, FRAME_MATERIAL, FRAME_SIGNATURE, MESSAGE_CONTENT_TYPE, connectionNamed, encodeHeader, frame, headerText, frameHead, signMessage, parseHeader, readWhole, restServiceHeader, xroadRequestHash, type MessageHeader } from './message.js';
import { bodyIdleBound, checkTime, httpInbound, ownMaterial, publishRefusal, readIncoming, receiveBody, carryCounted, recordHealth, sendsLogging, type InboundSource, type ReceivedRest, type ServerContext } from './context.js';
import { materialSent, materialToSend, peerMaterial } from './material.js';
import { errorFromProblem, readRefusal, recordedFault, sendXroadError } from './xroad-error.js';
import { splitAddress, type FramedConn } from './peers.js';
import { PENDING_FRAME, confirmation, confirmationFrame, lengthFrame } from './channel.js';
import type { TLSSocket } from 'node:tls';
import type { Writable } from 'node:stream';
import { certHash, maintenanceText, type ConfServerView } from '../conf/global.js';
import { writeChunk, writeChunks } from './write.js';
import { sha256 } from '../../crypto/digest.js';
import { bodyHash as hashBody } from '../log/format.js';
import { listClients } from './metaservices.js';
import { opMessage, type OpProgress } from './oprecords.js';
import { pathAmbiguity, type ServerSnapshot } from './store.js';
import { mimeParts, type MimeParts } from './mime-parts.js';
import { SOAP_MAX_BYTES, checkResponse, isSoapCall, parseMediaType, parseSoapYielding, readSoapHead, sendSoapFault, soapMessageBytes, soapRequest, type ParsedSoap, type SoapRequest } from './soap.js';

// PR-REST 4.3: hop-by-hop headers and those that leak the origin host are filtered; Expect is handled here;
// the protocol's own headers are set by the servers, never passed on as the information system gave them
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'user-agent', 'server', 'expect', 'content-length']);
const PROTOCOL_HEADERS = new Set(['x-road-client', 'x-road-service', 'x-road-id', 'x-road-request-id', 'x-road-request-hash', 'x-road-error', 'x-road-security-server']);
const MAX_ID = 255;

/** The information system's headers carried across: all but hop-by-hop ones (those Connection names too) and those the protocol sets. */
export function carriedHeaders(raw: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  const named = connectionNamed(raw.connection);
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined || HOP_BY_HOP.has(k) || PROTOCOL_HEADERS.has(k) || named.has(k)) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/**
 * The X-Road-Client header's parts are percent-encoded UTF-8 (PR-REST 4.3); `/` separates them. Node reads a
 * header's bytes as Latin-1 (as X-Road's Jetty does): one sent as raw UTF-8 — "văn-thư" rather than
 * "v%C4%83n-th%C6%B0" — is read as the UTF-8 it is when its bytes are valid UTF-8, not as "vÄƒn-thÆ°".
 */
export function decodeClientHeader(raw: string): string {
  try {
    return headerText(raw)
      .trim()
      .split('/')
      .map((p) => decodeURIComponent(p))
      .join('/');
  } catch {
    throw new TrucError('bad_identifier', 'the X-Road-Client header holds a malformed percent-encoding');
  }
}

export function parseRestPath(url: string): { service: ServiceId; path: string } {
  const q = url.indexOf('?');
  const pathname = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q);
  const p = pathname.split('/');
  // ['', 'r1', instance, class, member, subsystem, service, ...rest]
  if (p[1] !== 'r1') throw new TrucError('bad_request', `the REST protocol version "${p[1] ?? ''}" is not supported; use /r1/`, { reason_vi: `phiên bản giao thức REST "${p[1] ?? ''}" không được hỗ trợ; hãy dùng /r1/` });
  if (p.length < 7) throw new TrucError('bad_request', 'the path is /r1/{instance}/{class}/{member}/{subsystem}/{service}[/…]', { reason_vi: 'đường dẫn có dạng /r1/{instance}/{class}/{member}/{subsystem}/{service}[/…]' });
  let parts: string[];
  try {
    parts = p.slice(2, 7).map((x) => decodeURIComponent(x));
  } catch {
    throw new TrucError('bad_request', 'the path holds a malformed percent-encoding');
  }
  const [instance, cls, member, subsystem, svc] = parts as [string, string, string, string, string];
  let service: ServiceId;
  try {
    service = serviceId(subsystemId(memberId(instance, cls, member), subsystem), svc);
  } catch (e) {
    // the service's identifier in the path is wrong: X-Road's Client.BadRequest (the client's is InvalidClientIdentifier)
    throw isTrucError(e) ? new TrucError(e.code, e.message, { ...e.detail, xroadFault: 'BadRequest' }) : e;
  }
  const rest = p.slice(7).join('/');
  // access rights are matched on the path as sent: one that a system could resolve elsewhere is refused here
  const unsafe = pathAmbiguity(`/${rest}${query}`);
  if (unsafe !== undefined)
    throw new TrucError('bad_request', `the path below the service ${unsafe.en}: send it with its dot segments resolved and such characters percent-encoded`, {
      xroadFault: 'BadRequest',
      reason_vi: `đường dẫn dưới dịch vụ ${unsafe.vi}: hãy gửi đường dẫn đã rút gọn các đoạn dấu chấm, các ký tự như vậy mã hoá phần trăm`,
    });
  return { service, path: `/${rest}${query}` };
}

/** Headers the X-Road protocol reads one value of: sent twice, the request is refused rather than one picked or both joined. */
const SINGLE_HEADERS = ['host', 'x-road-client', 'x-road-id', 'x-road-userid', 'x-road-issue', 'x-road-represented-party', 'x-road-security-server', 'soapaction'];

/**
 * What the request line and framing headers must satisfy before the request is read (RFC 9112): one Host (an
 * HTTP/1.1 request needs it), each of the protocol's single headers once, a body framed by `chunked` alone
 * (a transfer coding the server does not apply: 501) and no transfer coding in HTTP/1.0. The error and the
 * HTTP status it is answered with, or undefined.
 */
export function framingRefusal(req: IncomingMessage): { e: TrucError; status: number } | undefined {
  const distinct = req.headersDistinct;
  if (req.httpVersion === '1.1' && !distinct.host) return { e: new TrucError('bad_request', 'an HTTP/1.1 request has a Host header (RFC 9112 §3.2)', { reason_vi: 'yêu cầu HTTP/1.1 phải có tiêu đề Host' }), status: 400 };
  for (const name of SINGLE_HEADERS)
    if ((distinct[name]?.length ?? 0) > 1)
      return { e: new TrucError(name === 'x-road-client' ? 'unknown_client' : 'bad_request', `the ${name} header is sent more than once`, { reason_vi: `tiêu đề ${name} được gửi nhiều lần` }), status: 400 };
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) {
    if (req.httpVersion === '1.0') return { e: new TrucError('bad_request', 'an HTTP/1.0 request cannot be framed by Transfer-Encoding (RFC 9112 §6.1)', { reason_vi: 'yêu cầu HTTP/1.0 không được dùng Transfer-Encoding' }), status: 400 };
    if (te.toLowerCase().replace(/\s+/g, '') !== 'chunked')
      return { e: new TrucError('unsupported', `the transfer coding "${te.slice(0, 100)}" is not applied by the security server: only chunked`, { reason_vi: `máy chủ an ninh không áp dụng mã hoá truyền "${te.slice(0, 100)}": chỉ chunked` }), status: 501 };
  }
  return undefined;
}

export async function handleConsumer(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // the absolute form (RFC 9112 §3.2.2, which a server must accept) is read as the origin form it holds
  if (req.url && !req.url.startsWith('/')) {
    const m = /^https?:\/\/[^/?#]*/i.exec(req.url);
    if (m) req.url = req.url.slice(m[0].length).replace(/^(?!\/)/, '/');
  }
  const refused = framingRefusal(req);
  if (refused) {
    publishRefusal(ctx, 'consumer', refused.e, { method: req.method ?? '', remote: req.socket.remoteAddress ?? '' });
    res.setHeader('connection', 'close');
    // (a SOAP fault is HTTP 500 whatever the cause, as X-Road sends it)
    if (!req.url?.startsWith('/r1/') && isSoapCall(req.method, req.headers['content-type'], req.headers.soapaction)) return sendSoapFault(res, refused.e, 'ClientProxy');
    return sendXroadError(res, refused.e, 'ClientProxy', {}, req.headers.accept, refused.status);
  }
  if (req.method === 'GET' && (req.url === '/listClients' || req.url?.startsWith('/listClients?'))) return answerListClients(ctx, req, res);
  if (req.method === 'GET' && req.url === '/healthcheck') return void answerHealth(ctx, res).catch((e: unknown) => sendXroadError(res, new TrucError('internal', (e as Error)?.message ?? 'internal error'), 'ClientProxy', {}, req.headers.accept));
  return carryCounted(ctx, () => carry(ctx, req, res));
}

/** One exchange for an information system: its request to the provider's server, the answer back to it. */
async function carry(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = ctx.clock();
  let messageId = '';
  let client: SubsystemId | undefined;
  let service: ServiceId | undefined;
  // X-Road's SOAP protocol (PR-MESS): a POST of an envelope to any path but /r1/ (`./soap.ts`)
  const soapCall = !req.url?.startsWith('/r1/') && isSoapCall(req.method, req.headers['content-type'], req.headers.soapaction);
  bodyIdleBound(req, res, ctx.limits.timeoutMs, { en: 'the information system', vi: 'hệ thống thông tin' }, (e) =>
    soapCall ? sendSoapFault(res, e, 'ClientProxy') : sendXroadError(res, e, 'ClientProxy', messageId ? { 'x-road-id': messageId } : {}, req.headers.accept),
  );
  let soap: SoapRequest | undefined;
  /** what the operational record keeps of the message, once its header is made */
  let opMsg: ReturnType<typeof opMessage> | undefined;
  /** when the request left for the provider's server and its answer came in, its size, the answer's attachments (the last attempt's) */
  let progress: OpProgress = {};
  /** the provider's server last sent to (its address in the global configuration) */
  let peerAddress: string | undefined;
  /** a multipart SOAP message's bytes after its envelope, not read yet (they stream) */
  let soapRest: AsyncIterator<Buffer | Uint8Array> | null = null;
  try {
    let path = '/';
    if (soapCall) {
      const declared = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : NaN;
      const ct = req.headers['content-type'] ?? 'text/xml';
      // only the envelope is held in memory: a text/xml message whole, a multipart one up to the end of its
      // SOAP part, the attachments after it streaming on as a REST body does
      const multipart = parseMediaType(ct).type === 'multipart/related';
      const limit = Math.min(SOAP_MAX_BYTES, ctx.limits.maxBodyBytes);
      if (!multipart && declared > limit) throw new TrucError('too_large', `a SOAP message is held whole while it passes: at most ${limit} bytes`, { limit, reason_vi: `thông điệp SOAP được giữ trọn khi đi qua: tối đa ${limit} byte` });
      if (multipart && declared > ctx.limits.maxBodyBytes)
        throw new TrucError('too_large', `the message body exceeds ${ctx.limits.maxBodyBytes} bytes`, { limit: ctx.limits.maxBodyBytes, reason_vi: `thân thông điệp vượt quá ${ctx.limits.maxBodyBytes} byte` });
      const sa = req.headers.soapaction;
      const action = Array.isArray(sa) ? sa.join(', ') : sa;
      if (Number.isSafeInteger(declared) && declared <= (multipart ? ctx.limits.inlineBodyBytes : limit)) {
        soap = soapRequest(await parseSoapYielding(await readWhole(req, declared, (why) => new TrucError('bad_request', `the body could not be read: ${why}`)), ct), ct, action);
      } else {
        const head = await readSoapHead(req, ct, limit);
        soap = soapRequest(head.parsed, ct, action);
        soapRest = head.rest;
      }
      ({ service, client, id: messageId } = soap);
    } else {
      if (!req.url?.startsWith('/r1/')) throw new TrucError('not_found', `no route ${req.method} ${req.url?.split('?')[0] ?? ''}; messages go to /r1/{instance}/{class}/{member}/{subsystem}/{service}, or are SOAP envelopes POSTed to /`, {
          reason_vi: 'thông điệp REST gửi tới /r1/{instance}/{class}/{member}/{subsystem}/{service}, thông điệp SOAP gửi bằng POST tới /',
        });
      const parsed = parseRestPath(req.url);
      service = parsed.service;
      path = parsed.path;
      const ch = req.headers['x-road-client'];
      if (typeof ch !== 'string' || !ch) throw new TrucError('unknown_client', 'the X-Road-Client header is missing', { reason_vi: 'thiếu tiêu đề X-Road-Client (hệ thống khách gọi dịch vụ)' });
      client = parseClientHeader(decodeClientHeader(ch));
      // X-Road-Represented-Party ([CLASS/]CODE): carried to the service as given, once it reads as one
      const represented = req.headers['x-road-represented-party'];
      if (represented !== undefined) parseRepresentedPartyHeader(Array.isArray(represented) ? represented.join(',') : represented);
      const givenId = req.headers['x-road-id'];
      // the caller's id is its own to correlate by: one that cannot be carried is refused, not replaced (as
      // a SOAP message's id is); the bytes are kept as they came, so the answer echoes them unchanged
      if (typeof givenId === 'string' && givenId.length > 0) {
        if (givenId.length > MAX_ID || /[\x00-\x1f\x7f]/.test(givenId))
          throw new TrucError('bad_request', `X-Road-Id is at most ${MAX_ID} characters, without control characters`, { reason_vi: `X-Road-Id tối đa ${MAX_ID} ký tự, không chứa ký tự điều khiển` });
        messageId = givenId;
      } else messageId = randomUUID();
    }
    const conf = ctx.conf();
    if (ctx.log.health().refusing)
      throw new TrucError('timestamp_unavailable', 'the message log has not been time-stamped within its grace period; new messages are refused until a time-stamping authority answers');
    const snap = await ctx.store.snapshot();
    if (!snap.clients.has(subsystemText(client)) || !conf.isClientOf(ctx.id, client))
      throw new TrucError('client_not_owned', `${clientHeader(client)} is not a registered client of this security server`, { reason_vi: `${clientHeader(client)} chưa được đăng ký` });
    checkIsConnection(snap, client, req);
    const provSubsystem = subsystemOf(service);
    // a member's own service (operational monitoring) is answered by the servers that member owns
    const providerText = isMemberService(service) ? memberText(service) : subsystemText(provSubsystem);
    if (isMemberService(service) ? !conf.member(service) || service.instance !== conf.instance : !conf.hasSubsystem(provSubsystem))
      // X-Road: "Could not find addresses for service provider" (UnknownMember), for a subsystem as for a member
      throw new TrucError('unknown_member', `${providerText} is not registered in the global configuration`, {
        reason_vi: `${providerText} chưa được đăng ký trong cấu hình toàn cục`,
      });
    let candidates = isMemberService(service) ? conf.allServers().filter((s) => sameMember(s.id, service!)) : conf.serversOf(provSubsystem);
    if (!candidates.length) throw new TrucError('unknown_member', `no security server serves ${providerText}`, { reason_vi: `không máy chủ an ninh nào phục vụ ${providerText}` });
    // X-Road's security server targeting (PR-TARGETSS; X-Road-Security-Server in REST): this provider's server only
    const target = soap ? soap.target : targetHeader(req.headers['x-road-security-server']);
    if (target) {
      const want = serverText(target);
      candidates = candidates.filter((s) => serverText(s.id) === want);
      if (!candidates.length) throw new TrucError('unknown_service', `${want} does not serve ${providerText}`, { xroadFault: 'InvalidSecurityServer', reason_vi: `${want} không phục vụ ${providerText}` });
    }
    // a server in maintenance mode is not sent to; when every one is, the client is told so (not "unknown")
    const open = candidates.filter((s) => !s.maintenance);
    if (!open.length) {
      const which = candidates.map(maintenanceText).join(', ');
      throw new TrucError('server_maintenance', `${which} ${candidates.length > 1 ? 'are' : 'is'} in maintenance mode: ${providerText} cannot be called now`, { maintenance: which });
    }
    candidates = open;
    const own = ownMaterial(ctx);
    const header: MessageHeader = {
      v: 2,
      kind: 'request',
      id: messageId,
      time: ctx.clock().toISOString(),
      client: subsystemText(client),
      service: serviceText(service),
      method: soap ? 'POST' : (req.method ?? 'GET'),
      path,
      // X-Road-Request-Id: this request's own id, beside the message id the client may choose; a SOAP
      // message carries only its Content-Type and SOAPAction (PR-MESS 2.2)
      headers: soap ? soap.headers : { ...carriedHeaders(req.headers), 'x-road-request-id': randomUUID() },
      sender: ctx.idText,
      ...own.fields,
      ...(soap ? { protocol: 'soap' as const, soapHash: soap.hash } : {}),
    };
    const headerBytes = encodeHeader(header);
    opMsg = opMessage(header);
    const key = providerText;
    // a body of known, small size is read whole, signed and logged first, and travels in one write (and can
    // go to another provider if the first cannot be reached); larger ones stream
    // neither Content-Length nor Transfer-Encoding: no body (RFC 9112 §6.3) — a GET is a whole, empty message
    const declared = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : req.headers['transfer-encoding'] ? NaN : 0;
    const small = soap ? !soapRest && soap.parsed.message.length <= ctx.limits.inlineBodyBytes : !req.headers['transfer-encoding'] && Number.isSafeInteger(declared) && declared <= ctx.limits.inlineBodyBytes;
    const whole = small
      ? await signWhole(ctx, soap ? soap.parsed.message : await readWhole(req, declared, (why) => new TrucError('bad_request', `the body could not be read: ${why}`)), header, headerBytes, own.items)
      : null;
    // a SOAP message's attachments, counted from its bytes (held whole, or as they stream to the provider)
    const reqParts = soap ? mimeParts(soap.headers['content-type']) : null;
    if (whole && reqParts) reqParts.feed(soap!.parsed.message);
    const source: AsyncIterable<Buffer | Uint8Array> = soap ? soapMessageBytes(soap.parsed.message, soapRest) : req;
    const order = await ctx.peers.order(key, candidates);
    let lastErr: unknown;
    for (const provider of order) {
      let sent = false;
      progress = {};
      peerAddress = provider.address;
      try {
        const responseBytes = whole ? await exchangeWhole(ctx, res, provider, header, whole, service, soap, progress, () => (sent = true)) : await exchange(ctx, source, res, provider, header, headerBytes, own.items, service, soap, reqParts, () => (sent = true), progress);
        recordHealth(ctx, serviceText(service));
        ctx.ops.record({ messageId, side: 'consumer', client: header.client, service: header.service, startedAt: started, finishedAt: ctx.clock(), responseBytes, status: res.statusCode, ...opMsg, ...progress, requestBytes: whole ? whole.bodyLength : (progress.requestBytes ?? 0), peerAddress, requestAttachments: reqParts?.attachments ?? 0, responseAttachments: progress.responseAttachments ?? 0, ...(soap ? { requestSoapBytes: soap.parsed.part.length } : {}), ...(reqParts ? { requestMimeBytes: reqParts.mimeBytes } : {}) });
        return;
      } catch (e) {
        // this server's own log failing the request (truc/2 learns it after the message went) is not the
        // provider's failure, and another provider would not help
        if (isTrucError(e) && e.code === 'log_failure' && e.detail?.origin !== 'provider') throw e;
        lastErr = e;
        ctx.peers.failed(provider, key);
        if (!mayTryAnother(e, sent, !whole)) throw e;
      }
    }
    throw lastErr ?? new TrucError('peer_unreachable', 'no provider could be reached', { reason_vi: 'không kết nối được tới máy chủ an ninh nào của bên cung cấp' });
  } catch (e) {
    const err = isTrucError(e) ? e : new TrucError('internal', (e as Error)?.message ?? 'internal error');
    if (!isTrucError(e)) ctx.logger.error({ err: e }, 'consumer side failed');
    if (service) recordHealth(ctx, serviceText(service), err);
    // a refusal from the provider's side is passed on as the provider's fault (X-Road's Server.ServerProxy.…)
    const origin = (err.detail as any)?.origin === 'provider' ? 'ServerProxy' : 'ClientProxy';
    ctx.ops.record({ messageId: messageId || '-', side: 'consumer', ...(client ? { client: subsystemText(client) } : {}), ...(service ? { service: serviceText(service) } : {}), startedAt: started, finishedAt: ctx.clock(), requestBytes: 0, responseBytes: 0, status: err.status, error: err.code, ...recordedFault(origin, err), ...opMsg, ...progress, ...(peerAddress ? { peerAddress } : {}) });
    publishRefusal(ctx, 'consumer', err, {
      message_id: messageId,
      ...(client ? { client: subsystemText(client) } : {}),
      ...(service ? { service: serviceText(service) } : {}),
      started: started.toISOString(),
    });
    // the rest of an unread request body is not drained: the connection closes after the answer
    if (!req.complete && !res.headersSent) res.setHeader('connection', 'close');
    if (soapCall) sendSoapFault(res, err, origin);
    else sendXroadError(res, err, origin, messageId ? { 'x-road-id': messageId } : {}, req.headers.accept);
  }
}

/**
 * Refusals by which a provider's server says the message went no further than itself, for a reason of its own
 * (not of the message's: access rights and the like are the same on the member's every server).
 */
const REFUSED_FOR_ITSELF = new Set(['server_maintenance', 'conf_expired', 'ocsp_stale', 'timestamp_unavailable', 'database_unavailable', 'cert_invalid']);

/**
 * Whether a request that failed at one of the provider's servers may go to the next (a service several servers
 * serve): always when it was not sent; once sent, only when that server refused it for a reason of its own
 * before its information system saw it — never after a broken connection, a time-out, a service failure or an
 * answer that does not check, when the service may have acted on it already (X-Road too sends a message once).
 * A streamed body cannot be sent again at all.
 */
export function mayTryAnother(e: unknown, sent: boolean, streamed: boolean): boolean {
  if (!sent) return true;
  if (streamed) return false;
  return isTrucError(e) && e.detail?.origin === 'provider' && REFUSED_FOR_ITSELF.has(e.code);
}

/**
 * The client's connection type (X-Road's HTTP / HTTPS NO AUTH / HTTPS): over TLS when it is not `http`, and
 * with a client certificate registered for the client when it is `https`.
 */
function checkIsConnection(snap: ServerSnapshot, client: SubsystemId, req: IncomingMessage): void {
  const text = subsystemText(client);
  const type = snap.connections.get(text);
  if (!type) return;
  const socket = req.socket as TLSSocket;
  if (!socket.encrypted) throw new TrucError('cert_invalid', `${clientHeader(client)} connects over HTTPS only (connection type ${type}): use this server's TLS port`, {
      xroadFault: 'SslAuthenticationFailed',
      reason_vi: `${clientHeader(client)} chỉ được kết nối qua HTTPS (kiểu kết nối ${type}): hãy dùng cổng TLS của máy chủ này`,
    });
  if (type !== 'https') return;
  const der = socket.getPeerCertificate?.()?.raw;
  if (!der?.length) throw new TrucError('cert_invalid', `${clientHeader(client)} must present a TLS client certificate registered for it (connection type https); none was presented`, {
      xroadFault: 'SslAuthenticationFailed',
      reason_vi: `${clientHeader(client)} phải xuất trình chứng thư TLS đã đăng ký cho nó (kiểu kết nối https); không có chứng thư nào được xuất trình`,
    });
  if (!snap.isCerts.get(text)?.has(sha256(der).toString('hex')))
    throw new TrucError('cert_invalid', `the TLS client certificate presented is not one registered for ${clientHeader(client)}`, {
      xroadFault: 'SslAuthenticationFailed',
      reason_vi: `chứng thư TLS được xuất trình không phải chứng thư đã đăng ký cho ${clientHeader(client)}`,
    });
}

/** The X-Road-Security-Server header: `INSTANCE/CLASS/MEMBER/SERVERCODE`, percent-encoded parts. */
function targetHeader(v: string | string[] | undefined): ServerId | undefined {
  if (v === undefined) return undefined;
  try {
    return parseServer(`SERVER:${decodeClientHeader(Array.isArray(v) ? v[0]! : v)}`);
  } catch (e) {
    throw new TrucError('bad_identifier', `the X-Road-Security-Server header is not INSTANCE/CLASS/MEMBER/SERVERCODE: ${(e as Error).message}`, { xroadFault: 'InvalidSecurityServer' });
  }
}


interface WholeRequest {
  wire: Buffer;
  /** this server's certificate and OCSP responses the header names (sent once per connection) */
  material: Buffer[];
  digest: Buffer;
  bodyLength: number;
  /** this server's log holds the message (its write began when it was signed) */
  logged: Promise<void>;
}

/**
 * Signs a message whose small body was read whole, lays out its frames for one write, and begins logging it:
 * it goes to a provider that confirms (`truc/2`) while the log writes it, to any other once it is written.
 */
async function signWhole(ctx: ServerContext, body: Buffer, header: MessageHeader, headerBytes: Buffer, material: Buffer[]): Promise<WholeRequest> {
  const bodyHash = hashBody(body);
  const { bytes: sigBytes, digest } = await signMessage(ctx.signer, headerBytes, bodyHash, body.length);
  const logged = ctx.log.append({
    messageId: header.id,
    kind: 'request',
    side: 'consumer',
    client: header.client,
    service: header.service,
    ...(header.headers['x-road-userid'] ? { userId: headerText(header.headers['x-road-userid']) } : {}),
    ...(header.headers['x-road-issue'] ? { issue: headerText(header.headers['x-road-issue']) } : {}),
    time: ctx.clock(),
    header: headerBytes,
    signature: sigBytes,
    bodyHash,
    bodyLength: body.length,
    body,
    material,
  }).then(
    () => undefined,
    (e) => Promise.reject(isTrucError(e) ? e : new TrucError('log_failure', `the request could not be logged: ${(e as Error).message}`)),
  );
  // awaited by whoever sends it; a failure before anyone does is not an unhandled rejection
  logged.catch(() => {});
  const parts = [frame(FRAME_HEADER, headerBytes)];
  if (body.length) parts.push(frameHead(FRAME_BODY, body.length), body);
  parts.push(frame(FRAME_SIGNATURE, sigBytes));
  return { wire: Buffer.concat(parts), material, digest, bodyLength: body.length, logged };
}

/** A refusal or failure from the provider's server in place of a message: its status and problem document. */
interface PeerRefusal {
  status: number;
  problem: Buffer;
}

/** The provider's answer: a message (its bytes and the connection it came on), or a refusal. */
type PeerMessage = { socket: TLSSocket; inbound: InboundSource; /** truc/2: sent while the provider logs it (D or X follows) */ pending?: boolean } & { problem?: undefined };
type PeerAnswer = PeerMessage | PeerRefusal;

/**
 * One exchange with a provider's server, over whichever channel it speaks: framed on the TLS connection
 * (`./channel.ts`), or one HTTP/1.1 request (servers of an earlier version). The connection is connected and
 * its certificate pinned when this is made.
 */
interface PeerCall {
  socket: TLSSocket;
  certDer: Buffer;
  /** the connection had carried an exchange before (a failure before any answer may be a close racing reuse) */
  reused: boolean;
  /** the framed channel (false: the HTTP/1.1 fallback) */
  framed: boolean;
  /** the framed channel with confirmations (`truc/2`): whole messages go while logged, D or X after each */
  confirmed: boolean;
  /** truc/2: says whether the pending whole message sent last is in this server's log (D), or void (X with `code`) */
  confirm(code?: string): void;
  /** truc/2: the provider's word that the pending whole response it sent is in its log */
  confirmation(): Promise<void>;
  /** where a streamed message's frames go */
  out: Writable;
  /** sends a message held whole: material frame (if any), then its frames, in one write (`pending`: after P, truc/2) */
  sendWhole(material: Buffer | null, wire: Buffer, pending?: boolean): void;
  /** the last frame of a streamed message */
  end(last: Buffer): void;
  /**
   * Ends a streamed message cut off by this side (the information system went away mid-body, or its body
   * outgrew the limit) with an abort frame; the provider's refusal of it follows, after which the connection
   * is clean for the next message. False when the channel cannot (HTTP/1.1) or the connection is gone.
   */
  abort(code: string): boolean;
  answer(): Promise<PeerAnswer>;
  /** the exchange is over and the connection clean: it may carry the next */
  done(): void;
  destroy(): void;
}

async function openCall(ctx: ServerContext, provider: ConfServerView, streamed: boolean): Promise<PeerCall> {
  const f = await ctx.peers.framed(provider);
  return f ? framedCall(ctx, provider, f.conn, f.reused) : httpCall(ctx, provider, streamed);
}

/** how long a provider's server has to refuse a message this server aborted, before the connection is closed */
const ABORT_ANSWER_MS = 5000;

function framedCall(ctx: ServerContext, provider: ConfServerView, conn: FramedConn, reused: boolean): PeerCall {
  const s = conn.socket;
  return {
    socket: s,
    certDer: conn.certDer,
    reused,
    framed: true,
    confirmed: conn.reader.confirmed,
    confirm(code) {
      if (!s.destroyed && s.writable) s.write(confirmationFrame(code));
    },
    confirmation: () => confirmation(conn.reader, { en: `the provider's security server ${provider.address}`, vi: `máy chủ an ninh bên cung cấp ${provider.address}` }, 'provider'),
    out: s,
    sendWhole(material, wire, pending) {
      s.cork();
      if (pending) s.write(PENDING_FRAME);
      s.write(lengthFrame(wire.length + (material ? 5 + material.length : 0)));
      if (material) s.write(frame(FRAME_MATERIAL, material));
      s.write(wire);
      s.uncork();
    },
    end(last) {
      s.write(last);
    },
    async answer() {
      let m;
      // the request is out: the provider's server may wait for its service longer than a peer may be silent
      // otherwise (the service's own time-out, which it enforces); the usual bound again once answered
      s.setTimeout(ctx.limits.answerTimeoutMs);
      try {
        m = await conn.reader.next();
      } catch (e) {
        throw isTrucError(e) ? e : new TrucError('peer_failed', `${provider.address}: ${(e as Error).message}`);
      } finally {
        if (!s.destroyed) s.setTimeout(ctx.limits.timeoutMs);
      }
      if (!m) throw new TrucError('peer_failed', `${provider.address} closed the connection without answering`, { closedBeforeAnswer: true, reason_vi: `${provider.address} đóng kết nối mà không trả lời` });
      if (m.kind === 'error') return { status: 0, problem: m.problem };
      if (m.kind === 'confirm') {
        // a provider confirms only what it sent: one in place of an answer breaks the channel
        s.destroy();
        throw new TrucError('peer_failed', `${provider.address} sent a confirmation in place of an answer`, { reason_vi: `${provider.address} gửi xác nhận thay cho câu trả lời` });
      }
      return { socket: s, inbound: m.kind === 'whole' ? { whole: m.bytes } : { stream: m.stream, declared: NaN }, ...(m.kind === 'whole' && m.pending ? { pending: true } : {}) };
    },
    abort(code) {
      if (s.destroyed || !s.writable) return false;
      s.write(frame(FRAME_ABORT, Buffer.from(code, 'utf8')));
      return true;
    },
    done: () => ctx.peers.release(conn),
    destroy: () => s.destroy(),
  };
}

async function httpCall(ctx: ServerContext, provider: ConfServerView, streamed: boolean): Promise<PeerCall> {
  const { host, port } = splitAddress(provider.address);
  const out = https.request({ host, port, method: 'POST', path: '/truc/v1/message', agent: ctx.peers.agent(provider.address), headers: { 'content-type': MESSAGE_CONTENT_TYPE, ...(streamed ? { 'transfer-encoding': 'chunked' } : {}) }, timeout: ctx.limits.timeoutMs });
  let silentMs = ctx.limits.timeoutMs;
  out.on('timeout', () => out.destroy(new TrucError('peer_failed', `${provider.address} was silent for ${silentMs} ms`, { reason_vi: `${provider.address} không trả lời trong ${silentMs} ms` })));
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    out.once('response', resolve);
    out.once('error', (e) => reject(isTrucError(e) ? e : new TrucError('peer_unreachable', `${provider.address}: ${(e as Error).message}`)));
  });
  response.catch(() => {});
  let peer: { certDer: Buffer };
  try {
    peer = await ctx.peers.pinnedSocket(out, provider);
  } catch (e) {
    out.destroy();
    throw isTrucError(e) ? e : new TrucError('peer_unreachable', `${provider.address}: ${(e as Error).message}`);
  }
  return {
    socket: out.socket as TLSSocket,
    certDer: peer.certDer,
    get reused() {
      return out.reusedSocket;
    },
    framed: false,
    confirmed: false,
    confirm() {},
    confirmation: () => Promise.resolve(),
    out,
    sendWhole(material, wire) {
      out.setHeader('content-length', wire.length + (material ? 5 + material.length : 0));
      if (material) out.write(frame(FRAME_MATERIAL, material));
      out.end(wire);
    },
    end(last) {
      out.end(last);
    },
    abort: () => false,
    async answer() {
      // the request is out: the provider may wait for its service longer (as over the framed channel)
      out.setTimeout((silentMs = ctx.limits.answerTimeoutMs));
      const resp = await response;
      out.setTimeout((silentMs = ctx.limits.timeoutMs));
      if (resp.statusCode !== 200 || !String(resp.headers['content-type'] ?? '').startsWith(MESSAGE_CONTENT_TYPE)) {
        const chunks: Buffer[] = [];
        let n = 0;
        for await (const c of resp) {
          n += (c as Buffer).length;
          if (n <= 64 * 1024) chunks.push(c as Buffer);
        }
        return { status: resp.statusCode ?? 0, problem: Buffer.concat(chunks) };
      }
      // the connection it came on (read before the response ends and the socket returns to the pool)
      return { socket: resp.socket as TLSSocket, inbound: httpInbound(resp) };
    },
    done() {},
    destroy: () => out.destroy(),
  };
}

async function exchangeWhole(ctx: ServerContext, res: ServerResponse, provider: ConfServerView, header: MessageHeader, whole: WholeRequest, service: ServiceId, soap: SoapRequest | undefined, progress: OpProgress, markSent: () => void): Promise<number> {
  try {
    return await sendWhole(ctx, res, provider, header, whole, service, soap, progress, markSent);
  } catch (e) {
    // a kept-alive connection the peer closed just as it was reused: the message never arrived, send again
    if ((e as { reusedSocket?: boolean }).reusedSocket && !res.headersSent) return sendWhole(ctx, res, provider, header, whole, service, soap, progress, markSent);
    throw e;
  }
}

async function sendWhole(ctx: ServerContext, res: ServerResponse, provider: ConfServerView, header: MessageHeader, whole: WholeRequest, service: ServiceId, soap: SoapRequest | undefined, progress: OpProgress, markSent: () => void): Promise<number> {
  // a busy server logs the message before it takes a connection, as truc/1 does (`sendsLogging`); a provider
  // that does not confirm gets it once it is logged
  const early = sendsLogging(ctx);
  if (!early) await whole.logged;
  const call = await openCall(ctx, provider, false);
  // the certificate and OCSP responses go first, when this connection has not carried them yet
  const socket = call.socket;
  const pending = early && call.confirmed;
  if (early && !pending) {
    try {
      await whole.logged;
    } catch (e) {
      if (call.framed) call.done();
      else call.destroy();
      throw e;
    }
  }
  const m = materialToSend(socket, whole.material);
  call.sendWhole(m, whole.wire, pending);
  markSent();
  // truc/2: it went while this server's log writes it; D (or X) follows once the write is over, before the
  // provider gives it to its information system — and before the connection carries anything else
  const requestLogged = pending
    ? whole.logged.then(
        () => call.confirm(),
        (e) => {
          call.confirm(isTrucError(e) ? e.code : 'log_failure');
          throw e;
        },
      )
    : whole.logged;
  requestLogged.catch(() => {});
  progress.requestOutAt = ctx.clock().getTime();
  let answer: PeerAnswer;
  try {
    answer = await call.answer();
    progress.responseInAt = ctx.clock().getTime();
  } catch (e) {
    call.destroy();
    const reset = /ECONNRESET|socket hang up/i.test(String((e as Error).message)) || (isTrucError(e) && e.detail?.closedBeforeAnswer === true);
    throw Object.assign(e as object, { reusedSocket: call.reused && reset });
  }
  // a refusal read whole, the request read through: the connection carries the next message (a new TLS
  // connection per refusal had made a refused exchange cost three times an answered one) — once this
  // server's confirmation is out. A request this server could not log is its own failure, whatever the
  // provider said of it
  if (answer.problem) {
    const own = await requestLogged.then(
      () => null,
      (e: unknown) => e,
    );
    const refused = settleRefused(call, answer);
    throw own ?? refused;
  }
  try {
    const n = await receiveResponse(ctx, answer, res, provider, call.certDer, header, whole.digest, service, soap, progress, [requestLogged, responseLogged(call, answer)]);
    // the provider read the message through: it holds the material now
    if (m) materialSent(socket, whole.material);
    call.done();
    return n;
  } catch (e) {
    throw settleBrokenAnswer(call, e);
  }
}

async function exchange(
  ctx: ServerContext,
  req: AsyncIterable<Buffer | Uint8Array>,
  res: ServerResponse,
  provider: ConfServerView,
  header: MessageHeader,
  headerBytes: Buffer,
  material: Buffer[],
  service: ServiceId,
  soap: SoapRequest | undefined,
  /** counts a SOAP message's attachments as its bytes stream to the provider */
  parts: MimeParts | null,
  markSent: () => void,
  progress: OpProgress,
): Promise<number> {
  const call = await openCall(ctx, provider, true);
  markSent();
  progress.requestOutAt = ctx.clock().getTime();
  // the information system's request breaking off (it went away mid-body) is told apart from the provider's
  // side failing: the message is then aborted, not the connection
  let clientGone = false;
  const source = (async function* () {
    try {
      for await (const c of req) yield c;
    } catch (e) {
      clientGone = true;
      throw new TrucError('bad_request', `the information system's request broke off before its end: ${(e as Error)?.message ?? e}`);
    }
  })();
  const out = call.out;
  const write = (b: Buffer) => writeChunk(out, b, provider.address);
  const collector = new BodyCollector(ctx.log, ctx.limits.inlineBodyBytes, ctx.limits.maxBodyBytes);
  let logged = false;
  let sending = true;
  /** a refusal read after the request went through: the connection was released or closed already */
  let settled = false;
  const socket = call.socket;
  const m = materialToSend(socket, material);
  try {
    if (m) await write(frame(FRAME_MATERIAL, m));
    await write(frame(FRAME_HEADER, headerBytes));
    await forwardFramed(source, out, provider.address, collector, parts);
    const body = await collector.finish();
    // a streamed body's size as read (a chunked one declares none)
    progress.requestBytes = body.length;
    const { bytes: sigBytes, digest } = await signMessage(ctx.signer, headerBytes, body.hash, body.length);
    await ctx.log.append({
      messageId: header.id,
      kind: 'request',
      side: 'consumer',
      client: header.client,
      service: header.service,
      ...(header.headers['x-road-userid'] ? { userId: headerText(header.headers['x-road-userid']) } : {}),
      ...(header.headers['x-road-issue'] ? { issue: headerText(header.headers['x-road-issue']) } : {}),
      time: ctx.clock(),
      header: headerBytes,
      signature: sigBytes,
      bodyHash: body.hash,
      bodyLength: body.length,
      body: body.body,
      material,
    });
    logged = true;
    call.end(frame(FRAME_SIGNATURE, sigBytes));
    sending = false;
    const answer = await call.answer();
    progress.responseInAt = ctx.clock().getTime();
    if (answer.problem) {
      settled = true;
      throw settleRefused(call, answer);
    }
    const n = await receiveResponse(ctx, answer, res, provider, call.certDer, header, digest, service, soap, progress, [responseLogged(call, answer)]);
    if (m) materialSent(socket, material);
    call.done();
    return n;
  } catch (e) {
    if (!logged) await collector.discard();
    // cut off on this side while it was being sent — the information system gone mid-body, or its body over
    // the limit: an abort frame ends the message, the provider refuses it, and the connection carries the next
    // one (closing it made every cut-off upload cost a new mutually authenticated TLS connection on both servers)
    if (sending && !settled && (clientGone || (isTrucError(e) && e.code === 'too_large'))) {
      const refusal = call.abort(isTrucError(e) ? e.code : 'bad_request') ? await refusalWithin(call, ABORT_ANSWER_MS) : null;
      if (refusal) settleRefused(call, refusal);
      else call.destroy();
      throw e;
    }
    if (!sending) throw settled ? e : settleBrokenAnswer(call, e);
    // the provider may have refused the request before reading it through, and closed the connection under
    // the rest: its refusal is the answer, not the broken write
    const refusal = await refusalWithin(call, 1000);
    if (!settled) call.destroy();
    throw refusal ? errorFromProblem(refusal.status, refusal.problem) : e;
  }
}

/**
 * The provider's answer did not arrive whole, or is void. After an abort frame it is over on the wire (the provider's
 * information system failed mid-answer, or its server could not go on), so a framed connection goes back to
 * the pool — closing it made every such failure cost a new mutually authenticated TLS connection on both
 * servers; after any other failure the connection is closed. Returns the error to throw: the provider's
 * information system failing is X-Road's Server.ServerProxy.ServiceFailed, anything else its server's failure.
 */
function settleBrokenAnswer(call: PeerCall, e: unknown): unknown {
  // a whole response its provider's server could not log (X after it, truc/2): over on the wire, and void
  if (isTrucError(e) && e.detail?.voided === true) {
    call.done();
    return e;
  }
  const why = isTrucError(e) ? e.detail?.senderAborted : undefined;
  if (typeof why !== 'string') {
    call.destroy();
    return e;
  }
  if (call.framed) call.done();
  else call.destroy();
  return new TrucError(why === 'service_failed' ? 'service_failed' : 'peer_failed', (e as Error).message, { origin: 'provider' });
}

/**
 * After a refusal that came as a whole problem document once the request was sent through: the framed
 * connection goes back to the pool unless the provider said it closes it (`closing`: its certificate check
 * failed, or it refused before reading the message through). Over HTTP the agent decides, as for answers.
 * Returns the refusal's error, to be thrown.
 */
function settleRefused(call: PeerCall, refusal: PeerRefusal): TrucError {
  const { error, closing } = readRefusal(refusal.status, refusal.problem);
  if (closing) call.destroy();
  else call.done();
  return error;
}

/**
 * The provider's refusal of a message that did not go through whole: one that arrived while it was still being
 * sent, or the answer to an abort frame. Null when none comes within `ms` or the answer is not a refusal.
 */
async function refusalWithin(call: PeerCall, ms: number): Promise<PeerRefusal | null> {
  let timer: NodeJS.Timeout | undefined;
  const a = await Promise.race([call.answer().catch(() => null), new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)))]);
  clearTimeout(timer);
  return a?.problem ? a : null;
}

/**
 * truc/2: the provider's word that the whole response it sent is in its log (a streamed one is sent only once
 * logged); read while this server checks and logs the response, awaited before the client gets it.
 */
function responseLogged(call: PeerCall, answer: PeerMessage): Promise<void> | undefined {
  if (!call.confirmed || !answer.pending) return undefined;
  const p = call.confirmation();
  p.catch(() => {});
  return p;
}

async function receiveResponse(
  ctx: ServerContext,
  answer: PeerMessage,
  res: ServerResponse,
  provider: ConfServerView,
  providerAuthCert: Buffer,
  request: MessageHeader,
  requestDigest: Buffer,
  service: ServiceId,
  soap: SoapRequest | undefined,
  progress: OpProgress | undefined,
  /** what must be over before the client gets the response: the servers' confirmations (truc/2) */
  gate: (Promise<void> | undefined)[],
): Promise<number> {
  const socket = answer.socket;
  // a small response (sent whole, with its length) is split in memory; a larger one streams
  const incoming = await readIncoming(ctx, answer.inbound, `the response from ${provider.address}`, { origin: 'provider' });
  const headerBytes = incoming.headerBytes;
  const h = parseHeader(headerBytes);
  if (h.kind !== 'response' || h.id !== request.id || h.requestHash !== requestDigest.toString('hex'))
    throw new TrucError('bad_message', 'the response is not bound to this request (id or request hash differs)');
  if (h.sender !== `SERVER:${provider.id.instance}/${provider.id.memberClass}/${provider.id.memberCode}/${provider.id.serverCode}`)
    throw new TrucError('bad_message', `the response names ${h.sender} as its sender, not the server it came from`);
  checkTime(ctx, h);
  const conf = ctx.conf();
  const pm = peerMaterial(socket, h, incoming.material);
  await ctx.trust.check(conf, providerAuthCert, pm.authOcsp, 'auth-server');
  const signer = await ctx.trust.check(conf, pm.signCert, pm.signOcsp, 'sign');
  if (!signer.member || !sameMember(signer.member, memberOf(service)))
    throw new TrucError('cert_invalid', `the response is signed with a certificate that does not belong to the service's member ${service.memberClass}/${service.memberCode}`);
  const parts = soap ? mimeParts(h.headers['content-type']) : null;
  const rest = await receiveBody(ctx, incoming, signer, parts);
  if (progress && soap) {
    progress.responseAttachments = parts?.attachments ?? 0;
    if (parts) progress.responseMimeBytes = parts.mimeBytes;
  }
  try {
    return await answerResponse(ctx, res, h, headerBytes, pm.log, request, requestDigest, rest, soap, progress, gate);
  } finally {
    rest.body.release();
  }
}

/** Logs a checked response, then gives it to the information system (from memory when held). */
async function answerResponse(
  ctx: ServerContext,
  res: ServerResponse,
  h: MessageHeader,
  headerBytes: Buffer,
  material: Buffer[] | undefined,
  request: MessageHeader,
  requestDigest: Buffer,
  rest: ReceivedRest,
  soap: SoapRequest | undefined,
  progress: OpProgress | undefined,
  gate: (Promise<void> | undefined)[],
): Promise<number> {
  // a SOAP response is checked before it is logged as answered: the request's fields repeated, the
  // requestHash the provider's server wrote equal to the hash of the request this server sent
  if (soap) {
    const envelope = await soapResponseEnvelope(rest, h.headers['content-type'] ?? '');
    checkResponse(soap.parsed, envelope);
    if (progress) progress.responseSoapBytes = envelope.part.length;
  }
  // logged here while the confirmations come; all of it over before the client sees a byte
  const [own, ...others] = await Promise.allSettled([
    ctx.log.append({
      messageId: h.id,
      kind: 'response',
      side: 'consumer',
      client: request.client,
      service: request.service,
      time: ctx.clock(),
      header: headerBytes,
      signature: rest.signatureBytes,
      bodyHash: rest.body.hash,
      bodyLength: rest.body.length,
      body: rest.body.body,
      ...(material ? { material } : {}),
    }),
    ...gate,
  ]);
  if (own.status === 'rejected') throw new TrucError('log_failure', `the response could not be logged: ${(own.reason as Error).message}`);
  for (const o of others) if (o.status === 'rejected') throw o.reason;
  const headers: Record<string, string | number | string[]> = {};
  if (soap) {
    // only the response's Content-Type reaches the client (PR-MESS 2.2)
    headers['content-type'] = h.headers['content-type'] ?? 'text/xml; charset=utf-8';
  } else {
    for (const [k, v] of Object.entries(h.headers)) if (!HOP_BY_HOP.has(k) && !PROTOCOL_HEADERS.has(k)) headers[k] = v;
    // one Set-Cookie line each, as the service wrote them
    if (h.setCookie?.length) headers['set-cookie'] = h.setCookie;
    const client = parseSubsystem(request.client);
    const service = parseService(request.service);
    headers['x-road-id'] = h.id;
    headers['x-road-client'] = clientHeader(client);
    headers['x-road-service'] = restServiceHeader(service);
    if (request.headers['x-road-request-id']) headers['x-road-request-id'] = request.headers['x-road-request-id'];
    headers['x-road-request-hash'] = xroadRequestHash(requestDigest);
  }
  // RFC 9110 §8.6: a 204 has no Content-Length; an answer to HEAD, and a 304, have no body and the length a GET
  // or a 200 would have, as the service gave it, or none — not 0, which would say the representation is empty
  const status = h.status!;
  const bodiless = status === 204 || status === 304 || (request.method === 'HEAD' && rest.body.length === 0 && !soap);
  const given = bodiless && status !== 204 ? h.headers['content-length'] : undefined;
  if (given !== undefined && /^\d{1,15}$/.test(given)) headers['content-length'] = Number(given);
  else if (!bodiless) headers['content-length'] = rest.body.length;
  res.writeHead(h.status!, headers);
  if (Buffer.isBuffer(rest.body.body)) {
    res.end(rest.body.body);
    return rest.body.length;
  }
  if (rest.body.held) {
    await writeChunks(res, rest.body.held, 'the client');
    // logged already: in metadata mode the spool file goes now (no-op in full mode, the log owns it)
    await rest.body.body.discard?.();
  } else {
    const src = bodyStream(rest.body.body);
    for await (const c of src) await writeChunk(res, c as Buffer, 'the client');
  }
  res.end();
  return rest.body.length;
}


/**
 * A SOAP response's envelope, from memory or read back from the spool: a text/xml response whole (bounded: the
 * provider's server held it whole), a multipart one up to the end of its SOAP part (its attachments are not read).
 */
async function soapResponseEnvelope(rest: ReceivedRest, contentType: string): Promise<ParsedSoap> {
  const b = rest.body;
  if (Buffer.isBuffer(b.body)) return parseSoapYielding(b.body, contentType);
  if (parseMediaType(contentType).type !== 'multipart/related' && b.length > SOAP_MAX_BYTES) throw new TrucError('service_failed', `a SOAP response of ${b.length} bytes is over the limit of ${SOAP_MAX_BYTES}`);
  // the envelope only: the stream (a file, when the body was not held) is closed after it
  const s = bodyStream(b.body, b.held);
  try {
    return (await readSoapHead(s, contentType, SOAP_MAX_BYTES)).parsed;
  } finally {
    s.destroy();
  }
}

/** X-Road's `GET /listClients` (PR-META 2), answered from this server's global configuration. */
function answerListClients(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): void {
  try {
    const q = new URLSearchParams(req.url!.slice('/listClients'.length).replace(/^\?/, ''));
    const json = /\bapplication\/json\b/i.test(String(req.headers.accept ?? ''));
    const out = listClients(ctx.conf(), q.get('xRoadInstance'), json);
    res.writeHead(200, { 'content-type': out.contentType, 'content-length': out.body.length });
    res.end(out.body);
  } catch (e) {
    sendXroadError(res, isTrucError(e) ? e : new TrucError('internal', (e as Error)?.message ?? 'internal error'), 'ClientProxy', {}, req.headers.accept);
  }
}

/**
 * `GET /healthcheck` on the information-system port, for load balancers and operators (X-Road keeps such a
 * check on a port of its own): 200 when the server can carry messages — a usable global configuration that
 * lists this server with its authentication certificate and at least one of its clients (when it has any),
 * fresh OCSP responses for its own certificates, a message log not refusing for want of a time-stamp — else
 * 503 naming what fails, in Vietnamese and English. `clients` says, for each of its clients, whether the
 * configuration in hand has it registered on this server (one still pending does not fail the check while
 * another is registered).
 */
async function answerHealth(ctx: ServerContext, res: ServerResponse): Promise<void> {
  const checks: { check: string; ok: boolean; vi?: string; en?: string }[] = [];
  let clients: { client: string; registered: boolean }[] = [];
  let freshness = 3600;
  try {
    const conf = ctx.conf();
    freshness = conf.settings.ocspFreshnessSeconds;
    checks.push({ check: 'configuration', ok: true });
    const me = conf.server(ctx.id);
    checks.push(
      !me
        ? { check: 'registration', ok: false, vi: `Máy chủ ${ctx.idText} chưa có trong cấu hình toàn cục (chưa đăng ký hoặc chưa được duyệt)`, en: `${ctx.idText} is not in the global configuration (not registered or not yet approved)` }
        : conf.serverByAuthCert(certHash(ctx.authCert)) !== me
          ? { check: 'registration', ok: false, vi: 'Chứng thư xác thực của máy chủ chưa được đăng ký trong cấu hình toàn cục', en: "the server's authentication certificate is not registered in the global configuration" }
          : { check: 'registration', ok: true },
    );
    const snap = await ctx.store.snapshot();
    clients = [...snap.clients].sort().map((c) => ({ client: c, registered: conf.isClientOf(ctx.id, parseSubsystem(c)) }));
    if (clients.length)
      checks.push(
        clients.some((c) => c.registered)
          ? { check: 'clients', ok: true }
          : { check: 'clients', ok: false, vi: 'Chưa thành viên con nào của máy chủ được đăng ký trong cấu hình toàn cục', en: "none of the server's clients is registered on it in the global configuration" },
      );
  } catch (e) {
    checks.push({ check: 'configuration', ok: false, vi: 'Không có cấu hình toàn cục dùng được', en: (e as Error).message });
  }
  const now = ctx.clock().getTime();
  for (const o of ctx.own.status()) {
    const age = o.fetchedAt ? (now - Date.parse(o.fetchedAt)) / 1000 : Infinity;
    checks.push(
      age <= freshness
        ? { check: `ocsp:${o.name}`, ok: true }
        : { check: `ocsp:${o.name}`, ok: false, vi: `Phản hồi OCSP cho chứng thư ${o.name} đã cũ hoặc chưa có`, en: `the OCSP response for the ${o.name} certificate is ${o.fetchedAt ? `${Math.round(age)} s old (limit ${freshness} s)` : 'missing'}${o.lastError ? `: ${o.lastError}` : ''}` },
    );
  }
  const log = ctx.log.health(ctx.clock());
  checks.push(log.refusing ? { check: 'message-log', ok: false, vi: 'Nhật ký thông điệp chưa được gắn dấu thời gian quá thời hạn', en: `the message log awaits a time-stamp past its grace period${log.lastError ? `: ${log.lastError}` : ''}` } : { check: 'message-log', ok: true });
  const ok = checks.every((c) => c.ok);
  const body = Buffer.from(JSON.stringify({ status: ok ? 'ok' : 'failing', server: ctx.idText, checks, clients }));
  res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length, 'cache-control': 'no-store' });
  res.end(body);
}
