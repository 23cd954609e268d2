/**
 * The security servers' message logs on file systems that fill up (tmpfs mounts of the test's own: one for
 * the provider's server, one for the rest): while there is no room, exchanges are refused with X-Road's
 * LoggingFailed — the provider's failure as `Server.ServerProxy.…`, the consumer's as `Server.ClientProxy.…`
 * — and no answer is logged as delivered on the side that failed; once room is made, exchanges go through
 * again without a restart, and both logs verify with no break.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { startTestAxis, CLIENT_VPCP, type TestAxis } from '../exchange/server/setup.js';
import { tmp } from '../helpers/openssl.js';
import { verifyLog, type MessageLog } from '../../src/exchange/log/index.js';

const root = tmp('disk-full-');
mkdirSync(root, { recursive: true });
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', root], { encoding: 'utf8' });
const canMount = mounted.status === 0;
// the provider's (UBND TP.HCM's) server folder on a file system of its own
const providerDir = join(root, 'axis', '000.00.31.H29');
if (canMount) {
  mkdirSync(providerDir, { recursive: true });
  spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', providerDir]);
}
if (!canMount) console.warn(`SKIP message log on a full disk: cannot mount a tmpfs of the test's own (${(mounted.stderr || String(mounted.error)).trim()}) — it needs root`);

const HCM = '/r1/VN/PROV/000.00.31.H29/vanthu';

describe.skipIf(!canMount)('message logs on a full disk', () => {
  let t: TestAxis;

  beforeAll(async () => {
    t = await startTestAxis({ dir: join(root, 'axis') });
  }, 180_000);

  afterAll(async () => {
    await t?.close();
    if (canMount) {
      spawnSync('umount', ['-l', providerDir]);
      spawnSync('umount', ['-l', root]);
    }
  });

  it('refuses exchanges it cannot log, and carries them again once there is room', async () => {
    const consumer = t.axis.members[0]!;
    const send = async (body: string | Buffer) => {
      const id = randomUUID();
      const r = await fetch(`${consumer.isUrl}${HCM}/echo`, { method: 'POST', headers: { 'x-road-client': CLIENT_VPCP, 'x-road-id': id }, body: typeof body === 'string' ? body : new Uint8Array(body) });
      const text = Buffer.from(await r.arrayBuffer());
      return { id, status: r.status, error: r.headers.get('x-road-error'), text };
    };
    const provider = t.axis.members[2]!;
    expect((provider.log as MessageLog).dir.startsWith(providerDir)).toBe(true);
    expect((await send('truoc')).status).toBe(200);
    const fill = (at: string) => {
      const filler = join(at, 'filler');
      mkdirSync(filler);
      for (const size of [1 << 20, 4096]) {
        for (let i = 0; ; i++) {
          try {
            writeFileSync(join(filler, `${size}-${i}`), Buffer.alloc(size, 1));
          } catch (e) {
            expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
            break;
          }
        }
      }
      return () => rmSync(filler, { recursive: true });
    };
    const refusedBy = async (origin: string) => {
      // small bodies (logged whole): a record or two may still fit in the room left in the segment's last
      // page, so until two are refused; then one over the inline limit (spooled to a file of its own)
      const sent: { body: Buffer; r: Awaited<ReturnType<typeof send>> }[] = [];
      const refusals = () => sent.filter((x) => x.r.status !== 200).length;
      for (let i = 0; i < 20 && refusals() < 2; i++) {
        const body = Buffer.from(`nho ${i}`);
        sent.push({ body, r: await send(body) });
      }
      const spooled = Buffer.alloc(300 * 1024, 2);
      sent.push({ body: spooled, r: await send(spooled) });
      // what went through went through whole; everything after the first refusal is refused
      const first = sent.findIndex((x) => x.r.status !== 200);
      expect(first).toBeGreaterThanOrEqual(0);
      for (const x of sent.slice(0, first)) expect(x.r.text.equals(x.body)).toBe(true);
      const refused = sent.slice(first).map((x) => x.r);
      expect(refused.length).toBeGreaterThanOrEqual(3);
      for (const r of refused) {
        expect([r.status, r.error], r.text.toString()).toEqual([500, `Server.${origin}.LoggingFailed`]);
        expect(JSON.parse(r.text.toString())).toMatchObject({ code: 'log_failure', message: expect.stringMatching(/ENOSPC/) });
      }
      return refused;
    };
    const afterwards = async () => {
      expect((await send('sau')).text.toString()).toBe('sau');
      const big = Buffer.alloc(300 * 1024, 3);
      expect((await send(big)).text.equals(big)).toBe(true);
    };

    // the provider's server has no room: the consumer logged its requests, the provider nothing of them
    let free = fill(providerDir);
    const byProvider = await refusedBy('ServerProxy');
    free();
    await afterwards();
    // the consumer's server has no room: it refuses before sending
    free = fill(root);
    const byConsumer = await refusedBy('ClientProxy');
    free();
    await afterwards();

    // no answer was delivered, so neither failing side has a response in its log; a request may be there (its
    // record fitted in the segment's last page, the answer's did not), and the consumer never logs one it did not send
    const logged = async (m: typeof consumer, id: string) => (await (m.log as MessageLog).search({ messageId: id })).map((x) => `${x.side}:${x.kind}`);
    for (const r of byProvider) {
      expect(await logged(consumer, r.id)).toEqual(['consumer:request']);
      expect(await logged(provider, r.id)).not.toContain('provider:response');
    }
    for (const r of byConsumer) expect(await logged(consumer, r.id)).not.toContain('consumer:response');
    // the index and the operational records go on too (the log's index is written behind it)
    const last = await send('cuoi');
    expect(last.status).toBe(200);
    for (const m of [consumer, provider]) {
      const end = Date.now() + 20_000;
      for (;;) {
        const l = await (m.log as MessageLog).search({ messageId: last.id });
        const o = await m.server.ctx.ops.search({ messageId: last.id });
        if (l.length === 2 && o.length === 1) break;
        if (Date.now() > end) throw new Error(`${last.id}: ${l.length} index rows, ${o.length} operational records`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    for (const m of [consumer, provider]) {
      const dir = (m.log as MessageLog).dir;
      const v = await verifyLog({ dir, trustedTsaCerts: [t.tsa.certificate()], checkBodies: false });
      expect(v.problem, JSON.stringify(v).slice(0, 500)).toBeUndefined();
      expect(readdirSync(join(dir, 'spool'))).toEqual([]);
    }
  }, 120_000);
});
