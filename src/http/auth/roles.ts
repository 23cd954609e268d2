/**
 * Roles and what each may do. A permission names an operation; a route asks for one. The mapping is the
 * separation of duties a CA needs: RA officers vet and issue, CA administrators run the CAs, auditors read
 * the record and nothing else.
 */
export const ROLES = ['ca-admin', 'ra-officer', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = {
  'ca.create': ['ca-admin'],
  'ca.issue': ['ra-officer'],
  'ca.revoke': ['ra-officer', 'ca-admin'],
  'ca.release': ['ra-officer', 'ca-admin'],
  'ca.crl.generate': ['ca-admin'],
  'ca.read': ['ra-officer', 'ca-admin', 'auditor'],
  'audit.read': ['auditor'],
  'audit.verify': ['auditor', 'ca-admin'],
  'auth.manage': ['ca-admin'],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

export function allows(roles: readonly string[], permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly string[]).some((r) => roles.includes(r));
}
