/**
 * Path building: from the target up through a pool of candidate issuers to a trust anchor, depth first.
 * Issuers are matched by name (RFC 5280 comparison) and, when both sides say, by key identifier; a
 * candidate whose key identifier contradicts the child's AKI is not an issuer, nor is one already on the
 * path (a certificate, or the same subject and key, never appears twice: loops are cut), nor one from
 * whose issuer no chain of names leads to an anchor within the depth left. The others are ordered before
 * any signature is checked — AKI/SKI match first, then anchors, then the fewest names from an anchor,
 * then candidates valid at the validation time, then CA certificates, then the newest — and their
 * signatures are then verified
 * in that order, each (certificate, key) pair once (./work.ts): only a candidate whose key verifies the
 * child's signature is followed. So many same-name CAs cannot hide the right one, and a pool crafted so
 * that nothing verifies costs one signature check per candidate, not one per path.
 *
 * When nothing at all could be built, one path whose signature does not verify is still offered (the
 * first candidate followed up to an anchor, signatures above it unchecked), so that the answer names the
 * certificate whose signature is bad rather than "no path". Bounded in depth (the caller's), in issuer
 * look-ups and in the work budget. When that budget runs out, the caller may compute, from the anchors'
 * side and with a budget of its own, the certificates a chain of signatures links to an anchor
 * (`reachableFromAnchors`) and build again among those only: a pool of same-name CAs certifying each
 * other under a same-name anchor then gets a definite answer instead of an indeterminate one.
 */
import { createHash } from 'node:crypto';
import type { Certificate } from './certificate.js';
import type { Anchor } from './anchor.js';
import type { Work } from './work.js';
import { MAX_BUILD_STEPS, MAX_PATH_DEPTH } from './limits.js';

export interface CandidatePath {
  /** target first, then intermediates up to the one the anchor issued */
  certs: Certificate[];
  anchor: Anchor;
}

export interface BuildStats {
  depthLimitHit: boolean;
  /** look-ups, candidates or signature checks ran out: the search was not complete */
  stepLimitHit: boolean;
  /** certificates for which no issuer at all was found (the highest such, for messages) */
  dangling?: Certificate;
  /** candidate paths offered so far */
  yielded: number;
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
  /** intermediates still needed above this candidate, by names alone (0: its issuer is an anchor's name) */
  distance: number;
  anchor?: Anchor;
  cert?: Certificate;
  current: boolean;
  ca: boolean;
  notBefore: number;
}

const rank = (x: Issuer, y: Issuer) =>
  Number(y.relation === 'match') - Number(x.relation === 'match') ||
  Number(!!y.anchor) - Number(!!x.anchor) ||
  x.distance - y.distance ||
  Number(y.current) - Number(x.current) ||
  Number(y.ca) - Number(x.ca) ||
  y.notBefore - x.notBefore;

const keyOf = (name: string, spki: Buffer) => `${name}|${spki.toString('hex')}`;

/**
 * The (subject, key) pairs of the pool that a chain of verified signatures links to an anchor, found from
 * the anchors' side: an anchor's key is checked against the certificates that name it as issuer, the keys
 * it verifies against the certificates that name them, and so on (each pair once). Depth, validity and
 * extensions are not looked at: a certificate outside this set cannot be on any valid path, whatever
 * else holds. Null when the budget ran out before the set was complete.
 */
export function reachableFromAnchors(pool: Certificate[], anchors: Anchor[], work: Work): Set<string> | null {
  const reach = new Set(anchors.map((a) => keyOf(a.name.key, a.spki)));
  let frontier = anchors.map((a) => ({ name: a.name.key, spki: a.spki, ski: a.cert?.subjectKeyId, bits: a.publicKeyBits }));
  while (frontier.length) {
    const next: typeof frontier = [];
    for (const f of frontier)
      for (const c of pool) {
        if (c.issuer.key !== f.name) continue;
        const k = keyOf(c.subject.key, c.spki);
        if (reach.has(k) || keyIdRelation(c, f.ski, f.bits) === 'mismatch') continue;
        if (!work.takeCandidate()) return null;
        const sig = work.signature(c, f.spki);
        if (sig === 'budget') return null;
        if (sig !== 'ok') continue;
        reach.add(k);
        next.push({ name: c.subject.key, spki: c.spki, ski: c.subjectKeyId, bits: c.publicKeyBits });
      }
    frontier = next;
  }
  return reach;
}

