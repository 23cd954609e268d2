/**
 * The provider side: another security server sends a framed, signed message over mutual TLS. Before
 * anything reaches the information system this server checks, in order: its own configuration is usable
 * and its log is not refusing; the peer's TLS certificate is one registered for a server in the global
 * configuration; the client is that server's client; the service is one of ours and enabled; the peer's
 * authentication and signing certificates chain to an approved CA with fresh good OCSP responses, and the
 * signing certificate is the client's member's; the message time is within the skew window and its id was
 * not seen; the client has an access right for the method and path; then the body and the signature over it.
 * The request is logged, then delivered; the information system's response is streamed back signed, and
 * logged before its signature leaves.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';
import { createHash, X509Certificate } from 'node:crypto';
import { TrucError, isTrucError, toProblem } from '../../errors.js';
import { clientHeader, isMemberService, memberOf, parseMessageService, parseService, parseSubsystem, sameMember, serviceText, subsystemOf, subsystemText, type ServiceId, type SubsystemId } from '../ids.js';
import { BodyCollector, bodyStream, forwardFramed } from './body.js';
import { FRAME_ABORT, FRAME_BODY, FRAME_HEADER, FRAME_MATERIAL, FRAME_SIGNATURE, MESSAGE_CONTENT_TYPE, connectionNamed, encodeHeader, headerText, frame, frameHead, signMessage, parseHeader, readWhole, restServiceHeader, wholeMessageLimit, xroadRequestHash, type MessageHeader } from './message.js';
import { bodyIdleBound, checkTime, httpInbound, ownMaterial, publishRefusal, readIncoming, receiveBody, carryCounted, recordHealth, sendsLogging, type InboundSource, type ReceivedRest, type ServerContext } from './context.js';
import { ALPN_FRAMED_CONFIRMED, FRAME_ERROR, FramedReader, PENDING_FRAME, confirmation, confirmationFrame, lengthFrame, type Inbound } from './channel.js';
import { Readable, type Writable } from 'node:stream';
import { materialSent, materialToSend, peerMaterial } from './material.js';
import { pathAmbiguity, pathCovered, subjectCovers, type ServerSnapshot } from './store.js';
import { maintenanceText, type GlobalConf } from '../conf/global.js';
import { writeChunk } from './write.js';
import { META_SERVICES, SOAP_META_SERVICES, metaserviceAnswer, soapMetaserviceAnswer } from './metaservices.js';
import { opmonAnswer } from './opmon.js';
import { opMessage } from './oprecords.js';
import { sha256 } from '../../crypto/digest.js';
import { bodyHash as hashBody } from '../log/format.js';
import { mimeParts } from './mime-parts.js';
import { recordedFault } from './xroad-error.js';
import { SOAP_MAX_BYTES, isSoapCall, parseMediaType, parseSoapYielding, readSoapHead, requestHashOf, soapMessageBytes, soapRequest, withRequestHash, type ParsedSoap, type SoapHead, type SoapRequest } from './soap.js';

const peerHashes = new WeakMap<TLSSocket, { der: Buffer; hash: string }>();
// hop-by-hop headers and those that leak the origin host (PR-REST 4.3), and the protocol's own, which the
// servers set: an information system's X-Road-Error must not pass for the axis's
const RESPONSE_SKIP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length', 'server', 'x-road-client', 'x-road-service', 'x-road-id', 'x-road-request-id', 'x-road-request-hash', 'x-road-error']);

function peerCert(socket: TLSSocket): { der: Buffer; hash: string } {
  let p = peerHashes.get(socket);
  if (!p) {
    const der = socket.getPeerCertificate?.(false)?.raw;
    if (!der) throw new TrucError('cert_invalid', 'the peer presented no TLS client certificate');
    p = { der, hash: createHash('sha256').update(der).digest('hex') };
    peerHashes.set(socket, p);
  }
  return p;
}

/**
 * The refusal for a connection whose client certificate no security server of the configuration in hand has
 * registered (none presented, or an unknown one); undefined for a registered one — or when there is no usable
 * configuration, which the first message's checks report with their own reason.
 */
function strangerCert(ctx: ServerContext, socket: TLSSocket): TrucError | undefined {
  let conf;
  try {
    conf = ctx.conf();
  } catch {
    return undefined;
  }
  try {
    if (conf.serverByAuthCert(peerCert(socket).hash)) return undefined;
  } catch (e) {
    return e as TrucError;
  }
  return new TrucError('cert_invalid', 'the TLS client certificate is not registered for any security server in the global configuration', { xroadFault: 'SslAuthenticationFailed' });
}

/** Whether the client may call this service with this method and path (deny by default). */
export function accessAllowed(snap: ServerSnapshot, conf: GlobalConf, service: string, client: SubsystemId, method: string, path: string): boolean {
  const rights = snap.access.get(service);
  if (!rights) return false;
  for (const r of rights) {
    if (r.method !== '*' && r.method !== method) continue;
    if (pathCovered(r.path, path) && subjectCovers(snap, conf, r.subject, client)) return true;
  }
  return false;
}

/**
 * The provider's half of one exchange, over whichever channel the consumer chose: framed on the TLS
 * connection (`./channel.ts`) or an HTTP/1.1 request (servers of an earlier version).
 */
