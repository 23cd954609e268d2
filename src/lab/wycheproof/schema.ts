/**
 * Validation of a vector file against the JSON schema it names. The schema is authoritative for the
 * fields a family reads, so a file is validated before any of its tests run; a malformed file stops with
 * the schema's own complaint rather than producing misleading FAILs.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { TrucError } from '../../errors.js';
import type { VectorFile } from './file.js';

const HEX_BYTES = /^(?:[0-9a-fA-F]{2})*$/;

export interface SchemaSet {
  /** Schema names this set can validate against. */
  readonly names: readonly string[];
  /** Throws `invalid_vector_file` with the schema's errors when the file does not conform. */
  validate(file: VectorFile): void;
}

/** Builds a schema set from parsed schema documents keyed by file name (`aead_test_schema_v1.json`). */
export function schemaSet(schemas: Record<string, unknown>): SchemaSet {
  const ajv = new Ajv({ strict: false, allErrors: false, validateSchema: false });
  for (const f of ['HexBytes', 'BigInt', 'Der', 'Asn']) ajv.addFormat(f, HEX_BYTES);
  ajv.addFormat('Hex', /^[0-9a-fA-F]*$/);
  for (const f of ['Pem', 'EcCurve', 'MdName', 'CompressedHexBytes']) ajv.addFormat(f, true);
  for (const [name, schema] of Object.entries(schemas)) ajv.addSchema(schema as object, name);
  const compiled = new Map<string, ValidateFunction>();
  return {
    names: Object.keys(schemas),
    validate(file) {
      const name = file.doc.schema;
      let v = compiled.get(name);
      if (!v) {
        if (!(name in schemas)) {
          throw new TrucError('invalid_vector_file', `${file.name}: names schema "${name}", which is not in the schema set`, {
            file: file.name,
            schema: name,
          });
        }
        v = ajv.getSchema(name);
        if (!v) throw new TrucError('invalid_vector_file', `${file.name}: schema "${name}" does not compile`, { file: file.name });
        compiled.set(name, v);
      }
      if (!v(file.doc)) {
        const errors = (v.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
        throw new TrucError('invalid_vector_file', `${file.name}: does not conform to ${name}: ${errors.join('; ')}`, {
          file: file.name,
          schema: name,
          errors,
        });
      }
    },
  };
}

/** Reads every `*.json` schema in a folder (Wycheproof's `schemas/`). */
export async function loadSchemaSet(dir: string): Promise<SchemaSet> {
  const schemas: Record<string, unknown> = {};
  for (const f of (await readdir(dir)).filter((n) => n.endsWith('.json')).sort()) {
    schemas[f] = JSON.parse(await readFile(join(dir, f), 'utf8'));
  }
  return schemaSet(schemas);
}
