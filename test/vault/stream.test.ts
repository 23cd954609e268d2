import { describe, expect, it } from 'vitest';
import { createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decryptStream, encryptStream, openBuffer, sealBuffer, STREAM_HEADER_LENGTH, DEFAULT_SEGMENT_LOG } from '../../src/vault/envelope/stream.js';

const key = randomBytes(32);
const ad = Buffer.from('object-1\0' + '1');
const SEG = 4096; // segmentLog 12 in these tests
const FULL = SEG + 16;

function segments(sealed: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = STREAM_HEADER_LENGTH; at < sealed.length; at += FULL) out.push(sealed.subarray(at, Math.min(at + FULL, sealed.length)));
  return out;
}

describe('streaming AEAD (STREAM over AES-256-GCM)', () => {
  it('round-trips sizes around segment boundaries, including empty; objects sealed with 64 KiB segments (the former default) still open', async () => {
    const old = randomBytes(200_000);
    expect((await openBuffer(key, ad, await sealBuffer(key, ad, old, { segmentLog: 16 }))).equals(old)).toBe(true);
    for (const n of [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG, 3 * SEG + 7]) {
      const pt = randomBytes(n);
      const ct = await sealBuffer(key, ad, pt, { segmentLog: 12 });
      expect(ct.length).toBe(STREAM_HEADER_LENGTH + n + 16 * Math.max(1, Math.ceil(n / SEG)));
      expect((await openBuffer(key, ad, ct)).equals(pt)).toBe(true);
    }
  });

  it('streams a large object in odd-sized chunks without holding it whole', async () => {
    const total = 5 * 1024 * 1024 + 3;
    let produced = 0;
    const src = new Readable({
      read() {
        if (produced >= total) return this.push(null);
        const n = Math.min(total - produced, 1000 + (produced % 7919));
        const b = Buffer.alloc(n, produced & 0xff);
        produced += n;
        this.push(b);
      },
    });
    const chunks: Buffer[] = [];
    await pipeline(src, encryptStream(key, ad), new Writable({ write(c, _e, cb) { chunks.push(c); cb(); } }));
    const sealed = Buffer.concat(chunks);
    let got = 0;
    let maxChunk = 0;
    await pipeline(Readable.from([sealed.subarray(0, 10), sealed.subarray(10, 70000), sealed.subarray(70000)]), decryptStream(key, ad), new Writable({ write(c: Buffer, _e, cb) { got += c.length; maxChunk = Math.max(maxChunk, c.length); cb(); } }));
    expect(got).toBe(total);
    // plaintext comes out a segment (of the default size, from the header) at a time, never as one buffer
    expect(sealed[4]).toBe(DEFAULT_SEGMENT_LOG);
    expect(maxChunk).toBeLessThanOrEqual(2 ** DEFAULT_SEGMENT_LOG);
  });

  it('detects truncation at a segment boundary, dropped, reordered and duplicated segments, and tampering', async () => {
    const pt = randomBytes(3 * SEG + 100);
    const ct = await sealBuffer(key, ad, pt, { segmentLog: 12 });
    const header = ct.subarray(0, STREAM_HEADER_LENGTH);
    const s = segments(ct);
    expect(s.length).toBe(4);
    const bad: Record<string, Buffer> = {
      'cut at boundary': Buffer.concat([header, s[0], s[1], s[2]]),
      'cut mid-segment': ct.subarray(0, ct.length - 50),
      'last dropped': Buffer.concat([header, s[0], s[1], s[3]]),
      reordered: Buffer.concat([header, s[1], s[0], s[2], s[3]]),
      duplicated: Buffer.concat([header, s[0], s[0], s[1], s[2], s[3]]),
      'extra bytes': Buffer.concat([ct, Buffer.from([0])]),
      'header only': header,
      empty: Buffer.alloc(0),
    };
    const flipped = Buffer.from(ct);
    flipped[STREAM_HEADER_LENGTH + SEG + 20] ^= 1;
    bad['bit flipped'] = flipped;
    const hdr = Buffer.from(ct);
    hdr[10] ^= 1;
    bad['salt changed'] = hdr;
    for (const [name, c] of Object.entries(bad)) {
      const err = await openBuffer(key, ad, c).then(() => null, (e) => e);
      expect(err, name).not.toBeNull();
      expect(err.code, name).toBe('decrypt_failed');
    }
  });

  it('writes the TRV1 layout: an independent per-segment reading opens it', async () => {
    const pt = randomBytes(3 * SEG + 100);
    const chunks: Buffer[] = [];
    const e = encryptStream(key, ad, { segmentLog: 12 });
    await pipeline(Readable.from([pt.subarray(0, 5000), pt.subarray(5000)]), e, new Writable({ write(c, _e, cb) { chunks.push(c); cb(); } }));
    // HKDF-SHA256 segment key, nonce = prefix · counter · last flag, header as associated data; full
    // segments of 2^12 + 16 bytes, the last 100 + 16
    const sealed = Buffer.concat(chunks);
    expect(sealed.length).toBe(STREAM_HEADER_LENGTH + 3 * FULL + 116);
    const header = sealed.subarray(0, STREAM_HEADER_LENGTH);
    expect(header.subarray(0, 4).toString()).toBe('TRV1');
    expect(header[4]).toBe(12);
    const k = Buffer.from(hkdfSync('sha256', key, header.subarray(5, 21), Buffer.concat([Buffer.from('truc-vault-stream-v1\0'), ad]), 32));
    const segs = segments(sealed);
    const opened = segs.map((seg, i) => {
      const nonce = Buffer.alloc(12);
      header.copy(nonce, 0, 21, 28);
      nonce.writeUInt32BE(i, 7);
      nonce[11] = i === segs.length - 1 ? 1 : 0;
      const d = createDecipheriv('aes-256-gcm', k, nonce);
      d.setAAD(header);
      d.setAuthTag(seg.subarray(seg.length - 16));
      return Buffer.concat([d.update(seg.subarray(0, seg.length - 16)), d.final()]);
    });
    expect(Buffer.concat(opened).equals(pt)).toBe(true);
  });

  it('binds the associated data and the key', async () => {
    const ct = await sealBuffer(key, ad, Buffer.from('bí mật'));
    await expect(openBuffer(key, Buffer.from('object-1\0' + '2'), ct)).rejects.toMatchObject({ code: 'decrypt_failed' });
    await expect(openBuffer(randomBytes(32), ad, ct)).rejects.toMatchObject({ code: 'decrypt_failed' });
  });

  it('never releases the plaintext of a segment whose tag failed', async () => {
    const pt = Buffer.alloc(SEG * 2, 0x41);
    const ct = await sealBuffer(key, ad, pt, { segmentLog: 12 });
    ct[STREAM_HEADER_LENGTH + 5] ^= 0xff; // first segment
    const d = decryptStream(key, ad);
    const out: Buffer[] = [];
    d.on('data', (b) => out.push(b));
    const err = await new Promise((r) => { d.on('error', r); d.end(ct); });
    expect(err).toMatchObject({ code: 'decrypt_failed' });
    expect(Buffer.concat(out).length).toBe(0);
  });
});