export interface ProviderExchange {
  socket: TLSSocket;
  inbound: InboundSource;
  /** the request was not read to its end: after a refusal the connection closes */
  incomplete(): boolean;
  reply: Reply;
  /** truc/2: the client's server's word that the whole request it sent is in its log (D; X: void) */
  requestLogged?: () => Promise<void>;
}

/** Where the answer goes. */
export interface Reply {
  /** the answer has begun (a refusal can no longer be sent: the connection is cut instead) */
  readonly started: boolean;
  /** a streamed answer's frames go here, after `begin()` */
  readonly out: Writable;
  /** an answer held whole, in one write (`pending`: after P, truc/2 — it is being logged, `confirm` follows) */
  whole(wire: Buffer, pending?: boolean): void;
  /** truc/2: a whole answer may be sent while logged, and `confirm` says after it whether it is (D) or void (X) */
  readonly confirmed: boolean;
  confirm(code?: string): void;
  begin(): void;
  /** the last frame of a streamed answer */
  end(last: Buffer): void;
  /** a refusal instead of an answer (`close`: the connection closes after it) */
  refuse(e: unknown, close: boolean): void;
}

function httpReply(res: ServerResponse): Reply {
  return {
    get started() {
      return res.headersSent;
    },
    out: res,
    whole(wire) {
      res.writeHead(200, { 'content-type': MESSAGE_CONTENT_TYPE, 'content-length': wire.length });
      res.end(wire);
    },
    confirmed: false,
    confirm() {},
    begin() {
      res.writeHead(200, { 'content-type': MESSAGE_CONTENT_TYPE });
    },
    end(last) {
      res.end(last);
    },
    refuse(e, close) {
      if (res.writableEnded) return;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // the peer's pool is told the connection closes, rather than finding out by reusing a dying socket
      if (close) res.setHeader('connection', 'close');
      const p = toProblem(e);
      const body = Buffer.from(JSON.stringify(p));
      res.writeHead(p.status, { 'content-type': 'application/problem+json', 'content-length': body.length });
      res.end(body);
    },
  };
}

/** HTTP/1.1 between servers: `POST /truc/v1/message`, the message as the body. */
export function handleProvider(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  bodyIdleBound(req, res, Math.max(FRAMED_IDLE_MS, ctx.limits.timeoutMs), { en: 'the consumer’s security server', vi: 'máy chủ an ninh bên gọi' });
  return provide(
    ctx,
    { socket: req.socket as TLSSocket, inbound: httpInbound(req), incomplete: () => !req.complete, reply: httpReply(res) },
    () => {
      if (req.method !== 'POST' || req.url !== '/truc/v1/message') throw new TrucError('not_found', 'security servers exchange messages at POST /truc/v1/message');
    },
  );
}

/** how long a framed connection may sit idle (or a message stall) before the provider closes it: longer than a consumer keeps an idle one */
const FRAMED_IDLE_MS = 5 * 60_000;
const FIRST_MESSAGE_MS = 30_000;

/** The framed channel: exchanges one after another on the connection until the consumer closes it. */
export async function serveFramed(ctx: ServerContext, socket: TLSSocket): Promise<void> {
  socket.setNoDelay(true);
  // a certificate registered for no security server is refused at once, with the reason, before it may send
  // anything (it was kept until its first message, up to 30 s, so strangers could hold connections open)
  const stranger = strangerCert(ctx, socket);
  if (stranger) {
    publishRefusal(ctx, 'provider', stranger, {});
    socket.on('error', () => {});
    socket.end(frame(FRAME_ERROR, Buffer.from(JSON.stringify({ ...toProblem(stranger), closing: true }))));
    setTimeout(() => socket.destroy(), 5000).unref();
    return;
  }
  const reader = new FramedReader(socket, wholeMessageLimit(ctx.limits.inlineBodyBytes), socket.alpnProtocol === ALPN_FRAMED_CONFIRMED);
  let busy = false;
  socket.on('error', () => {});
  // silent too long while idle or inside a message: closed (not while the information system is answering)
  socket.setTimeout(Math.max(FRAMED_IDLE_MS, ctx.limits.timeoutMs), () => {
    if (!busy || reader.midMessage) socket.destroy();
  });
  // the first message comes soon after the handshake, or the connection goes (as HTTP's header time-out)
  const first = setTimeout(() => socket.destroy(), FIRST_MESSAGE_MS);
  for (;;) {
    let m: Inbound | null;
    try {
      m = await reader.next();
    } catch {
      socket.destroy();
      return;
    } finally {
      clearTimeout(first);
    }
    if (!m) return;
    if (m.kind === 'error') {
      // a consumer never sends a refusal
      socket.destroy();
      return;
    }
    // the confirmation of a request refused before it was awaited: nothing waits for it any more
    if (m.kind === 'confirm') continue;
    busy = true;
    let closeAfter = false;
    let started = false;
    /** the answer went out to its last frame (a signature, or an abort frame: the message is over on the wire) */
    let ended = false;
    const reply: Reply = {
      get started() {
        return started;
      },
      out: socket,
      whole(wire, pending) {
        started = true;
        // over on the wire once written (a failure after it has nothing to cut off)
        ended = true;
        socket.cork();
        if (pending) socket.write(PENDING_FRAME);
        socket.write(lengthFrame(wire.length));
        socket.write(wire);
        socket.uncork();
      },
      confirmed: reader.confirmed,
      confirm(code) {
        if (!socket.destroyed && socket.writable) socket.write(confirmationFrame(code));
      },
      begin() {
        started = true;
      },
      end(last) {
        ended = true;
        socket.write(last);
      },
      refuse(e, close) {
        if (socket.destroyed) return;
        if (started) {
          // an answer cut off mid-frame leaves nothing the consumer could read on; one ended by an abort frame
          // leaves the connection clean for the next message
          if (!ended) socket.destroy();
          return;
        }
        started = true;
        // a connection whose certificate is no registered server's carries nothing more; nor one whose
        // message was refused before it was read through. The refusal says so (`closing`): otherwise the
        // consumer keeps the connection for its next message, as after an answer
        closeAfter = close || (isTrucError(e) && e.code === 'cert_invalid');
        socket.write(frame(FRAME_ERROR, Buffer.from(JSON.stringify(closeAfter ? { ...toProblem(e), closing: true } : toProblem(e)))));
      },
    };
    const requestLogged = m.kind === 'whole' && m.pending ? () => confirmation(reader, { en: "the client's security server", vi: 'máy chủ an ninh bên gọi' }, 'consumer') : undefined;
    await provide(ctx, { socket, inbound: m.kind === 'whole' ? { whole: m.bytes } : { stream: m.stream, declared: NaN }, incomplete: () => reader.midMessage, reply, ...(requestLogged ? { requestLogged } : {}) });
    busy = false;
    if (socket.destroyed) return;
    if (closeAfter || reader.midMessage) {
      socket.end();
      return;
    }
  }
}

