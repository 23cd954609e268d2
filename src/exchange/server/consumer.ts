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
import { clientHeader, memberOf, parseClientHeader, parseService, parseSubsystem, sameMember, serviceId, subsystemId, memberId, serviceText, subsystemText, subsystemOf, type ServiceId, type SubsystemId } from '../ids.js';
import { BodyCollector, bodyStream } from './body.js';
import { FRAME_BODY, FRAME_HEADER, FRAME_MATERIAL, FRAME_SIGNATURE, MAX_CHUNK_BYTES, MESSAGE_CONTENT_TYPE, encodeHeader, frame, frameHead, messageDigest, parseHeader, readWhole, restServiceHeader, xroadRequestHash, type MessageHeader, type MessageSignature } from './message.js';
import { checkTime, ownMaterial, publishRefusal, readIncoming, receiveBody, recordHealth, type ReceivedRest, type ServerContext } from './context.js';
import { materialSent, materialToSend, peerMaterial } from './material.js';
import { errorFromProblem, sendXroadError } from './xroad-error.js';
import { splitAddress } from './peers.js';
import type { ConfServerView } from '../conf/global.js';
import { writeChunk, writeChunks, writeFrame } from './write.js';
import { sha256 } from '../../crypto/digest.js';

// PR-REST 4.3: hop-by-hop headers and those that leak the origin host are filtered; Expect is handled here;
// the protocol's own headers are set by the servers, never passed on as the information system gave them
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'user-agent', 'server', 'expect', 'content-length']);
const PROTOCOL_HEADERS = new Set(['x-road-client', 'x-road-service', 'x-road-id', 'x-road-request-id', 'x-road-request-hash', 'x-road-error']);
const MAX_ID = 255;

