/**
 * Runs an ACVP vector set (AES-GCM, SHA-1/SHA-2, HMAC) as known-answer tests. A product that speaks ACVP
 * (`adapter.acvp`) gets the whole prompt at once; any other product is asked test by test through its
 * ordinary operations. Either way each answer is compared with the expected results.
 */
import { bytesEqual, fromHex } from '../hex.js';
import { attempt, emptyCounts, judge, type Expected, type Observation, type TestResult, outcomeOfThrow } from '../outcome.js';
import { type HashName, type MacAlg, type ProductAdapter, unsupported } from '../product.js';
import type { SuiteResult } from '../runner.js';
import type { AcvpGroup, AcvpSuiteInput, AcvpTest } from './vector-set.js';

const SHA: Record<string, HashName> = {
  'SHA-1': 'SHA-1',
  'SHA2-224': 'SHA-224',
  'SHA2-256': 'SHA-256',
  'SHA2-384': 'SHA-384',
  'SHA2-512': 'SHA-512',
  'SHA3-256': 'SHA3-256',
};
const HMAC: Record<string, MacAlg> = {
  'HMAC-SHA-1': 'HMAC-SHA-1',
  'HMAC-SHA2-224': 'HMAC-SHA-224',
  'HMAC-SHA2-256': 'HMAC-SHA-256',
  'HMAC-SHA2-384': 'HMAC-SHA-384',
  'HMAC-SHA2-512': 'HMAC-SHA-512',
};

const hex = (t: Record<string, unknown>, f: string): Uint8Array => (typeof t[f] === 'string' ? fromHex(t[f] as string, f) : new Uint8Array(0));

type Answer = Record<string, unknown>;

/** Asks the product one ACVP test through its operations and returns an ACVP-shaped answer. */
async function askByOperation(adapter: ProductAdapter, algorithm: string, g: AcvpGroup, t: AcvpTest): Promise<Answer> {
  if (algorithm === 'ACVP-AES-GCM') {
    const base = { alg: 'AES-GCM' as const, key: hex(t, 'key'), iv: hex(t, 'iv'), aad: hex(t, 'aad'), tagSize: Number(g.tagLen) / 8 };
    if (g.direction === 'encrypt') {
      if (!adapter.aeadEncrypt) throw unsupported('operation aeadEncrypt');
      const r = await adapter.aeadEncrypt({ ...base, msg: hex(t, 'pt') });
      return { ct: Buffer.from(r.ct).toString('hex'), tag: Buffer.from(r.tag).toString('hex') };
    }
    if (!adapter.aeadDecrypt) throw unsupported('operation aeadDecrypt');
    const r = await attempt(() => adapter.aeadDecrypt!({ ...base, ct: hex(t, 'ct'), tag: hex(t, 'tag') }));
    return r.ok ? { pt: Buffer.from(r.value).toString('hex') } : { testPassed: false };
  }
  if (SHA[algorithm]) {
    if (!adapter.hash) throw unsupported('operation hash');
    if (Number(t.len) % 8 !== 0) throw unsupported('bit-oriented messages');
    const md = await adapter.hash({ alg: SHA[algorithm], msg: hex(t, 'msg').subarray(0, Number(t.len) / 8) });
    return { md: Buffer.from(md).toString('hex') };
  }
  if (HMAC[algorithm]) {
    if (!adapter.macCompute) throw unsupported('operation macCompute');
    const size = Number(g.macLen) / 8;
    const mac = await adapter.macCompute({ alg: HMAC[algorithm], key: hex(t, 'key'), msg: hex(t, 'msg'), tagSize: size });
    return { mac: Buffer.from(mac.subarray(0, size)).toString('hex') };
  }
  throw unsupported(`ACVP algorithm ${algorithm}`);
}

/** Compares an answer with the expected result; `invalid` when the expected result says the test must fail. */
function compare(expected: AcvpTest, answer: Answer | undefined): { expected: Expected; obs: Observation } {
  if (expected.testPassed === false) {
    const refused = !answer || answer.testPassed === false;
    return { expected: 'invalid', obs: refused ? { accepted: false } : { accepted: true, note: 'product reported success' } };
  }
  if (!answer) return { expected: 'valid', obs: { accepted: false, note: 'no answer' } };
  if (answer.testPassed === false) return { expected: 'valid', obs: { accepted: false, note: 'product reported failure' } };
  for (const [k, v] of Object.entries(expected)) {
    if (k === 'tcId' || k === 'testPassed') continue;
    const got = answer[k];
    if (typeof v === 'string' && typeof got === 'string') {
      if (!bytesEqual(fromHex(v.toLowerCase(), k), fromHex(got.toLowerCase(), k))) return { expected: 'valid', obs: { accepted: false, note: `${k} differs` } };
    } else if (got !== v) {
      return { expected: 'valid', obs: { accepted: false, note: `${k} differs` } };
    }
  }
  return { expected: 'valid', obs: { accepted: true } };
}

export async function runAcvp(adapter: ProductAdapter, suite: AcvpSuiteInput): Promise<SuiteResult> {
  const t0 = performance.now();
  const { prompt, expected } = suite;
  const want = new Map<number, AcvpTest>();
  for (const g of expected.testGroups) for (const t of g.tests) want.set(t.tcId, t);
  const results: TestResult[] = [];
  const counts = emptyCounts();
  const push = (r: TestResult): void => {
    results.push(r);
    counts[r.outcome]++;
  };

  let bulk: Map<number, Answer> | undefined;
  let bulkError: unknown;
  if (adapter.acvp) {
    try {
      const resp = (await adapter.acvp(prompt as unknown as Record<string, unknown>)) as { testGroups?: { tests?: Answer[] }[] };
      bulk = new Map();
      for (const g of resp.testGroups ?? []) for (const t of g.tests ?? []) bulk.set(Number(t.tcId), t);
    } catch (e) {
      bulkError = e;
    }
  }

  for (const g of prompt.testGroups) {
    for (const t of g.tests) {
      const exp = want.get(t.tcId);
      const base = { tcId: t.tcId, flags: [] as string[], comment: `tgId ${g.tgId}${g.direction ? ` ${g.direction}` : ''}` };
      if (!exp) {
        push({ ...base, expected: 'valid', outcome: 'ERROR', note: 'no expected result for this test' });
        continue;
      }
      const expectation: Expected = exp.testPassed === false ? 'invalid' : 'valid';
      try {
        if (bulkError) throw bulkError;
        let answer = bulk?.get(t.tcId);
        if (!bulk) {
          const r = await attempt(() => askByOperation(adapter, prompt.algorithm, g, t));
          answer = r.ok ? r.value : { testPassed: false };
        }
        const c = compare(exp, answer);
        const j = judge(c.expected, c.obs);
        push({ ...base, expected: c.expected, outcome: j.outcome, ...(j.note ? { note: j.note } : {}) });
      } catch (e) {
        push({ ...base, expected: expectation, ...outcomeOfThrow(e) });
      }
    }
  }
  return {
    kind: 'acvp',
    file: suite.name,
    sha256: suite.sha256,
    algorithm: prompt.algorithm,
    schema: `ACVP ${prompt.algorithm}${prompt.revision ? ` ${prompt.revision}` : ''}`,
    numberOfTests: results.length,
    counts,
    results,
    durationMs: performance.now() - t0,
  };
}