async function provide(ctx: ServerContext, x: ProviderExchange, check?: () => void): Promise<void> {
  return carryCounted(ctx, () => carry(ctx, x, check));
}

/** One exchange for a client's server: its request checked, logged and given to the service, the answer back. */
async function carry(ctx: ServerContext, x: ProviderExchange, check?: () => void): Promise<void> {
  const started = ctx.clock();
  let requestBytes = 0;
  let header: MessageHeader | undefined;
  let peerServer = '';
  /** the client's server's address in the global configuration */
  let peerAddress: string | undefined;
  let held: { release(): void } | undefined;
  try {
    check?.();
    const conf = ctx.conf();
    if (ctx.log.health().refusing) throw new TrucError('timestamp_unavailable', 'this server\'s message log awaits a time-stamp past its grace period; messages are refused until a TSA answers');
    const peer = peerCert(x.socket);
    const sender = conf.serverByAuthCert(peer.hash);
    if (!sender) throw new TrucError('cert_invalid', 'the TLS client certificate is not registered for any security server in the global configuration', { xroadFault: 'SslAuthenticationFailed' });
    peerServer = `SERVER:${sender.id.instance}/${sender.id.memberClass}/${sender.id.memberCode}/${sender.id.serverCode}`;
    peerAddress = sender.address;
    // a server in maintenance mode is not sent to; a consumer whose configuration does not say so yet is told
    // here (its own clients' calls to other agencies go on: maintenance is about what this server provides)
    const self = conf.server(ctx.id);
    if (self?.maintenance) throw new TrucError('server_maintenance', `${maintenanceText(self)} is in maintenance mode: it takes no messages now`, { maintenance: maintenanceText(self) });
    // a small message (sent with its length) is read whole and split in memory; a larger one streams
    const incoming = await readIncoming(ctx, x.inbound, `the message from ${peerServer}`);
    const headerBytes = incoming.headerBytes;
    header = parseHeader(headerBytes);
    if (header.kind !== 'request') throw new TrucError('bad_message', 'a request was expected');
    if (header.sender !== peerServer) throw new TrucError('bad_message', `the message names ${header.sender} as its sender, but the TLS certificate is ${peerServer}'s`);
    const client = parseSubsystem(header.client);
    const service: ServiceId = parseMessageService(header.service);
    if (!conf.isClientOf(sender.id, client)) throw new TrucError('client_not_owned', `${subsystemText(client)} is not a client of ${peerServer}`, { xroadFault: 'SslAuthenticationFailed' });
    const snap = await ctx.store.snapshot();
    const svcText = serviceText(service);
    const svc = snap.services.get(svcText);
    // X-Road's metaservices, answered by this server itself for a subsystem it serves (a registered service of
    // the same code goes first); over SOAP a service version in the header is ignored, as X-Road reads only the
    // code (PR-META's getWsdl example names one)
    // X-Road's operational monitoring (PR-OPMON): offered by this server's owner, answered here over SOAP
    const opmon = isMemberService(service) && header.protocol === 'soap' && sameMember(service, ctx.id);
    const meta =
      opmon ||
      (!svc && !isMemberService(service) && (!service.serviceVersion || header.protocol === 'soap') && (header.protocol === 'soap' ? SOAP_META_SERVICES : META_SERVICES).has(service.serviceCode) && snap.clients.has(subsystemText(subsystemOf(service))) && conf.isClientOf(ctx.id, subsystemOf(service)));
    if (!meta && (!svc || svc.disabled || !conf.isClientOf(ctx.id, subsystemOf(service))))
      throw new TrucError('unknown_service', `${svcText} is not a service of this security server${svc?.disabled ? ' (disabled)' : ''}`, {
        reason_vi: `${svcText} không phải dịch vụ của máy chủ an ninh này${svc?.disabled ? ' (đang tắt)' : ''}`,
      });
    checkTime(ctx, header);
    const pm = peerMaterial(x.socket, header, incoming.material);
    await ctx.trust.check(conf, peer.der, pm.authOcsp, 'auth-client');
    const signer = await ctx.trust.check(conf, pm.signCert, pm.signOcsp, 'sign');
    if (!signer.member || !sameMember(signer.member, memberOf(client)))
      throw new TrucError('cert_invalid', `the message is signed with a certificate that does not belong to the client's member ${client.memberClass}/${client.memberCode}`);
    const replayKey = `${header.client}|${header.id}`;
    if (ctx.replaySeeding) await ctx.replaySeeding;
    if (ctx.replayUnseeded)
      throw new TrucError('database_unavailable', `the replay guard could not be read from the message log since the restart (${ctx.replayUnseeded.message}): requests are refused until it is`, {
        reason_vi: 'chưa đọc được danh sách thông điệp đã nhận từ nhật ký thông điệp sau khi khởi động lại: tạm từ chối yêu cầu cho tới khi đọc được',
      });
    if (ctx.replay.has(replayKey)) throw new TrucError('replayed_message', `message ${header.id} from ${header.client} was already received`, { reason_vi: `thông điệp ${header.id} của ${header.client} đã được nhận trước đó` });
    // metaservices are open to every client of the axis, as in X-Road; their answers list only what is allowed
    // a path a system could resolve outside the one matched (`/public/../admin`) is never granted
    const unsafe = meta ? undefined : pathAmbiguity(header.path ?? '/');
    if (unsafe !== undefined)
      throw new TrucError('access_denied', `the path ${header.path} ${unsafe.en}: access rights are not matched on such paths`, {
        reason_vi: `đường dẫn ${header.path} ${unsafe.vi}: quyền truy cập không xét cho đường dẫn như vậy`,
      });
    if (!meta && !accessAllowed(snap, conf, svcText, client, header.method!, header.path!))
      throw new TrucError('access_denied', `${subsystemText(client)} has no access right to ${header.method} ${svcText}${header.path === '/' ? '' : header.path}`, {
        reason_vi: `${subsystemText(client)} không có quyền ${header.method} ${svcText}${header.path === '/' ? '' : header.path}`,
      });
    // a SOAP message's attachments, counted from its body as it comes in
    const reqParts = header.protocol === 'soap' ? mimeParts(header.headers['content-type']) : null;
    const rest = await receiveBody(ctx, incoming, signer, reqParts);
    held = rest.body;
    // a SOAP message is read as the service will read it: its header must name what the signed header names
    let soap: ParsedSoap | undefined;
    try {
      if (header.protocol === 'soap') soap = await soapRequestAt(header, rest);
    } catch (e) {
      if (!Buffer.isBuffer(rest.body.body)) await rest.body.body.discard?.();
      throw e;
    }
    if (!ctx.replay.add(replayKey)) {
      if (!Buffer.isBuffer(rest.body.body)) await rest.body.body.discard?.();
      throw new TrucError('replayed_message', `message ${header.id} from ${header.client} was already received`, { reason_vi: `thông điệp ${header.id} của ${header.client} đã được nhận trước đó` });
    }
    // logged here while the client's server confirms it logged it too (truc/2); the information system gets it
    // only once both are over
    const [own, peerLog] = await Promise.allSettled([
      ctx.log.append({
        messageId: header.id,
        kind: 'request',
        side: 'provider',
        client: header.client,
        service: header.service,
        ...(header.headers['x-road-userid'] ? { userId: headerText(header.headers['x-road-userid']) } : {}),
        ...(header.headers['x-road-issue'] ? { issue: headerText(header.headers['x-road-issue']) } : {}),
        time: ctx.clock(),
        header: headerBytes,
        signature: rest.signatureBytes,
        bodyHash: rest.body.hash,
        bodyLength: rest.body.length,
        body: rest.body.body,
        ...(pm.log ? { material: pm.log } : {}),
      }),
      x.requestLogged?.(),
    ]);
    // not delivered: the client may send it again under the same id
    if (own.status === 'rejected' || peerLog.status === 'rejected') ctx.replay.forget(replayKey);
    if (own.status === 'rejected') throw new TrucError('log_failure', `the request could not be logged: ${(own.reason as Error).message}`);
    if (peerLog.status === 'rejected') throw peerLog.reason;
    requestBytes = rest.body.length;
    const body = rest.body.body;
    const requestOutAt = ctx.clock().getTime();
    const isRes = meta
      ? opmon
        ? await opmonAnswer(ctx, conf, service, client, soap!)
        : soap
        ? soapMetaserviceAnswer(snap, conf, service, client, soap)
        : metaserviceAnswer(snap, conf, service, client, header.method!, header.path!)
      : await sendToService(header, rest.digest, svc!.url, svc!.timeoutMs, body, rest.body.length, rest.body.held, soap, serviceTlsAgent(ctx, snap, subsystemOf(service), svc!.url));
    // metadata mode: the spool file goes now that the body is on its way (no-op in full mode: the log owns it)
    if ((rest.body.held || meta) && !Buffer.isBuffer(body)) await body.discard?.();
    const responseInAt = ctx.clock().getTime();
    const answered: { res: IncomingMessage; soapBytes?: number } = soap ? await soapAnswer(soap, isRes) : { res: isRes };
    const out = await answerSigned(ctx, x, header, rest.digest, answered.res);
    // the health data's sizes are those of the operational records: a SOAP message's SOAP part
    recordHealth(ctx, svcText, undefined, { startedAt: started, requestBytes: soap ? soap.part.length : requestBytes, responseBytes: answered.soapBytes ?? out.bytes });
    ctx.ops.record({ messageId: header.id, side: 'provider', client: header.client, service: header.service, startedAt: started, finishedAt: ctx.clock(), requestBytes, responseBytes: out.bytes, status: out.status, ...opMessage(header), requestOutAt, responseInAt, peerAddress, requestAttachments: reqParts?.attachments ?? 0, responseAttachments: out.attachments, ...(soap ? { requestSoapBytes: soap.part.length, responseSoapBytes: answered.soapBytes } : {}), ...(reqParts ? { requestMimeBytes: reqParts.mimeBytes } : {}), ...(out.mimeBytes !== undefined ? { responseMimeBytes: out.mimeBytes } : {}) });
  } catch (e) {
    const err = isTrucError(e) ? e : new TrucError('internal', 'internal error');
    if (!isTrucError(e)) ctx.logger.error({ err: e }, 'provider side failed');
    if (header) recordHealth(ctx, header.service, err, { startedAt: started, requestBytes, responseBytes: 0 });
    ctx.ops.record({ messageId: header?.id ?? '-', side: 'provider', ...(header ? { client: header.client, service: header.service, ...opMessage(header) } : {}), startedAt: started, finishedAt: ctx.clock(), requestBytes, responseBytes: 0, status: err.status, error: err.code, ...recordedFault('ServerProxy', err), ...(peerAddress ? { peerAddress } : {}) });
    publishRefusal(ctx, 'provider', err, { peer: peerServer, ...(header ? { message_id: header.id, client: header.client, service: header.service } : {}) });
    // a refused request's remaining body is not read: the connection closes after the answer
    x.reply.refuse(err, x.incomplete());
  } finally {
    held?.release();
  }
}

