// The embedded database on a thread of its own (plain JavaScript so that it runs with or without the
// TypeScript loader). PGlite executes every statement synchronously in WebAssembly on the thread that
// calls it; here that is this worker, so a serving process's event loop never stops for a COPY, a
// checkpoint or a page written out. The process's other threads talk to it through `./db-thread.ts`:
//
//   { id, op: 'query' | 'exec' | 'copy', tx?, text, params?, parts? }  → { id, rows? } or { id, error }
//   { id, op: 'begin' }                                               → { id, tx }
//   { id, op: 'end', tx, commit }                                      → { id } once committed or rolled back
//   { id, op: 'close' }                                                → { id } once closed
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

const ROLLBACK = Symbol('rollback');
const db = workerData.dataDir ? new PGlite(workerData.dataDir, workerData.options) : new PGlite(workerData.options);
/** open transactions: their handle, how to end them, and their outcome */
const txs = new Map();
let nextTx = 1;

function errorFields(e) {
  // DatabaseError's fields (code, detail, constraint, …) travel as they are; the class does not
  const out = { message: String(e?.message ?? e), name: e?.name ?? 'Error' };
  if (e && typeof e === 'object') for (const [k, v] of Object.entries(e)) if (v === undefined || ['string', 'number', 'boolean'].includes(typeof v)) out[k] = v;
  return out;
}

function target(m) {
  if (m.tx === undefined) return db;
  const t = txs.get(m.tx);
  if (!t) throw new Error(`no open transaction ${m.tx} in the database thread`);
  return t.handle;
}

async function run(m) {
  switch (m.op) {
    case 'query':
      return { rows: (await target(m).query(m.text, m.params ?? [])).rows };
    case 'exec':
      await target(m).exec(m.text);
      return {};
    case 'copy':
      await target(m).query(m.text, [], { blob: new Blob(m.parts) });
      return {};
    case 'begin': {
      const tx = nextTx++;
      let started;
      const ready = new Promise((r) => (started = r));
      const entry = { handle: null, end: null, done: null };
      const ended = new Promise((r) => (entry.end = r));
      entry.done = db.transaction(async (t) => {
        entry.handle = t;
        started();
        if (!(await ended)) throw ROLLBACK;
      });
      entry.done.catch(() => {});
      // a transaction that cannot begin fails here rather than waiting for its first statement
      await Promise.race([ready, entry.done]);
      txs.set(tx, entry);
      return { tx };
    }
    case 'end': {
      const entry = txs.get(m.tx);
      if (!entry) throw new Error(`no open transaction ${m.tx} in the database thread`);
      txs.delete(m.tx);
      entry.end(m.commit);
      try {
        await entry.done;
      } catch (e) {
        if (e !== ROLLBACK) throw e;
      }
      return {};
    }
    case 'close':
      await db.close();
      return {};
    default:
      throw new Error(`unknown database thread request ${m.op}`);
  }
}

db.waitReady.then(
  () => parentPort.postMessage({ id: 0 }),
  (e) => parentPort.postMessage({ id: 0, error: errorFields(e) }),
);

parentPort.on('message', (m) => {
  run(m).then(
    (r) => parentPort.postMessage({ id: m.id, ...r }),
    (e) => parentPort.postMessage({ id: m.id, error: errorFields(e) }),
  );
});
