/**
 * ACVP-shaped vector sets: a prompt (what the product is asked) and the expected results, as NIST's ACVP
 * server and its JSON files spell them (`[{acvVersion}, {vsId, algorithm, testGroups}]` or the bare
 * object). Only the fields the lab reads are typed; parsing bounds sizes and checks shapes.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { TrucError } from '../../errors.js';

export const MAX_VECTOR_SET_BYTES = 32 * 1024 * 1024;

export interface AcvpTest {
  tcId: number;
  [field: string]: unknown;
}

export interface AcvpGroup {
  tgId: number;
  testType?: string;
  direction?: string;
  tests: AcvpTest[];
  [field: string]: unknown;
}

export interface AcvpVectorSet {
  vsId: number;
  algorithm: string;
  mode?: string;
  revision?: string;
  testGroups: AcvpGroup[];
}

export interface AcvpSuiteInput {
  /** Name shown in reports, e.g. `acvp/aes-gcm`. */
  name: string;
  prompt: AcvpVectorSet;
  expected: AcvpVectorSet;
  /** SHA-256 over prompt bytes then expected bytes, as stored. */
  sha256: string;
}

/** The vector set in an ACVP file: the bare object or the second element of `[{acvVersion}, {...}]`. */
export function parseVectorSet(bytes: Uint8Array, where: string): AcvpVectorSet {
  if (bytes.length > MAX_VECTOR_SET_BYTES) throw new TrucError('too_large', `${where}: ACVP file too large`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw new TrucError('invalid_vector_file', `${where}: not JSON (${(e as Error).message})`, { file: where });
  }
  const vs = (Array.isArray(doc) ? doc.find((x) => x && typeof x === 'object' && 'vsId' in x) : doc) as AcvpVectorSet | undefined;
  if (!vs || typeof vs.algorithm !== 'string' || !Array.isArray(vs.testGroups)) {
    throw new TrucError('invalid_vector_file', `${where}: no ACVP vector set (vsId, algorithm, testGroups)`, { file: where });
  }
  for (const g of vs.testGroups) {
    if (typeof g?.tgId !== 'number' || !Array.isArray(g.tests) || g.tests.some((t) => typeof t?.tcId !== 'number')) {
      throw new TrucError('invalid_vector_file', `${where}: group without numeric tgId or tests with tcId`, { file: where });
    }
  }
  return vs;
}

export function acvpSuite(name: string, promptBytes: Uint8Array, expectedBytes: Uint8Array): AcvpSuiteInput {
  const prompt = parseVectorSet(promptBytes, `${name} prompt`);
  const expected = parseVectorSet(expectedBytes, `${name} expected`);
  if (prompt.vsId !== expected.vsId || prompt.algorithm !== expected.algorithm) {
    throw new TrucError('invalid_vector_file', `${name}: prompt and expected results are for different vector sets`, { file: name });
  }
  const sha256 = createHash('sha256').update(promptBytes).update(expectedBytes).digest('hex');
  return { name, prompt, expected, sha256 };
}

/**
 * The vector set in a folder laid out as NIST publishes them (`prompt.json` and `expectedResults.json`,
 * e.g. a copy of ACVP-Server's `gen-val/json-files/HMAC-SHA2-256-2.0/`), named `acvp/<folder name>`.
 */
export async function loadAcvpSet(dir: string): Promise<AcvpSuiteInput> {
  const read = async (f: string): Promise<Buffer> => {
    try {
      return await readFile(join(dir, f));
    } catch (e) {
      throw new TrucError('not_found', `${dir}: no ${f} (an ACVP folder holds prompt.json and expectedResults.json): ${(e as Error).message}`, { file: join(dir, f) });
    }
  };
  return acvpSuite(`acvp/${basename(resolve(dir))}`, await read('prompt.json'), await read('expectedResults.json'));
}