/**
 * The service's response headers that travel to the client: hop-by-hop and framing headers left out, except
 * that an answer to HEAD, and a 304, keep their Content-Length — the length a GET, or a 200, would have (RFC
 * 9110 §9.3.2, §8.6), which the client's server writes instead of the length of the empty body.
 */
function responseHeaders(h: MessageHeader, isRes: IncomingMessage): Record<string, string> {
  // and the fields its Connection header names, hop-by-hop for that connection (RFC 9110 §7.6.1)
  const named = connectionNamed(isRes.headers.connection);
  const out = Object.fromEntries(Object.entries(isRes.headers).filter(([k, v]) => v !== undefined && k !== 'set-cookie' && !RESPONSE_SKIP.has(k) && !named.has(k)).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));
  const length = isRes.headers['content-length'];
  if ((h.method === 'HEAD' || isRes.statusCode === 304) && typeof length === 'string' && /^\d{1,15}$/.test(length)) out['content-length'] = length;
  return out;
}

const BODILESS_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE']);
/** methods a request of which may be sent again when its connection failed (RFC 9110 §9.2.2) */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Sends the request to the information system; resolves with its response. */
async function sendToService(
  h: MessageHeader,
  requestDigest: Buffer,
  baseUrl: string,
  timeoutMs: number,
  body: Buffer | import('../log/types.js').SpooledBody,
  bodyLength: number,
  held?: Buffer[],
  soap?: ParsedSoap,
  tlsAgent?: https.Agent,
): Promise<IncomingMessage> {
  const target = new URL(baseUrl);
  // the path and query as signed, byte for byte, below the service's registered path: through a URL parser
  // `\` would become `/`, `{` `%7B`, and a `#` would cut the rest (access rights were matched on these bytes)
  const prefix = target.pathname.replace(/\/$/, '');
  const requestPath = h.path === '/' ? target.pathname + target.search : prefix + h.path!;
  const headers: Record<string, string | number> = {};
  if (soap) {
    // PR-MESS 2.2: Content-Type and SOAPAction reach the service, nothing else; the message as the client wrote it
    headers['content-type'] = h.headers['content-type'] ?? 'text/xml; charset=utf-8';
    if (h.headers.soapaction !== undefined) headers.soapaction = h.headers.soapaction;
  } else {
    for (const [k, v] of Object.entries(h.headers)) headers[k] = v;
    const client = parseSubsystem(h.client);
    headers['x-road-client'] = clientHeader(client);
    headers['x-road-service'] = restServiceHeader(parseService(h.service));
    headers['x-road-id'] = h.id;
    headers['x-road-request-hash'] = xroadRequestHash(requestDigest);
  }
  // no Content-Length on a GET, HEAD, DELETE or OPTIONS without content (RFC 9110 §8.6: a request whose method
  // anticipates none should not send one), as the information system's client sent it
  if (bodyLength > 0 || !BODILESS_METHODS.has(String(h.method ?? 'POST').toUpperCase())) headers['content-length'] = bodyLength;
  const lib = target.protocol === 'https:' ? https : http;
  const send = (): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const r = lib.request({
        protocol: target.protocol,
        hostname: target.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: target.port,
        path: requestPath,
        ...(target.username ? { auth: `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}` } : {}),
        method: h.method,
        headers,
        timeout: timeoutMs,
        agent: target.protocol === 'https:' ? tlsAgent : serviceAgent,
      });
      r.on('timeout', () => r.destroy(new TrucError('service_failed', `the service did not answer within ${timeoutMs} ms`, { reason_vi: `dịch vụ không trả lời trong ${timeoutMs} ms` })));
      r.on('error', (e) => {
        // a kept-alive connection that closed just as it was reused: the information system may have closed it
        // idle, before reading the request — or read it, acted, and then failed (Node reports both alike). Sent
        // again once only when the method is idempotent (RFC 9110 §9.2.2) and the body is in memory: a POST
        // the service may have acted on is not given to it twice
        if (r.reusedSocket && (e as NodeJS.ErrnoException).code === 'ECONNRESET' && IDEMPOTENT_METHODS.has(String(h.method ?? 'POST').toUpperCase()) && (Buffer.isBuffer(body) || held))
          return reject(Object.assign(e, { again: true }));
        // the service's TLS certificate not verified (not registered, not from a trusted CA, expired, …)
        const tlsCode = String((e as NodeJS.ErrnoException).code ?? '');
        const tlsAuth = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS_CERT/.test(tlsCode);
        reject(isTrucError(e) ? e : new TrucError('service_failed', `the information system at ${target.host} failed: ${(e as Error).message}`, tlsAuth ? { xroadFault: 'SslAuthenticationFailed' } : undefined));
      });
      r.on('response', (res) => {
        // Node's parser takes any three digits; a final status is 200–999 here (1xx are informational, skipped)
        const st = res.statusCode ?? 0;
        if (st >= 200 && st <= 999) return resolve(res);
        res.destroy();
        reject(new TrucError('service_failed', `the information system at ${target.host} answered with the status ${st}, which is not a final HTTP status`, { reason_vi: `hệ thống thông tin trả lời với mã trạng thái ${st}, không phải mã trạng thái HTTP hợp lệ` }));
      });
      // a 101 nobody asked for: the exchange cannot follow the service into another protocol (without this
      // listener Node drops the connection and the request ends with neither a response nor an error)
      r.on('upgrade', (_res, socket) => {
        socket.destroy();
        reject(new TrucError('service_failed', `the information system at ${target.host} switched protocols (101), which a message exchange cannot follow`, { reason_vi: 'hệ thống thông tin chuyển sang giao thức khác (101), trao đổi thông điệp không theo được' }));
      });
      // whatever else ends the request without an answer (a no-op once answered or failed)
      r.on('close', () => reject(new TrucError('service_failed', `the information system at ${target.host} closed the request without answering`, { reason_vi: 'hệ thống thông tin đóng yêu cầu mà không trả lời' })));
      if (Buffer.isBuffer(body)) r.end(body);
      else if (held) {
        // logged already and held in memory: sent as is, the log's file is not read back
        for (const c of held) r.write(c);
        r.end();
      } else bodyStream(body).pipe(r);
    });
  return send().catch((e) => {
    if (!(e as { again?: boolean }).again) throw e;
    return send().catch((e2) => {
      throw isTrucError(e2) ? e2 : new TrucError('service_failed', `the information system at ${target.host} failed: ${(e2 as Error).message}`);
    });
  });
}

