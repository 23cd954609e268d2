/**
 * A product that runs as a process and speaks the length-prefixed JSON protocol on stdin/stdout
 * (docs/lab-protocol.md), the shape ACVP module wrappers use. Requests carry an id, so several may be in
 * flight; a crash, a malformed frame or a timeout is an adapter ERROR, never a product verdict.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { adapterError, type OperationName, type ProductAdapter, type ProductInfo, productHalted, unsupported } from '../product.js';
import { encodeFrame, FrameReader } from './frame.js';
import { fromWire, toWire } from './wire.js';

export interface StdioProductOptions {
  command: string;
  args?: string[];
  /** The product's whole environment. Default: only PATH, LANG and HOME of ours — never the passphrase, PIN or TRUC_* variables. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** How long the product may take to answer `hello`; default 10 s (then it is killed). */
  helloTimeoutMs?: number;
  /** Per request; default 30 s. */
  timeoutMs?: number;
  /** Requests in flight at once; default 16. */
  concurrency?: number;
  /** Time-outs in a row after which the lab gives up on the product: its process group is killed and every further request is an ERROR; default 3. */
  maxTimeouts?: number;
  /**
   * Bytes the lab reads from the product over the whole run (stdout and stderr together), on top of the
   * per-answer frame limit; default 256 MiB. Past it the product is killed and the run stops, partial.
   */
  maxOutputBytes?: number;
}

export const DEFAULT_MAX_OUTPUT_BYTES = 256 * 1024 * 1024;

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout;
  op: string;
}

const OPERATIONS: OperationName[] = [
  'aeadEncrypt',
  'aeadDecrypt',
  'cipherEncrypt',
  'cipherDecrypt',
  'macCompute',
  'hash',
  'kdf',
  'keyWrap',
  'keyUnwrap',
  'sigVerify',
  'sigSign',
  'keyAgree',
  'asymDecrypt',
  'kemKeygen',
  'kemDecaps',
  'macWithIv',
  'isPrime',
  'mlDsaSign',
  'kemEncaps',
  'daeadEncrypt',
  'daeadDecrypt',
  'pbeEncrypt',
  'pbeDecrypt',
  'fpeEncrypt',
  'fpeDecrypt',
  'ecCurveParams',
  'blsVerify',
  'blsAggregateVerify',
  'blsHashToG2',
  'jwsVerify',
  'jweDecrypt',
  'chunkedDecrypt',
  'acvp',
];

/** The environment a product gets by default: PATH, LANG and HOME, nothing else (no secrets of ours). */
export function productEnvironment(from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'LANG', 'HOME'] as const) if (from[k] !== undefined) env[k] = from[k];
  return env;
}

/** Kill a product and everything it started: its process group (it leads one), or the process alone. */
function killGroup(child: ChildProcessWithoutNullStreams): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

// products still running when this process exits are killed with their groups
const running = new Set<ChildProcessWithoutNullStreams>();
let exitHook = false;

