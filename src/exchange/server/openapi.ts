/**
 * OpenAPI descriptions of the REST services a security server's clients provide (X-Road's service
 * descriptions of type OPENAPI3): the provider's operator registers the document, clients fetch it through
 * the axis with the `getOpenAPI` metaservice, and `listMethods` lists the operations it describes as the
 * service's endpoints. Only OpenAPI 3 (`openapi: 3.x`) is taken, in JSON or YAML, as given (not rewritten);
 * what is checked is what the metaservices rely on: the version and a `paths` object of operations.
 */
import { parse as parseYaml } from 'yaml';
import { TrucError } from '../../errors.js';

/** The largest description taken: a description is metadata, not a payload. */
export const MAX_DESCRIPTION_BYTES = 1 << 20;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export interface ServiceDescription {
  format: 'json' | 'yaml';
  /** the operations, as X-Road writes a REST endpoint: upper-case method, path with `{param}` as `*` */
  endpoints: { method: string; path: string }[];
  /** the `info.title` and `info.version`, when present */
  title?: string;
  version?: string;
}

const bad = (why: string) => new TrucError('bad_request', `không phải mô tả OpenAPI 3 hợp lệ / not a valid OpenAPI 3 description: ${why}`);

/** Parses and checks a description; throws `bad_request` saying what is wrong. */
export function parseServiceDescription(text: string): ServiceDescription {
  if (Buffer.byteLength(text) > MAX_DESCRIPTION_BYTES) throw new TrucError('too_large', `an OpenAPI description is at most ${MAX_DESCRIPTION_BYTES} bytes`);
  let doc: unknown;
  let format: ServiceDescription['format'];
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    format = 'json';
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw bad(`JSON: ${(e as Error).message.slice(0, 200)}`);
    }
  } else {
    format = 'yaml';
    try {
      // one document, plain data: no custom tags, aliases bounded (a billion-laughs document is refused)
      doc = parseYaml(text, { maxAliasCount: 100, uniqueKeys: true });
    } catch (e) {
      throw bad(`YAML: ${(e as Error).message.split('\n')[0]!.slice(0, 200)}`);
    }
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw bad('the document is not an object');
  const d = doc as Record<string, unknown>;
  if (typeof d.openapi !== 'string' || !/^3\.\d+(\.\d+)?$/.test(d.openapi)) throw bad(`the "openapi" field is ${JSON.stringify(d.openapi)?.slice(0, 40) ?? 'missing'}, not 3.x (Swagger 2.0 is not taken)`);
  if (!d.paths || typeof d.paths !== 'object' || Array.isArray(d.paths)) throw bad('it has no "paths" object');
  const endpoints: ServiceDescription['endpoints'] = [];
  for (const [path, item] of Object.entries(d.paths as Record<string, unknown>)) {
    if (!path.startsWith('/')) throw bad(`the path "${path.slice(0, 80)}" does not start with /`);
    if (!item || typeof item !== 'object' || Array.isArray(item)) throw bad(`the path item "${path.slice(0, 80)}" is not an object`);
    const xroadPath = path.replace(/\{[^}/]*\}/g, '*');
    for (const m of METHODS) if ((item as Record<string, unknown>)[m] !== undefined) endpoints.push({ method: m.toUpperCase(), path: xroadPath });
  }
  const info = d.info && typeof d.info === 'object' ? (d.info as Record<string, unknown>) : {};
  return {
    format,
    endpoints,
    ...(typeof info.title === 'string' ? { title: info.title.slice(0, 200) } : {}),
    ...(typeof info.version === 'string' ? { version: info.version.slice(0, 80) } : {}),
  };
}

/** The media type a description is answered with. */
export function descriptionContentType(format: ServiceDescription['format']): string {
  return format === 'json' ? 'application/json; charset=utf-8' : 'application/yaml; charset=utf-8';
}
