/**
 * OpenAPI 3 descriptions of REST services (X-Road's OPENAPI service type): what is taken, what is refused
 * with a reason, and the operations listMethods lists for them.
 */
import { describe, expect, it } from 'vitest';
import { parseServiceDescription, MAX_DESCRIPTION_BYTES } from '../../../src/exchange/server/openapi.js';
import { ServerStore, serverMigrations } from '../../../src/exchange/server/store.js';
import { openDb, migrate } from '../../../src/store/index.js';
import { parseService, parseSubsystem, serviceText } from '../../../src/exchange/ids.js';

const YAML = `openapi: 3.0.3
info:
  title: Hồ sơ một cửa
  version: "1.2"
paths:
  /ho-so:
    get: { responses: { "200": { description: ok } } }
    post: { responses: { "201": { description: created } } }
  /ho-so/{ma}/tep/{ten}:
    parameters: [{ name: ma, in: path, required: true, schema: { type: string } }]
    get: { responses: { "200": { description: ok } } }
    delete: { responses: { "204": { description: gone } } }
`;

describe('OpenAPI service descriptions', () => {
  it('reads YAML and JSON: the operations as X-Road endpoints, the title and version', () => {
    expect(parseServiceDescription(YAML)).toEqual({
      format: 'yaml',
      title: 'Hồ sơ một cửa',
      version: '1.2',
      endpoints: [
        { method: 'GET', path: '/ho-so' },
        { method: 'POST', path: '/ho-so' },
        { method: 'GET', path: '/ho-so/*/tep/*' },
        { method: 'DELETE', path: '/ho-so/*/tep/*' },
      ],
    });
    const json = JSON.stringify({ openapi: '3.1.0', info: { title: 'x', version: '1' }, paths: { '/a': { put: {} }, '/b': {} } });
    expect(parseServiceDescription(json)).toEqual({ format: 'json', title: 'x', version: '1', endpoints: [{ method: 'PUT', path: '/a' }] });
  });

  it('refuses what is not an OpenAPI 3 description, saying why', () => {
    const refused = (text: string) => {
      try {
        parseServiceDescription(text);
      } catch (e) {
        return { code: (e as { code?: string }).code, message: (e as Error).message };
      }
      return null;
    };
    expect(refused('swagger: "2.0"\npaths: {}\n')).toMatchObject({ code: 'bad_request', message: expect.stringContaining('Swagger 2.0 is not taken') });
    expect(refused('openapi: 3.0.0\ninfo: {}\n')).toMatchObject({ code: 'bad_request', message: expect.stringContaining('no "paths"') });
    expect(refused('openapi: 3.0.0\npaths:\n  ho-so: { get: {} }\n')).toMatchObject({ code: 'bad_request', message: expect.stringContaining('does not start with /') });
    expect(refused('{"openapi": "3.0.0", "paths": ')).toMatchObject({ code: 'bad_request', message: expect.stringContaining('JSON') });
    expect(refused('openapi: 3.0.0\nopenapi: 3.1.0\npaths: {}\n')).toMatchObject({ code: 'bad_request', message: expect.stringContaining('YAML') });
    expect(refused('- a\n- b\n')).toMatchObject({ code: 'bad_request', message: expect.stringContaining('not an object') });
    // aliases that would expand a small document into a huge one
    const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`)].join('\n');
    expect(refused(`openapi: 3.0.0\npaths: {}\n${laughs}\n`)).toMatchObject({ code: 'bad_request', message: expect.stringContaining('YAML') });
    expect(refused(`openapi: 3.0.0\npaths: {}\nx: "${'a'.repeat(MAX_DESCRIPTION_BYTES)}"\n`)).toMatchObject({ code: 'too_large' });
    // the message is in both languages
    expect(refused('{}')!.message).toMatch(/^không phải mô tả OpenAPI 3 hợp lệ \/ not a valid OpenAPI 3 description/);
  });
});

describe('a stored description a later release would refuse', () => {
  it('is still served as it was, with no operations listed, and does not stop the server reading its configuration', async () => {
    const db = await openDb({ url: 'memory://' });
    try {
      await migrate(db, serverMigrations);
      const store = new ServerStore(db);
      await store.addClient(parseSubsystem('SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu'));
      const svc = parseService('SERVICE:VN/GOV/000.00.00.G22/vanthu/cu');
      await store.putService(svc, 'http://127.0.0.1:9/cu');
      await store.describeService(svc, YAML);
      // as if written by an earlier release that took what this one refuses
      await db.query("UPDATE xs_service_description SET document = 'swagger: \"2.0\"' WHERE service = $1", [serviceText(svc)]);
      const fresh = new ServerStore(db);
      const snap = await fresh.snapshot();
      expect(snap.services.get(serviceText(svc))?.openapi).toEqual({ format: 'yaml', endpoints: [] });
      expect(snap.descriptions.get(serviceText(svc))?.document).toBe('swagger: "2.0"');
    } finally {
      await db.close();
    }
  });
});
