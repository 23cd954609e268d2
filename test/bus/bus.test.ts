import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { InProcessBus, makeEvent, subjectMatches, type SecurityEvent } from '../../src/bus/index.js';
import { NatsBus } from '../../src/bus/nats.js';

const NATS = process.env.TRUC_TEST_NATS_URL ?? '127.0.0.1:4222';
const natsUp = (() => {
  const [host, port] = NATS.split(':');
  const r = spawnSync(process.execPath, ['-e', `require('net').connect(${port},'${host}').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))`], { timeout: 5000 });
  return r.status === 0;
})();
if (!natsUp && process.env.CI !== 'true') console.warn(`SKIP NATS JetStream bus tests: no server at ${NATS}`);

const until = async (cond: () => boolean | Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('event bus', () => {
  it('matches subjects with NATS wildcards', () => {
    expect(subjectMatches('truc.>', 'truc.pki.certificate.issued')).toBe(true);
    expect(subjectMatches('truc.*.certificate.*', 'truc.pki.certificate.issued')).toBe(true);
    expect(subjectMatches('truc.*', 'truc.pki.x')).toBe(false);
    expect(subjectMatches('truc.>', 'truc')).toBe(false);
    expect(subjectMatches('truc.http.auth.failed', 'truc.http.auth.failed')).toBe(true);
  });

  it('in-process: delivers to matching subscribers and isolates a failing one', async () => {
    const errors: unknown[] = [];
    const bus = new InProcessBus((e) => errors.push(e));
    const got: string[] = [];
    bus.subscribe('truc.pki.>', () => {
      throw new Error('subscriber bug');
    });
    const off = bus.subscribe('truc.pki.>', (s) => void got.push(s));
    await bus.publish('truc.pki.certificate.issued', makeEvent('pki', 'certificate.issued', 'success'));
    await bus.publish('truc.http.auth.failed', makeEvent('http', 'auth.failed', 'failure'));
    off();
    await bus.publish('truc.pki.crl.generated', makeEvent('pki', 'crl.generated', 'success'));
    expect(got).toEqual(['truc.pki.certificate.issued']);
    expect(errors).toHaveLength(2); // the broken subscriber saw both pki events; the others were unaffected
  });

  it.skipIf(!natsUp && process.env.CI !== 'true')('NATS JetStream: durable consumers resume after a restart and nothing acknowledged is lost', async () => {
    const stream = `TRUC_TEST_${randomBytes(4).toString('hex').toUpperCase()}`;
    const durable = `monitor-${randomBytes(3).toString('hex')}`;
    const pub = await NatsBus.connect({ servers: NATS, stream, subjects: [`${stream.toLowerCase()}.>`] });
    const prefix = stream.toLowerCase();
    try {
      const seen: SecurityEvent[] = [];
      const sub1 = await NatsBus.connect({ servers: NATS, stream });
      const off = sub1.subscribe(`${prefix}.>`, (_s, e) => void seen.push(e), { durable });
      for (let i = 0; i < 50; i++)
        await pub.publish(`${prefix}.pki.certificate.issued`, makeEvent('pki', 'certificate.issued', 'success', { truc: { n: i } }));
      await until(() => seen.length === 50);
      off();
      await sub1.close();
      // the monitor is down while 30 more events arrive
      for (let i = 50; i < 80; i++)
        await pub.publish(`${prefix}.http.auth.failed`, makeEvent('http', 'auth.failed', 'failure', { truc: { n: i } }));
      const sub2 = await NatsBus.connect({ servers: NATS, stream });
      const resumed: number[] = [];
      const off2 = sub2.subscribe(`${prefix}.>`, (_s, e) => void resumed.push(e.truc!.n as number), { durable });
      await until(() => resumed.length >= 30);
      off2();
      await sub2.close();
      expect(seen.map((e) => e.truc!.n)).toEqual([...Array(50).keys()]);
      expect(resumed).toEqual(Array.from({ length: 30 }, (_, i) => 50 + i));
    } finally {
      await pub.destroy();
      await pub.close();
    }
  });

  it.skipIf(!natsUp && process.env.CI !== 'true')('NATS JetStream: a subscriber without a durable name gets what is published after it attached', async () => {
    const stream = `TRUC_TEST_${randomBytes(4).toString('hex').toUpperCase()}`;
    const prefix = stream.toLowerCase();
    const bus = await NatsBus.connect({ servers: NATS, stream, subjectPrefix: prefix });
    try {
      const got: string[] = [];
      const off = bus.subscribe('truc.pki.>', (s) => void got.push(s));
      await until(async () => (await bus.health()).consumers[0]!.state === 'consuming');
      await bus.publish('truc.pki.certificate.revoked', makeEvent('pki', 'certificate.revoked', 'success'));
      await bus.publish('truc.http.auth.failed', makeEvent('http', 'auth.failed', 'failure'));
      await bus.publish('truc.pki.crl.generated', makeEvent('pki', 'crl.generated', 'success'));
      await until(() => got.length >= 2);
      off();
      expect(got).toEqual(['truc.pki.certificate.revoked', 'truc.pki.crl.generated']); // in the platform's form, filtered
    } finally {
      await bus.destroy();
      await bus.close();
    }
  });

  it.skipIf(!natsUp && process.env.CI !== 'true')('NATS JetStream: a failing handler gets the event again', async () => {
    const stream = `TRUC_TEST_${randomBytes(4).toString('hex').toUpperCase()}`;
    const prefix = stream.toLowerCase();
    const bus = await NatsBus.connect({ servers: NATS, stream, subjects: [`${prefix}.>`] });
    try {
      let attempts = 0;
      const off = bus.subscribe(
        `${prefix}.>`,
        () => {
          attempts++;
          if (attempts === 1) throw new Error('transient');
        },
        { durable: 'retry' },
      );
      await bus.publish(`${prefix}.x.y`, makeEvent('x', 'y', 'success'));
      await until(() => attempts >= 2);
      off();
      expect(attempts).toBe(2);
    } finally {
      await bus.destroy();
      await bus.close();
    }
  });
});
