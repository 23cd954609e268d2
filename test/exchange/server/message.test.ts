import { describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { BatchSigner, rootFromPath, treeProofs, verifyRoot } from '../../../src/exchange/server/batch-sign.js';
import { PassThrough } from 'node:stream';
import { FRAME_ABORT, FRAME_BODY, FRAME_HEADER, FRAME_MATERIAL, FRAME_SIGNATURE, frame, parseHeader, parseSignature, readFrames, readWhole, splitWhole } from '../../../src/exchange/server/message.js';
import { decodeMaterial, encodeMaterial } from '../../../src/exchange/server/material.js';
import { TrucError } from '../../../src/errors.js';

const digest = (i: number) => createHash('sha256').update(`message ${i}`).digest();

async function collect(chunks: Buffer[]) {
  const out: { type: number; payload: Buffer; open: boolean }[] = [];
  for await (const f of readFrames((async function* () { yield* chunks; })())) {
    // a body frame's bytes come out as they arrive, possibly in pieces: put them back together
    const last = out[out.length - 1];
    if (f.type === FRAME_BODY && last?.type === FRAME_BODY && last.open) last.payload = Buffer.concat([last.payload, f.payload]);
    else out.push({ type: f.type, payload: Buffer.from(f.payload), open: f.type === FRAME_BODY });
  }
  return out.map(({ type, payload }) => ({ type, payload }));
}

describe('hash tree of message digests', () => {
  it('every leaf of trees of 1 to 33 leaves proves the root, and no other leaf or position does', () => {
    for (let n = 1; n <= 33; n++) {
      const leaves = Array.from({ length: n }, (_, i) => digest(i));
      const { root, paths } = treeProofs(leaves);
      for (let i = 0; i < n; i++) {
        expect(rootFromPath(leaves[i]!, i, n, paths[i]!)?.equals(root)).toBe(true);
        if (n > 1) {
          expect(rootFromPath(digest(1000), i, n, paths[i]!)?.equals(root) ?? false).toBe(false);
          const j = (i + 1) % n;
          expect(rootFromPath(leaves[i]!, j, n, paths[i]!)?.equals(root) ?? false).toBe(false);
        }
      }
    }
  });

  it('a path of the wrong length is refused', () => {
    const leaves = Array.from({ length: 5 }, (_, i) => digest(i));
    const { paths } = treeProofs(leaves);
    expect(rootFromPath(leaves[0]!, 0, 5, [...paths[0]!, paths[0]![0]!])).toBeNull();
    expect(rootFromPath(leaves[0]!, 0, 5, paths[0]!.slice(1))).toBeNull();
  });

  it('a slow signer signs many messages with few signatures, each verifiable alone', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    let calls = 0;
    const signer = new BatchSigner(async (data) => {
      calls++;
      await new Promise((r) => setTimeout(r, 20)); // an HSM taking 20 ms a signature
      return sign('sha256', data, { key: privateKey, dsaEncoding: 'der' });
    }, 'ecdsa-sha256');
    const n = 300;
    const sigs = await Promise.all(Array.from({ length: n }, (_, i) => signer.signDigest(digest(i))));
    expect(calls).toBeLessThan(n / 10);
    for (let i = 0; i < n; i++) {
      const s = sigs[i]!;
      const root = rootFromPath(digest(i), s.index, s.count, s.path)!;
      expect(verifyRoot(publicKey, 'ecdsa-sha256', root, s.value)).toBe(true);
    }
    // a signature does not verify for another scheme or a changed root
    const s0 = sigs[0]!;
    const r0 = rootFromPath(digest(0), s0.index, s0.count, s0.path)!;
    expect(verifyRoot(publicKey, 'ecdsa-sha384', r0, s0.value)).toBe(false);
    expect(verifyRoot(publicKey, 'no-such-scheme', r0, s0.value)).toBe(false);
    expect(verifyRoot(publicKey, 'ecdsa-sha256', digest(99), s0.value)).toBe(false);
  });

  it('a signer failure fails every message of its batch, and the next batch works', async () => {
    let fail = true;
    const signer = new BatchSigner(() => {
      if (fail) throw new Error('token removed');
      return Buffer.from('sig');
    }, 'ecdsa-sha256');
    await expect(signer.signDigest(digest(1))).rejects.toThrow('token removed');
    fail = false;
    await expect(signer.signDigest(digest(2))).resolves.toMatchObject({ count: 1 });
  });
});

