/**
 * A family is the code that knows how to ask a product one kind of Wycheproof question: it reads a group's
 * parameters once, then turns each test into an adapter call and says whether the product accepted it.
 * Families are keyed by schema name, so any Wycheproof file naming a known schema runs without changes.
 */
import { fromHex } from '../hex.js';
import { type HashName, labCannotAsk, type OperationName, type ProductAdapter, unsupported } from '../product.js';
import { attempt, type Observation } from '../outcome.js';
import type { VectorFile, WycheproofGroup, WycheproofTest } from './file.js';

export interface Family<G = unknown> {
  /** Short name used in reports: aead, mac, ecdsa… */
  readonly name: string;
  /** Schema names (`schema` field of a file) this family runs. */
  readonly schemas: readonly string[];
  /** Reads the group's parameters (keys, sizes); throwing `unsupported` marks the whole group UNSUPPORTED. */
  group(group: WycheproofGroup, file: VectorFile): G;
  /** Asks the product; returns whether it accepted. Throws `unsupported`/`adapterError` as the product does. */
  test(adapter: ProductAdapter, group: G, test: WycheproofTest): Promise<Observation>;
}

/** The adapter's operation, bound, or `unsupported` if the product does not offer it. */
export function need<K extends OperationName>(adapter: ProductAdapter, op: K): NonNullable<ProductAdapter[K]> {
  const f = adapter[op];
  if (typeof f !== 'function') throw unsupported(`operation ${op}`);
  return (f as (...a: unknown[]) => unknown).bind(adapter) as NonNullable<ProductAdapter[K]>;
}

export function hexField(o: Record<string, unknown>, field: string): Uint8Array {
  const v = o[field];
  if (v === undefined) return new Uint8Array(0);
  return fromHex(v as string, field);
}

export function optionalHex(o: Record<string, unknown>, field: string): Uint8Array | undefined {
  const v = o[field];
  return typeof v === 'string' ? fromHex(v, field) : undefined;
}

const HASHES: Record<string, HashName> = {
  'SHA-1': 'SHA-1',
  'SHA-224': 'SHA-224',
  'SHA-256': 'SHA-256',
  'SHA-384': 'SHA-384',
  'SHA-512': 'SHA-512',
  'SHA-512/224': 'SHA-512/224',
  'SHA-512/256': 'SHA-512/256',
  SHAKE128: 'SHAKE128',
  SHAKE256: 'SHAKE256',
  'SHA3-224': 'SHA3-224',
  'SHA3-256': 'SHA3-256',
  'SHA3-384': 'SHA3-384',
  'SHA3-512': 'SHA3-512',
};

/** Hash names as vector files spell them (`SHA-256`, `SHA3-256`, `SHA-512/224`, `SHAKE128`); another is the lab's gap. */
export function hashName(s: unknown): HashName {
  const h = HASHES[String(s)];
  if (!h) throw labCannotAsk(`hash ${String(s)}`);
  return h;
}

export function sameBytes(got: Uint8Array, want: Uint8Array, what: string): Observation {
  if (got.length === want.length && Buffer.compare(Buffer.from(got), Buffer.from(want)) === 0) return { accepted: true };
  return { accepted: false, note: `${what} differs` };
}

/** Every output as expected, or the first that differs. */
export function allSame(...outputs: [got: Uint8Array, want: Uint8Array, what: string][]): Observation {
  for (const [got, want, what] of outputs) {
    const o = sameBytes(got, want, what);
    if (!o.accepted) return o;
  }
  return { accepted: true };
}

/**
 * A test that asks the product for an output: a refusal is rejecting (noted with `step`), an output for an
 * invalid test is accepting, and a valid test's output is accepted when `check` accepts it.
 */
export async function asked<T>(step: string, call: () => Promise<T>, t: WycheproofTest, check: (out: T) => Observation): Promise<Observation> {
  const r = await attempt(call);
  if (!r.ok) return { accepted: false, note: `${step}: ${r.note}` };
  if (t.result !== 'valid') return { accepted: true, note: `${step} succeeded` };
  return check(r.value);
}
