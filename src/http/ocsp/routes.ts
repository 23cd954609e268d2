/**
 * OCSP over HTTP inside the main app: POST /ocsp (application/ocsp-request) and GET /ocsp/{base64}.
 * Every answer is an OCSPResponse with HTTP 200, errors included (RFC 6960 A.1): this scope's error
 * handler turns a body too large, a wrong content type or anything else into malformedRequest or
 * internalError instead of a problem document.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { INTERNAL_ERROR, MALFORMED, MAX_REQUEST_BYTES, type OcspResponder, type OcspReply } from '../../pki/ocsp/index.js';
import { cacheHeaders, decodeGetRequest, OCSP_RESPONSE_TYPE } from './reply.js';

export async function ocspRoutes(app: FastifyInstance, responder: OcspResponder): Promise<void> {
  app.setErrorHandler((err: any, _req, reply) => {
    const clientError = (err.statusCode && err.statusCode < 500) || err.code?.startsWith?.('FST_ERR_CTP');
    reply.status(200).type(OCSP_RESPONSE_TYPE).send(clientError ? MALFORMED : INTERNAL_ERROR);
  });

  const send = async (reply: FastifyReply, r: OcspReply | Promise<OcspReply>, get: boolean) => {
    const out = r instanceof Promise ? await r : r;
    reply.status(200).type(OCSP_RESPONSE_TYPE);
    if (get) reply.headers(cacheHeaders(out, Date.now()));
    return reply.send(out.der);
  };

  app.post(
    '/ocsp',
    {
      bodyLimit: MAX_REQUEST_BYTES,
      schema: { tags: ['ocsp'], summary: 'OCSP request (application/ocsp-request) → application/ocsp-response' },
    },
    async (req: FastifyRequest, reply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      return send(reply, responder.respond(body, { ip: req.ip }), false);
    },
  );

  app.get<{ Params: { '*': string } }>(
    '/ocsp/*',
    { schema: { tags: ['ocsp'], summary: 'OCSP request, base64 DER in the path (RFC 6960 A.1) → application/ocsp-response' } },
    async (req, reply) => {
      const der = decodeGetRequest(req.params['*']);
      return send(reply, der ? responder.respond(der, { ip: req.ip }) : { der: MALFORMED }, true);
    },
  );
}
