/**
 * `truc central`: the exchange's central server. `serve` runs it (registry API, registration service,
 * configuration download, generation on a schedule); the other commands work on the registry directly,
 * as the central server's operators do: members, subsystems, approving the platform's CAs, registration
 * requests (list, approve, reject), settings, generating a configuration now, exporting the anchor.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import type { Config } from '../config.js';
import type { Platform } from '../platform.js';
import { TrucError } from '../errors.js';
import { runUntilSignal } from './serve.js';
import { table } from './output.js';
import type * as CentralApi from '../exchange/central/index.js';
import type * as AnchorApi from '../exchange/conf/anchor.js';
import type * as SignedApi from '../exchange/conf/signed.js';
import type * as AppApi from '../http/app.js';
import type { CentralSettings, RequestStatus } from '../exchange/central/index.js';
import { loadBefore } from './lazy.js';

// the central server, behind `truc central`, loaded when one of its commands runs (./lazy.ts)
let CentralServer: typeof CentralApi.CentralServer;
let anchorBytes: typeof AnchorApi.anchorBytes;
let sha256Hex: typeof SignedApi.sha256Hex;
let buildApp: typeof AppApi.buildApp;

async function load(): Promise<void> {
  ({ CentralServer } = await import('../exchange/central/index.js'));
  ({ anchorBytes } = await import('../exchange/conf/anchor.js'));
  ({ sha256Hex } = await import('../exchange/conf/signed.js'));
  ({ buildApp } = await import('../http/app.js'));
}

export interface CentralCliContext {
  withPlatform(fn: (p: Platform) => Promise<unknown>): Promise<void>;
  out(v: unknown, text: () => string): void;
  operator(): string;
  config(): Config;
}

const DEFAULT_INSTANCE = process.env.TRUC_INSTANCE ?? 'VN';

const openCentral = (p: Platform, instance: string) => CentralServer.open({ db: p.db, keys: p.keys, bus: p.bus, log: p.log, instance, clock: p.pki.clock });

/** `key=value` pairs of settings; numbers and booleans read as such, JSON for the structured ones */
function parseSetting(pair: string, prev: Record<string, unknown> = {}): Record<string, unknown> {
  const i = pair.indexOf('=');
  if (i < 1) throw new TrucError('bad_request', `expected key=value, got "${pair}"`);
  const key = pair.slice(0, i);
  const raw = pair.slice(i + 1);
  let value: unknown = raw;
  if (/^\d+$/.test(raw)) value = Number(raw);
  else if (raw === 'true' || raw === 'false') value = raw === 'true';
  else if (/^[[{]/.test(raw) || raw === 'null')
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new TrucError('bad_request', `thiết lập ${key}: giá trị không phải JSON hợp lệ / setting ${key}: the value is not valid JSON (${(e as Error).message})`);
    }
  return { ...prev, [key]: value };
}

export function centralCommands(program: Command, ctx: CentralCliContext): void {
  const central = program.command('central').description('exchange central server: registry, registrations, global configuration');
  loadBefore(central, load);
  const withCentral = (o: { instance: string }, fn: (c: CentralApi.CentralServer, p: Platform) => Promise<unknown>) => ctx.withPlatform(async (p) => fn(await openCentral(p, o.instance), p));
  const inst = (cmd: Command) => cmd.option('--instance <code>', 'exchange instance (also TRUC_INSTANCE)', DEFAULT_INSTANCE);

  inst(central.command('serve'))
    .description('Run the central server: management API, registration endpoint, configuration download; generate the configuration on a schedule.')
    .option('--port <port>', 'HTTP port (default: the configured one)')
    .option('--host <host>', 'address to listen on')
    .option('--approve-platform-ca', 'approve this platform’s CA hierarchy at start')
    .option('--insecure-http', 'allow plain HTTP (no http.tls) on an address other than loopback, e.g. behind a TLS reverse proxy (also http.allowPlainHttp)')
    .action(async (o) => {
      const cfg = ctx.config();
      if (o.host) cfg.http.host = o.host;
      if (o.insecureHttp) cfg.http.allowPlainHttp = true;
      // the management API and the registration endpoint carry tokens and requests: plain HTTP only on
      // loopback unless the operator says so (issue 13), as truc start
      const { assertTransportAllowed } = await import('../http/server.js');
      assertTransportAllowed(cfg.http);
      if (cfg.http.autoTls)
        throw new TrucError(
          'invalid_config',
          'truc central serve không dùng http.autoTls: máy chủ an ninh ghim băm chứng thư TLS của máy chủ trung tâm, chứng thư tự gia hạn sẽ phá ghim; dùng http.tls với tệp chứng thư / ' +
            'truc central serve does not take http.autoTls: security servers pin the central server\'s TLS certificate hash, which a self-renewing certificate would break; use http.tls with certificate files',
        );
      await runUntilSignal(cfg, async (p) => {
        const c = await openCentral(p, o.instance);
        if (o.approvePlatformCa) await c.registry.approvePlatformCas(p.pki, ctx.operator());
        // what security servers are told to pin and where to register, from this server's own TLS set-up,
        // unless an operator set them
        const s = await c.settings();
        const tls = cfg.http.tls;
        const derived: Partial<CentralSettings> = {};
        if (tls && !s.centralTlsCertHash) derived.centralTlsCertHash = sha256Hex(new X509Certificate(readFileSync(tls.cert)).raw);
        if (tls && !s.registrationUrl && cfg.publicUrl.startsWith('https:')) derived.registrationUrl = `${cfg.publicUrl.replace(/\/+$/, '')}/central/register`;
        if (Object.keys(derived).length) {
          await c.registry.setSettings(derived, 'system');
          p.log.info(derived, 'registration settings taken from the TLS configuration');
        }
        await c.start();
        const app = await buildApp(p, { central: c });
        const url = await app.listen({ host: o.host ?? cfg.http.host, port: o.port !== undefined ? Number(o.port) : cfg.http.port });
        const v = await c.generator.latest();
        p.log.info({ url, instance: c.instance, version: v?.version ?? null }, 'máy chủ trung tâm đang chạy (central server running)');
        return async () => {
          await app.close();
          await c.stop();
        };
      });
    });

  const member = central.command('member').description('members of the instance');
  inst(member.command('add <class> <code> <name>'))
    .description('Register a member, e.g. `truc central member add GOV 000.00.00.G22 "Văn phòng Chính phủ"`')
    .action((cls, code, name, o) =>
      withCentral(o, async (c) => {
        await c.registry.addMember({ memberClass: cls, memberCode: code, name }, ctx.operator());
        ctx.out({ memberClass: cls, memberCode: code, name }, () => `đã đăng ký thành viên (member registered): MEMBER:${c.instance}/${cls}/${code}`);
      }),
    );
  inst(member.command('list'))
    .description('List members and their subsystems')
    .action((o) =>
      withCentral(o, async (c) => {
        const rows = await c.registry.listMembers();
        ctx.out(rows, () => table(rows.map((m) => ({ class: m.memberClass, code: m.memberCode, name: m.name, subsystems: m.subsystems.join(',') })), ['class', 'code', 'name', 'subsystems']));
      }),
    );

  inst(central.command('servers'))
    .description('List the security servers: owner, code, address, maintenance mode (and its message), clients, authentication certificates')
    .action((o) =>
      withCentral(o, async (c) => {
        const rows = await c.registry.listServers();
        ctx.out(rows, () =>
          table(
            rows.map((r) => ({
              owner: `${r.ownerClass}/${r.ownerCode}`,
              server: r.serverCode,
              address: r.address,
              maintenance: r.maintenance ? `bảo trì (maintenance)${r.maintenanceMessage ? `: ${r.maintenanceMessage}` : ''}` : '',
              clients: r.clients.map((x) => x.subsystemCode).join(','),
              'auth certs': r.authCertHashes.length,
            })),
            ['owner', 'server', 'address', 'maintenance', 'clients', 'auth certs'],
          ),
        );
      }),
    );

  const subsystem = central.command('subsystem').description('subsystems of members');
  inst(subsystem.command('add <class> <code> <subsystem>'))
    .description('Register a subsystem of a member')
    .action((cls, code, sub, o) =>
      withCentral(o, async (c) => {
        await c.registry.addSubsystem({ memberClass: cls, memberCode: code, subsystemCode: sub }, ctx.operator());
        ctx.out({ memberClass: cls, memberCode: code, subsystemCode: sub }, () => `đã đăng ký phân hệ (subsystem registered): SUBSYSTEM:${c.instance}/${cls}/${code}/${sub}`);
      }),
    );

  inst(central.command('approve-platform-ca'))
    .description('Approve this platform’s CA hierarchy for members’ certificates')
    .action((o) =>
      withCentral(o, async (c, p) => {
        const names = await c.registry.approvePlatformCas(p.pki, ctx.operator());
        ctx.out({ approved: names }, () => `đã phê duyệt CA (CAs approved): ${names.join(', ')}`);
      }),
    );

  inst(central.command('requests'))
    .description('Registration requests, newest first')
    .option('--status <status>', 'pending, approved or rejected')
    .option('--limit <n>', 'at most this many', '100')
    .action((o) =>
      withCentral(o, async (c) => {
        if (o.status && !['pending', 'approved', 'rejected'].includes(o.status)) throw new TrucError('bad_request', '--status is pending, approved or rejected');
        const rows = await c.registration.list(o.status as RequestStatus | undefined, Number(o.limit) || 100);
        ctx.out(rows, () =>
          rows.length
            ? table(
                rows.map((r) => ({ id: r.id, type: r.type, server: r.server, status: r.status, received: r.receivedAt.slice(0, 19), decided: r.decidedBy ?? '' })),
                ['id', 'type', 'server', 'status', 'received', 'decided'],
              )
            : 'không có yêu cầu (no requests)',
        );
      }),
    );

  inst(central.command('approve <id>'))
    .description('Approve a pending registration request')
    .action((id, o) =>
      withCentral(o, async (c) => {
        const r = await c.registration.approve(id, ctx.operator());
        ctx.out(r, () => `đã phê duyệt (approved): ${r.id} ${r.type} ${r.server}`);
      }),
    );

  inst(central.command('reject <id>'))
    .description('Reject a pending registration request')
    .option('--reason <text>', 'why (kept with the request)')
    .action((id, o) =>
      withCentral(o, async (c) => {
        const r = await c.registration.reject(id, ctx.operator(), o.reason ?? '');
        ctx.out(r, () => `đã từ chối (rejected): ${r.id} — ${r.reason}`);
      }),
    );

  inst(central.command('settings'))
    .description('Show settings, or change them with --set key=value (repeatable)')
    .option('--set <key=value>', 'a setting to change', parseSetting)
    .action((o) =>
      withCentral(o, async (c) => {
        const s = o.set ? await c.registry.setSettings(o.set as Partial<CentralSettings>, ctx.operator()) : await c.settings();
        ctx.out(s, () => Object.entries(s).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n'));
      }),
    );

  inst(central.command('generate'))
    .description('Generate a new configuration version now')
    .action((o) =>
      withCentral(o, async (c) => {
        const v = (await c.generator.generate({ force: true, actor: ctx.operator() }))!;
        ctx.out({ version: v.version, generatedAt: v.generatedAt, expiresAt: v.expiresAt }, () => `cấu hình phiên bản ${v.version} (configuration version ${v.version}), hết hạn (expires) ${v.expiresAt.toISOString()}`);
      }),
    );

  const anchor = central.command('anchor').description('the configuration anchor security servers install');
  inst(anchor.command('export'))
    .description('Write the configuration anchor (download URL and verification certificate)')
    .option('--url <base>', 'base URL security servers download from (default: the confBaseUrl setting)')
    .option('--out <file>', 'write to a file instead of stdout')
    .action((o) =>
      withCentral(o, async (c) => {
        const a = await c.exportAnchor(o.url);
        if (o.out) {
          try {
            writeFileSync(o.out, anchorBytes(a));
          } catch (e) {
            throw new TrucError('bad_request', `--out ${o.out}: không ghi được / cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
          }
          ctx.out({ file: o.out, url: a.sources[0].url }, () => `đã ghi neo cấu hình (anchor written): ${o.out} — ${a.sources[0].url}`);
        } else process.stdout.write(anchorBytes(a).toString('utf8') + '\n');
      }),
    );
}
