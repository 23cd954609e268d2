/**
 * OpenAPI descriptions of the REST services a security server's clients provide (X-Road's service
 * descriptions of type OPENAPI3): the provider's operator registers the document, clients fetch it through
 * the axis with the `getOpenAPI` metaservice, and `listMethods` lists the operations it describes as the
 * service's endpoints. Only OpenAPI 3 (`openapi: 3.x`) is taken, in JSON or YAML, and kept as given; what is
 * checked is what the metaservices rely on: the version and a `paths` object of operations. Clients get it
 * with the provider's own server addresses cut to their paths (`descriptionForClients`).
 */
import { isMap, isScalar, isSeq, parse as parseYaml, parseDocument, type Document } from 'yaml';
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

/** an absolute URL's path (what follows scheme and authority, before any query or fragment), `/` when empty */
function pathOf(url: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^?#]*)/i.exec(url);
  return m ? m[1] || '/' : undefined;
}

/** a server URL to hide: absolute, without a `{variable}` (one with variables is the client's to fill) */
const hidden = (url: unknown): string | undefined => (typeof url === 'string' && !(url.includes('{') && url.includes('}')) ? pathOf(url) : undefined);

/** the `servers` lists of a description: the document's, each path item's, each operation's */
function serverLists(doc: Record<string, unknown>): unknown[] {
  const lists = [doc.servers];
  const paths = doc.paths && typeof doc.paths === 'object' ? Object.values(doc.paths as Record<string, unknown>) : [];
  for (const item of paths) {
    if (!item || typeof item !== 'object') continue;
    const i = item as Record<string, unknown>;
    lists.push(i.servers);
    for (const m of METHODS) if (i[m] && typeof i[m] === 'object') lists.push((i[m] as Record<string, unknown>).servers);
  }
  return lists;
}

/**
 * A description as `getOpenAPI` answers it: every `servers[].url` that is an absolute URL without a
 * variable is cut to its path (`http://10.20.30.40:8080/api/v1` → `/api/v1`), so that the provider's
 * internal addresses do not reach other agencies — as X-Road's Openapi3Anonymiser does for the document's
 * servers, and as getWsdl does for a WSDL's (here also the path items' and operations' servers). A document
 * with nothing to hide is answered byte for byte; a YAML one is otherwise rewritten through its syntax tree,
 * keeping its comments and layout.
 */
export function descriptionForClients(document: string, format: ServiceDescription['format']): Buffer {
  if (format === 'json') {
    const doc = JSON.parse(document) as Record<string, unknown>;
    let changed = false;
    for (const list of serverLists(doc))
      if (Array.isArray(list))
        for (const server of list) {
          const path = server && typeof server === 'object' ? hidden((server as Record<string, unknown>).url) : undefined;
          if (path !== undefined) {
            (server as Record<string, unknown>).url = path;
            changed = true;
          }
        }
    return Buffer.from(changed ? JSON.stringify(doc, null, 2) : document);
  }
  const doc: Document = parseDocument(document, { uniqueKeys: true });
  let changed = false;
  const rewrite = (node: unknown) => {
    if (!isSeq(node)) return;
    for (const server of node.items) {
      if (!isMap(server)) continue;
      const url = server.get('url', true);
      const path = isScalar(url) ? hidden(url.value) : undefined;
      if (path !== undefined) {
        url!.value = path;
        changed = true;
      }
    }
  };
  rewrite(doc.get('servers', true));
  const paths = doc.get('paths', true);
  if (isMap(paths))
    for (const pair of paths.items) {
      if (!isMap(pair.value)) continue;
      rewrite(pair.value.get('servers', true));
      for (const m of METHODS) {
        const op = pair.value.get(m, true);
        if (isMap(op)) rewrite(op.get('servers', true));
      }
    }
  return Buffer.from(changed ? doc.toString() : document);
}