/** Streams the information system's (or a metaservice's) answer back to the consumer, signed and logged. */
async function answerSigned(ctx: ServerContext, x: ProviderExchange, h: MessageHeader, requestDigest: Buffer, isRes: IncomingMessage): Promise<{ status: number; bytes: number; attachments: number; mimeBytes?: number }> {
  // from here the response to the peer is a framed message: failures become an abort frame. It is written
  // in the request's protocol version: a v1 consumer gets its certificate and OCSP responses inline
  const own = h.v === 1 ? null : ownMaterial(ctx);
  const respHeader: MessageHeader = {
    v: own ? 2 : 1,
    kind: 'response',
    id: h.id,
    time: ctx.clock().toISOString(),
    client: h.client,
    service: h.service,
    status: isRes.statusCode ?? 502,
    headers: responseHeaders(h, isRes),
    // each Set-Cookie line as the service wrote it: joined with commas, "a=1, b=2" would be read as one cookie
    ...(h.protocol !== 'soap' && isRes.headers['set-cookie']?.length ? { setCookie: isRes.headers['set-cookie'] } : {}),
    sender: ctx.idText,
    ...(own ? own.fields : { signCert: ctx.signCertB64, signOcsp: ctx.own.base64('sign'), authOcsp: ctx.own.base64('auth') }),
    requestHash: requestDigest.toString('hex'),
  };
  const material = own?.items;
  // the certificate and OCSP responses go before the header when this connection has not carried them; a
  // consumer that fails to read the response closes the connection, so they count as held once written
  const takeMaterial = (): Buffer | null => {
    const m = own ? materialToSend(x.socket, own.items) : null;
    if (m) materialSent(x.socket, own!.items);
    return m;
  };
  const headerBytes = encodeHeader(respHeader);
  // a SOAP answer's attachments, counted from its body as it passes
  const counted = h.protocol === 'soap' ? mimeParts(respHeader.headers['content-type']) : null;
  // an answer to HEAD, and 204 and 304 answers, have no body whatever their Content-Length says
  const bodiless = h.method === 'HEAD' || respHeader.status === 204 || respHeader.status === 304;
  const declared = bodiless ? 0 : isRes.headers['content-length'] !== undefined ? Number(isRes.headers['content-length']) : NaN;
  if (Number.isSafeInteger(declared) && declared <= ctx.limits.inlineBodyBytes) {
    // a small answer: read whole, sign, log, and send in one write
    const b = await readWhole(isRes, declared, (why) => new TrucError('service_failed', `the information system's response failed: ${why}`));
    counted?.feed(b);
    const bodyHash = hashBody(b);
    const { bytes: sigBytes } = await signMessage(ctx.signer, headerBytes, bodyHash, b.length);
    const logged = ctx.log.append({ messageId: h.id, kind: 'response', side: 'provider', client: h.client, service: h.service, time: ctx.clock(), header: headerBytes, signature: sigBytes, bodyHash, bodyLength: b.length, body: b, ...(material ? { material } : {}) });
    // truc/2: it goes while the log writes it, and D (or X) follows — the client's server gives it to the
    // client only after D; otherwise (or while this server is busy: `sendsLogging`) it goes once written
    const pending = x.reply.confirmed && sendsLogging(ctx);
    if (pending) logged.catch(() => {});
    else await logged;
    const m = takeMaterial();
    const parts = m ? [frame(FRAME_MATERIAL, m), frame(FRAME_HEADER, headerBytes)] : [frame(FRAME_HEADER, headerBytes)];
    if (b.length) parts.push(frameHead(FRAME_BODY, b.length), b);
    parts.push(frame(FRAME_SIGNATURE, sigBytes));
    x.reply.whole(Buffer.concat(parts), pending);
    if (pending) {
      try {
        await logged;
      } catch (e) {
        x.reply.confirm(isTrucError(e) ? e.code : 'log_failure');
        throw e;
      }
      x.reply.confirm();
    }
    return { status: respHeader.status!, bytes: b.length, attachments: counted?.attachments ?? 0, ...(counted ? { mimeBytes: counted.mimeBytes } : {}) };
  }
  x.reply.begin();
  const res = x.reply.out;
  const write = (b: Buffer) => writeChunk(res, b, 'the consumer');
  const m = takeMaterial();
  if (m) await write(frame(FRAME_MATERIAL, m));
  await write(frame(FRAME_HEADER, headerBytes));
  const collector = new BodyCollector(ctx.log, ctx.limits.inlineBodyBytes, ctx.limits.maxBodyBytes);
  try {
    await forwardFramed(isRes, res, 'the consumer', collector, counted);
    const b = await collector.finish();
    const { bytes: sigBytes } = await signMessage(ctx.signer, headerBytes, b.hash, b.length);
    await ctx.log.append({
      messageId: h.id,
      kind: 'response',
      side: 'provider',
      client: h.client,
      service: h.service,
      time: ctx.clock(),
      header: headerBytes,
      signature: sigBytes,
      bodyHash: b.hash,
      bodyLength: b.length,
      body: b.body,
      ...(material ? { material } : {}),
    });
    x.reply.end(frame(FRAME_SIGNATURE, sigBytes));
    return { status: respHeader.status!, bytes: b.length, attachments: counted?.attachments ?? 0, ...(counted ? { mimeBytes: counted.mimeBytes } : {}) };
  } catch (e) {
    await collector.discard();
    ctx.logger.warn({ err: e, id: h.id }, 'response aborted');
    x.reply.end(frame(FRAME_ABORT, Buffer.from(isTrucError(e) ? e.code : 'service_failed')));
    throw isTrucError(e) ? e : new TrucError('service_failed', `the information system's response failed: ${(e as Error).message}`);
  }
}

