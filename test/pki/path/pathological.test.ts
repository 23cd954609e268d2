/**
 * Pathological pools and the caller's depth limit. The work a validation does is counted (signature
 * checks actually performed, candidates looked at: `result.work`), never timed: 100 intermediates sharing
 * one subject with distinct keys must cost about one signature check per candidate, a pool crafted so
 * that every branch verifies must get a definite answer from the anchor side (or stop at twice the budget
 * with `budget_exceeded`), and candidates from which no chain of names reaches an anchor are never
 * verified at all.
 */
import { describe, it, expect } from 'vitest';
import { validatePath, limits } from '../../../src/pki/path/index.js';
import { issueCert, newKey, type Key, type Party } from './fixtures.js';
import { hasOpenssl, opensslVerify } from './openssl-verify.js';

const T = new Date(Date.UTC(2025, 5, 1, 12));
const YEAR = 365 * 86_400_000;
const span = { notBefore: new Date(T.getTime() - YEAR), notAfter: new Date(T.getTime() + YEAR) };
const CA = { ca: true, keyUsage: ['keyCertSign', 'cRLSign'] as const, ...span };
const SAME = 'C=VN, O=Truc, CN=Same Name CA';

const rootKey = newKey();
const rootP: Party = { name: 'C=VN, O=Truc, CN=Pathological Root', key: rootKey };
const root = issueCert({ subject: rootP.name, key: rootKey, ...CA, keyUsage: [...CA.keyUsage] });
const keys: Key[] = Array.from({ length: 100 }, () => newKey());
const leafKey = newKey();
const ca = (key: Key, issuer: Party, aki = false) => issueCert({ subject: SAME, key, issuer, ...CA, keyUsage: [...CA.keyUsage], aki, ski: aki });
const leafUnder = (issuerKey: Key, aki = false) =>
  issueCert({ subject: 'C=VN, CN=leaf', key: leafKey, issuer: { name: SAME, key: issuerKey }, keyUsage: ['digitalSignature'], aki, ...span });

describe('100 intermediates sharing one subject, distinct keys', () => {
  it('issued by the root, no key identifiers: found after at most one check per candidate', async () => {
    const pool = keys.map((k) => ca(k, rootP));
    const r = await validatePath({ target: leafUnder(keys[57]), intermediates: pool, trustAnchors: [root], time: T });
    expect(r).toMatchObject({ valid: true });
    expect(r.work!.signatureChecks).toBeLessThanOrEqual(100 + 1);
  });

  it('with key identifiers: the AKI picks the issuer before any signature is checked', async () => {
    const pool = keys.map((k) => ca(k, rootP, true));
    const r = await validatePath({ target: leafUnder(keys[57], true), intermediates: pool, trustAnchors: [root], time: T });
    expect(r).toMatchObject({ valid: true });
    expect(r.work!.signatureChecks).toBe(2);
  });

  // each CA certified by the next one's key, under the one shared name: every branch verifies
  const ring = keys.map((k, i) => ca(k, { name: SAME, key: keys[(i + 1) % keys.length] }));

  it('certifying each other, no anchor of that name: no path, and not one signature checked', async () => {
    const r = await validatePath({ target: leafUnder(keys[57]), intermediates: ring, trustAnchors: [root], time: T });
    expect(r).toMatchObject({ valid: false, reason: 'no_path' });
    expect(r.work!.signatureChecks).toBe(0);
  });

  const sameNameRoot = issueCert({ subject: SAME, key: rootKey, ...CA, keyUsage: [...CA.keyUsage] });

  it('certifying each other under an anchor of the same name: a definite answer, found from the anchor side', async () => {
    const r = await validatePath({ target: leafUnder(keys[57]), intermediates: ring, trustAnchors: [sameNameRoot], time: T });
    // the search from the leaf spends its budget in the ring; the second pass, from the anchor, finds that the
    // anchor's key certified none of the ring, so the only issuer left is the anchor itself, whose key did not
    // sign the leaf
    expect(r).toMatchObject({ valid: false, reason: 'bad_signature', index: 0 });
    expect(r.work!.signatureChecks).toBeLessThanOrEqual(2 * limits.MAX_SIGNATURE_CHECKS);
    expect(r.work!.candidates).toBeLessThanOrEqual(2 * limits.MAX_CANDIDATES);
    // OpenSSL refuses too (it follows one issuer by name and finds a bad signature)
    if (hasOpenssl) expect(opensslVerify({ target: leafUnder(keys[57]), intermediates: ring, anchors: [sameNameRoot], time: T }).ok).toBe(false);
  });

  it('when the anchor side cannot finish within its own budget either: indeterminate', async () => {
    // a ring of 60 and, beside it, 40 more CAs of the same name that the anchor did certify: from the anchor
    // side, each of their keys must be tried on every ring certificate, far more than one budget
    const ring60 = keys.slice(0, 60).map((k, i) => ca(k, { name: SAME, key: keys[(i + 1) % 60] }));
    const extra = Array.from({ length: 40 }, () => ca(newKey(), { name: SAME, key: rootKey }));
    const r = await validatePath({ target: leafUnder(keys[57]), intermediates: [...ring60, ...extra], trustAnchors: [sameNameRoot], time: T });
    expect(r).toMatchObject({ valid: false, reason: 'budget_exceeded' });
    if (!r.valid) expect(r.message).toMatch(/^không xác định được: .* \/ indeterminate: /);
    expect(r.work!.signatureChecks).toBe(2 * limits.MAX_SIGNATURE_CHECKS);
  });

  it('the ring beside a real path: the path is found within the budget', async () => {
    const realKey = newKey();
    const real = issueCert({ subject: SAME, key: realKey, issuer: { name: SAME, key: rootKey }, ...CA, keyUsage: [...CA.keyUsage], aki: false, ski: false });
    const r = await validatePath({ target: leafUnder(realKey), intermediates: [...ring.slice(1), real], trustAnchors: [sameNameRoot], time: T });
    expect(r).toMatchObject({ valid: true });
    if (r.valid) expect(r.path.length).toBe(3);
    expect(r.work!.signatureChecks).toBeLessThanOrEqual(ring.length + 3);
  });
});

