/**
 * The message log's append rate: 1 KB records (request-sized, with header and signature) from many
 * concurrent callers, each awaiting durability, with the database index (PGlite) on; beside it, its peer
 * — the same bytes written and fdatasync'ed one record at a time (what a log without group commit costs).
 * Then the log's own share of time-stamping one batch: reading back 10,000 chain hashes and building their
 * hash tree (the TSA's round trip comes on top).
 *
 * Environment: BENCH_LOG_SECONDS (per run, default 5), BENCH_LOG_CONCURRENCY (default 256).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../src/store/index.js';
import { MessageLog, merkleRoot } from '../src/exchange/log/index.js';
import type { LogRecordInput } from '../src/exchange/log/types.js';

export const title = 'Message log';

const SECONDS = Number(process.env.BENCH_LOG_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_LOG_CONCURRENCY ?? 256);

function rec(i: number, body: Buffer): LogRecordInput {
  return {
    messageId: `bench-${i}`,
    kind: 'request',
    side: 'consumer',
    client: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu',
    service: 'SERVICE:VN/GOV/000.00.00.G09/noivu/getDocument',
    time: new Date(),
    header: Buffer.alloc(300, 'h'),
    signature: Buffer.alloc(400, 's'),
    bodyHash: createHash('sha256').update(body).digest(),
    bodyLength: body.length,
    body,
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const root = mkdtempSync(join(tmpdir(), 'truc-bench-log-'));
  const body = randomBytes(1024);
  const db = await openDb({ url: 'memory://' });
  const log = await MessageLog.open({ db, dir: join(root, 'log') });
  let n = 0;
  const lat: number[] = [];
  const end = Date.now() + SECONDS * 1000;
  const worker = async () => {
    while (Date.now() < end) {
      const t0 = performance.now();
      await log.append(rec(n++, body));
      lat.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const secs = (performance.now() - t0) / 1000;
  await log.flushIndex();
  lat.sort((a, b) => a - b);
  const appendsPerSec = Math.round(n / secs);

  // peer: one write + fdatasync per record
  const fh = await open(join(root, 'peer.bin'), 'w');
  const frame = Buffer.alloc(1024 + 700 + 200);
  let m = 0;
  let pos = 0;
  const end2 = Date.now() + Math.min(SECONDS, 3) * 1000;
  const t1 = performance.now();
  while (Date.now() < end2) {
    await fh.write(frame, 0, frame.length, pos);
    pos += frame.length;
    await fh.datasync();
    m++;
  }
  const peerPerSec = Math.round(m / ((performance.now() - t1) / 1000));
  await fh.close();

  // one batch of 10,000 records through the hash tree
  const t2 = performance.now();
  const hashes = await log.readChain(Math.max(1, log.last.seq - 9999), log.last.seq);
  merkleRoot(hashes.hashes);
  const treeMs = performance.now() - t2;
  await log.close();
  await db.close();
  rmSync(root, { recursive: true, force: true });
  return {
    concurrency: CONCURRENCY,
    appendsPerSec,
    p50Ms: Number(lat[Math.floor(lat.length * 0.5)]!.toFixed(2)),
    p99Ms: Number(lat[Math.floor(lat.length * 0.99)]!.toFixed(2)),
    peerFsyncPerRecordPerSec: peerPerSec,
    tree10kMs: Number(treeMs.toFixed(1)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