/** The information system's headers carried across: all but hop-by-hop ones and those the protocol sets. */
export function carriedHeaders(raw: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined || HOP_BY_HOP.has(k) || PROTOCOL_HEADERS.has(k)) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** The X-Road-Client header's parts are percent-encoded UTF-8 (PR-REST 4.3); `/` separates them. */
export function decodeClientHeader(text: string): string {
  try {
    return text
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
  if (p[1] !== 'r1') throw new TrucError('bad_request', `the REST protocol version "${p[1] ?? ''}" is not supported; use /r1/`);
  if (p.length < 7) throw new TrucError('bad_request', 'the path is /r1/{instance}/{class}/{member}/{subsystem}/{service}[/…]');
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
  return { service, path: `/${rest}${query}` };
}

export async function handleConsumer(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = ctx.clock();
  let messageId = '';
  let client: SubsystemId | undefined;
  let service: ServiceId | undefined;
  try {
    if (!req.url?.startsWith('/r1/')) throw new TrucError('not_found', `no route ${req.method} ${req.url?.split('?')[0] ?? ''}; messages go to /r1/{instance}/{class}/{member}/{subsystem}/{service}`);
    const parsed = parseRestPath(req.url);
    service = parsed.service;
    const ch = req.headers['x-road-client'];
    if (typeof ch !== 'string' || !ch) throw new TrucError('unknown_client', 'the X-Road-Client header is missing');
    client = parseClientHeader(decodeClientHeader(ch));
    const givenId = req.headers['x-road-id'];
    messageId = typeof givenId === 'string' && givenId.length > 0 && givenId.length <= MAX_ID && !/[\s\p{Cc}]/u.test(givenId) ? givenId : randomUUID();
    const conf = ctx.conf();
    if (ctx.log.health().refusing)
      throw new TrucError('timestamp_unavailable', 'the message log has not been time-stamped within its grace period; new messages are refused until a time-stamping authority answers');
    const snap = await ctx.store.snapshot();
    if (!snap.clients.has(subsystemText(client)) || !conf.isClientOf(ctx.id, client))
      throw new TrucError('client_not_owned', `${clientHeader(client)} is not a registered client of this security server`);
    const provSubsystem = subsystemOf(service);
    if (!conf.hasSubsystem(provSubsystem))
      throw new TrucError(conf.member(provSubsystem) ? 'unknown_service' : 'unknown_member', `${subsystemText(provSubsystem)} is not registered in the global configuration`);
    const candidates = conf.serversOf(provSubsystem).filter((s) => !s.maintenance);
    if (!candidates.length) throw new TrucError('unknown_service', `no security server serves ${subsystemText(provSubsystem)}`);
    const own = ownMaterial(ctx);
    const header: MessageHeader = {
      v: 2,
      kind: 'request',
      id: messageId,
      time: ctx.clock().toISOString(),
      client: subsystemText(client),
      service: serviceText(service),
      method: req.method ?? 'GET',
      path: parsed.path,
      // X-Road-Request-Id: this request's own id, beside the message id the client may choose
      headers: { ...carriedHeaders(req.headers), 'x-road-request-id': randomUUID() },
      sender: ctx.idText,
      ...own.fields,
    };
    const headerBytes = encodeHeader(header);
    const key = subsystemText(provSubsystem);
    // a body of known, small size is read whole, signed and logged first, and travels in one write (and can
    // go to another provider if the first cannot be reached); larger ones stream
    const declared = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : NaN;
    const whole = !req.headers['transfer-encoding'] && Number.isSafeInteger(declared) && declared <= ctx.limits.inlineBodyBytes ? await signWhole(ctx, req, header, headerBytes, declared, own.items) : null;
    const order = await ctx.peers.order(key, candidates);
    let lastErr: unknown;
    for (const provider of order) {
      let sent = false;
      try {
        const responseBytes = whole ? await exchangeWhole(ctx, res, provider, header, whole, service) : await exchange(ctx, req, res, provider, header, headerBytes, own.items, service, () => (sent = true));
        recordHealth(ctx, serviceText(service));
        ctx.ops.record({ messageId, side: 'consumer', client: header.client, service: header.service, startedAt: started, finishedAt: ctx.clock(), requestBytes: whole ? whole.bodyLength : Number(req.headers['content-length'] ?? 0), responseBytes, status: res.statusCode });
        return;
      } catch (e) {
        lastErr = e;
        ctx.peers.failed(provider, key);
        // once the body began to flow it cannot be sent again: report the failure
        if (sent) throw e;
      }
    }
    throw lastErr ?? new TrucError('peer_unreachable', 'no provider could be reached');
  } catch (e) {
    const err = isTrucError(e) ? e : new TrucError('internal', (e as Error)?.message ?? 'internal error');
    if (!isTrucError(e)) ctx.logger.error({ err: e }, 'consumer side failed');
    if (service) recordHealth(ctx, serviceText(service), err);
    ctx.ops.record({ messageId: messageId || '-', side: 'consumer', ...(client ? { client: subsystemText(client) } : {}), ...(service ? { service: serviceText(service) } : {}), startedAt: started, finishedAt: ctx.clock(), requestBytes: 0, responseBytes: 0, status: err.status, error: err.code });
    publishRefusal(ctx, 'consumer', err, {
      message_id: messageId,
      ...(client ? { client: subsystemText(client) } : {}),
      ...(service ? { service: serviceText(service) } : {}),
      started: started.toISOString(),
    });
    const origin = (err.detail as any)?.origin === 'provider' ? 'ServerProxy' : 'ClientProxy';
    // the rest of an unread request body is not drained: the connection closes after the answer
    if (!req.complete && !res.headersSent) res.setHeader('connection', 'close');
    sendXroadError(res, err, origin, messageId ? { 'x-road-id': messageId } : {});
  }
}

interface WholeRequest {
  wire: Buffer;
  /** this server's certificate and OCSP responses the header names (sent once per connection) */
  material: Buffer[];
  digest: Buffer;
  bodyLength: number;
}

/** Reads a small body whole, signs the message, logs it, and lays out its frames for one write. */
async function signWhole(ctx: ServerContext, req: IncomingMessage, header: MessageHeader, headerBytes: Buffer, declared: number, material: Buffer[]): Promise<WholeRequest> {
  const body = await readWhole(req, declared, (why) => new TrucError('bad_request', `the body could not be read: ${why}`));
  const bodyHash = sha256(body);
  const digest = messageDigest(headerBytes, bodyHash, body.length);
  const bs = await ctx.signer.signDigest(digest);
  const sig: MessageSignature = { scheme: ctx.signer.scheme, bodyHash: bodyHash.toString('hex'), bodyLength: body.length, index: bs.index, count: bs.count, path: bs.path, value: bs.value.toString('base64') };
  const sigBytes = Buffer.from(JSON.stringify(sig));
  await ctx.log.append({
    messageId: header.id,
    kind: 'request',
    side: 'consumer',
    client: header.client,
    service: header.service,
    ...(header.headers['x-road-userid'] ? { userId: header.headers['x-road-userid'] } : {}),
    ...(header.headers['x-road-issue'] ? { issue: header.headers['x-road-issue'] } : {}),
    time: ctx.clock(),
    header: headerBytes,
    signature: sigBytes,
    bodyHash,
    bodyLength: body.length,
    body,
    material,
  });
  const parts = [frame(FRAME_HEADER, headerBytes)];
  if (body.length) parts.push(frameHead(FRAME_BODY, body.length), body);
  parts.push(frame(FRAME_SIGNATURE, sigBytes));
  return { wire: Buffer.concat(parts), material, digest, bodyLength: body.length };
}

function peerRequest(ctx: ServerContext, provider: ConfServerView, headers: Record<string, string | number>) {
  const { host, port } = splitAddress(provider.address);
  const out = https.request({ host, port, method: 'POST', path: '/truc/v1/message', agent: ctx.peers.agent(provider.address), headers: { 'content-type': MESSAGE_CONTENT_TYPE, ...headers }, timeout: ctx.limits.timeoutMs });
  out.on('timeout', () => out.destroy(new TrucError('peer_failed', `${provider.address} was silent for ${ctx.limits.timeoutMs} ms`)));
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    out.once('response', resolve);
    out.once('error', (e) => reject(isTrucError(e) ? e : new TrucError('peer_unreachable', `${provider.address}: ${(e as Error).message}`)));
  });
  response.catch(() => {});
  return { out, response };
}