describe('frames', () => {
  const h = Buffer.from(JSON.stringify({ v: 1 }));
  it('reads frames split at any byte', async () => {
    const wire = Buffer.concat([frame(FRAME_HEADER, h), frame(FRAME_BODY, Buffer.from('abc')), frame(FRAME_SIGNATURE, Buffer.from('{}'))]);
    for (let cut = 1; cut < wire.length; cut++) {
      const got = await collect([wire.subarray(0, cut), wire.subarray(cut)]);
      expect(got.map((f) => f.type)).toEqual([FRAME_HEADER, FRAME_BODY, FRAME_SIGNATURE]);
      expect(got[1]!.payload.toString()).toBe('abc');
    }
  });
  it('refuses a truncated stream, an unknown frame type and an oversized header', async () => {
    const wire = frame(FRAME_HEADER, h);
    await expect(collect([wire.subarray(0, wire.length - 1)])).rejects.toMatchObject({ code: 'bad_message' });
    await expect(collect([Buffer.from([0x41, 0, 0, 0, 1, 0])])).rejects.toMatchObject({ code: 'bad_message' });
    const big = Buffer.alloc(5);
    big[0] = FRAME_HEADER;
    big.writeUInt32BE(10 * 1024 * 1024, 1);
    await expect(collect([big])).rejects.toMatchObject({ code: 'bad_message' });
  });
  it('splits a small message held whole, with the same refusals as the stream reader', () => {
    const body = [Buffer.from('ab'), Buffer.from('c')];
    const sig = Buffer.from('{}');
    const m = splitWhole(Buffer.concat([frame(FRAME_HEADER, h), ...body.map((b) => frame(FRAME_BODY, b)), frame(FRAME_SIGNATURE, sig)]));
    expect(m.header.equals(h)).toBe(true);
    expect(m.body.toString()).toBe('abc');
    expect(m.signature.equals(sig)).toBe(true);
    expect(splitWhole(Buffer.concat([frame(FRAME_HEADER, h), frame(FRAME_SIGNATURE, sig)])).body.length).toBe(0);
    const refusals: [Buffer[], string, RegExp][] = [
      [[frame(FRAME_BODY, h)], 'bad_message', /does not start with its header/],
      [[], 'bad_message', /does not start with its header/],
      [[frame(FRAME_HEADER, h), frame(FRAME_BODY, h)], 'bad_message', /without its signature/],
      [[frame(FRAME_HEADER, h), frame(FRAME_SIGNATURE, sig), frame(FRAME_BODY, h)], 'bad_message', /after the signature/],
      [[frame(FRAME_HEADER, h), frame(FRAME_HEADER, h)], 'bad_message', /header or material frame after the header/],
      [[frame(FRAME_HEADER, h), frame(FRAME_ABORT, Buffer.from('service_failed'))], 'peer_failed', /aborted the message: service_failed/],
      [[frame(FRAME_HEADER, h).subarray(0, 7)], 'bad_message', /truncated/],
      [[frame(FRAME_HEADER, h), Buffer.from([FRAME_BODY, 0])], 'bad_message', /truncated/],
      [[Buffer.from([0x41, 0, 0, 0, 1, 0])], 'bad_message', /unknown frame type/],
    ];
    for (const [parts, code, why] of refusals) {
      let err: unknown;
      try {
        splitWhole(Buffer.concat(parts));
      } catch (e) {
        err = e;
      }
      expect(err, why.source).toBeInstanceOf(TrucError);
      expect((err as TrucError).code).toBe(code);
      expect((err as TrucError).message).toMatch(why);
    }
  });
  it('reads a body of declared length whole, and fails on more, less or a broken stream', async () => {
    const fail = (why: string) => new TrucError('bad_request', why);
    const ok = new PassThrough();
    const got = readWhole(ok, 5, fail);
    ok.write('ab');
    ok.end('cde');
    expect((await got).toString()).toBe('abcde');
    const long = new PassThrough();
    const tooLong = readWhole(long, 2, fail);
    long.end('abc');
    await expect(tooLong).rejects.toMatchObject({ code: 'bad_request', message: /more than the 2 bytes/ });
    const short = new PassThrough();
    const tooShort = readWhole(short, 4, fail);
    short.end('ab');
    await expect(tooShort).rejects.toMatchObject({ code: 'bad_request', message: /after 2 of its 4 bytes/ });
    const broken = new PassThrough();
    const failed = readWhole(broken, 4, fail);
    broken.write('ab');
    broken.destroy(new Error('ECONNRESET'));
    await expect(failed).rejects.toMatchObject({ code: 'bad_request', message: /ECONNRESET/ });
  });
  it('refuses malformed headers and signature blocks', () => {
    for (const bad of ['not json', '{}', '{"v":1,"kind":"request"}', JSON.stringify({ v: 1, kind: 'request', id: 'x', time: 'never', client: 'c', service: 's', sender: 's', signCert: '', signOcsp: '', authOcsp: '', headers: {}, method: 'GET', path: '/' })])
      expect(() => parseHeader(Buffer.from(bad))).toThrow();
    for (const bad of ['[]', '{"scheme":"x"}', JSON.stringify({ scheme: 'ecdsa-sha256', bodyHash: 'zz', bodyLength: 1, index: 0, count: 1, path: [], value: '' }), JSON.stringify({ scheme: 'ecdsa-sha256', bodyHash: '0'.repeat(64), bodyLength: 1, index: 2, count: 1, path: [], value: '' })])
      expect(() => parseSignature(Buffer.from(bad))).toThrow();
  });

  it("reads a response's Set-Cookie lines as a list of strings, and refuses them in any other shape", () => {
    const response = { v: 2, kind: 'response', id: 'x', time: new Date().toISOString(), client: 'c', service: 's', sender: 's', signCertHash: 'a'.repeat(64), signOcspHash: '', authOcspHash: '', headers: {}, status: 200, requestHash: 'ab' };
    expect(parseHeader(Buffer.from(JSON.stringify({ ...response, setCookie: ['a=1', 'b=2; Expires=Wed, 09 Jun 2027 10:18:14 GMT'] }))).setCookie).toHaveLength(2);
    for (const bad of ['a=1', [1], { a: '1' }])
      expect(() => parseHeader(Buffer.from(JSON.stringify({ ...response, setCookie: bad })))).toThrow(/setCookie/);
    expect(() => parseHeader(Buffer.from(JSON.stringify({ ...response, kind: 'request', method: 'GET', path: '/', status: undefined, setCookie: ['a=1'] })))).toThrow(/setCookie/);
  });
});