// idle connections are closed after 4 s, before the 5 s keep-alive of a Node information system ends them
// under us (a request sent on a socket the other side is closing fails with ECONNRESET)
const serviceAgent = new http.Agent({ keepAlive: true, maxSockets: 256, timeout: 4000 });

/**
 * The SOAP request as the provider's server received it, checked against the signed header naming it. Only its
 * envelope is read (from memory, or back from the spool): a multipart message's attachments are not.
 */
async function soapRequestAt(h: MessageHeader, rest: ReceivedRest): Promise<ParsedSoap> {
  const b = rest.body;
  const ct = h.headers['content-type'] ?? '';
  if (parseMediaType(ct).type !== 'multipart/related' && b.length > SOAP_MAX_BYTES) throw new TrucError('too_large', `a SOAP message of ${b.length} bytes is over the limit of ${SOAP_MAX_BYTES}`);
  let r: SoapRequest;
  try {
    let parsed: ParsedSoap;
    if (Buffer.isBuffer(b.body)) parsed = await parseSoapYielding(b.body, ct);
    else {
      // the envelope only: the stream (a file, when the body was not held) is closed after it
      const s = bodyStream(b.body, b.held);
      try {
        parsed = (await readSoapHead(s, ct, SOAP_MAX_BYTES)).parsed;
      } finally {
        s.destroy();
      }
    }
    r = soapRequest(parsed, ct, h.headers.soapaction);
  } catch (e) {
    if (isTrucError(e) && e.code === 'too_large') throw e;
    throw new TrucError('bad_message', `the SOAP message is not one the client's server could have sent: ${(e as Error).message}`);
  }
  if (r.hash !== h.soapHash || subsystemText(r.client) !== h.client || serviceText(r.service) !== h.service || r.id !== h.id)
    throw new TrucError('bad_message', 'the SOAP message names another client, service or id than its signed header, or its hash differs');
  return r.parsed;
}

