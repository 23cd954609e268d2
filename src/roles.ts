/**
 * The roles a process runs. `truc start` runs them all; `truc start --roles monitor` or `--roles ca,ocsp,tsa`
 * runs only those, so that each process holds only the secrets its roles need: a process without a role
 * that signs opens no key store at all (no passphrase, no PIN, no token). New roles are added here, in
 * one place: the list, what each needs, and the one-line description the CLI shows.
 */
import { TrucError } from './errors.js';
import type { KeyInfo, KeyStore } from './crypto/keystore.js';

export const ROLES = ['ca', 'ocsp', 'tsa', 'monitor', 'console'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_INFO: Record<Role, { keys: boolean; description: string }> = {
  ca: { keys: true, description: 'CA/RA API, issuance, revocation, CRLs on their schedule' },
  ocsp: { keys: true, description: 'OCSP responder (pre-signed answers, re-signed before nextUpdate)' },
  tsa: { keys: true, description: 'time-stamping authority (RFC 3161)' },
  monitor: { keys: false, description: 'monitoring: bus intake, syslog, Sigma rules, alerts' },
  console: { keys: false, description: 'the web console and the read APIs it calls' },
};

/** Parses `ca,ocsp,tsa` (or `all`); unknown names stop the start with the list of known ones. */
export function parseRoles(text: string | undefined): Role[] {
  if (text === undefined || text.trim() === '' || text.trim() === 'all') return [...ROLES];
  const out = new Set<Role>();
  for (const raw of text.split(',')) {
    const r = raw.trim();
    if (!r) continue;
    if (!(ROLES as readonly string[]).includes(r))
      throw new TrucError('invalid_config', `unknown role "${r.slice(0, 40)}": known roles are ${ROLES.join(', ')}`);
    out.add(r as Role);
  }
  if (!out.size) throw new TrucError('invalid_config', `no role given: known roles are ${ROLES.join(', ')}`);
  return [...out];
}

/** Whether any of `roles` signs, so that the process must open its key stores. */
export function rolesNeedKeys(roles: readonly string[]): boolean {
  return roles.some((r) => (ROLE_INFO as Record<string, { keys: boolean } | undefined>)[r]?.keys ?? true);
}

/**
 * The key store of a process whose roles do not sign: every use answers 503 `key_store_unavailable` with
 * the reason, instead of the process asking for secrets it has no use for.
 */
export class NoKeyStore implements KeyStore {
  readonly kind = 'none';
  constructor(private readonly roles: readonly string[]) {}
  private refuse(): never {
    throw new TrucError('key_store_unavailable', `this process runs without keys (roles: ${this.roles.join(', ')}); signing happens in a process with the ca, ocsp or tsa role`);
  }
  async generate(): Promise<KeyInfo> {
    this.refuse();
  }
  async info(): Promise<KeyInfo> {
    this.refuse();
  }
  async list(): Promise<KeyInfo[]> {
    return [];
  }
  async sign(): Promise<Buffer> {
    this.refuse();
  }
  async close(): Promise<void> {}
}
