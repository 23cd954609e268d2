// Signing worker for software keys (plain JavaScript so that it runs with or without the TypeScript
// loader). It holds private keys sent to it by the key store of the same process and signs batches of
// messages; bulk issuance uses it so that signing runs beside the thread that assembles and stores.
import { parentPort } from 'node:worker_threads';
import { createPrivateKey, sign } from 'node:crypto';

const keys = new Map();

parentPort.on('message', (m) => {
  if (m.type === 'key') {
    const key = createPrivateKey({ key: Buffer.from(m.pkcs8), format: 'der', type: 'pkcs8' });
    keys.set(m.id, { hash: m.hash, opts: m.padding ? { key, padding: m.padding, saltLength: m.saltLength } : key });
    return;
  }
  const k = keys.get(m.id);
  if (!k) {
    parentPort.postMessage({ seq: m.seq, error: `no key ${m.id} in the signing worker` });
    return;
  }
  try {
    // messages come packed in one buffer with n + 1 offsets; signatures go back the same way
    const { data, offsets } = m;
    const n = offsets.length - 1;
    const sigs = new Array(n);
    const out = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) {
      sigs[i] = sign(k.hash, data.subarray(offsets[i], offsets[i + 1]), k.opts);
      out[i + 1] = out[i] + sigs[i].length;
    }
    const packed = new Uint8Array(out[n]);
    for (let i = 0; i < n; i++) packed.set(sigs[i], out[i]);
    parentPort.postMessage({ seq: m.seq, data: packed, offsets: out }, [packed.buffer, out.buffer]);
  } catch (e) {
    parentPort.postMessage({ seq: m.seq, error: String(e && e.message ? e.message : e) });
  }
});
