/**
 * A NATS server of a test's own: `nats-server` with JetStream on a free port and a temporary store folder,
 * so that a fault test can stop, restart or wipe it without touching anyone else's bus.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from '../helpers/ports.js';
import { existsSync } from 'node:fs';
import { tmp } from '../helpers/openssl.js';

export const NATS_SERVER = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => existsSync(p));

export { freePort };

const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.on('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });

export class OwnNats {
  private proc: ChildProcess | null = null;
  readonly storeDir = tmp('truc-nats-');
  private constructor(readonly port: number) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<OwnNats> {
    if (!NATS_SERVER) throw new Error('nats-server is not installed (scripts/install-deps.sh)');
    const n = new OwnNats(await freePort());
    await n.resume();
    return n;
  }

  /** Starts (again) on the same port and store. */
  async resume(): Promise<void> {
    this.proc = spawn(NATS_SERVER!, ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir], { stdio: 'ignore' });
    const end = Date.now() + 15_000;
    while (!(await answers(this.port))) {
      if (Date.now() > end) throw new Error('nats-server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the server and waits until it is gone. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    await gone;
    this.proc = null;
  }
}
