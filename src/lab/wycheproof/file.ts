/**
 * A Wycheproof vector file as the lab holds it: the parsed document plus the hashes that let a report
 * name exactly which bytes were run. Files arrive gzipped or plain; both are bounded before parsing
 * because a vector file is input like any other.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { TrucError } from '../../errors.js';

export const MAX_STORED_BYTES = 64 * 1024 * 1024;
export const MAX_JSON_BYTES = 256 * 1024 * 1024;

export interface WycheproofNote {
  bugType: string;
  description?: string;
  effect?: string;
  links?: string[];
  cves?: string[];
}

export interface WycheproofTest {
  tcId: number;
  comment?: string;
  flags?: string[];
  result: 'valid' | 'invalid' | 'acceptable';
  [field: string]: unknown;
}

export interface WycheproofGroup {
  type?: string;
  tests: WycheproofTest[];
  [field: string]: unknown;
}

export interface WycheproofDocument {
  algorithm: string;
  schema: string;
  numberOfTests: number;
  header?: string[];
  notes?: Record<string, WycheproofNote>;
  testGroups: WycheproofGroup[];
}

export interface VectorFile {
  /** File name without `.gz`, as upstream names it (e.g. `aes_gcm_test.json`). */
  name: string;
  /** SHA-256 of the bytes as stored (possibly gzip). */
  storedSha256: string;
  /** SHA-256 of the JSON text: equal to the upstream file when the file is upstream's, unchanged. */
  sha256: string;
  /** Where it was read from (absolute), when it came from a file. */
  path?: string;
  doc: WycheproofDocument;
}

/** Parses stored bytes (gzip or JSON) into a vector file; does not validate against the schema. */
export function parseVectorFile(stored: Uint8Array, fileName: string): VectorFile {
  if (stored.length > MAX_STORED_BYTES) {
    throw new TrucError('too_large', `${fileName}: vector file larger than ${MAX_STORED_BYTES} bytes`, { file: fileName });
  }
  const gz = stored.length >= 2 && stored[0] === 0x1f && stored[1] === 0x8b;
  let json: Buffer;
  try {
    json = gz ? gunzipSync(stored, { maxOutputLength: MAX_JSON_BYTES }) : Buffer.from(stored);
  } catch (e) {
    throw new TrucError('invalid_vector_file', `${fileName}: cannot decompress (${(e as Error).message})`, { file: fileName }, { cause: e });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(json.toString('utf8'));
  } catch (e) {
    throw new TrucError('invalid_vector_file', `${fileName}: not JSON (${(e as Error).message})`, { file: fileName }, { cause: e });
  }
  if (typeof doc !== 'object' || doc === null || typeof (doc as { schema?: unknown }).schema !== 'string') {
    throw new TrucError('invalid_vector_file', `${fileName}: no "schema" field naming the file's schema`, { file: fileName });
  }
  return {
    name: fileName.replace(/\.gz$/, ''),
    storedSha256: sha256Hex(stored),
    sha256: sha256Hex(json),
    doc: doc as WycheproofDocument,
  };
}

export async function loadVectorFile(path: string): Promise<VectorFile> {
  return { ...parseVectorFile(await readFile(path), basename(path)), path: resolve(path) };
}

function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Every `*.json` / `*.json.gz` vector file in a folder, sorted by name. */
export async function loadVectorDir(dir: string, filter?: (name: string) => boolean): Promise<VectorFile[]> {
  const names = (await readdir(dir)).filter((n) => /\.json(\.gz)?$/.test(n) && (!filter || filter(n.replace(/\.gz$/, '')))).sort();
  return Promise.all(names.map((n) => loadVectorFile(join(dir, n))));
}
