// Opens a database folder as a serving process does (its lock checked every 50 ms), says so, and keeps
// writing a row a tick until it is stopped (test/store/db.test.ts: the lock taken by another process).
import { openDb } from '../../src/store/index.js';

const [dir] = process.argv.slice(2) as [string];
const db = await openDb({ url: dir, serving: true, lockHeartbeatMs: 50 });
await db.exec('CREATE TABLE IF NOT EXISTS nhip (n integer)');
process.stdout.write('open\n');
for (let n = 0; ; n++) {
  await db.query('INSERT INTO nhip (n) VALUES ($1)', [n]);
  await new Promise((r) => setTimeout(r, 10));
}