/** Starts the product process, greets it (`hello`) and returns an adapter for the operations it lists. */
export async function openStdioProduct(o: StdioProductOptions): Promise<ProductAdapter> {
  // detached: the product leads its own process group, so that it and its children are killed together
  const child: ChildProcessWithoutNullStreams = spawn(o.command, o.args ?? [], { env: o.env ?? productEnvironment(), cwd: o.cwd, stdio: 'pipe', detached: true });
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of running) killGroup(c);
    });
  }
  const pending = new Map<number, Pending>();
  const reader = new FrameReader();
  let nextId = 1;
  let dead: Error | undefined;
  let stderr = '';
  let timeoutsInRow = 0;
  const maxTimeouts = o.maxTimeouts ?? 3;
  const maxOutput = o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  let outputBytes = 0;
  // set when the product broke a whole-run limit: every request, in flight or later, then halts the run
  let halted = false;
  const stderrTail = (): string => (stderr.trim() ? `; stderr: ${stderr.trim().slice(-500)}` : '');
  const failure = (op: string, e: Error): Error =>
    halted ? productHalted(`${op}: ${e.message}`, 'output-limit', { stderr: stderr.slice(-2000) }) : adapterError(`${op}: ${e.message}`, { stderr: stderr.slice(-2000) }, e);

  const failAll = (e: Error): void => {
    dead ??= e;
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      p.reject(failure(p.op, e));
      pending.delete(id);
    }
  };
  /** Counts what the product wrote; false (and the product killed) once it has written more than the run allows. */
  const withinOutput = (n: number): boolean => {
    outputBytes += n;
    if (outputBytes <= maxOutput) return true;
    if (!dead) {
      halted = true;
      failAll(new Error(`sản phẩm ghi ra quá ${maxOutput} byte trong lần chạy, đã bị dừng (product wrote more than ${maxOutput} bytes this run and was stopped)`));
      killGroup(child);
    }
    return false;
  };
  child.stderr.on('data', (d: Buffer) => {
    if (!withinOutput(d.length)) return;
    stderr = (stderr + d.toString('utf8')).slice(-8192);
  });
  child.stdout.on('data', (chunk: Buffer) => {
    if (!withinOutput(chunk.length)) return;
    let messages: unknown[];
    try {
      messages = reader.push(chunk);
    } catch (e) {
      failAll(new Error(`bad frame from product: ${(e as Error).message}`));
      killGroup(child);
      return;
    }
    for (const m of messages) {
      const msg = m as { id?: number; ok?: boolean; result?: unknown; error?: { kind?: string; message?: string } };
      const p = pending.get(Number(msg.id));
      if (!p) continue;
      pending.delete(Number(msg.id));
      clearTimeout(p.timer);
      timeoutsInRow = 0;
      if (msg.ok) p.resolve(msg.result);
      else if (msg.error?.kind === 'unsupported') p.reject(unsupported(msg.error.message ?? p.op));
      else if (msg.error?.kind === 'rejected') p.reject(new Error(msg.error.message ?? 'rejected'));
      else p.reject(adapterError(`${p.op}: product error: ${msg.error?.message ?? 'unknown'}`));
    }
  });
  child.on('error', (e) => failAll(e));
  // the exit status and the end of stderr go into the message, which is what each result keeps as its note
  child.on('exit', (code, signal) => failAll(new Error(`product exited (${signal ? `signal ${signal}` : `status ${code}`})${stderrTail()}`)));
  child.stdin.on('error', (e) => failAll(e));

  // `hello` has its own limit: a process takes longer to start than to answer, most of all on a loaded machine
  const call = (op: string, params: unknown, timeoutMs = o.timeoutMs ?? 30_000): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (dead) return reject(failure(op, dead));
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(adapterError(`${op}: no answer within ${timeoutMs} ms`));
        if (++timeoutsInRow >= maxTimeouts && !dead) {
          // a hung product is given up on, with everything it started, rather than waited on request by request
          failAll(new Error(`gave up after ${timeoutsInRow} time-outs in a row (no answer within ${timeoutMs} ms)${stderrTail()}`));
          killGroup(child);
        }
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer, op });
      child.stdin.write(encodeFrame({ id, op, params: toWire(params) }));
    });

  let hello: { name?: string; version?: string; operations?: string[] };
  try {
    hello = (await call('hello', {}, o.helloTimeoutMs ?? 10_000)) as typeof hello;
  } catch (e) {
    // a product that never says hello (or says it wrong) is not left running
    killGroup(child);
    throw e;
  }
  const info: ProductInfo = {
    name: String(hello?.name ?? o.command),
    version: String(hello?.version ?? 'unknown'),
    adapter: 'stdio',
    concurrency: o.concurrency ?? 16,
  };
  const offered = new Set(Array.isArray(hello?.operations) ? hello.operations : OPERATIONS);
  const adapter: Record<string, unknown> = {
    info,
    async halt(reason: string) {
      failAll(new Error(reason));
      killGroup(child);
    },
    async close() {
      child.stdin.end();
      await new Promise<void>((r) => {
        if (child.exitCode !== null || child.signalCode !== null) return r();
        const t = setTimeout(() => {
          killGroup(child);
          r();
        }, 2000);
        child.once('exit', () => {
          clearTimeout(t);
          r();
        });
      });
      killGroup(child); // whatever the product started is ended with it
    },
  };
  for (const op of OPERATIONS) {
    if (!offered.has(op)) continue;
    adapter[op] = async (params: unknown) => {
      const r = await call(op, op === 'acvp' ? { prompt: params } : params);
      try {
        return fromWire(op, r);
      } catch (e) {
        throw adapterError(`${op}: answer out of shape: ${(e as Error).message}`);
      }
    };
  }
  return adapter as unknown as ProductAdapter;
}
