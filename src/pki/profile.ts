/**
 * Certificate profiles as data. Each profile is one YAML file, validated against a JSON schema when loaded;
 * a profile that does not validate stops the start with the file and the reason. A profile fixes what an
 * issued certificate may be: key types, validity, key usage, extended key usage, policies, distribution
 * points and which subject attributes and alternative names are required, allowed or forbidden.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Ajv, type ValidateFunction } from 'ajv';
import { TrucError } from '../errors.js';
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../crypto/algorithms.js';
import { ATTRIBUTES } from './name.js';
import { KEY_USAGE_BITS } from './path/oids.js';

/** Key usage bit names in RFC 5280 bit order. */
export const KEY_USAGES = KEY_USAGE_BITS;
export type KeyUsage = (typeof KEY_USAGES)[number];

export const EKU_OIDS: Record<string, string> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  OCSPSigning: '1.3.6.1.5.5.7.3.9',
  documentSigning: '1.3.6.1.4.1.311.10.3.12',
};

export type Presence = 'required' | 'allowed' | 'forbidden';

export interface Profile {
  name: string;
  description: string;
  keyAlgorithms: KeyAlgorithm[];
  /** maximum (and default) validity in days; never past the issuing CA's own notAfter */
  validityDays: number;
  /** seconds to back-date notBefore against clock skew of relying parties */
  backdateSeconds: number;
  keyUsage: KeyUsage[];
  extendedKeyUsage: string[];
  extendedKeyUsageCritical: boolean;
  certificatePolicies: string[];
  crlDistributionPoint: boolean;
  authorityInfoAccess: { ocsp: boolean; caIssuers: boolean };
  ocspNoCheck: boolean;
  subject: { required: string[]; allowed: string[]; fixed?: Record<string, string> };
  subjectAltName: { dns: Presence; email: Presence; ip: Presence; uri: Presence };
  /**
   * Which DNS names and IP addresses the profile may certify, when it lists them: DNS entries are exact
   * names or `.suffix` (any name under it, never the suffix itself); IP entries are addresses or CIDR
   * ranges; a wildcard name (`*.x`) needs `wildcards: true` and its base under the list. Without `names`,
   * any syntactically valid name — a profile for names on the Internet should always have one.
   */
  names?: { dns: string[]; ip: string[]; wildcards: boolean };
}

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'description', 'keyAlgorithms', 'validityDays', 'keyUsage', 'subject'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
    description: { type: 'string' },
    keyAlgorithms: { type: 'array', minItems: 1, items: { enum: [...KEY_ALGORITHMS] } },
    validityDays: { type: 'integer', minimum: 1, maximum: 36500 },
    backdateSeconds: { type: 'integer', minimum: 0, maximum: 86400 },
    keyUsage: { type: 'array', items: { enum: [...KEY_USAGES] }, uniqueItems: true },
    extendedKeyUsage: {
      type: 'array',
      uniqueItems: true,
      items: { anyOf: [{ enum: Object.keys(EKU_OIDS) }, { type: 'string', pattern: '^[0-2](\\.[0-9]+)+$' }] },
    },
    extendedKeyUsageCritical: { type: 'boolean' },
    certificatePolicies: { type: 'array', items: { type: 'string', pattern: '^[0-2](\\.[0-9]+)+$' } },
    crlDistributionPoint: { type: 'boolean' },
    authorityInfoAccess: {
      type: 'object',
      additionalProperties: false,
      properties: { ocsp: { type: 'boolean' }, caIssuers: { type: 'boolean' } },
    },
    ocspNoCheck: { type: 'boolean' },
    subject: {
      type: 'object',
      additionalProperties: false,
      required: ['required', 'allowed'],
      properties: {
        required: { type: 'array', items: { enum: Object.keys(ATTRIBUTES) } },
        allowed: { type: 'array', items: { enum: Object.keys(ATTRIBUTES) } },
        fixed: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    subjectAltName: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(
        ['dns', 'email', 'ip', 'uri'].map((k) => [k, { enum: ['required', 'allowed', 'forbidden'] }]),
      ),
    },
    names: {
      type: 'object',
      additionalProperties: false,
      properties: {
        dns: { type: 'array', items: { type: 'string', pattern: '^\\.?[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$' } },
        ip: { type: 'array', items: { type: 'string', pattern: '^[0-9a-fA-F:.]+(/[0-9]{1,3})?$' } },
        wildcards: { type: 'boolean' },
      },
    },
  },
} as const;

// compiled at the first profile read, not when the module loads: `truc verify` loads the PKI and reads none
let validator: ValidateFunction | undefined;

/** Validates one profile document and fills its defaults. `source` names the file in errors. */
export function parseProfile(doc: unknown, source: string): Profile {
  const validate = (validator ??= new Ajv({ allErrors: true }).compile(schema));
  if (!validate(doc)) {
    const why = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    throw new TrucError('invalid_profile', `profile ${source}: ${why}`, { source });
  }
  const d = doc as Partial<Profile> & Pick<Profile, 'name' | 'description' | 'keyAlgorithms' | 'validityDays' | 'keyUsage' | 'subject'>;
  for (const r of d.subject.required)
    if (!d.subject.allowed.includes(r))
      throw new TrucError('invalid_profile', `profile ${source}: required attribute ${r} is not in allowed`, { source });
  if (d.keyUsage.includes('keyCertSign'))
    throw new TrucError('invalid_profile', `profile ${source}: end-entity profiles cannot carry keyCertSign`, { source });
  return {
    backdateSeconds: 60,
    extendedKeyUsage: [],
    extendedKeyUsageCritical: false,
    certificatePolicies: [],
    crlDistributionPoint: true,
    authorityInfoAccess: { ocsp: true, caIssuers: true },
    ocspNoCheck: false,
    ...d,
    subjectAltName: { dns: 'forbidden', email: 'forbidden', ip: 'forbidden', uri: 'forbidden', ...(d.subjectAltName ?? {}) },
    ...(d.names ? { names: { dns: d.names.dns ?? [], ip: d.names.ip ?? [], wildcards: d.names.wildcards ?? false } } : {}),
  };
}

export async function loadProfiles(dir: string): Promise<Map<string, Profile>> {
  const out = new Map<string, Profile>();
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch (e) {
    throw new TrucError('invalid_config', `cannot read profiles folder ${dir}: ${(e as Error).message}`);
  }
  for (const f of files) {
    const path = join(dir, f);
    let doc: unknown;
    try {
      doc = parseYaml(await readFile(path, 'utf8'));
    } catch (e) {
      throw new TrucError('invalid_profile', `profile ${path}: ${(e as Error).message}`, { source: path });
    }
    const p = parseProfile(doc, path);
    if (out.has(p.name)) throw new TrucError('invalid_profile', `profile ${path}: duplicate name ${p.name}`);
    out.set(p.name, p);
  }
  return out;
}

export function ekuOid(name: string): string {
  return EKU_OIDS[name] ?? name;
}
