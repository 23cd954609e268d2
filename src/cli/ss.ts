/**
 * `truc ss`: this process's security server. `init` makes the authentication and signing keys and their
 * certificate requests; `import-cert` keeps the certificates the CA issued; `anchor import` installs the
 * configuration anchor; `register` sends the registration requests to the central server (and, on its
 * own, the owner member's encryption certificate for the global configuration); `client`,
 * `service`, `grant`, `revoke` keep its clients, services and access rights; `serve` runs it; `diagnose`
 * and `status` say how it stands. Settings live in the `exchange.server` section of the configuration.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import type { Config } from '../config.js';
import type { Platform } from '../platform.js';
import { TrucError } from '../errors.js';
import { parseServer, parseService, parseSubsystem, subsystemText } from '../exchange/ids.js';
import type { MessageLogApi } from '../exchange/log/types.js';
import type { BodyCipher } from '../exchange/log/cipher.js';
import { runUntilSignal } from './serve.js';
import { readInput, table } from './output.js';
import type * as StandaloneApi from '../exchange/server/standalone.js';
import { loadBefore } from './lazy.js';

// the security server, behind `truc ss`, loaded when one of its commands runs (./lazy.ts)
let confClient: typeof StandaloneApi.confClient;
let importCert: typeof StandaloneApi.importCert;
let initKeys: typeof StandaloneApi.initKeys;
let installAnchor: typeof StandaloneApi.installAnchor;
let newAuthCertRequest: typeof StandaloneApi.newAuthCertRequest;
let openServer: typeof StandaloneApi.openServer;
let serverSettings: typeof StandaloneApi.serverSettings;
let serverStore: typeof StandaloneApi.serverStore;
let serviceType: typeof StandaloneApi.serviceType;

async function load(): Promise<void> {
  ({ confClient, importCert, initKeys, installAnchor, newAuthCertRequest, openServer, serverSettings, serverStore, serviceType } = await import('../exchange/server/standalone.js'));
}

export interface SsCliContext {
  withPlatform(fn: (p: Platform) => Promise<unknown>): Promise<void>;
  out(v: unknown, text: () => string): void;
  operator(): string;
  config(): Config;
  /** opens the server's message log; `lo.cipher` encrypts its bodies (the vault's log key) */
  openLog(p: Platform, dir: string, lo: { cipher?: BodyCipher; readOnly?: boolean; graceMs?: number }): Promise<MessageLogApi>;
}

function readDerOrPem(file: string): Buffer {
  const raw = readFileSync(file);
  const text = raw.toString('latin1');
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(text);
  return m ? Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64') : raw;
}

/** A subsystem as a registration request names it. */
const subsystemRef = (s: { memberClass: string; memberCode: string; subsystemCode: string }) => ({ memberClass: s.memberClass, memberCode: s.memberCode, subsystemCode: s.subsystemCode });