export function* buildPaths(
  target: Certificate,
  pool: Certificate[],
  anchors: Anchor[],
  stats: BuildStats,
  work: Work,
  time: Date,
  /** certificates in a path, the anchor excluded (the target counts) */
  maxDepth = MAX_PATH_DEPTH,
  /** when given (./build.ts reachableFromAnchors), only pool certificates in it are candidates */
  reachable?: Set<string>,
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
  // how far each name is from an anchor's name, following issuer → subject edges of the pool: a candidate
  // whose issuer's name leads to no anchor, or not within the depth left, is dropped unverified
  const distance = new Map<string, number>(anchors.map((a) => [a.name.key, 0]));
  for (let frontier = [...distance.keys()], d = 1; frontier.length; d++) {
    const next: string[] = [];
    for (const name of frontier)
      for (const c of pool)
        if (c.issuer.key === name && !distance.has(c.subject.key)) {
          distance.set(c.subject.key, d);
          next.push(c.subject.key);
        }
    frontier = next;
  }
  const t = time.getTime();
  let steps = 0;
  let offeredBroken = false;

  /** Issuer candidates of the last certificate of `path`, best first; null when the budget ran out. */
  function issuersOf(path: Certificate[]): Issuer[] | null {
    const child = path[path.length - 1];
    const out: Issuer[] = [];
    for (const a of anchors) {
      if (a.name.key !== child.issuer.key) continue;
      if (!work.takeCandidate()) return null;
      const relation = keyIdRelation(child, a.cert?.subjectKeyId, a.publicKeyBits);
      if (relation !== 'mismatch')
        out.push({
          relation,
          distance: -1,
          anchor: a,
          current: !a.cert || (a.cert.notBefore.getTime() <= t && t <= a.cert.notAfter.getTime()),
          ca: true,
          notBefore: a.cert?.notBefore.getTime() ?? 0,
        });
    }
    for (const c of bySubject.get(child.issuer.key) ?? []) {
      if (reachable && !reachable.has(keyOf(c.subject.key, c.spki))) continue;
      if (!work.takeCandidate()) return null;
      const relation = keyIdRelation(child, c.subjectKeyId, c.publicKeyBits);
      if (relation === 'mismatch') continue;
      if (path.some((p) => p.fingerprint === c.fingerprint || (p.subject.key === c.subject.key && p.spki.equals(c.spki))))
        continue;
      const d = distance.get(c.issuer.key);
      if (d === undefined) continue;
      if (path.length + 1 + d > maxDepth) {
        stats.depthLimitHit = true;
        continue;
      }
      out.push({
        relation,
        distance: d,
        cert: c,
        current: c.notBefore.getTime() <= t && t <= c.notAfter.getTime(),
        ca: c.version < 3 || !!c.basicConstraints?.ca,
        notBefore: c.notBefore.getTime(),
      });
    }
    return out.sort(rank);
  }

  /** A path known to be broken (its last link's signature does not verify), completed up to an anchor. */
  function* broken(path: Certificate[], first: Issuer): Generator<CandidatePath, void> {
    let p = path;
    let iss = first;
    for (;;) {
      if (iss.anchor) {
        stats.yielded++;
        yield { certs: p, anchor: iss.anchor };
        return;
      }
      if (p.length >= maxDepth || ++steps > MAX_BUILD_STEPS) return;
      p = [...p, iss.cert!];
      const next = issuersOf(p);
      if (!next?.length) return;
      iss = next[0];
    }
  }

  function* walk(path: Certificate[]): Generator<CandidatePath, void> {
    if (++steps > MAX_BUILD_STEPS) {
      stats.stepLimitHit = true;
      return;
    }
    const last = path[path.length - 1];
    const issuers = issuersOf(path);
    if (!issuers) {
      stats.stepLimitHit = true;
      return;
    }
    if (issuers.length === 0 && (!stats.dangling || path.length > 1)) stats.dangling = last;
    const failed: Issuer[] = [];
    for (const iss of issuers) {
      const sig = work.signature(last, iss.anchor ? iss.anchor.spki : iss.cert!.spki);
      if (sig === 'budget') {
        stats.stepLimitHit = true;
        return;
      }
      if (sig !== 'ok') {
        failed.push(iss);
        continue;
      }
      if (iss.anchor) {
        stats.yielded++;
        yield { certs: path, anchor: iss.anchor };
        continue;
      }
      if (path.length >= maxDepth) {
        stats.depthLimitHit = true;
        continue;
      }
      yield* walk([...path, iss.cert!]);
    }
    if (stats.yielded === 0 && failed.length > 0 && !offeredBroken) {
      offeredBroken = true;
      yield* broken(path, failed[0]);
    }
  }

  yield* walk([target]);
}
