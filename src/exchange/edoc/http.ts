/**
 * The desk's provider endpoints as a plain Node request handler — what the security server forwards the
 * `edoc` service to: `POST …/packages` (frames, streamed) and `POST …/statuses` (a signed status packet),
 * any path prefix (the service's URL) before them. `X-Road-Client` is trusted only because the security
 * server asserts it: bind this listener where only the agency's own security server reaches it.
 * Refusals are problem documents with the error's status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TrucError, toProblem } from '../../errors.js';
import type { DocumentDesk } from './desk.js';

export const MAX_STATUS_BYTES = 1024 * 1024;

async function readBounded(req: AsyncIterable<Buffer>, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += c.length;
    if (n > max) throw new TrucError('too_large', `thân yêu cầu lớn quá ${max} byte / a body of more than ${max} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

export function deskHandler(desk: DocumentDesk): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const send = (status: number, body: unknown) => {
      const b = Buffer.from(JSON.stringify(body));
      // a refused body not read to its end: close rather than read on
      const close = !req.complete ? { connection: 'close' } : {};
      res.writeHead(status, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', 'content-length': String(b.length), ...close });
      res.end(b);
    };
    const path = (req.url ?? '').split('?')[0]!;
    const client = String(req.headers['x-road-client'] ?? '');
    const xRoadId = typeof req.headers['x-road-id'] === 'string' ? req.headers['x-road-id'] : undefined;
    const run = async () => {
      if (req.method !== 'POST') throw new TrucError('bad_request', 'chỉ nhận POST / POST only');
      if (!client) throw new TrucError('unknown_client', 'thiếu tiêu đề X-Road-Client / no X-Road-Client header');
      if (path.endsWith('/packages')) return desk.receivePackage(client, req as AsyncIterable<Buffer>, xRoadId);
      if (path.endsWith('/statuses')) return desk.receiveStatus(client, await readBounded(req as AsyncIterable<Buffer>, MAX_STATUS_BYTES), xRoadId);
      throw new TrucError('not_found', `không có ${path} / no ${path}`);
    };
    run().then(
      (r) => send(200, r),
      (e) => {
        const p = toProblem(e, path);
        send(p.status, p);
        if (!req.complete) res.once('finish', () => req.destroy());
      },
    );
  };
}