export function ssCommands(program: Command, ctx: SsCliContext): void {
  const ss = program.command('ss').description('máy chủ an ninh (security server) of this process: keys, anchor, registration, services, access rights');
  loadBefore(ss, load);

  ss.command('init')
    .description('Generate the authentication key (software) and the signing key, and write their certificate requests (auth.csr, sign.csr) into the server folder.')
    .option('--sign-key-store <store>', 'software | pkcs11 for the signing key (default: the default key store)')
    .option('--only <kind>', 'a new key for one of them (a rotation): auth or sign; the server goes on with its current one until the certificate is imported')
    .action((o) =>
      ctx.withPlatform(async (p) => {
        if (o.only !== undefined && o.only !== 'auth' && o.only !== 'sign') throw new TrucError('bad_request', '--only takes auth or sign');
        const s = serverSettings(p);
        const r = await initKeys(p, s, { ...(o.signKeyStore ? { signKeyStore: o.signKeyStore } : {}), ...(o.only ? { only: o.only } : {}) });
        const lines = [
          ...(o.only !== 'sign' ? [`  xác thực (authentication, profile agency-auth): ${r.auth!.csrFile}`] : []),
          ...(o.only !== 'auth' ? [`  ký số (signing, profile agency-signing): ${r.sign!.csrFile}`] : []),
        ];
        ctx.out(r, () => `đã tạo khoá và yêu cầu chứng thư (keys and requests made):\n${lines.join('\n')}`);
      }),
    );

  ss.command('import-cert <kind> <file>')
    .description('Keep the certificate the CA issued for a pending key: kind auth or sign (DER or PEM).')
    .action((kind, file) =>
      ctx.withPlatform(async (p) => {
        if (kind !== 'auth' && kind !== 'sign') throw new TrucError('bad_request', 'kind is auth or sign');
        await importCert(p, serverSettings(p), kind, readDerOrPem(file));
        ctx.out({ imported: kind }, () => `đã nhập chứng thư (certificate imported): ${kind}`);
      }),
    );

  const anchor = ss.command('anchor').description('the configuration anchor');
  anchor
    .command('import <file>')
    .description('Install the configuration anchor exported by the central server (`truc central anchor export`).')
    .action((file) =>
      ctx.withPlatform(async (p) => {
        const settings = serverSettings(p);
        const a = installAnchor(settings.dir, readInput(file, 'neo cấu hình / the anchor'), settings.serverId.instance);
        ctx.out(a, () => `đã cài neo cấu hình (anchor installed): ${a.instance}, ${a.sources.map((x) => x.url).join(', ')}`);
      }),
    );

  ss.command('register')
    .description('Ask the central server to register this server’s authentication certificate (with its address) and each of its clients; an operator approves them there.')
    .option('--address <host:port>', 'where other servers reach this one (default exchange.server.publicAddress)')
    .option('--clients-only', 'only the client registrations')
    .option('--encryption-cert <file>', 'only this: register the owner member’s encryption certificate (agency-encryption, DER or PEM) for the global configuration')
    .option('--delete-encryption-cert <file>', 'only this: ask to delete a registered encryption certificate of the owner member')
    .option('--delete-client <subsystem>', 'only this: ask to take a client (SUBSYSTEM:…) off this server (then `truc ss client remove`)')
    .option('--change-address <host:port>', 'only this: ask to change where other servers reach this one')
    .option('--maintenance <on|off>', 'only this: ask to put this server in maintenance mode (other servers refuse to send it messages) or take it out')
    .option('--message <text>', 'with --maintenance on: what clients are told meanwhile (one line, at most 255 characters)')
    .option('--auth-cert <file>', 'only this (a rotation): register the new authentication certificate of the pending key from `ss init --only auth`, while the current one stays in use')
    .option('--delete-auth-cert <file>', 'only this (a rotation): ask to delete an old authentication certificate, once the new one is in use')
    .action((o) =>
      ctx.withPlatform(async (p) => {
        const only = [o.deleteClient, o.changeAddress, o.maintenance, o.authCert, o.deleteAuthCert, o.encryptionCert, o.deleteEncryptionCert].filter((x) => x !== undefined);
        if (only.length > 1) throw new TrucError('bad_request', 'give one of --delete-client, --change-address, --maintenance, --auth-cert, --delete-auth-cert, --encryption-cert, --delete-encryption-cert at a time');
        if (o.maintenance !== undefined && o.maintenance !== 'on' && o.maintenance !== 'off') throw new TrucError('bad_request', '--maintenance takes on or off');
        if (o.message !== undefined && o.maintenance !== 'on') throw new TrucError('bad_request', '--message goes with --maintenance on');
        if (o.message !== undefined) (await import('../exchange/conf/registration-request.js')).checkMaintenanceMessage(o.message);
        // beside the serving process: its message log is only read
        const { server, settings, conf, log } = await openServer(p, (dir, lo) => ctx.openLog(p, dir, lo), { readOnly: true });
        // each of these is sent alone
        const single = async (): Promise<{ type: string; id: string; status: string } | null> => {
          if (o.authCert) {
            // the server keeps its address unless told otherwise
            const address = o.address ?? settings.publicAddress ?? conf.current()?.server(server.ctx.id)?.address;
            if (!address) throw new TrucError('bad_request', 'give --address host:port (or exchange.server.publicAddress)');
            return { type: 'auth-cert', ...(await newAuthCertRequest(p, settings, server, readDerOrPem(o.authCert), address)) };
          }
          if (o.deleteAuthCert) {
            const der = readDerOrPem(o.deleteAuthCert);
            if (der.equals(server.ctx.authCert))
              throw new TrucError('bad_request', 'đây là chứng thư xác thực đang dùng / this is the authentication certificate in use: import the new one (`truc ss import-cert auth`) and restart the server first');
            return { type: 'auth-cert-deletion', ...(await server.register('auth-cert-deletion', { auth: { certificate: der } })) };
          }
          if (o.deleteClient) return { type: 'client-deletion', ...(await server.register('client-deletion', { client: subsystemRef(parseSubsystem(o.deleteClient)) })) };
          if (o.changeAddress) return { type: 'address-change', ...(await server.register('address-change', { address: o.changeAddress })) };
          if (o.maintenance)
            return { type: 'maintenance', ...(await server.register('maintenance', { maintenance: o.maintenance === 'on', ...(o.message !== undefined ? { maintenanceMessage: o.message } : {}) })) };
          if (o.encryptionCert || o.deleteEncryptionCert) {
            const priv = conf.privateParameters();
            if (!priv) throw new TrucError('conf_expired', 'cấu hình không có tham số riêng / the configuration carries no private parameters: the registration service is unknown');
            const der = readDerOrPem(o.encryptionCert ?? o.deleteEncryptionCert);
            const { encryptionCertOcsp } = await import('../exchange/axis.js');
            const { encryptionCertRequest, submitRegistration } = await import('../exchange/conf/registration-request.js');
            const type = o.encryptionCert ? 'encryption-cert' : 'encryption-cert-deletion';
            const req = await encryptionCertRequest(server, type, der, type === 'encryption-cert' ? await encryptionCertOcsp(server, der, p.log) : undefined);
            return { type, ...(await submitRegistration(priv.registrationUrl, priv.centralTlsCertHash, req)) };
          }
          return null;
        };
        try {
          const r = await single();
          if (r) {
            ctx.out(r, () => `đã gửi yêu cầu (request sent): ${r.type} ${r.id} — ${r.status}`);
            return;
          }
          // the first registration (the authentication certificate with the address) and the clients
          const results: unknown[] = [];
          if (!o.clientsOnly) {
            const address = o.address ?? settings.publicAddress;
            if (!address) throw new TrucError('bad_request', 'give --address host:port (or exchange.server.publicAddress)');
            results.push({ type: 'auth-cert', ...(await server.register('auth-cert', { address })) });
          }
          for (const c of (await server.store.snapshot()).clients) results.push({ type: 'client', client: c, ...(await server.register('client', { client: subsystemRef(parseSubsystem(c)) })) });
          ctx.out(results, () => table(results as Record<string, unknown>[], ['type', 'client', 'id', 'status']));
        } finally {
          await log.close();
        }
      }),
    );

  const client = ss.command('client').description('the subsystems this server serves');
  client
    .command('remove <subsystem>')
    .description('Stop serving a client here (its information system is refused as not a client of this server); `truc ss register --delete-client` asks the central server to take it off this server.')
    .action((sub) =>
      ctx.withPlatform(async (p) => {
        const s = parseSubsystem(sub);
        const store = await serverStore(p);
        if (!(await store.snapshot()).clients.has(subsystemText(s))) throw new TrucError('not_found', `${subsystemText(s)} không phải phân hệ của máy chủ này / is not a client of this server`);
        await store.removeClient(s);
        ctx.out({ client: subsystemText(s) }, () => `đã gỡ phân hệ (client removed): ${subsystemText(s)}`);
      }),
    );
  client
    .command('add <subsystem>')
    .description('Add a client, e.g. SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu (then `truc ss register --clients-only`).')
    .action((sub) =>
      ctx.withPlatform(async (p) => {
        const s = parseSubsystem(sub);
        await (await serverStore(p)).addClient(s);
        ctx.out({ client: subsystemText(s) }, () => `đã thêm phân hệ (client added): ${subsystemText(s)}`);
      }),
    );

  client
    .command('connection <subsystem> <type>')
    .description('How the client’s information system must connect: http (HTTP or HTTPS), https-noauth (TLS), https (TLS with a certificate registered by `truc ss client cert add`).')
    .action((sub, type) =>
      ctx.withPlatform(async (p) => {
        const s = parseSubsystem(sub);
        await (await serverStore(p)).setConnection(s, type);
        ctx.out({ client: subsystemText(s), connection: type }, () => `kiểu kết nối (connection type) ${subsystemText(s)}: ${type}`);
      }),
    );
  const isCert = client.command('cert').description('TLS certificates of information systems: a client’s (connection https), or a provider’s (pinned for https service URLs)');
  isCert
    .command('add <subsystem> <file>')
    .description('Register an information system’s TLS certificate (PEM or DER) for a subsystem of this server')
    .action((sub, file) =>
      ctx.withPlatform(async (p) => {
        const s = parseSubsystem(sub);
        const bytes = readFileSync(file);
        const der = bytes.includes('-----BEGIN') ? Buffer.from(new X509Certificate(bytes).raw) : bytes;
        const hash = await (await serverStore(p)).addIsCert(s, der);
        ctx.out({ client: subsystemText(s), sha256: hash }, () => `đã đăng ký chứng thư TLS (TLS certificate registered) ${subsystemText(s)}: SHA-256 ${hash}`);
      }),
    );
  isCert
    .command('remove <subsystem> <sha256>')
    .description('Withdraw an information system’s TLS certificate by its SHA-256 (hex)')
    .action((sub, hash) =>
      ctx.withPlatform(async (p) => {
        const s = parseSubsystem(sub);
        if (!(await (await serverStore(p)).removeIsCert(s, hash))) throw new TrucError('not_found', `không có chứng thư này / no such certificate for ${subsystemText(s)}`);
        ctx.out({ client: subsystemText(s), removed: hash }, () => `đã gỡ chứng thư TLS (TLS certificate removed) ${hash}`);
      }),
    );

  const service = ss.command('service').description('services of this server’s clients');
  service
    .command('add <service> <url>')
    .description('Publish a service: SERVICE:VN/GOV/000.00.00.G22/vanthu/code and the information system’s URL it is forwarded to.')
    .option('--timeout <ms>', 'how long the service may take', '60000')
    .action((svc, url, o) =>
      ctx.withPlatform(async (p) => {
        const timeout = Number(o.timeout);
        if (!/^\d+$/.test(String(o.timeout)) || !Number.isSafeInteger(timeout) || timeout < 1)
          throw new TrucError('bad_request', `--timeout nhận số mili giây nguyên dương / --timeout wants a whole number of milliseconds above 0, got "${String(o.timeout).slice(0, 40)}"`);
        await (await serverStore(p)).putService(parseService(svc), url, timeout);
        ctx.out({ service: svc, url }, () => `đã công bố dịch vụ (service published): ${svc} → ${url}`);
      }),
    );
  service
    .command('describe <service> [file-or-url]')
    .description('Register a service’s description, a file or an http(s) URL read now (run again to refresh): OpenAPI 3 (JSON or YAML) for a REST service — clients read it with getOpenAPI, listMethods lists its operations; WSDL 1.1 (XML, defining the service’s code as an operation) for a SOAP service — clients read it with getWsdl, its endpoint addresses hidden')
    .option('--remove', 'remove the description: the service is of type REST again')
    .action((svc, file, o) =>
      ctx.withPlatform(async (p) => {
        if (!o.remove === !file) throw new TrucError('bad_request', 'hãy cho tệp hoặc URL mô tả, hoặc --remove / give a description file or URL, or --remove');
        const text = o.remove ? null : /^https?:\/\//i.test(file) ? await fetchDescription(file) : readInput(file, 'mô tả dịch vụ / the description').toString('utf8');
        const d = await (await serverStore(p)).describeService(parseService(svc), text);
        if (!d) return ctx.out({ service: svc, openapi: null }, () => `đã gỡ mô tả dịch vụ (service description removed): ${svc}`);
        if (d.format === 'wsdl')
          return ctx.out({ service: svc, wsdl: d }, () => `đã đăng ký mô tả WSDL (WSDL description registered): ${svc} — ${d.operations.length} thao tác (operations)${d.title ? `, “${d.title}”` : ''}`);
        ctx.out({ service: svc, openapi: d }, () => `đã đăng ký mô tả OpenAPI (OpenAPI description registered): ${svc} — ${d.endpoints.length} thao tác (operations)${d.title ? `, “${d.title}”` : ''}`);
      }),
    );
  service
    .command('list')
    .description('Services and their access rights')
    .action(() =>
      ctx.withPlatform(async (p) => {
        const store = await serverStore(p);
        const rows = (await store.listServices()).map((s) => ({ service: s.text, url: s.url, type: serviceType(s), disabled: s.disabled }));
        const rights = await store.listAccess();
        ctx.out({ services: rows, access: rights }, () => `${table(rows, ['service', 'url', 'type', 'disabled'])}\n\n${table(rights as unknown as Record<string, unknown>[], ['service', 'subject', 'method', 'path'])}`);
      }),
    );

  for (const [name, grant] of [
    ['grant', true],
    ['revoke', false],
  ] as const)
    ss.command(`${name} <service> <subject>`)
      .description(`${grant ? 'Grant' : 'Withdraw'} an access right to a service: subject SUBSYSTEM:…, GLOBALGROUP:VN/code or LOCALGROUP:code`)
      .option('--method <m>', 'HTTP method, or * for all', '*')
      .option('--path <p>', 'path below the service: * for any; exact; a trailing * for anything below; * inside for one segment, ** for anything (as X-Road writes endpoints)', '*')
      .action((svc, subject, o) =>
        ctx.withPlatform(async (p) => {
          const store = await serverStore(p);
          const right = { service: svc, subject, method: o.method, path: o.path };
          if (grant) await store.grant(right);
          else if (!(await store.revoke(right))) throw new TrucError('not_found', 'no such access right');
          ctx.out(right, () => `${grant ? 'đã cấp quyền (granted)' : 'đã thu hồi quyền (withdrawn)'}: ${subject} → ${o.method} ${svc} ${o.path}`);
        }),
      );

  ss.command('serve')
    .description('Run the security server: information systems on exchange.server.isPort (X-Road REST), other servers on peerPort (TLS 1.3, client certificates).')
    .action(async () => {
      await runUntilSignal(ctx.config(), async (p) => {
        const { server, conf, log } = await openServer(p, (dir, lo) => ctx.openLog(p, dir, lo));
        conf.start();
        const a = await server.start();
        p.log.info({ ...a, server: server.ctx.idText }, 'máy chủ an ninh đang chạy (security server running)');
        return async () => {
          conf.stop();
          await server.stop();
          await log.close();
        };
      });
    });

  ss.command('evidence <messageId>')
    .description(
      "Bằng chứng / one message's evidence from this server's message log, as the API gives it: an ASiC-E container with its records, bodies (decrypted with the vault's log key), hash chain, hash-tree path and time-stamp, sealed with the member's signing key (CAdES over the ASiCManifest). Runs beside `ss serve`: the log is only read.",
    )
    .requiredOption('--out <file>', 'the .asice file to write')
    .action((messageId: string, o: { out: string }) =>
      ctx.withPlatform(async (p) => {
        const { server, log } = await openServer(p, (dir, lo) => ctx.openLog(p, dir, lo), { readOnly: true });
        try {
          if (!log.evidence) throw new TrucError('unsupported', 'this message log gives no evidence');
          const stream = await log.evidence(messageId, { seal: await server.evidenceSeal() });
          const [{ pipeline }, { createWriteStream }] = await Promise.all([import('node:stream/promises'), import('node:fs')]);
          await pipeline(stream, createWriteStream(o.out));
          ctx.out({ messageId, file: o.out, sealed: true }, () => `đã ghi bằng chứng có niêm phong / sealed evidence written: ${o.out}`);
        } finally {
          await log.close();
        }
      }),
    );

  ss.command('diagnose')
    .description('Configuration age and source, OCSP status of this server’s certificates, TSA reachability, and a connection test to a peer.')
    .option('--peer <server>', 'SERVER:INSTANCE/CLASS/MEMBER/CODE to test a connection to')
    .action((o) =>
      ctx.withPlatform(async (p) => {
        const { server, log } = await openServer(p, (dir, lo) => ctx.openLog(p, dir, lo), { readOnly: true });
        try {
          const d = await server.diagnose(o.peer ? parseServer(o.peer) : undefined);
          const { diagnoseText } = await import('./diagnose-text.js');
          ctx.out(d, () => diagnoseText(d as never));
        } finally {
          await log.close();
        }
      }),
    );

  ss.command('conf')
    .description('Download the global configuration now and show its status')
    .action(() =>
      ctx.withPlatform(async (p) => {
        const c = confClient(p, serverSettings(p).dir);
        await c.refresh();
        ctx.out(c.status(), () => JSON.stringify(c.status(), null, 2));
      }),
    );
}

/** An OpenAPI description from the information system's URL: 10 s, at most 1 MiB (the description's own bound). */
async function fetchDescription(url: string): Promise<string> {
  const { MAX_DESCRIPTION_BYTES } = await import('../exchange/server/openapi.js');
  let r: Response;
  try {
    r = await fetch(url, { signal: AbortSignal.timeout(10_000), headers: { accept: 'application/yaml, application/json;q=0.9, application/wsdl+xml;q=0.8, text/xml;q=0.8, */*;q=0.5' } });
  } catch (e) {
    throw new TrucError('bad_request', `không tải được mô tả / the description could not be fetched from ${url}: ${(e as Error).message}`);
  }
  if (!r.ok) throw new TrucError('bad_request', `không tải được mô tả / ${url} answered ${r.status}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of r.body as unknown as AsyncIterable<Uint8Array>) {
    size += c.length;
    if (size > MAX_DESCRIPTION_BYTES) throw new TrucError('too_large', `an OpenAPI description is at most ${MAX_DESCRIPTION_BYTES} bytes`);
    chunks.push(Buffer.from(c));
  }
  return Buffer.concat(chunks).toString('utf8');
}