describe('the caller’s maximum depth', () => {
  const aKey = newKey();
  const bKey = newKey();
  const a = issueCert({ subject: 'CN=A', key: aKey, issuer: rootP, ...CA, keyUsage: [...CA.keyUsage] });
  const b = issueCert({ subject: 'CN=B', key: bKey, issuer: { name: 'CN=A', key: aKey }, ...CA, keyUsage: [...CA.keyUsage] });
  const leaf = issueCert({ subject: 'CN=deep', key: leafKey, issuer: { name: 'CN=B', key: bKey }, keyUsage: ['digitalSignature'], ...span });
  const input = { target: leaf, intermediates: [a, b], trustAnchors: [root], time: T };

  it('counts intermediates as openssl verify -verify_depth does', async () => {
    const short = await validatePath({ ...input, maxDepth: 1 });
    expect(short).toMatchObject({ valid: false, reason: 'depth_exceeded' });
    if (!short.valid) expect(short.message).toMatch(/giới hạn 1 chứng thư trung gian \/ .*within 1 intermediate/);
    expect(await validatePath({ ...input, maxDepth: 2 })).toMatchObject({ valid: true });
    expect(await validatePath(input)).toMatchObject({ valid: true });
    if (!hasOpenssl) return;
    const o = { target: leaf, intermediates: [a, b], anchors: [root], time: T };
    expect(opensslVerify({ ...o, args: ['-verify_depth', '1'] }).ok).toBe(false);
    expect(opensslVerify({ ...o, args: ['-verify_depth', '2'] }).ok).toBe(true);
  });

  it('0 allows only certificates the anchor issued', async () => {
    const direct = issueCert({ subject: 'CN=direct', key: leafKey, issuer: rootP, keyUsage: ['digitalSignature'], ...span });
    expect(await validatePath({ target: direct, trustAnchors: [root], time: T, maxDepth: 0 })).toMatchObject({ valid: true });
    expect(await validatePath({ ...input, maxDepth: 0 })).toMatchObject({ valid: false, reason: 'depth_exceeded' });
  });

  it('refuses depths and profiles it does not know, as the caller’s error', async () => {
    for (const maxDepth of [-1, 1.5, limits.MAX_PATH_DEPTH])
      await expect(validatePath({ ...input, maxDepth })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(validatePath({ ...input, profile: 'web' as never })).rejects.toMatchObject({ code: 'bad_request' });
  });
});