async function exchangeWhole(ctx: ServerContext, res: ServerResponse, provider: ConfServerView, header: MessageHeader, whole: WholeRequest, service: ServiceId): Promise<number> {
  try {
    return await sendWhole(ctx, res, provider, header, whole, service);
  } catch (e) {
    // a kept-alive connection the peer closed just as it was reused: the message never arrived, send again
    if ((e as { reusedSocket?: boolean }).reusedSocket && !res.headersSent) return sendWhole(ctx, res, provider, header, whole, service);
    throw e;
  }
}

async function sendWhole(ctx: ServerContext, res: ServerResponse, provider: ConfServerView, header: MessageHeader, whole: WholeRequest, service: ServiceId): Promise<number> {
  const { out, response } = peerRequest(ctx, provider, {});
  let peer: { certDer: Buffer };
  try {
    peer = await ctx.peers.pinnedSocket(out, provider);
  } catch (e) {
    out.destroy();
    throw isTrucError(e) ? e : new TrucError('peer_unreachable', `${provider.address}: ${(e as Error).message}`);
  }
  // the certificate and OCSP responses go first, when this connection has not carried them yet
  // the connection, kept: once the response has been read it goes back to the pool and `out.socket` with it
  const socket = out.socket;
  const m = materialToSend(socket, whole.material);
  out.setHeader('content-length', whole.wire.length + (m ? 5 + m.length : 0));
  if (m) out.write(frame(FRAME_MATERIAL, m));
  out.end(whole.wire);
  let resp: IncomingMessage;
  try {
    resp = await response;
  } catch (e) {
    out.destroy();
    const reset = /ECONNRESET|socket hang up/i.test(String((e as Error).message));
    throw Object.assign(e as object, { reusedSocket: out.reusedSocket && reset });
  }
  try {
    const n = await receiveResponse(ctx, resp, res, provider, peer.certDer, header, whole.digest, service);
    // the provider read the message through: it holds the material now
    if (m) materialSent(socket, whole.material);
    return n;
  } catch (e) {
    out.destroy();
    throw e;
  }
}

