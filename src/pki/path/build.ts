/**
 * Path building: from the target up through a pool of candidate issuers to a trust anchor, depth first.
 * Issuers are matched by name (RFC 5280 comparison) and, when both sides say, by key identifier; a
 * candidate whose key identifier contradicts the child's AKI is not an issuer. Candidates whose key verifies
 * the child's signature come first (so many same-name CAs cannot hide the right one), then AKI matches,
 * then anchors before intermediates, then the newest. Bounded in depth, in look-ups and
 * by loop detection (a certificate, or the same subject and key, never appears twice in one path).
 */
import { createHash } from 'node:crypto';
import type { Certificate } from './certificate.js';
import type { Anchor } from './anchor.js';
import { MAX_BUILD_STEPS, MAX_PATH_DEPTH } from './limits.js';

export interface CandidatePath {
  /** target first, then intermediates up to the one the anchor issued */
  certs: Certificate[];
  anchor: Anchor;
}

export interface BuildStats {
  depthLimitHit: boolean;
  stepLimitHit: boolean;
  /** certificates for which no issuer at all was found (the highest such, for messages) */
  dangling?: Certificate;
}

type Relation = 'match' | 'unknown' | 'mismatch';

function keyIdRelation(child: Certificate, ski: Buffer | undefined, keyBits: Buffer): Relation {
  const aki = child.authorityKeyId;
  if (!aki) return 'unknown';
  if (ski) return aki.equals(ski) ? 'match' : 'mismatch';
  return aki.equals(createHash('sha1').update(keyBits).digest()) ? 'match' : 'unknown';
}

interface Issuer {
  relation: Relation;
  verifies: boolean;
  anchor?: Anchor;
  cert?: Certificate;
  notBefore: number;
}

export function* buildPaths(
  target: Certificate,
  pool: Certificate[],
  anchors: Anchor[],
  stats: BuildStats,
  /** whether a key verifies a certificate's signature (cached by the caller) */
  verifies: (child: Certificate, spki: Buffer) => boolean,
  maxDepth = MAX_PATH_DEPTH,
): Generator<CandidatePath, void> {
  const anchorKeys = new Set(anchors.map((a) => `${a.name.key}|${a.spki.toString('hex')}`));
  const bySubject = new Map<string, Certificate[]>();
  for (const c of pool) {
    // an intermediate that is also an anchor adds nothing but longer paths
    if (anchorKeys.has(`${c.subject.key}|${c.spki.toString('hex')}`)) continue;
    const list = bySubject.get(c.subject.key) ?? [];
    list.push(c);
    bySubject.set(c.subject.key, list);
  }
  let steps = 0;

  function issuersOf(child: Certificate): Issuer[] {
    const out: Issuer[] = [];
    for (const a of anchors) {
      if (a.name.key !== child.issuer.key) continue;
      const relation = keyIdRelation(child, a.cert?.subjectKeyId, a.publicKeyBits);
      if (relation !== 'mismatch')
        out.push({
          relation,
          verifies: verifies(child, a.spki),
          anchor: a,
          notBefore: a.cert?.notBefore.getTime() ?? 0,
        });
    }
    for (const c of bySubject.get(child.issuer.key) ?? []) {
      const relation = keyIdRelation(child, c.subjectKeyId, c.publicKeyBits);
      if (relation !== 'mismatch')
        out.push({ relation, verifies: verifies(child, c.spki), cert: c, notBefore: c.notBefore.getTime() });
    }
    return out.sort(
      (x, y) =>
        Number(y.verifies) - Number(x.verifies) ||
        Number(y.relation === 'match') - Number(x.relation === 'match') ||
        Number(!!y.anchor) - Number(!!x.anchor) ||
        y.notBefore - x.notBefore,
    );
  }

  function* walk(path: Certificate[]): Generator<CandidatePath, void> {
    if (++steps > MAX_BUILD_STEPS) {
      stats.stepLimitHit = true;
      return;
    }
    const last = path[path.length - 1];
    const issuers = issuersOf(last);
    if (issuers.length === 0 && (!stats.dangling || path.length > 1)) stats.dangling = last;
    for (const iss of issuers) {
      if (iss.anchor) {
        yield { certs: path, anchor: iss.anchor };
        continue;
      }
      const c = iss.cert!;
      if (
        path.some(
          (p) =>
            p.fingerprint === c.fingerprint || (p.subject.key === c.subject.key && p.spki.equals(c.spki)),
        )
      )
        continue;
      if (path.length >= maxDepth) {
        stats.depthLimitHit = true;
        continue;
      }
      yield* walk([...path, c]);
    }
  }

  yield* walk([target]);
}
