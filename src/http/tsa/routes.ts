/**
 * The time-stamping authority over HTTP (RFC 3161 section 3.4): POST /tsa with application/timestamp-query,
 * answered with application/timestamp-reply and HTTP 200 — rejections included, so that clients read a
 * TimeStampResp status instead of an error page.
 */
import type { FastifyInstance } from 'fastify';
import { MAX_TSA_REQUEST_BYTES, rejectionResponse, type TimeStampAuthority } from '../../pki/tsa/index.js';

const REPLY_TYPE = 'application/timestamp-reply';
// for bodies the route cannot even read: too large, wrong content type
const BAD_DATA = rejectionResponse('badDataFormat', 'the request could not be read');

export async function tsaRoutes(app: FastifyInstance, tsa: TimeStampAuthority): Promise<void> {
  app.setErrorHandler((_err, _req, reply) => {
    reply.status(200).type(REPLY_TYPE).send(BAD_DATA);
  });
  app.post(
    '/tsa',
    {
      bodyLimit: MAX_TSA_REQUEST_BYTES,
      schema: { tags: ['tsa'], summary: 'Time-stamp request (application/timestamp-query) → application/timestamp-reply' },
    },
    async (req, reply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const der = await tsa.stamp(body, { ip: req.ip });
      return reply.status(200).type(REPLY_TYPE).send(der);
    },
  );
}
