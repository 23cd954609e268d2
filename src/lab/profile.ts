/**
 * Profiles: which suites evidence which standard, and which results a product needs to pass it. A profile
 * is data (JSON under src/lab/profiles/), validated on load; evaluation is a pure function of the profile
 * and the suite results, so the same run can be judged against several standards.
 */
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { TrucError } from '../errors.js';
import { addCounts, emptyCounts, type OutcomeCounts } from './outcome.js';
import type { SuiteResult } from './runner.js';

export interface ProfileSuite {
  id: string;
  title: string;
  /** What passing this suite evidences, in the standard's words. */
  evidences: string;
  /** A suite result matches when its algorithm, file name or schema is listed. */
  match: { algorithms?: string[]; files?: string[]; schemas?: string[] };
  required: boolean;
  /** UNSUPPORTED tests (parameters the product lacks) tolerated in a required suite; default true. */
  allowUnsupported?: boolean;
}

export interface Profile {
  id: string;
  title: string;
  standard: string;
  references?: string[];
  note?: string;
  suites: ProfileSuite[];
  /**
   * Tests outside what the standard asks, not run and reported SKIPPED with the reason: by Wycheproof flag,
   * or by file and test number.
   */
  skip?: { flags?: string[]; tests?: { file: string; tcIds: number[]; reason: string }[] };
}

export type SuiteStatus = 'PASS' | 'FAIL' | 'MISSING' | 'NOT_IMPLEMENTED';

export interface ProfileVerdict {
  profile: { id: string; title: string; standard: string; references?: string[] };
  verdict: 'PASS' | 'FAIL';
  reasons: string[];
  suites: { id: string; title: string; evidences: string; required: boolean; status: SuiteStatus; files: string[]; counts: OutcomeCounts }[];
}

const SCHEMA = {
  type: 'object',
  required: ['id', 'title', 'standard', 'suites'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,63}$' },
    title: { type: 'string', maxLength: 300 },
    standard: { type: 'string', maxLength: 2000 },
    references: { type: 'array', maxItems: 50, items: { type: 'string', maxLength: 500 } },
    note: { type: 'string', maxLength: 2000 },
    skip: {
      type: 'object',
      additionalProperties: false,
      properties: {
        flags: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 100 } },
        tests: {
          type: 'array',
          maxItems: 1000,
          items: {
            type: 'object',
            required: ['file', 'tcIds', 'reason'],
            additionalProperties: false,
            properties: {
              file: { type: 'string', maxLength: 200 },
              tcIds: { type: 'array', minItems: 1, maxItems: 100000, items: { type: 'integer', minimum: 0 } },
              reason: { type: 'string', minLength: 1, maxLength: 500 },
            },
          },
        },
      },
    },
    suites: {
      type: 'array',
      minItems: 1,
      maxItems: 200,
      items: {
        type: 'object',
        required: ['id', 'title', 'evidences', 'match', 'required'],
        additionalProperties: false,
        properties: {
          id: { type: 'string', maxLength: 64 },
          title: { type: 'string', maxLength: 300 },
          evidences: { type: 'string', maxLength: 2000 },
          required: { type: 'boolean' },
          allowUnsupported: { type: 'boolean' },
          match: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: {
              algorithms: { type: 'array', maxItems: 50, items: { type: 'string', maxLength: 100 } },
              files: { type: 'array', maxItems: 200, items: { type: 'string', maxLength: 200 } },
              schemas: { type: 'array', maxItems: 50, items: { type: 'string', maxLength: 200 } },
            },
          },
        },
      },
    },
  },
} as const;

const validate = new Ajv({ allErrors: false }).compile(SCHEMA);

export function parseProfile(doc: unknown, where = 'profile'): Profile {
  if (!validate(doc)) {
    const errors = (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`);
    throw new TrucError('invalid_profile', `${where}: ${errors.join('; ')}`, { errors });
  }
  return doc as unknown as Profile;
}

export const BUNDLED_PROFILES_DIR = join(dirname(fileURLToPath(import.meta.url)), 'profiles');

/** A profile bundled with the lab, by id (file `<id>.json`). */
export async function loadProfile(id: string, dir = BUNDLED_PROFILES_DIR): Promise<Profile> {
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(id)) throw new TrucError('unknown_profile', `no profile ${id}`);
  let text: string;
  try {
    text = await readFile(join(dir, `${id}.json`), 'utf8');
  } catch {
    throw new TrucError('unknown_profile', `no profile ${id}`, { id });
  }
  return parseProfile(JSON.parse(text), `${id}.json`);
}

export async function listProfiles(dir = BUNDLED_PROFILES_DIR): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

function matches(s: SuiteResult, m: ProfileSuite['match']): boolean {
  return Boolean(m.algorithms?.includes(s.algorithm) || m.files?.includes(s.file) || m.schemas?.includes(s.schema));
}

/** Judges suite results against a profile: PASS only when every rule holds; each failed rule is a reason. */
export function evaluateProfile(profile: Profile, results: readonly SuiteResult[]): ProfileVerdict {
  const reasons: string[] = [];
  const suites = profile.suites.map((ps) => {
    const hit = results.filter((r) => matches(r, ps.match));
    const counts = hit.reduce((c, r) => addCounts(c, r.counts), emptyCounts());
    const broken = hit.filter((r) => r.error);
    let status: SuiteStatus = 'PASS';
    const why: string[] = [];
    if (hit.length === 0) {
      status = 'MISSING';
      if (ps.required) why.push(`${ps.title}: no test results (required)`);
    } else {
      if (counts.FAIL) why.push(`${ps.title}: ${counts.FAIL} test(s) failed`);
      if (counts.ERROR) why.push(`${ps.title}: ${counts.ERROR} test(s) could not be run (adapter error)`);
      for (const b of broken) why.push(`${ps.title}: ${b.file} did not run (${b.error})`);
      if (counts.PASS + counts.ACCEPTABLE === 0 && !counts.FAIL && !counts.ERROR) {
        status = 'NOT_IMPLEMENTED';
        if (ps.required) why.push(`${ps.title}: not implemented by the product (required)`);
      } else if (ps.required && ps.allowUnsupported === false && counts.UNSUPPORTED) {
        why.push(`${ps.title}: ${counts.UNSUPPORTED} required test(s) unsupported`);
      }
      if (why.length && status === 'PASS') status = 'FAIL';
    }
    if (why.length && status !== 'MISSING' && status !== 'NOT_IMPLEMENTED') status = 'FAIL';
    reasons.push(...why);
    return { id: ps.id, title: ps.title, evidences: ps.evidences, required: ps.required, status, files: hit.map((r) => r.file), counts };
  });
  return {
    profile: { id: profile.id, title: profile.title, standard: profile.standard, ...(profile.references ? { references: profile.references } : {}) },
    verdict: reasons.length ? 'FAIL' : 'PASS',
    reasons,
    suites,
  };
}
