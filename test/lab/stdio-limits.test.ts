import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStdioProduct } from '../../src/lab/index.js';
import { MISBEHAVING as SCRIPT, alive, until } from './misbehaving.js';

describe('stdio product limits', () => {
  it('a hung product is given up on after repeated time-outs, with the child it started killed', async () => {
    const pidFile = join(await mkdtemp(join(tmpdir(), 'truc-lab-')), 'child.pid');
    const p = await openStdioProduct({ command: process.execPath, args: [SCRIPT, 'hang', pidFile], timeoutMs: 200, maxTimeouts: 2 });
    try {
      const child = Number(await readFile(pidFile, 'utf8'));
      expect(alive(child)).toBe(true);
      const a = await Promise.allSettled([p.hash!({ alg: 'SHA-256', msg: new Uint8Array(1) }), p.hash!({ alg: 'SHA-256', msg: new Uint8Array(1) })]);
      expect(a.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(String((a[0] as PromiseRejectedResult).reason)).toMatch(/no answer within 200 ms/);
      await until(() => !alive(child));
      expect(alive(child)).toBe(false);
      // every later request is refused at once, saying why
      await expect(p.hash!({ alg: 'SHA-256', msg: new Uint8Array(1) })).rejects.toThrow(/gave up after 2 time-outs in a row/);
    } finally {
      await p.close!();
    }
  }, 30_000);

  it('hello has its own limit: a slow start is not cut by the per-request time-out; a product that never says hello is killed', async () => {
    const p = await openStdioProduct({ command: process.execPath, args: [SCRIPT, 'crash', '--hello-delay=400'], timeoutMs: 100, helloTimeoutMs: 10_000 });
    try {
      expect(p.info.name).toBe('misbehaving-crash');
    } finally {
      await p.close!();
    }
    const self = join(await mkdtemp(join(tmpdir(), 'truc-lab-')), 'self.pid');
    const never = openStdioProduct({ command: process.execPath, args: [SCRIPT, 'crash', '--hello-delay=600000', `--self=${self}`], helloTimeoutMs: 300 });
    await expect(never).rejects.toThrow(/^hello: no answer within 300 ms$/);
    const pid = Number(await readFile(self, 'utf8'));
    await until(() => !alive(pid));
    expect(alive(pid)).toBe(false);
  }, 30_000);

  it('a product that exits: its exit status and stderr are in the error', async () => {
    const p = await openStdioProduct({ command: process.execPath, args: [SCRIPT, 'crash'], timeoutMs: 5_000 });
    try {
      const e = await p.hash!({ alg: 'SHA-256', msg: new Uint8Array(1) }).catch((x: unknown) => x as Error);
      expect(String(e)).toMatch(/product exited \(status 3\); stderr: lỗi nội bộ \/ internal failure/);
    } finally {
      await p.close!();
    }
  }, 30_000);

  it('a product flooding stdout with non-frames is cut off, not buffered', async () => {
    const p = await openStdioProduct({ command: process.execPath, args: [SCRIPT, 'flood'], timeoutMs: 5_000 });
    try {
      await expect(p.hash!({ alg: 'SHA-256', msg: new Uint8Array(1) })).rejects.toThrow(/bad frame from product: frame of \d+ bytes exceeds/);
    } finally {
      await p.close!();
    }
  }, 30_000);
});
