/**
 * Validation of Sigma documents against the specification's own JSON schemas (v2.1, draft 2020-12), compiled
 * once with ajv. A failure names the JSON path of the first offending value so the loader can point at its line.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import detectionSchema from './schema/detection.json' with { type: 'json' };
import correlationSchema from './schema/correlation.json' with { type: 'json' };
import filterSchema from './schema/filter.json' with { type: 'json' };

export type SchemaKind = 'rule' | 'correlation' | 'filter';

export interface SchemaProblem {
  /** Path segments of the offending value inside the document. */
  path: string[];
  message: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

let validators: Record<SchemaKind, ValidateFunction> | undefined;

function compiled(): Record<SchemaKind, ValidateFunction> {
  if (!validators) {
    // strict: false because the published schemas use `items` on object types, which strict mode refuses.
    const ajv = new Ajv2020({ strict: false, allErrors: false });
    ajv.addFormat('uuid', UUID);
    validators = {
      rule: ajv.compile(detectionSchema as object),
      correlation: ajv.compile(correlationSchema as object),
      filter: ajv.compile(filterSchema as object),
    };
  }
  return validators;
}

function describe(e: ErrorObject): SchemaProblem {
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let message = `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`;
  if (e.keyword === 'additionalProperties') message += `: ${String(e.params.additionalProperty)}`;
  if (e.keyword === 'const' || e.keyword === 'enum') message += ` (${JSON.stringify(e.params)})`;
  return { path, message };
}

/** Undefined when the document is valid, else the first problem found. */
export function checkSchema(kind: SchemaKind, doc: unknown): SchemaProblem | undefined {
  const v = compiled()[kind];
  if (v(doc)) return undefined;
  const errors = v.errors ?? [];
  // oneOf/anyOf report their own summary last; the most specific message is the first one.
  const first = errors[0];
  return first ? describe(first) : { path: [], message: 'invalid document' };
}