/**
 * The service's SOAP response, checked against the request (the same header fields) and with requestHash
 * written into its header, as the answer to sign; only its Content-Type is kept. Only the envelope is read
 * here: a text/xml response whole, a multipart one up to the end of its SOAP part, its attachments streaming
 * on behind the edited bytes. `soapBytes`: the size of the SOAP part as sent (with requestHash).
 */
async function soapAnswer(request: ParsedSoap, isRes: IncomingMessage): Promise<{ res: IncomingMessage; soapBytes: number }> {
  const ct = String(isRes.headers['content-type'] ?? '');
  if (!isSoapCall('POST', ct, undefined)) {
    isRes.resume();
    throw new TrucError('service_failed', `the service answered ${isRes.statusCode} with content type "${ct}", not a SOAP message`, { xroadFault: 'ServiceFailed.InvalidContentType' });
  }
  let head: SoapHead;
  try {
    head = await readSoapHead(isRes, ct, SOAP_MAX_BYTES);
  } catch (e) {
    isRes.destroy();
    const fault = isTrucError(e) ? (e.detail as { xroadFault?: string } | undefined)?.xroadFault : undefined;
    if (fault) throw new TrucError('service_failed', `the service's SOAP response is malformed: ${(e as Error).message}`, { xroadFault: `ServiceFailed.${fault}` });
    throw isTrucError(e) ? new TrucError('service_failed', e.message) : new TrucError('service_failed', `the information system's response failed: ${(e as Error).message}`);
  }
  let out: Buffer;
  try {
    out = withRequestHash(request, head.parsed, requestHashOf(request));
  } catch (e) {
    await head.close().catch(() => {});
    throw e;
  }
  // the edit is inside the SOAP part: it grew by what the message did
  const soapBytes = head.parsed.part.length + out.length - head.parsed.message.length;
  if (!head.rest) return { res: Object.assign(Readable.from([out]), { statusCode: isRes.statusCode ?? 200, headers: { 'content-type': ct, 'content-length': String(out.length) } }) as unknown as IncomingMessage, soapBytes };
  // the attachments follow the edited envelope as the service sends them: streamed, of a length not known here
  const stream = Readable.from(soapMessageBytes(out, head.rest), { objectMode: false });
  return { res: Object.assign(stream, { statusCode: isRes.statusCode ?? 200, headers: { 'content-type': ct } }) as unknown as IncomingMessage, soapBytes };
}