async function exchange(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  provider: ConfServerView,
  header: MessageHeader,
  headerBytes: Buffer,
  material: Buffer[],
  service: ServiceId,
  markSent: () => void,
): Promise<number> {
  const { out, response: responseP } = peerRequest(ctx, provider, { 'transfer-encoding': 'chunked' });
  let peer: { certDer: Buffer };
  try {
    peer = await ctx.peers.pinnedSocket(out, provider);
  } catch (e) {
    out.destroy();
    throw isTrucError(e) ? e : new TrucError('peer_unreachable', `${provider.address}: ${(e as Error).message}`);
  }
  markSent();
  const write = (b: Buffer) => writeChunk(out, b, provider.address);
  const collector = new BodyCollector(ctx.log, ctx.limits.inlineBodyBytes, ctx.limits.maxBodyBytes);
  let logged = false;
  const socket = out.socket;
  const m = materialToSend(socket, material);
  try {
    if (m) await write(frame(FRAME_MATERIAL, m));
    await write(frame(FRAME_HEADER, headerBytes));
    for await (const c of req) {
      const chunk = c as Buffer;
      for (let off = 0; off < chunk.length; off += MAX_CHUNK_BYTES) {
        const part = off === 0 && chunk.length <= MAX_CHUNK_BYTES ? chunk : chunk.subarray(off, off + MAX_CHUNK_BYTES);
        // forwarded and spooled at the same time: the network and the disk each take their turn once
        const sent = writeFrame(out, frameHead(FRAME_BODY, part.length), part, provider.address);
        sent.catch(() => {});
        await collector.add(part);
        await sent;
      }
    }
    const body = await collector.finish();
    const digest = messageDigest(headerBytes, body.hash, body.length);
    const bs = await ctx.signer.signDigest(digest);
    const sig: MessageSignature = { scheme: ctx.signer.scheme, bodyHash: body.hash.toString('hex'), bodyLength: body.length, index: bs.index, count: bs.count, path: bs.path, value: bs.value.toString('base64') };
    const sigBytes = Buffer.from(JSON.stringify(sig));
    await ctx.log.append({
      messageId: header.id,
      kind: 'request',
      side: 'consumer',
      client: header.client,
      service: header.service,
      ...(header.headers['x-road-userid'] ? { userId: header.headers['x-road-userid'] } : {}),
      ...(header.headers['x-road-issue'] ? { issue: header.headers['x-road-issue'] } : {}),
      time: ctx.clock(),
      header: headerBytes,
      signature: sigBytes,
      bodyHash: body.hash,
      bodyLength: body.length,
      body: body.body,
      material,
    });
    logged = true;
    out.end(frame(FRAME_SIGNATURE, sigBytes));
    const n = await receiveResponse(ctx, await responseP, res, provider, peer.certDer, header, digest, service);
    if (m) materialSent(socket, material);
    return n;
  } catch (e) {
    if (!logged) await collector.discard();
    out.destroy();
    throw e;
  }
}

async function receiveResponse(
  ctx: ServerContext,
  resp: IncomingMessage,
  res: ServerResponse,
  provider: ConfServerView,
  providerAuthCert: Buffer,
  request: MessageHeader,
  requestDigest: Buffer,
  service: ServiceId,
): Promise<number> {
  if (resp.statusCode !== 200 || !String(resp.headers['content-type'] ?? '').startsWith(MESSAGE_CONTENT_TYPE)) {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of resp) {
      n += (c as Buffer).length;
      if (n <= 64 * 1024) chunks.push(c as Buffer);
    }
    throw errorFromProblem(resp.statusCode ?? 0, Buffer.concat(chunks));
  }
  // the connection it came on (read before the response ends and the socket returns to the pool)
  const socket = resp.socket;
  // a small response (sent with its length) is read whole and split in memory; a larger one streams
  const incoming = await readIncoming(ctx, resp, `the response from ${provider.address}`, { origin: 'provider' });
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
  const rest = await receiveBody(ctx, incoming, signer);
  try {
    return await answerResponse(ctx, res, h, headerBytes, pm.log, request, requestDigest, rest);
  } finally {
    rest.body.release();
  }
}

/** Logs a checked response, then gives it to the information system (from memory when held). */
async function answerResponse(ctx: ServerContext, res: ServerResponse, h: MessageHeader, headerBytes: Buffer, material: Buffer[] | undefined, request: MessageHeader, requestDigest: Buffer, rest: ReceivedRest): Promise<number> {
  try {
    await ctx.log.append({
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
    });
  } catch (e) {
    throw new TrucError('log_failure', `the response could not be logged: ${(e as Error).message}`);
  }
  const headers: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(h.headers)) if (!HOP_BY_HOP.has(k) && !PROTOCOL_HEADERS.has(k)) headers[k] = v;
  const client = parseSubsystem(request.client);
  const service = parseService(request.service);
  headers['x-road-id'] = h.id;
  headers['x-road-client'] = clientHeader(client);
  headers['x-road-service'] = restServiceHeader(service);
  if (request.headers['x-road-request-id']) headers['x-road-request-id'] = request.headers['x-road-request-id'];
  headers['x-road-request-hash'] = xroadRequestHash(requestDigest);
  headers['content-length'] = rest.body.length;
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

