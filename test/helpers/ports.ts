/** Loopback ports for tests and benchmarks that start servers of their own. */
import { connect, createServer } from 'node:net';

import { readFileSync } from 'node:fs';

/**
 * The first port of the OS's ephemeral range (Linux: 32768). Ports handed to a server that binds them later
 * are taken below it: a port the OS chose (port 0) is in that range, and another test's listener on port 0 or
 * any outgoing connection may take it between the check and the bind, or before a restart binds it again.
 */
const EPHEMERAL_LOW = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
})();
const LOW = 10_000;

const bindable = (port: number) =>
  new Promise<boolean>((r) => {
    const s = createServer();
    s.once('error', () => r(false));
    s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
  });

/** A run of n consecutive ports nothing listens on right now, below the ephemeral range (from a random base). */
export async function freePorts(n: number): Promise<number> {
  const span = Math.max(1, EPHEMERAL_LOW - LOW - n);
  for (;;) {
    const base = LOW + Math.floor(Math.random() * span);
    const ok = await Promise.all(Array.from({ length: n }, (_, i) => bindable(base + i)));
    if (ok.every(Boolean)) return base;
  }
}

/** A port nothing listens on right now, below the ephemeral range. */
export function freePort(): Promise<number> {
  return freePorts(1);
}

/** Waits until something accepts connections on the port (some servers answer nothing to a probe). */
export async function waitPort(port: number, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        res(true);
      });
      s.on('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`port ${port} did not open`);
}
