/**
 * The API's JSON bodies, read within their bounds as the bytes arrive. A body is refused as soon as it
 * passes one — the route's byte limit (a declared length over it before a byte is read), nesting, the
 * number of values, a member named twice in one object (src/json/scan.ts) — instead of after it was taken
 * in whole: 50 MB a hundred thousand brackets deep used to be read to its end before the first bracket was
 * counted. Scanning gives the event loop back between slices, so a large body in bounds does not hold other
 * callers. What passes is parsed by JSON.parse with a reviver that refuses `__proto__` members and
 * `constructor.prototype` (prototype poisoning: the objects built here are merged into others later). A
 * refused body is not destroyed — that would take the socket with it before the answer is written — but
 * left flowing, so Node drops the rest of it while the answer is written (Fastify then closes the
 * connection, as the caller may still be sending).
 */
import type { FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { TrucError } from '../errors.js';
import { JSON_BODY_LIMITS, JsonScanner, type JsonLimits } from '../json/scan.js';

const SLICE_CHARS = 64 * 1024;
const SLICE_MS = 8;

/** A body over the route's limit, in both languages, with the limit the caller may retry under. */
export function bodyTooLarge(max: number, what = 'thân yêu cầu', whatEn = 'request body'): TrucError {
  return new TrucError('too_large', `${what} lớn quá ${max} byte (${whatEn} exceeds ${max} bytes)`, { max });
}

function poisoned(key: string): never {
  throw new TrucError(
    'bad_request',
    `JSON mang "${key}", tên bị cấm vì có thể đổi nguyên mẫu đối tượng (JSON carries "${key}", forbidden: it can change an object's prototype)`,
    { member: key },
  );
}

/** JSON.parse's reviver: no `__proto__` member, no `constructor` whose value holds `prototype`. */
function reviver(key: string, value: unknown): unknown {
  if (key === '__proto__') poisoned('__proto__');
  if (key === 'constructor' && value !== null && typeof value === 'object' && Object.prototype.hasOwnProperty.call(value, 'prototype'))
    poisoned('constructor.prototype');
  return value;
}

/** Parses JSON text already measured, with the words of our problem documents for what is wrong. */
export function parseMeasuredJson(text: string): unknown {
  if (!/\S/.test(text)) throw new TrucError('bad_request', 'thân JSON rỗng (the JSON body is empty)');
  try {
    return JSON.parse(text, reviver);
  } catch (e) {
    if (e instanceof TrucError) throw e;
    throw new TrucError('bad_request', `JSON không hợp lệ (not valid JSON): ${(e as Error).message.slice(0, 200)}`);
  }
}

/**
 * Reads `payload` as UTF-8 JSON within `max` bytes and the JSON limits, measuring each piece as it arrives;
 * resolves to the parsed value. Rejects with a TrucError at the first bound passed.
 */
export function readJsonBody(
  payload: Readable,
  o: { max: number; declaredLength?: number | undefined; limits?: JsonLimits },
): Promise<unknown> {
  if (o.declaredLength !== undefined && o.declaredLength > o.max) return Promise.reject(bodyTooLarge(o.max));
  const scanner = new JsonScanner(o.limits ?? JSON_BODY_LIMITS);
  const utf8 = new TextDecoder('utf-8');
  const pieces: string[] = [];
  let bytes = 0;
  let slice = performance.now();
  return new Promise((resolve, reject) => {
    let settled = false;
    let busy = false;
    let ended = false;
    const queue: Buffer[] = [];
    const stop = (e: unknown) => {
      if (settled) return;
      settled = true;
      payload.off('data', onData);
      payload.off('end', onEnd);
      payload.off('error', onError);
      // left flowing with no listener: the rest of the body is read and dropped while the answer is written
      payload.resume();
      reject(e);
    };
    const scan = (text: string) => {
      for (let at = 0; at < text.length; at += SLICE_CHARS) scanner.write(text.slice(at, at + SLICE_CHARS));
      pieces.push(text);
    };
    // pieces are measured one after the other; a piece arriving while the scan has yielded waits its turn
    const drain = async () => {
      if (busy) return;
      busy = true;
      try {
        while (queue.length && !settled) {
          scan(utf8.decode(queue.shift()!, { stream: true }));
          if (performance.now() - slice > SLICE_MS) {
            payload.pause();
            await new Promise<void>((r) => setImmediate(r));
            slice = performance.now();
            if (!settled && !ended) payload.resume();
          }
        }
        if (ended && !settled && !queue.length) {
          scan(utf8.decode());
          const value = parseMeasuredJson(pieces.length === 1 ? pieces[0]! : pieces.join(''));
          settled = true;
          payload.off('error', onError);
          resolve(value);
        }
      } catch (e) {
        stop(e);
      } finally {
        busy = false;
      }
    };
    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      bytes += b.length;
      if (bytes > o.max) return stop(bodyTooLarge(o.max));
      queue.push(b);
      void drain();
    };
    const onEnd = () => {
      ended = true;
      payload.off('data', onData);
      payload.off('end', onEnd);
      if (o.declaredLength !== undefined && bytes !== o.declaredLength)
        return stop(new TrucError('bad_request', `thân dài ${bytes} byte, không như Content-Length ${o.declaredLength} (the body is ${bytes} bytes, not its Content-Length ${o.declaredLength})`));
      void drain();
    };
    const onError = (e: Error) => stop(new TrucError('bad_request', `thân yêu cầu bị ngắt (the request body was cut off): ${e.message}`));
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.resume();
  });
}

/**
 * An onRequest hook for a route that reads one kind of body: any other content type is refused before a
 * byte of the body is read (a 50 MB JSON body to a route that scans raw bytes was read whole to say so).
 */
export function onlyContentTypes(...types: string[]) {
  return async (req: FastifyRequest): Promise<void> => {
    const given = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!types.includes(given))
      throw new TrucError(
        'unsupported',
        `ở đây chỉ nhận ${types.join(', ')}, không nhận "${given.slice(0, 100)}" (only ${types.join(', ')} is accepted here, not "${given.slice(0, 100)}")`,
      );
  };
}

const bodyErrors = new WeakSet<object>();

/**
 * Whether an error refused a request's body before its handler ran (here, or in Fastify's own parsers):
 * routes that audit what they refuse before the domain does (src/http/ca) record these, while the domain
 * records its own refusals.
 */
export function isBodyError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && bodyErrors.has(e);
}

/** The app's JSON content-type parser: the route's own byte limit, the platform's JSON limits. */
export function jsonBodyParser(defaultLimit: number) {
  return (req: FastifyRequest, payload: Readable): Promise<unknown> => {
    const declared = Number(req.headers['content-length']);
    return readJsonBody(payload, { max: req.routeOptions?.bodyLimit ?? defaultLimit, declaredLength: Number.isNaN(declared) ? undefined : declared }).catch((e: unknown) => {
      if (typeof e === 'object' && e !== null) bodyErrors.add(e);
      throw e;
    });
  };
}
