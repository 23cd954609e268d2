/**
 * Roles and what each may do. A permission names an operation; a route asks for one. The mapping is the
 * separation of duties a CA needs: RA officers vet and issue, CA administrators run the CAs, auditors read
 * the record and nothing else.
 */
export const ROLES = [
  'ca-admin',
  'ra-officer',
  'auditor',
  'lab-officer',
  'monitor-analyst',
  'event-sender',
  'signer',
  // the exchange: the central server's operators approve registrations and keep the registry; a security
  // server's administrators keep its clients, services and access rights; clerks work the document desk
  'central-admin',
  'ss-admin',
  'doc-clerk',
  // protection: who sets release policies and labels (vault)
  'security-officer',
] as const;

/**
 * The role of the token `truc start` makes for the local command line (principal `cli:local`, see
 * docs/operations.md "Commands beside a running server"): reading certificates and validating files, what
 * `truc ca list` and `truc verify` need, and nothing else. Not in ROLES: no one is given it by hand, and
 * every call made with it is audited (./guard.ts).
 */
export const LOCAL_CLI_ROLE = 'cli-local';
export type Role = (typeof ROLES)[number] | typeof LOCAL_CLI_ROLE;

export const PERMISSIONS = {
  'ca.create': ['ca-admin'],
  'ca.issue': ['ra-officer'],
  'ca.revoke': ['ra-officer', 'ca-admin'],
  'ca.release': ['ra-officer', 'ca-admin'],
  'ca.crl.generate': ['ca-admin'],
  'ca.read': ['ra-officer', 'ca-admin', 'auditor', 'cli-local'],
  'audit.read': ['auditor'],
  'audit.verify': ['auditor', 'ca-admin'],
  'auth.manage': ['ca-admin'],
  // who am I: every principal may read its own name, roles and permissions (the console asks at sign-in)
  'auth.whoami': ['ca-admin', 'ra-officer', 'auditor', 'lab-officer', 'monitor-analyst', 'event-sender', 'signer', 'central-admin', 'ss-admin', 'doc-clerk', 'security-officer'],
  'monitor.ingest': ['event-sender'],
  'monitor.read': ['monitor-analyst', 'auditor'],
  'monitor.manage': ['monitor-analyst'],
  'monitor.scan': ['monitor-analyst', 'event-sender', 'ra-officer', 'ca-admin'],
  // the crypto lab: officers run tests and keep the register; auditors read it
  'lab.run': ['lab-officer'],
  'lab.manage': ['lab-officer'],
  'lab.read': ['lab-officer', 'auditor'],
  // signatures: anyone the platform knows may have a file validated; only signers sign with their held key
  'sign.validate': ['ca-admin', 'ra-officer', 'auditor', 'lab-officer', 'monitor-analyst', 'event-sender', 'signer', 'central-admin', 'ss-admin', 'doc-clerk', 'security-officer', 'cli-local'],
  'sign.sign': ['signer'],
  // the exchange: central server registry and registrations; security server configuration; message log
  'central.read': ['central-admin', 'auditor'],
  'central.manage': ['central-admin'],
  'ss.read': ['ss-admin', 'auditor'],
  'ss.manage': ['ss-admin'],
  'ss.log.read': ['ss-admin', 'auditor'],
  // official documents: clerks send, receive and report statuses; auditors read
  'doc.send': ['doc-clerk'],
  'doc.read': ['doc-clerk', 'auditor'],
  // protection: release policies and labels
  'vault.policy': ['security-officer'],
  'vault.read': ['security-officer', 'auditor'],
  'vault.use': ['doc-clerk', 'signer', 'security-officer'],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

/** Every permission the roles grant, in the table's order. */
export function permissionsOf(roles: readonly string[]): Permission[] {
  return (Object.keys(PERMISSIONS) as Permission[]).filter((p) => allows(roles, p));
}

export function allows(roles: readonly string[], permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly string[]).some((r) => roles.includes(r));
}
