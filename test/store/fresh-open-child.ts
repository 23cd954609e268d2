// Opens a database folder that does not exist yet as a serving process does, writes a row, and prints the
// process's resident memory (test/store/fresh-open.test.ts).
import { openDb } from '../../src/store/index.js';

const [dir, mode] = process.argv.slice(2) as [string, string];
const db = await openDb({ url: dir, thread: mode === 'thread', serving: true });
await db.exec('CREATE TABLE dv (ma text PRIMARY KEY, ten text NOT NULL)');
await db.query('INSERT INTO dv (ma, ten) VALUES ($1, $2)', ['000.00.31.H29', 'UBND Thành phố Hồ Chí Minh']);
const rss = process.memoryUsage().rss;
await db.close();
process.stdout.write(JSON.stringify({ rss }));
