import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { TrucError } from '../../src/errors.js';
import { loadSchemaSet, nodeCryptoProduct, parseVectorFile, runSuite } from '../../src/lab/index.js';
import { SCHEMAS, sharedMissing, VECTORS } from './shared.js';

describe.skipIf(sharedMissing)('vector file validation', () => {
  it('rejects a malformed vector file with the schema error', async () => {
    const schemas = await loadSchemaSet(SCHEMAS);
    const good = parseVectorFile(await readFile(join(VECTORS, 'aes_gcm_test.json.gz')), 'aes_gcm_test.json.gz');
    schemas.validate(good);
    const doc = structuredClone(good.doc) as unknown as { testGroups: { tests: Record<string, unknown>[] }[] };
    doc.testGroups[0].tests[0].key = 'not hex';
    delete doc.testGroups[0].tests[1].result;
    const bad = parseVectorFile(gzipSync(Buffer.from(JSON.stringify(doc))), 'aes_gcm_test.json.gz');
    let err: unknown;
    try {
      schemas.validate(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TrucError);
    expect((err as TrucError).code).toBe('invalid_vector_file');
    expect((err as TrucError).message).toMatch(/aes_gcm_test\.json: does not conform to aead_test_schema_v1\.json: \/testGroups\/0\/tests\/0\/key must match format "HexBytes"/);
  });

  it('a malformed file does not run: the suite carries the error and no results', async () => {
    const schemas = await loadSchemaSet(SCHEMAS);
    const doc = { algorithm: 'AES-GCM', schema: 'aead_test_schema_v1.json', numberOfTests: 1, testGroups: [{ type: 'AeadTest', tests: [] }] };
    const f = parseVectorFile(Buffer.from(JSON.stringify(doc)), 'broken.json');
    const r = await runSuite(nodeCryptoProduct(), [f], { schemas });
    expect(r.suites[0].error).toMatch(/must have required property/);
    expect(r.suites[0].results).toEqual([]);
  });

  it('rejects a file naming an unknown schema, and non-JSON input', async () => {
    const schemas = await loadSchemaSet(SCHEMAS);
    const f = parseVectorFile(Buffer.from(JSON.stringify({ schema: 'nope.json', testGroups: [] })), 'x.json');
    expect(() => schemas.validate(f)).toThrow(/names schema "nope.json", which is not in the schema set/);
    expect(() => parseVectorFile(Buffer.from('{'), 'y.json')).toThrow(/y.json: not JSON/);
    expect(() => parseVectorFile(Buffer.from('{}'), 'z.json')).toThrow(/no "schema" field/);
  });
});
