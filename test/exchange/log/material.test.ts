/**
 * Certificates and OCSP responses named by records (message protocol v2) are written once per segment,
 * before the first record that names them; the verifier and the evidence find them there.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { MessageLog, verifyLog, scanSegment, listSegments } from '../../../src/exchange/log/index.js';
import { FrameReader } from '../../../src/exchange/log/frames.js';
import { T_MATERIAL } from '../../../src/exchange/log/format.js';
import { segPath } from '../../../src/exchange/log/reader.js';
import { record, logDir } from './fixtures.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function frames(path: string): Promise<{ type: number; payload: Buffer; offset: number; length: number }[]> {
  const fr = await FrameReader.open(path);
  const out = [];
  try {
    for (let f = await fr.next(); f; f = await fr.next()) out.push({ type: f.type, payload: Buffer.from(f.payload), offset: f.offset, length: f.length });
  } finally {
    await fr.close();
  }
  return out;
}

describe('material named by records', () => {
  it('is written once per segment before the first record naming it, found by the verifier and put in the evidence', async () => {
    const dir = logDir();
    const cert = randomBytes(900);
    const ocspA = randomBytes(1500);
    const ocspB = randomBytes(1400);
    const log = await MessageLog.open({ dir, segmentBytes: 4 * 1024 });
    // concurrent appends share group commits; the same objects every time, as a server's own are
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(record(i, undefined, { material: [cert, ocspA] }))));
    // an OCSP refresh: a new item, the old certificate
    for (let i = 20; i < 40; i++) await log.append(record(i, undefined, { material: [cert, ocspB] }));
    // records of a v1 peer name nothing
    await log.append(record(40));
    await expect(log.append(record(41, undefined, { material: [Buffer.alloc(0)] }))).rejects.toThrow(/material item/);
    await expect(log.append(record(41, undefined, { material: Array.from({ length: 9 }, () => cert) }))).rejects.toThrow(/material/);
    await log.close();

    const segs = await listSegments(join(dir, 'segments'));
    expect(segs.length).toBeGreaterThan(2);
    let records = 0;
    for (const no of segs) {
      const fs = await frames(segPath(dir, no));
      const seen = new Set<string>();
      const scan = await scanSegment(segPath(dir, no));
      const named = new Set<string>();
      for await (const r of scan.records) {
        records++;
        for (const h of r.meta.material ?? []) named.add(h.toString('hex'));
      }
      await scan.close();
      for (const f of fs) {
        if (f.type === T_MATERIAL) {
          // once per segment, and only what its records name
          expect(seen.has(sha(f.payload))).toBe(false);
          seen.add(sha(f.payload));
        }
      }
      expect([...seen].sort()).toEqual([...named].sort());
      // before the first record naming it
      const firstUse = new Map<string, number>();
      const s2 = await scanSegment(segPath(dir, no));
      for await (const r of s2.records) for (const h of r.meta.material ?? []) if (!firstUse.has(h.toString('hex'))) firstUse.set(h.toString('hex'), r.frame.offset);
      await s2.close();
      for (const f of fs) if (f.type === T_MATERIAL) expect(f.offset).toBeLessThan(firstUse.get(sha(f.payload))!);
    }
    expect(records).toBe(41);

    const v = await verifyLog({ dir, trustedTsaCerts: [] });
    expect(v.problem).toBeUndefined();
    expect(v.records).toBe(41);

    // evidence: the items the record names, by hash
    const log2 = await MessageLog.open({ dir, segmentBytes: 4 * 1024 });
    const out = join(mkdtempSync(join(tmpdir(), 'truc-evidence-')), 'e.asice');
    await pipeline(await log2.evidence('msg-25'), createWriteStream(out));
    const listing = execFileSync('unzip', ['-l', out]).toString();
    expect(listing).toContain(`material/${sha(cert)}.der`);
    expect(listing).toContain(`material/${sha(ocspB)}.der`);
    expect(listing).not.toContain(`material/${sha(ocspA)}.der`);
    expect(execFileSync('unzip', ['-p', out, `records/26-response/material/${sha(ocspB)}.der`]).equals(ocspB)).toBe(true);
    // after a reopen the current segment may hold an item again; the log still verifies
    await log2.append(record(41, undefined, { material: [cert, ocspB] }));
    await log2.close();
    expect((await verifyLog({ dir, trustedTsaCerts: [] })).problem).toBeUndefined();
  });

  it('a material frame altered or cut out of a segment breaks verification', async () => {
    const build = async () => {
      const dir = logDir();
      const log = await MessageLog.open({ dir });
      const cert = randomBytes(700);
      for (let i = 0; i < 5; i++) await log.append(record(i, undefined, { material: [cert] }));
      await log.close();
      return { dir, path: segPath(dir, 1) };
    };
    // altered: its frame hash no longer matches
    const a = await build();
    const fa = (await frames(a.path)).find((f) => f.type === T_MATERIAL)!;
    const bytes = readFileSync(a.path);
    bytes[fa.offset + 5 + 10] ^= 1;
    writeFileSync(a.path, bytes);
    const va = await verifyLog({ dir: a.dir, trustedTsaCerts: [] });
    expect(va.ok).toBe(false);
    expect(va.problem?.why).toMatch(/material/);
    // cut out: the records still chain, but name an item their segment does not hold
    const b = await build();
    const fb = (await frames(b.path)).find((f) => f.type === T_MATERIAL)!;
    const whole = readFileSync(b.path);
    writeFileSync(b.path, Buffer.concat([whole.subarray(0, fb.offset), whole.subarray(fb.offset + fb.length)]));
    const vb = await verifyLog({ dir: b.dir, trustedTsaCerts: [] });
    expect(vb.ok).toBe(false);
    expect(vb.problem?.why).toMatch(/names material .* that its segment does not hold/);
  });
});