/**
 * The agent for an https service URL: this server presents its internal TLS certificate (when configured),
 * and when TLS certificates of the provider's information system are registered (`ServerStore.addIsCert`)
 * only a server presenting one of them — or a chain through one — is accepted, whatever its host name (X-Road
 * pins the information system's certificate the same way); otherwise the system's CAs and the host name decide.
 * One agent per subsystem and set of certificates, kept alive like the plain one.
 */
function serviceTlsAgent(ctx: ServerContext, snap: ServerSnapshot, provider: SubsystemId, url: string): https.Agent | undefined {
  if (!url.startsWith('https:')) return undefined;
  const pins = snap.isCerts.get(subsystemText(provider));
  const key = `${subsystemText(provider)} ${pins ? [...pins.keys()].sort().join(',') : '-'}`;
  let agents = tlsAgents.get(ctx);
  if (!agents) tlsAgents.set(ctx, (agents = new Map()));
  let agent = agents.get(key);
  if (!agent) {
    const ca = pins ? [...pins.values()].map((der) => new X509Certificate(der).toString()) : undefined;
    agent = new https.Agent({
      keepAlive: true,
      maxSockets: 256,
      timeout: 4000,
      minVersion: 'TLSv1.2',
      ...(ctx.isTls ? { key: ctx.isTls.key, cert: ctx.isTls.cert } : {}),
      ...(ca
        ? {
            ca,
            checkServerIdentity: (_host: string, leaf: PeerCertificate) => {
              for (let c: DetailedPeerCertificate | undefined = leaf as DetailedPeerCertificate, n = 0; c && n < 10; c = c.issuerCertificate === c ? undefined : c.issuerCertificate, n++)
                if (c.raw && pins!.has(sha256(c.raw).toString('hex'))) return undefined;
              return new TrucError('service_failed', `the information system's TLS certificate is not one registered for ${subsystemText(provider)}`, { xroadFault: 'SslAuthenticationFailed' });
            },
          }
        : {}),
    });
    agents.set(key, agent);
  }
  return agent;
}

const tlsAgents = new WeakMap<ServerContext, Map<string, https.Agent>>();
