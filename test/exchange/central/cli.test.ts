/**
 * `truc central …`: the commands run in process against a real platform (each spawned `truc` opens the
 * whole platform, which on a loaded machine takes seconds), and one spawned `truc` proves the commands are
 * wired into the binary with its exit codes.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { centralCommands } from '../../../src/cli/central.js';
import { CentralServer } from '../../../src/exchange/central/index.js';
import { parseAnchor } from '../../../src/exchange/conf/index.js';
import { tmp } from '../../helpers/openssl.js';
import { world, INSTANCE, type World } from './fixture.js';

describe('truc central (in process)', () => {
  let w: World;
  let printed: unknown[] = [];

  async function truc(...args: string[]): Promise<unknown> {
    const program = new Command().exitOverride();
    printed = [];
    centralCommands(program, {
      withPlatform: async (fn) => {
        await fn(w.p);
      },
      out: (v) => printed.push(v),
      operator: () => 'cli:test',
      config: () => w.p.config,
    });
    await program.parseAsync(['node', 'truc', ...args]);
    return printed[0];
  }

  beforeAll(async () => {
    w = await world('memory://');
  });
  afterAll(async () => {
    await w?.close();
  });

  it('keeps the registry, lists and decides requests, sets settings, generates and exports the anchor', async () => {
    await truc('central', 'member', 'add', 'GOV', '000.00.00.G22', 'Văn phòng Chính phủ');
    await expect(truc('central', 'member', 'add', 'GOV', '000.00.00.G22', 'Văn phòng Chính phủ')).rejects.toMatchObject({ code: 'conflict' });
    await truc('central', 'subsystem', 'add', 'GOV', '000.00.00.G22', 'vanthu');
    expect(await truc('central', 'member', 'list')).toEqual([{ memberClass: 'GOV', memberCode: '000.00.00.G22', name: 'Văn phòng Chính phủ', subsystems: ['vanthu'] }]);
    expect(await truc('central', 'approve-platform-ca')).toEqual({ approved: ['root'] });

    const vpcp = await w.agency('GOV', '000.00.00.G22', 'Văn phòng Chính phủ', { register: false });
    const a = await w.central.registration.submit(await w.request(vpcp, { type: 'auth-cert' }));
    // ss2 with an authentication certificate of its own: a second pending request for ss1's certificate is
    // now refused as a duplicate (X-Road's MR_EXISTS), as the registration probe asks
    const vpcp2 = await w.agency('GOV', '000.00.00.G22', 'Văn phòng Chính phủ', { register: false });
    const b = await w.central.registration.submit(await w.request(vpcp2, { type: 'auth-cert' }, 'ss2'));
    expect(((await truc('central', 'requests', '--status', 'pending')) as { id: string }[]).map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
    expect(await truc('central', 'approve', a.id)).toMatchObject({ id: a.id, status: 'approved', decidedBy: 'cli:test' });
    expect(await truc('central', 'reject', b.id, '--reason', 'máy chủ thử (test server)')).toMatchObject({ status: 'rejected', reason: 'máy chủ thử (test server)' });
    await expect(truc('central', 'approve', 'no-such-request')).rejects.toMatchObject({ code: 'not_found' });
    // the approved server is listed; in maintenance with its owner's message once that is approved too
    const m = await w.central.registration.submit(await w.request(vpcp, { type: 'maintenance', maintenance: true, maintenanceMessage: 'Nâng cấp đến 22:00' }));
    await truc('central', 'approve', m.id);
    expect(await truc('central', 'servers')).toEqual([expect.objectContaining({ ownerClass: 'GOV', ownerCode: '000.00.00.G22', serverCode: 'ss1', maintenance: true, maintenanceMessage: 'Nâng cấp đến 22:00', authCertHashes: [expect.stringMatching(/^[0-9a-f]{64}$/)] })]);
    await expect(truc('central', 'requests', '--status', 'bogus')).rejects.toMatchObject({ code: 'bad_request' });

    expect(await truc('central', 'settings', '--set', 'validitySeconds=900', '--set', 'autoApprove=false', '--set', 'confBaseUrl=http://127.0.0.1:8080')).toMatchObject({ validitySeconds: 900, autoApprove: false });
    await expect(truc('central', 'settings', '--set', 'nonsense=1')).rejects.toMatchObject({ code: 'bad_request' });
    const v = (await truc('central', 'generate')) as { version: number; generatedAt: Date; expiresAt: Date };
    expect(v.expiresAt.getTime() - v.generatedAt.getTime()).toBe(900_000);
    const file = join(tmp(), 'anchor.json');
    await truc('central', 'anchor', 'export', '--out', file);
    const anchor = parseAnchor(readFileSync(file));
    expect(anchor.sources[0].url).toBe(`http://127.0.0.1:8080/conf/${INSTANCE}`);
    const central = await CentralServer.open({ db: w.p.db, keys: w.p.keys, bus: w.p.bus, instance: INSTANCE });
    expect(Buffer.from(anchor.sources[0].verificationCerts[0], 'base64')).toEqual(central.signingCertificate());
  });
});

describe('truc central (the binary)', () => {
  it('is wired into truc, with the exit code of a refusal', () => {
    const env = { ...process.env, TRUC_DATA_DIR: tmp('truc-cli-central-'), TRUC_KEY_PASSPHRASE: 'cli central passphrase', TRUC_LOG_LEVEL: 'warn' };
    delete (env as any).TRUC_DATABASE_URL;
    const r = spawnSync(process.execPath, ['bin/truc.js', 'central', 'approve', 'no-such-request'], { env, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(4);
    expect(r.stderr).toContain('[not_found]');
  }, 120_000);
});
