/**
 * The OCSP role on its own (`truc ocsp serve`): a lean node:http server in front of the responder — no
 * framework, no logging per request, a cached answer written straight from memory. POST to /ocsp or /
 * (where `openssl ocsp -url http://host:port` posts), GET /ocsp/{base64}, GET /healthz.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { MALFORMED, MAX_REQUEST_BYTES, type OcspResponder, type OcspReply } from '../../pki/ocsp/index.js';
import { cacheHeaders, decodeGetRequest, OCSP_RESPONSE_TYPE } from './reply.js';

function write(res: ServerResponse, r: OcspReply, get: boolean, ifNoneMatch: string | undefined): void {
  if (get && r.cache && ifNoneMatch === r.cache.etag) {
    res.writeHead(304, cacheHeaders(r, Date.now()));
    res.end();
    return;
  }
  const headers: Record<string, string | number> = get ? cacheHeaders(r, Date.now()) : {};
  headers['content-type'] = OCSP_RESPONSE_TYPE;
  headers['content-length'] = r.der.length;
  res.writeHead(200, headers);
  res.end(r.der);
}

function answer(res: ServerResponse, r: OcspReply | Promise<OcspReply>, get: boolean, inm?: string): void {
  if (r instanceof Promise) r.then((x) => write(res, x, get, inm), () => write(res, { der: MALFORMED }, get, undefined));
  else write(res, r, get, inm);
}

export function ocspHandler(responder: OcspResponder): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = req.url ?? '/';
    const ip = req.socket.remoteAddress;
    if (req.method === 'POST' && (url === '/ocsp' || url === '/')) {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > MAX_REQUEST_BYTES) {
        req.resume();
        return answer(res, responder.respond(Buffer.alloc(MAX_REQUEST_BYTES + 1), { ip }), false);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_REQUEST_BYTES) over = true;
        else chunks.push(c);
      });
      req.on('end', () => {
        const body = over ? Buffer.alloc(MAX_REQUEST_BYTES + 1) : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        answer(res, responder.respond(body, { ip }), false);
      });
      req.on('error', () => res.destroy());
      return;
    }
    if (req.method === 'GET' && url.startsWith('/ocsp/')) {
      const der = decodeGetRequest(url.slice(6));
      const inm = req.headers['if-none-match'];
      return answer(res, der ? responder.respond(der, { ip }) : { der: MALFORMED }, true, typeof inm === 'string' ? inm : undefined);
    }
    if (req.method === 'GET' && url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ type: 'urn:truc:error:not_found', title: 'not found', status: 404, code: 'not_found' }));
  };
}

export function ocspServer(responder: OcspResponder): Server {
  const server = createServer({ keepAliveTimeout: 30_000 }, ocspHandler(responder));
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  return server;
}
