/**
 * Canonical JSON (RFC 8785 JCS for the values a report holds: strings, finite numbers, booleans, null,
 * arrays, objects) and the bytes of a report to be signed. Keys sort by UTF-16 code units; no whitespace.
 */
import { TrucError } from '../../errors.js';
import type { LabReport } from './model.js';

export function canonicalJson(v: unknown, depth = 0): string {
  if (depth > 64) throw new TrucError('bad_request', 'value nested too deep to canonicalise');
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw new TrucError('bad_request', 'non-finite number in report');
      return JSON.stringify(v);
    case 'string':
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x, depth + 1)).join(',')}]`;
      const keys = Object.keys(v as object)
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k], depth + 1)}`).join(',')}}`;
    }
    default:
      throw new TrucError('bad_request', `cannot canonicalise a ${typeof v}`);
  }
}

/** The bytes the lab certificate signs: canonical JSON of the report, UTF-8. */
export function canonicalReportBytes(report: LabReport): Uint8Array {
  return new Uint8Array(Buffer.from(canonicalJson(report), 'utf8'));
}
