/**
 * `truc monitor …` and `truc scan`: event ingest from files, event search, alerts, rules, hunting, malware
 * scanning — on the local platform's database, as the server's own API does.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { TrucError } from '../errors.js';
import { fail, table } from './output.js';
import type { FileFormat, MonitorConfig } from '../monitor/index.js';
import type * as PinoApi from 'pino';
import type * as ConfigApi from '../config.js';
import type * as YamlApi from 'yaml';
import type * as PlatformApi from '../platform.js';
import type * as MonitorApi from '../monitor/index.js';
import type { Platform } from '../platform.js';
import { loadBefore } from './lazy.js';

// the parts behind `truc monitor` and `truc scan`, loaded when one of its commands runs (./lazy.ts)
let pino: typeof PinoApi.pino;
let loadConfig: typeof ConfigApi.loadConfig;
let parseYaml: typeof YamlApi.parse;
let openPlatform: typeof PlatformApi.openPlatform;
let AlertStore: typeof MonitorApi.AlertStore;
let BUILTIN_RULES_DIR: typeof MonitorApi.BUILTIN_RULES_DIR;
let Detection: typeof MonitorApi.Detection;
let EventStore: typeof MonitorApi.EventStore;
let compileSettings: typeof MonitorApi.compileSettings;
let MonitorService: typeof MonitorApi.MonitorService;
let Scanner: typeof MonitorApi.Scanner;
let hunt: typeof MonitorApi.hunt;
let monitorConfig: typeof MonitorApi.monitorConfig;
let readEventFile: typeof MonitorApi.readEventFile;
let NotifySecrets: typeof MonitorApi.NotifySecrets;

async function load(): Promise<void> {
  ({ pino } = await import('pino'));
  ({ loadConfig } = await import('../config.js'));
  ({ parse: parseYaml } = await import('yaml'));
  ({ openPlatform } = await import('../platform.js'));
  ({ AlertStore, BUILTIN_RULES_DIR, Detection, EventStore, compileSettings, MonitorService, Scanner, hunt, monitorConfig, readEventFile, NotifySecrets } = await import('../monitor/index.js'));
}

const operator = () => `cli:${userInfo().username}`;

export function monitorCommands(program: Command): void {
  const json = () => !!program.opts().json;
  const out = (v: unknown, text: () => string) => process.stdout.write((json() ? JSON.stringify(v, null, 2) : text()) + '\n');
  const cfg = () => {
    const o = program.opts();
    return loadConfig({ file: o.config, overrides: o.dataDir ? { dataDir: o.dataDir } : undefined });
  };
  async function withPlatform(fn: (p: Platform, m: MonitorConfig) => Promise<void>): Promise<void> {
    let p: Platform | undefined;
    try {
      const c = cfg();
      p = await openPlatform(c, { log: pino({ level: 'warn' }, process.stderr) });
      await fn(p, monitorConfig(c.monitor));
    } catch (e) {
      await p?.close().catch(() => {});
      fail(e);
    }
    await p.close();
  }
  const date = (v: string | undefined, name: string): Date | undefined => {
    if (!v) return undefined;
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) throw new TrucError('bad_request', `--${name} is not a date`);
    return d;
  };
  const pairs = (v: string, prev: Record<string, string> = {}) => {
    const i = v.indexOf('=');
    if (i < 1) throw new Error(`--where takes field=value, not ${v}`);
    return { ...prev, [v.slice(0, i)]: v.slice(i + 1) };
  };

  const monitor = program.command('monitor').description('security monitoring: events, alerts, rules, hunting');
  loadBefore(monitor, load);

  monitor
    .command('ingest <file>')
    .description('Store and analyse events from a file: NDJSON (one event a line), a JSON array, a Windows EVTX XML export, or a Windows event log (.evtx)')
    .option('--format <format>', 'ndjson | json | xml | evtx (default: from the file name; .evtx by its signature whatever the name)')
    .option('--batch <n>', 'events a batch', '500')
    .action((file: string, o) =>
      withPlatform(async (p, mc) => {
        const m = await MonitorService.start({ db: p.db, bus: p.bus, log: p.log, config: mc, listen: false, subscribe: false, scanner: null });
        let accepted = 0;
        const rejected: { line: number; reason: string }[] = [];
        const batchSize = Math.max(1, Number(o.batch));
        let batch: { line: number; value: unknown }[] = [];
        const flush = async () => {
          for (;;) {
            const r = m.submit(batch.map((b) => b.value), 'file');
            if (!r) {
              await m.queue.room(batch.length);
              continue;
            }
            const res = await r;
            accepted += res.ids.length;
            for (const x of res.rejected) rejected.push({ line: batch[x.index]!.line, reason: x.reason });
            break;
          }
          batch = [];
        };
        try {
          for await (const rec of readEventFile(file, o.format as FileFormat | undefined)) {
            if (rec.error) rejected.push({ line: rec.line, reason: rec.error });
            else batch.push({ line: rec.line, value: rec.value });
            if (batch.length >= batchSize) await flush();
          }
          if (batch.length) await flush();
        } finally {
          await m.stop();
        }
        out({ accepted, rejected, alerts: m.stats.alertsRaised }, () =>
          [`${accepted} events stored, ${rejected.length} rejected, ${m.stats.alertsRaised} alert hit(s)`, ...rejected.slice(0, 20).map((r) => `  line ${r.line}: ${r.reason}`)].join('\n'),
        );
        if (rejected.length && !accepted) process.exitCode = 3;
      }),
    );

  monitor
    .command('events')
    .description('Search stored events')
    .option('--from <date>', 'start (ISO 8601)')
    .option('--to <date>', 'end (ISO 8601)')
    .option('--where <field=value>', 'dotted field filter, repeatable (event.action=auth.failed)', pairs)
    .option('--limit <n>', 'at most', '50')
    .action((o) =>
      withPlatform(async (p, mc) => {
        const store = new EventStore(p.db, { retentionDays: mc.retentionDays });
        const from = date(o.from, 'from');
        const to = date(o.to, 'to');
        const events = await store.search({ ...(from ? { from } : {}), ...(to ? { to } : {}), where: o.where ?? {}, limit: Number(o.limit) });
        out(events, () =>
          table(
            events.map((e) => ({ id: e.id, time: e.ts.toISOString(), action: e.action, outcome: e.outcome ?? '', user: e.user ?? '', source: e.sourceIp ?? '', host: e.host ?? '', rules: e.rules.length })),
            ['id', 'time', 'action', 'outcome', 'user', 'source', 'host', 'rules'],
          ),
        );
      }),
    );

  const alerts = (p: Platform, mc: MonitorConfig) => new AlertStore(p.db, mc.alerts.dedupSeconds * 1000);
  monitor
    .command('alerts')
    .description('List alerts')
    .option('--status <status>', 'new | acknowledged | closed')
    .option('--rule <id>', 'one rule')
    .option('--limit <n>', 'at most', '50')
    .action((o) =>
      withPlatform(async (p, mc) => {
        const list = await alerts(p, mc).list({ ...(o.status ? { status: o.status } : {}), ...(o.rule ? { ruleId: o.rule } : {}), limit: Number(o.limit) });
        out(list, () =>
          table(
            list.map((a) => ({ id: a.id, level: a.level, status: a.status, count: a.count, title: a.title, group: JSON.stringify(a.group), last: a.lastAt.toISOString(), assignee: a.assignee ?? '' })),
            ['id', 'level', 'status', 'count', 'title', 'group', 'last', 'assignee'],
          ),
        );
      }),
    );
  monitor
    .command('alert <id>')
    .description('Show an alert with its notes')
    .action((id: string) =>
      withPlatform(async (p, mc) => {
        const a = await alerts(p, mc).get(id);
        out(a, () => JSON.stringify(a, null, 2));
      }),
    );
  const act = (name: string, desc: string, f: (s: MonitorApi.AlertStore, id: string, ...args: any[]) => Promise<unknown>) =>
    monitor
      .command(name)
      .description(desc)
      .action((id: string, ...rest: any[]) =>
        withPlatform(async (p, mc) => {
          const a = await f(alerts(p, mc), id, ...rest);
          out(a, () => `alert ${id}: ${(a as { status: string }).status}`);
        }),
      );
  act('ack <id>', 'Acknowledge an alert', (s, id) => s.acknowledge(id, operator()));
  act('assign <id> <assignee>', 'Assign an alert', (s, id, who: string) => s.assign(id, who, operator()));
  act('note <id> <text>', 'Add a note to an alert', (s, id, text: string) => s.note(id, operator(), text));
  monitor
    .command('close <id>')
    .description('Close an alert')
    .requiredOption('--reason <text>', 'why (false positive, handled, …)')
    .action((id: string, o) =>
      withPlatform(async (p, mc) => {
        const a = await alerts(p, mc).close(id, o.reason, operator());
        out(a, () => `alert ${id}: closed`);
      }),
    );

  /** The rules that did not load, each with where it is and why, grouped counts first. */
  const rejectedLines = (rejected: { file: string; line: number; rule?: string; reason: string }[], most = 50): string => {
    if (!rejected.length) return '';
    const why = new Map<string, number>();
    for (const r of rejected) {
      const k = r.reason.replace(/%[^%\s]+%/g, '%…%');
      why.set(k, (why.get(k) ?? 0) + 1);
    }
    return [
      ':',
      ...[...why].sort((x, y) => y[1] - x[1]).map(([k, n]) => `  ${n} × ${k}`),
      ...rejected.slice(0, most).map((r) => `  ${r.file}:${r.line}${r.rule ? ` ${r.rule}` : ''}: ${r.reason}`),
      ...(rejected.length > most ? [`  … ${rejected.length - most} more (--json lists them all)`] : []),
    ].join('\n');
  };
  const rules = monitor.command('rules').description('the loaded Sigma rules and their settings');
  const detection = async (p: Platform, mc: MonitorConfig) =>
    Detection.load(p.db, [...(mc.builtinRules ? [BUILTIN_RULES_DIR] : []), ...mc.ruleDirs], undefined, await compileSettings(mc));
  rules
    .command('list')
    .option('--all', 'include rules from every folder (default: ours and those with settings)')
    .action((o) =>
      withPlatform(async (p, mc) => {
        const d = await detection(p, mc);
        const list = d.rules().filter((r) => o.all || r.author === 'Trục' || !r.enabled || r.filter);
        out({ rules: list, rejected: d.rejected }, () =>
          table(
            list.map((r) => ({ id: r.id, kind: r.kind, level: r.level ?? '', enabled: r.enabled ? 'yes' : 'no', tuned: r.filter ? 'yes' : '', title: r.title })),
            ['id', 'kind', 'level', 'enabled', 'tuned', 'title'],
          ) +
          `\n${d.rules().length} rule(s) in force, ${d.rejected.length} rejected` +
          rejectedLines(d.rejected),
        );
      }),
    );
  const setRule = (name: string, desc: string, change: (o: any) => { enabled?: boolean; filter?: Record<string, unknown> | null }) =>
    rules
      .command(`${name} <id>`)
      .description(desc)
      .option('--filter <file>', 'tune: a JSON or YAML file with search identifiers and a condition (AND-ed with the rule)')
      .action((id: string, o) =>
        withPlatform(async (p, mc) => {
          const d = await detection(p, mc);
          const r = await d.configure(id, change(o), operator());
          out(r, () => `${r.id}: ${r.enabled ? 'enabled' : 'disabled'}${r.filter ? ', tuned' : ''}`);
        }),
      );
  setRule('enable', 'Enable a rule', () => ({ enabled: true }));
  setRule('disable', 'Disable a rule (its matches are dropped before correlation)', () => ({ enabled: false }));
  setRule('tune', 'Set or clear (without --filter) the exception filter of a rule', (o) => {
    if (!o.filter) return { filter: null };
    const text = readFileSync(o.filter, 'utf8');
    return { filter: /\.json$/i.test(o.filter) ? JSON.parse(text) : (parseYaml(text) as Record<string, unknown>) };
  });

  monitor
    .command('hunt')
    .description('Run one rule over the stored events of a time range')
    .option('--rule <id>', 'a loaded rule or correlation')
    .option('--file <rule.yml>', 'a Sigma rule file')
    .requiredOption('--from <date>', 'start (ISO 8601)')
    .option('--to <date>', 'end (default now)')
    .option('--where <field=value>', 'narrow the events scanned', pairs)
    .action((o) =>
      withPlatform(async (p, mc) => {
        const d = await detection(p, mc);
        const store = new EventStore(p.db, { retentionDays: mc.retentionDays });
        const r = await hunt(store, d, {
          from: date(o.from, 'from')!,
          to: date(o.to, 'to') ?? new Date(),
          ...(o.rule ? { ruleId: o.rule } : {}),
          ...(o.file ? { yaml: readFileSync(o.file, 'utf8') } : {}),
          ...(o.where ? { where: o.where } : {}),
        });
        out(r, () =>
          [
            `${r.scanned} events scanned; ${r.matches.length} matches, ${r.correlations.length} correlations${r.truncated ? ' (truncated)' : ''}`,
            ...r.matches.slice(0, 50).map((m) => `  ${m.ts}  event ${m.eventId}  ${m.title}`),
            ...r.correlations.slice(0, 50).map((c) => `  ${c.lastAt}  ${c.title}  ${JSON.stringify(c.group)} = ${c.value}`),
          ].join('\n'),
        );
      }),
    );

  monitor
    .command('retention')
    .description('Remove now the events taken in more than monitor.retentionDays ago (by ingestion time, not event time)')
    .action(() =>
      withPlatform(async (p, mc) => {
        const r = await new EventStore(p.db, { retentionDays: mc.retentionDays }).applyRetention();
        out(
          r,
          () =>
            `đã bỏ ${r.dropped.length} phân vùng ngày, xoá ${r.deleted} sự kiện nhận vào trước hạn lưu giữ ` +
            `(dropped ${r.dropped.length} day partition(s), deleted ${r.deleted} event(s) taken in before the retention cutoff)`,
        );
      }),
    );

  // notification secrets: the clear value goes in once (standard input, or an environment variable) and is
  // sealed under the vault; nothing prints it back
  const secrets = (p: Platform) => NotifySecrets.of(p);
  const readStdin = async (): Promise<string> => {
    const parts: Buffer[] = [];
    for await (const c of process.stdin) parts.push(c as Buffer);
    return Buffer.concat(parts).toString('utf8').replace(/\r?\n$/, '');
  };
  const ns = monitor.command('notify-secret').description('Bí mật thông báo niêm phong trong kho khoá / Notification secrets sealed under the vault (webhook tokens, SMTP password)');
  ns.command('set <name>')
    .description('Seal a secret read from standard input (or --from-env VAR); only the sealed form is stored')
    .option('--from-env <var>', 'take the value from this environment variable instead of standard input')
    .action((name: string, o: { fromEnv?: string }) =>
      withPlatform(async (p) => {
        const value = o.fromEnv ? process.env[o.fromEnv] : await readStdin();
        if (!value) throw new TrucError('bad_request', o.fromEnv ? `biến môi trường ${o.fromEnv} rỗng (environment variable ${o.fromEnv} is empty)` : 'đầu vào chuẩn rỗng (standard input is empty)');
        await secrets(p).set(name, value, operator());
        out({ name, set: true }, () => `đã niêm phong bí mật "${name}" (secret "${name}" sealed)`);
      }),
    );
  ns.command('list')
    .description('The secrets that are set (names and dates, never values)')
    .action(() =>
      withPlatform(async (p, mc) => {
        const rows = (await secrets(p).status(mc.notify)).map((r) => ({ name: r.name, set: r.set, updatedAt: r.updatedAt?.toISOString() ?? null, updatedBy: r.updatedBy ?? null, usedByConfig: r.usedByConfig }));
        out(rows, () =>
          rows.length
            ? rows.map((r) => `${r.name}\t${r.set ? 'đã đặt (set)' : 'chưa đặt (not set)'}\t${r.updatedAt ?? '-'}\t${r.updatedBy ?? '-'}${r.usedByConfig ? '' : '\t(không dùng trong cấu hình / unused by the configuration)'}`).join('\n')
            : '(chưa có / none)',
        );
      }),
    );
  ns.command('remove <name>')
    .description('Remove a secret and crypto-shred its data key')
    .action((name: string) =>
      withPlatform(async (p) => {
        const removed = await secrets(p).remove(name, operator());
        out({ name, removed }, () => (removed ? `đã xoá bí mật "${name}" (secret "${name}" removed)` : `bí mật "${name}" chưa đặt (secret "${name}" was not set)`));
      }),
    );

  loadBefore(program.command('scan <file>'), load)
    .description('Scan a file for malware (YARA rules; ClamAV when monitor.scan.clamd is configured). Exit 6 when infected.')
    .action((file: string) => {
      (async () => {
        const c = cfg();
        const scanner = await Scanner.fromConfig(monitorConfig(c.monitor).scan);
        const r = await scanner.scanBuffer(readFileSync(file), basename(file));
        out(r, () => `${file}: ${r.verdict}${r.matches.length ? ' (' + r.matches.map((m) => `${m.engine}:${m.name}`).join(', ') + ')' : ''}`);
        if (r.verdict === 'infected') process.exitCode = 6;
      })().catch(fail);
    });
}
