/**
 * Certificate policies (RFC 5280 sections 6.1.3 (d)-(f), 6.1.4 (a)-(b), (h)-(j), 6.1.5 (a)-(b), (g)).
 *
 * The valid_policy_tree is kept in a collapsed form that gives the same answer for the questions callers
 * ask (is the tree null, which authority policies survive): a map from each expected policy at the
 * current depth to the set of authority-domain policies (the valid_policy of the branch just below
 * anyPolicy) it descends from, plus a flag for the anyPolicy branch. Policy qualifiers are not kept.
 * Policy mapping is supported in that form (issuer-domain policies re-labelled as subject-domain ones,
 * or deleted when inhibitPolicyMapping is in force); mapping to or from anyPolicy is rejected.
 */
import type { Certificate } from './certificate.js';
import { OID } from './oids.js';
import { reject } from './result.js';

interface Tree {
  any: boolean;
  nodes: Map<string, Set<string>>;
}

function add(map: Map<string, Set<string>>, key: string, roots: Iterable<string>): void {
  const s = map.get(key) ?? new Set<string>();
  for (const r of roots) s.add(r);
  map.set(key, s);
}

export class PolicyState {
  private tree: Tree | null = { any: true, nodes: new Map() };
  private explicitPolicy: number;
  private inhibitAnyPolicy: number;
  private policyMapping: number;

  /** n: certificates in the path (anchor excluded); required: user-initial-policy-set, which also sets initial-explicit-policy */
  constructor(
    private readonly n: number,
    private readonly required: string[] | undefined,
  ) {
    this.explicitPolicy = required && required.length > 0 ? 0 : n + 1;
    this.inhibitAnyPolicy = n + 1;
    this.policyMapping = n + 1;
  }

  /** 6.1.3 (d)-(f) for certificate i (1 = next to the anchor, n = target); index is its path position. */
  process(cert: Certificate, i: number, index: number): void {
    const tree = this.tree;
    if (tree && cert.policies) {
      const anyAllowed = this.inhibitAnyPolicy > 0 || (i < this.n && cert.selfIssued);
      const hasAny = cert.policies.includes(OID.anyPolicy);
      const explicit = cert.policies.filter((p) => p !== OID.anyPolicy);
      const nodes = new Map<string, Set<string>>();
      for (const p of explicit) {
        const roots = tree.nodes.get(p);
        if (roots) add(nodes, p, roots);
        else if (tree.any) add(nodes, p, [p]);
      }
      if (hasAny && anyAllowed)
        for (const [exp, roots] of tree.nodes) if (!explicit.includes(exp)) add(nodes, exp, roots);
      const any = tree.any && hasAny && anyAllowed;
      this.tree = nodes.size > 0 || any ? { any, nodes } : null;
    } else this.tree = null;
    if (this.explicitPolicy === 0 && this.tree === null)
      reject('policy', 'no acceptable certificate policy while an explicit policy is required', index);
  }

  /** 6.1.4 (a)-(b) and (h)-(j): preparation for the next certificate, for intermediates only. */
  prepare(cert: Certificate, index: number): void {
    if (cert.policyMappings) {
      for (const [idp, sdp] of cert.policyMappings)
        if (idp === OID.anyPolicy || sdp === OID.anyPolicy)
          reject('policy', 'policy mapping involves anyPolicy', index);
      const tree = this.tree;
      if (tree) {
        const bySource = new Map<string, string[]>();
        for (const [idp, sdp] of cert.policyMappings) bySource.set(idp, [...(bySource.get(idp) ?? []), sdp]);
        const nodes = new Map([...tree.nodes].filter(([k]) => !bySource.has(k)));
        if (this.policyMapping > 0) {
          for (const [idp, sdps] of bySource) {
            const roots = tree.nodes.get(idp) ?? (tree.any ? new Set([idp]) : undefined);
            if (roots) for (const sdp of sdps) add(nodes, sdp, roots);
          }
        }
        this.tree = nodes.size > 0 || tree.any ? { any: tree.any, nodes } : null;
      }
    }
    if (!cert.selfIssued) {
      if (this.explicitPolicy > 0) this.explicitPolicy--;
      if (this.policyMapping > 0) this.policyMapping--;
      if (this.inhibitAnyPolicy > 0) this.inhibitAnyPolicy--;
    }
    const pc = cert.policyConstraints;
    if (pc?.requireExplicitPolicy !== undefined)
      this.explicitPolicy = Math.min(this.explicitPolicy, pc.requireExplicitPolicy);
    if (pc?.inhibitPolicyMapping !== undefined)
      this.policyMapping = Math.min(this.policyMapping, pc.inhibitPolicyMapping);
    if (cert.inhibitAnyPolicy !== undefined)
      this.inhibitAnyPolicy = Math.min(this.inhibitAnyPolicy, cert.inhibitAnyPolicy);
  }

  /** 6.1.5 (a), (b), (g): the authority policies acceptable to the caller, or a rejection. */
  finish(target: Certificate): string[] | 'any' | null {
    if (this.explicitPolicy > 0) this.explicitPolicy--;
    if (target.policyConstraints?.requireExplicitPolicy === 0) this.explicitPolicy = 0;
    const tree = this.tree;
    let result: string[] | 'any' | null;
    if (!tree) result = null;
    else {
      const authority = new Set<string>();
      for (const roots of tree.nodes.values()) for (const r of roots) authority.add(r);
      if (!this.required || this.required.length === 0) result = tree.any ? 'any' : [...authority];
      else {
        const ok = this.required.filter((p) => tree.any || authority.has(p));
        result = ok.length > 0 ? ok : null;
      }
    }
    if (this.explicitPolicy === 0 && result === null)
      reject(
        'policy',
        this.required?.length
          ? `none of the required policies (${this.required.join(', ')}) is valid for this path`
          : 'the path requires an explicit policy and has none',
        0,
      );
    return result;
  }
}
