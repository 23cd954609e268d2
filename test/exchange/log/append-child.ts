// A child process for the crash test: appends records in a loop (small ones and, every 50th, a spooled
// body), printing each acknowledged seq on its own line, until it is killed with SIGKILL.
import { createHash } from 'node:crypto';
import { MessageLog } from '../../../src/exchange/log/index.js';
import { record } from './fixtures.js';

const dir = process.argv[2]!;
const log = await MessageLog.open({ dir, segmentBytes: 64 * 1024 });
let i = log.last.seq;
for (;;) {
  const batch = [];
  for (let k = 0; k < 20; k++) {
    i++;
    if (i % 50 === 0) {
      const sp = log.spool();
      const body = Buffer.alloc(200_000, i % 256);
      await sp.write(body);
      const b = await sp.finish();
      batch.push(log.append(record(i, undefined, { body: b, bodyHash: createHash('sha256').update(body).digest(), bodyLength: body.length })));
    } else batch.push(log.append(record(i)));
  }
  for (const p of batch) {
    const r = await p;
    process.stdout.write(`${r.seq}\n`);
  }
}
