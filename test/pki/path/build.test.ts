import { describe, it, expect } from 'vitest';
import { validatePath, limits } from '../../../src/pki/path/index.js';
import { issueCert, newKey, type Party } from './fixtures.js';
import { T, hierarchy, leafSpec } from './scenarios.js';

const YEAR = 365 * 86_400_000;
const span = { notBefore: new Date(T.getTime() - YEAR), notAfter: new Date(T.getTime() + YEAR) };

describe('path building', () => {
  it('answers with the path from the target to the anchor, anchor included', async () => {
    const h = hierarchy();
    const r = await validatePath({
      target: h.leaf,
      intermediates: [h.int, h.root],
      trustAnchors: [h.root],
      time: T,
    });
    expect(r.valid).toBe(true);
    if (r.valid)
      expect(r.path.map((d) => d.toString('hex'))).toEqual(
        [h.leaf, h.int, h.root].map((d) => d.toString('hex')),
      );
  });

  it('accepts a trust anchor given as a name and a key', async () => {
    const h = hierarchy();
    const { dn } = await import('./fixtures.js');
    const r = await validatePath({
      target: h.leaf,
      intermediates: [h.int],
      trustAnchors: [{ name: dn('C=VN, O=Truc, CN=Truc Root CA'), spki: h.rootKey.spki }],
      time: T,
    });
    expect(r).toMatchObject({ valid: true });
    if (r.valid) expect(r.path.length).toBe(2);
  });

  it('matches names case-insensitively and with folded whitespace, across string types', async () => {
    const h = hierarchy();
    // the leaf names its issuer in other case, spacing and string type (PrintableString for O)
    const leaf = issueCert(
      leafSpec({ name: 'C=VN, O=TRUC, CN=truc   issuing ca ', key: h.intKey }, newKey()),
    );
    const r = await validatePath({ target: leaf, intermediates: [h.int], trustAnchors: [h.root], time: T });
    expect(r).toMatchObject({ valid: true });
  });

  it('stops on loops between CAs that certify each other', async () => {
    const a = newKey();
    const b = newKey();
    const A: Party = { name: 'CN=A', key: a };
    const B: Party = { name: 'CN=B', key: b };
    const ab = issueCert({ subject: 'CN=A', key: a, issuer: B, ca: true, ...span });
    const ba = issueCert({ subject: 'CN=B', key: b, issuer: A, ca: true, ...span });
    const leaf = issueCert({ subject: 'CN=leaf', key: newKey(), issuer: A, ...span });
    const root = hierarchy().root;
    const r = await validatePath({ target: leaf, intermediates: [ab, ba], trustAnchors: [root], time: T });
    expect(r).toMatchObject({ valid: false, reason: 'no_path' });
  });

  it('does not follow paths deeper than the limit', async () => {
    const h = hierarchy();
    let issuer: Party = { name: 'C=VN, O=Truc, CN=Truc Root CA', key: h.rootKey };
    const chain: Buffer[] = [];
    for (let i = 0; i < limits.MAX_PATH_DEPTH + 1; i++) {
      const k = newKey();
      chain.push(issueCert({ subject: `CN=CA ${i}`, key: k, issuer, ca: true, ...span }));
      issuer = { name: `CN=CA ${i}`, key: k };
    }
    const leaf = issueCert({ subject: 'CN=deep leaf', key: newKey(), issuer, ...span });
    const r = await validatePath({ target: leaf, intermediates: chain, trustAnchors: [h.root], time: T });
    expect(r).toMatchObject({ valid: false, reason: 'depth_exceeded' });
    if (!r.valid) expect(r.message).toMatch(/depth/);
    const shorter = await validatePath({
      target: chain[limits.MAX_PATH_DEPTH - 2],
      intermediates: chain,
      trustAnchors: [h.root],
      time: T,
    });
    expect(shorter).toMatchObject({ valid: true });
  });

  it('finds the right issuer among many same-name candidates, in bounded time', async () => {
    const h = hierarchy();
    // 60 CAs all named like the issuing CA, none with the right key and no AKI to tell them apart
    const decoys = Array.from({ length: 60 }, () =>
      issueCert({
        subject: 'C=VN, O=Truc, CN=Truc Issuing CA',
        key: newKey(),
        issuer: h.rootP,
        ca: true,
        ...span,
      }),
    );
    const leaf = issueCert(leafSpec(h.intP, newKey(), { aki: false }));
    const started = Date.now();
    const r = await validatePath({
      target: leaf,
      intermediates: [...decoys, h.int],
      trustAnchors: [h.root],
      time: T,
    });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r).toMatchObject({ valid: true });
    expect(r.work!.signatureChecks).toBeLessThanOrEqual(61 + 2);
    // with the right one absent: one signature check per candidate, and one broken path offered to say why
    const none = await validatePath({ target: leaf, intermediates: decoys, trustAnchors: [h.root], time: T });
    expect(none).toMatchObject({ valid: false, reason: 'bad_signature', index: 0, pathsTried: 1 });
    expect(none.work!.signatureChecks).toBeLessThanOrEqual(60 + 2);
  });

  it('reports the certificate at fault and the path tried', async () => {
    const h = hierarchy('ec', { ca: false });
    const r = await validatePath({ target: h.leaf, intermediates: [h.int], trustAnchors: [h.root], time: T });
    expect(r).toMatchObject({
      valid: false,
      reason: 'not_ca',
      index: 1,
      subject: 'C=VN, O=Truc, CN=Truc Issuing CA',
    });
    if (!r.valid) expect(r.path.length).toBe(3);
  });
});

describe('hostile input', () => {
  it('refuses more intermediates than the limit', async () => {
    const h = hierarchy();
    await expect(
      validatePath({
        target: h.leaf,
        intermediates: Array(limits.MAX_INTERMEDIATES + 1).fill(h.int),
        trustAnchors: [h.root],
      }),
    ).rejects.toMatchObject({ code: 'too_large' });
  });

  it('refuses a certificate over 1 MiB', async () => {
    const h = hierarchy();
    await expect(
      validatePath({ target: Buffer.alloc(limits.MAX_CERT_BYTES + 1), trustAnchors: [h.root] }),
    ).rejects.toMatchObject({ code: 'too_large' });
  });

  it('answers malformed for a target that is not a certificate, and ignores garbage in the pool', async () => {
    const h = hierarchy();
    const r = await validatePath({ target: Buffer.from('30030201', 'hex'), trustAnchors: [h.root] });
    expect(r).toMatchObject({ valid: false, reason: 'malformed' });
    const deep = Buffer.from('30'.repeat(1) + '80', 'hex');
    const ok = await validatePath({
      target: h.leaf,
      intermediates: [deep, Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), h.int],
      trustAnchors: [h.root],
      time: T,
    });
    expect(ok).toMatchObject({ valid: true });
  });

  it('refuses unknown purposes rather than ignoring them', async () => {
    const h = hierarchy();
    await expect(
      validatePath({
        target: h.leaf,
        intermediates: [h.int],
        trustAnchors: [h.root],
        time: T,
        purpose: { keyUsage: ['signEverything'] },
      }),
    ).rejects.toMatchObject({ code: 'bad_request' });
  });
});