describe('material frame (protocol v2)', () => {
  const h = Buffer.from(JSON.stringify({ v: 2 }));
  const sig = Buffer.from('{}');
  it('comes before the header, in the stream and held whole, and its items read back', async () => {
    const items = [Buffer.from('certificate DER'), Buffer.from('OCSP DER, a little longer')];
    const wire = Buffer.concat([frame(FRAME_MATERIAL, encodeMaterial(items)), frame(FRAME_HEADER, h), frame(FRAME_BODY, Buffer.from('abc')), frame(FRAME_SIGNATURE, sig)]);
    const m = splitWhole(wire);
    expect(decodeMaterial(m.material!)).toEqual(items);
    expect(m.header.equals(h)).toBe(true);
    const got = await collect([wire.subarray(0, 9), wire.subarray(9)]);
    expect(got.map((f) => f.type)).toEqual([FRAME_MATERIAL, FRAME_HEADER, FRAME_BODY, FRAME_SIGNATURE]);
    expect(splitWhole(Buffer.concat([frame(FRAME_HEADER, h), frame(FRAME_SIGNATURE, sig)])).material).toBeNull();
    // after the header, or twice: refused
    expect(() => splitWhole(Buffer.concat([frame(FRAME_HEADER, h), frame(FRAME_MATERIAL, encodeMaterial(items)), frame(FRAME_SIGNATURE, sig)]))).toThrow(/material frame after the header/);
    expect(() => splitWhole(Buffer.concat([frame(FRAME_MATERIAL, encodeMaterial(items)), frame(FRAME_MATERIAL, encodeMaterial(items)), frame(FRAME_HEADER, h)]))).toThrow(/does not start with its header/);
  });
  it('refuses items of bad length, too many items and an oversized frame', () => {
    expect(() => decodeMaterial(Buffer.from([0, 0, 0]))).toThrow(/truncated/);
    expect(() => decodeMaterial(Buffer.from([0, 0, 0, 0]))).toThrow(/bad length/);
    expect(() => decodeMaterial(Buffer.from([0, 0, 0, 9, 1, 2]))).toThrow(/bad length/);
    expect(() => decodeMaterial(encodeMaterial(Array.from({ length: 9 }, () => Buffer.from('x'))))).toThrow(/at most 8/);
    const big = Buffer.alloc(5);
    big[0] = FRAME_MATERIAL;
    big.writeUInt32BE(1024 * 1024, 1);
    expect(() => splitWhole(big)).toThrow(/exceeds/);
  });
  it('a v2 header names its items by SHA-256 hex; v1 headers with the items inline are still read', () => {
    const base = { kind: 'request', id: 'x', time: new Date().toISOString(), client: 'c', service: 's', sender: 's', headers: {}, method: 'GET', path: '/' };
    const hex = 'ab'.repeat(32);
    expect(parseHeader(Buffer.from(JSON.stringify({ ...base, v: 2, signCertHash: hex, signOcspHash: hex, authOcspHash: '' }))).v).toBe(2);
    expect(parseHeader(Buffer.from(JSON.stringify({ ...base, v: 1, signCert: 'AA==', signOcsp: 'AA==', authOcsp: '' }))).v).toBe(1);
    for (const bad of [
      { ...base, v: 2, signCertHash: '', signOcspHash: hex, authOcspHash: hex },
      { ...base, v: 2, signCertHash: 'AB'.repeat(32), signOcspHash: hex, authOcspHash: hex },
      { ...base, v: 2, signCertHash: hex, signOcspHash: hex },
      { ...base, v: 2, signCert: 'AA==', signOcsp: 'AA==', authOcsp: 'AA==' },
      { ...base, v: 1, signCertHash: hex, signOcspHash: hex, authOcspHash: hex },
      { ...base, v: 3, signCertHash: hex, signOcspHash: hex, authOcspHash: hex },
    ])
      expect(() => parseHeader(Buffer.from(JSON.stringify(bad))), JSON.stringify(bad)).toThrow(TrucError);
  });
});
