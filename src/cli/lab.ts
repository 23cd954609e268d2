/**
 * `truc lab`: run a product against vector suites and keep the signed report in the register
 * (`lab run`), check a report against its signature (`lab verify-report`), and keep the register —
 * vendors, products, versions, certificates of conformity, licences.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import type { ProgressEvent } from '../lab/index.js';
import type * as LabApi from '../lab/index.js';
import type * as RegisterApi from '../lab/register/index.js';
import type * as OutcomeApi from '../lab/outcome.js';
import type * as PkiApi from '../pki/index.js';
import type * as SignApi from '../sign/index.js';
import type { CertificateRow, LicenceRow, StatusAction } from '../lab/register/index.js';
import type { Platform } from '../platform.js';
import { TrucError } from '../errors.js';
import { table } from './output.js';
import { progressBar } from './progress.js';
import { loadBefore } from './lazy.js';
import { pemBlocks } from '../asn1/der.js';

// the parts behind `truc lab`, loaded when one of its commands runs (./lazy.ts)
let OUTCOMES: typeof OutcomeApi.OUTCOMES;
let DEFAULT_VECTOR_DIR: typeof LabApi.DEFAULT_VECTOR_DIR, loadProfile: typeof LabApi.loadProfile, openProduct: typeof LabApi.openProduct, renderHtml: typeof LabApi.renderHtml;
let partialSummary: typeof LabApi.partialSummary, renderPdf: typeof LabApi.renderPdf, resolveSuites: typeof LabApi.resolveSuites, schemasFor: typeof LabApi.schemasFor;
let loadAcvpSet: typeof LabApi.loadAcvpSet;
let addProduct: typeof RegisterApi.addProduct, addVendor: typeof RegisterApi.addVendor, addVersion: typeof RegisterApi.addVersion;
let changeCertificateStatus: typeof RegisterApi.changeCertificateStatus, changeLicenceStatus: typeof RegisterApi.changeLicenceStatus;
let issueCertificate: typeof RegisterApi.issueCertificate, issueLicence: typeof RegisterApi.issueLicence, listVendors: typeof RegisterApi.listVendors;
let runAndRecord: typeof RegisterApi.runAndRecord, searchCertificates: typeof RegisterApi.searchCertificates, searchLicences: typeof RegisterApi.searchLicences;
let searchRuns: typeof RegisterApi.searchRuns, searchVersions: typeof RegisterApi.searchVersions, signBytes: typeof RegisterApi.signBytes;
let verifyReportSignature: typeof RegisterApi.verifyReportSignature;
let listCas: typeof PkiApi.listCas;
let verifyDetached: typeof SignApi.verifyDetached;

async function load(): Promise<void> {
  ({ OUTCOMES } = await import('../lab/outcome.js'));
  ({ DEFAULT_VECTOR_DIR, loadAcvpSet, loadProfile, openProduct, partialSummary, renderHtml, renderPdf, resolveSuites, schemasFor } = await import('../lab/index.js'));
  ({
    addProduct,
    addVendor,
    addVersion,
    changeCertificateStatus,
    changeLicenceStatus,
    issueCertificate,
    issueLicence,
    listVendors,
    runAndRecord,
    searchCertificates,
    searchLicences,
    searchRuns,
    searchVersions,
    signBytes,
    verifyReportSignature,
  } = await import('../lab/register/index.js'));
  ({ listCas } = await import('../pki/index.js'));
  ({ verifyDetached } = await import('../sign/index.js'));
}

export interface LabCliContext {
  withPlatform(fn: (p: Platform) => Promise<unknown>): Promise<void>;
  out(v: unknown, text: () => string): void;
  operator(): string;
}

const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];
const date = (v: string | undefined, what: string): Date | undefined => {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new TrucError('bad_request', `${what}: not a date (${v})`);
  return d;
};
/** `90s`, `5m`, `1h`, `1500ms`; a bare number is seconds. */
function duration(v: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(v.trim());
  const ms = m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'] : NaN;
  if (!(ms > 0)) throw new TrucError('bad_request', `${what}: không phải khoảng thời gian (not a duration: ${v}; e.g. 90s, 5m, 1h)`);
  return Math.round(ms);
}
/** `1048576`, `512K`, `64M`, `1G` (binary units). */
function byteCount(v: string, what: string): number {
  const m = /^(\d+)\s*([KMG])?i?B?$/i.exec(v.trim());
  const n = m ? Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] ?? ' ').toUpperCase()) : NaN;
  if (!(n > 0)) throw new TrucError('bad_request', `${what}: không phải số byte (not a byte count: ${v}; e.g. 64M)`);
  return n;
}
const day = (d: Date | null) => (d ? d.toISOString().slice(0, 10) : '');

function readPems(file: string): Buffer[] {
  const text = readFileSync(file, 'latin1');
  const out = pemBlocks(text, 'CERTIFICATE');
  if (!out.length) throw new TrucError('bad_request', `${file}: no PEM certificate`);
  return out;
}

export function labCommands(program: Command, c: LabCliContext): void {
  const lab = program.command('lab').description('crypto lab: conformance runs with signed reports, product register, certificates and licences');
  loadBefore(lab, load);

  lab
    .command('run')
    .description('Run a product against vector suites; write report.json (the signed canonical bytes), report.html, report.pdf and their detached signatures; record the run. Exits 1 when the verdict is FAIL.')
    .requiredOption('--product <product>', 'node | noble | pkcs11 | stdio:<command line> | http:<url>')
    .option('--suite <suite>', 'vector file name, path, glob (ecdsa_*_test.json) or family (aead, mac, ecdsa…); repeatable; default: the profile’s suites, else all', (v: string, prev: string[] = []) => [...prev, v])
    .option('--acvp <dir>', 'an ACVP vector set instead of Wycheproof files: a folder with prompt.json and expectedResults.json (as NIST publishes them); repeatable', (v: string, prev: string[] = []) => [...prev, v])
    .option('--large-data <bytes>', 'ACVP only: the largest large-data test (LDT) message asked (e.g. 1G); default 0, such tests are SKIPPED')
    .option('--profile <name>', 'judge against this profile (stored-data-protection, signature-verification, …)')
    .option('--product-version <id>', 'the registered product version this run is evidence for')
    .option('--out <dir>', 'where to write the reports', 'lab-report')
    .option('--vectors <dir>', 'folder of Wycheproof vector files (also TRUC_LAB_VECTORS)')
    .option('--pkcs11-module <path>', 'PKCS#11 module of the product under test')
    .option('--pkcs11-token <label>', 'token label')
    .option('--pkcs11-pin <pin>', 'user PIN (also TRUC_LAB_PKCS11_PIN)')
    .option('--run-timeout <duration>', 'limit on the whole run (90s, 5m, 1h); when reached the product is stopped and a partial report, never PASS, is signed')
    .option('--max-output <bytes>', 'limit on what a stdio product may write over the whole run (e.g. 64M; default 256M); past it the product is stopped and the report is partial')
    .option('--no-progress', 'no progress bar')
    .action(async (o) =>
      c.withPlatform(async (p) => {
        const runTimeoutMs = o.runTimeout !== undefined ? duration(o.runTimeout, '--run-timeout') : undefined;
        const maxOutputBytes = o.maxOutput !== undefined ? byteCount(o.maxOutput, '--max-output') : undefined;
        if (o.acvp && o.suite) throw new TrucError('bad_request', '--acvp và --suite không dùng cùng nhau: một lần chạy lấy bộ ACVP hoặc tệp Wycheproof (--acvp and --suite cannot be given together: a run takes ACVP sets or Wycheproof files)');
        if (o.largeData !== undefined && !o.acvp) throw new TrucError('bad_request', '--large-data chỉ dùng với bộ ACVP (--acvp) (--large-data applies to ACVP sets only)');
        const largeDataMaxBytes = o.largeData !== undefined ? byteCount(o.largeData, '--large-data') : undefined;
        const dir = resolve(o.vectors ?? process.env.TRUC_LAB_VECTORS ?? DEFAULT_VECTOR_DIR);
        const profile = o.profile ? await loadProfile(o.profile) : undefined;
        const acvp = o.acvp ? await Promise.all((o.acvp as string[]).map((d) => loadAcvpSet(d))) : undefined;
        const files = acvp ? undefined : await resolveSuites(o.suite ?? [], { dir, profile });
        const schemas = acvp ? undefined : await schemasFor(dir);
        const adapter = await openProduct(o.product, {
          pkcs11: { library: o.pkcs11Module, tokenLabel: o.pkcs11Token, pin: o.pkcs11Pin ?? process.env.TRUC_LAB_PKCS11_PIN },
          stdio: { maxOutputBytes },
        });
        // what the bar counts: each Wycheproof file or ACVP set with its number of tests
        const units = acvp
          ? acvp.map((s) => ({ name: s.name, tests: s.prompt.testGroups.reduce((m, g) => m + g.tests.length, 0) }))
          : files!.map((f) => ({ name: f.name, tests: (f.doc.testGroups ?? []).reduce((m, g) => m + (g.tests?.length ?? 0), 0) }));
        const total = units.reduce((n, u) => n + u.tests, 0);
        const bar = progressBar(total, { enabled: o.progress });
        let before = 0;
        let suitesDone = 0;
        const onProgress = (e: ProgressEvent) => {
          if (e.type === 'progress') bar.update(before + e.done, `suites ${suitesDone}/${units.length}`);
          else if (e.type === 'suite-end') {
            suitesDone++;
            before += units.find((u) => u.name === e.file)?.tests ?? 0;
            const n = OUTCOMES.filter((x) => e.counts[x]).map((x) => `${x.toLowerCase()} ${e.counts[x]}`).join(', ');
            bar.log(`${e.file}: ${e.error ? `not run (${e.error})` : n || 'no tests'}`);
            bar.update(before, `suites ${suitesDone}/${units.length}`);
          }
        };
        let recorded;
        try {
          recorded = await runAndRecord(
            p,
            { adapter, ...(acvp ? { acvp, largeDataMaxBytes } : { files, schemas }), profile, productVersionId: o.productVersion, onProgress, runTimeoutMs },
            c.operator(),
          );
        } finally {
          bar.done();
          await adapter.close?.();
        }
        const { run, report, signed } = recorded;
        const outDir = resolve(o.out);
        mkdirSync(outDir, { recursive: true });
        const pdf = Buffer.from(await renderPdf(report));
        const written = {
          json: join(outDir, 'report.json'),
          signature: join(outDir, 'report.p7s'),
          html: join(outDir, 'report.html'),
          pdf: join(outDir, 'report.pdf'),
          pdfSignature: join(outDir, 'report.pdf.p7s'),
        };
        writeFileSync(written.json, signed.bytes);
        writeFileSync(written.signature, signed.signature);
        writeFileSync(written.html, renderHtml(report));
        writeFileSync(written.pdf, pdf);
        writeFileSync(written.pdfSignature, (await signBytes(p, pdf, c.operator())).signature);
        c.out({ run, files: written }, () => {
          const rows = report.suites.map((s) => ({ suite: s.file, ...Object.fromEntries(OUTCOMES.map((x) => [x.toLowerCase(), s.counts[x]])), ...(s.error ? { note: 'not run' } : s.notRun ? { note: `${s.notRun} not run` } : {}) }));
          rows.push({ suite: 'total', ...Object.fromEntries(OUTCOMES.map((x) => [x.toLowerCase(), report.counts[x]])) } as (typeof rows)[number]);
          const v = report.verdict;
          return [
            table(rows, ['suite', ...OUTCOMES.map((x) => x.toLowerCase()), 'note']),
            '',
            ...(report.partial ? [partialSummary(report.partial), ''] : []),
            v ? `verdict: ${v.verdict} — ${v.profile.title}` : 'verdict: none (no --profile)',
            ...(v?.reasons ?? []).map((r) => `  - ${r}`),
            `run ${run.id}${run.productVersionId ? ` of ${run.productVersionId}` : ''}, signed by ${signed.signer.subject} (serial ${signed.signer.serial})`,
            `reports in ${outDir}: report.json report.p7s report.html report.pdf report.pdf.p7s`,
          ].join('\n');
        });
        if (report.verdict?.verdict === 'FAIL' || report.partial) process.exitCode = 1;
      }),
    );

  lab
    .command('verify-report <report> <signature>')
    .description('Verify a report (report.json or report.pdf) against its detached signature and the CA; exits 1 when it does not verify')
    .option('--ca-file <pem>', 'trusted root certificate(s), PEM; default: the platform’s root CAs')
    .action(async (reportFile: string, sigFile: string, o) =>
      c.withPlatform(async (p) => {
        const anchors = o.caFile ? readPems(o.caFile) : (await listCas(p.db)).filter((x) => x.parentId === null).map((x) => x.certificate);
        const content = readFileSync(reportFile);
        const signature = readFileSync(sigFile);
        try {
          const v = reportFile.endsWith('.pdf')
            ? { ...(await verifyDetached(signature, content, { trustAnchors: anchors })), canonicalised: false, report: undefined }
            : await verifyReportSignature(content, signature, { trustAnchors: anchors });
          c.out({ valid: true, signer: { ...v.signer, certificate: undefined }, signingTime: v.signingTime, trusted: v.trusted, canonicalised: v.canonicalised }, () =>
            [
              `signature valid: ${v.signer.subject} (serial ${v.signer.serial}), signed ${v.signingTime.toISOString()}`,
              `path to a trusted root: ${v.trusted ? 'yes' : 'no'}`,
              ...(v.canonicalised ? ['(the file is a re-formatted copy; verified in canonical form)'] : []),
              ...(v.report ? [`report: ${v.report.product?.name} ${v.report.product?.version}, verdict ${v.report.verdict?.verdict ?? 'none'}`] : []),
            ].join('\n'),
          );
        } catch (e) {
          if (!(e instanceof TrucError) || e.code !== 'invalid_signature') throw e;
          c.out({ valid: false, reason: e.message }, () => `SIGNATURE INVALID: ${e.message}`);
          process.exitCode = 1;
        }
      }),
    );

  lab
    .command('runs')
    .description('List recorded runs')
    .option('--product-version <id>')
    .addOption(new Option('--verdict <verdict>').choices(['PASS', 'FAIL']))
    .option('--profile <name>')
    .option('--limit <n>', '', '50')
    .action(async (o) =>
      c.withPlatform(async (p) => {
        const rows = await searchRuns(p.db, { productVersionId: o.productVersion, verdict: o.verdict, profile: o.profile, limit: Number(o.limit) });
        c.out(rows, () =>
          table(
            rows.map((r) => ({ id: r.id, finished: r.finishedAt.toISOString(), product: `${r.productName} ${r.productVersion}`, version: r.productVersionId ?? '', profile: r.profile ?? '', verdict: r.verdict ?? '', pass: r.counts.PASS, fail: r.counts.FAIL })),
            ['id', 'finished', 'product', 'version', 'profile', 'verdict', 'pass', 'fail'],
          ),
        );
      }),
    );

  // ---- register: vendors, products, versions
  const vendor = lab.command('vendor').description('vendors of cryptographic products');
  vendor
    .command('add')
    .requiredOption('--name <name>')
    .option('--country <cc>', 'ISO 3166 country code')
    .option('--tax-id <id>')
    .option('--contact <text>')
    .action(async (o) =>
      c.withPlatform(async (p) => {
        const v = await addVendor(p, { name: o.name, country: o.country, taxId: o.taxId, contact: o.contact }, c.operator());
        c.out(v, () => `${v.id}  ${v.name}`);
      }),
    );
  vendor
    .command('list')
    .option('--name <text>', 'name contains')
    .action(async (o) =>
      c.withPlatform(async (p) => {
        const rows = await listVendors(p.db, { name: o.name });
        c.out(rows, () => table(rows.map((r) => ({ id: r.id, name: r.name, country: r.country ?? '', taxId: r.taxId ?? '' })), ['id', 'name', 'country', 'taxId']));
      }),
    );

  const product = lab.command('product').description('products and their versions');
  product
    .command('add')
    .requiredOption('--vendor <vendor>', 'vendor id or exact name')
    .requiredOption('--name <name>')
    .option('--kind <kind>', 'library, hsm, token, application, service…', 'library')
    .option('--description <text>')
    .action(async (o) =>
      c.withPlatform(async (p) => {
        const r = await addProduct(p, { vendor: o.vendor, name: o.name, kind: o.kind, description: o.description }, c.operator());
        c.out(r, () => `${r.id}  ${r.vendorName} — ${r.name}`);
      }),
    );
  product
    .command('list')
    .description('Search product versions by vendor, product name and claimed algorithm')
    .option('--vendor <vendor>', 'vendor id or name contains')
    .option('--name <text>', 'product name contains')
    .option('--algorithm <alg>', 'claims this algorithm')
    .action(async (o) =>
      c.withPlatform(async (p) => {
        const rows = await searchVersions(p.db, { vendor: o.vendor, name: o.name, algorithm: o.algorithm });
        c.out(rows, () =>
          table(
            rows.map((r) => ({ version: r.id, vendor: r.vendorName, product: `${r.productName} (${r.productId})`, release: r.version, algorithms: r.algorithms.join(',') })),
            ['version', 'vendor', 'product', 'release', 'algorithms'],
          ),
        );
      }),
    );
  lab
    .command('version')
    .description('product versions')
    .command('add')
    .requiredOption('--product <id>')
    .requiredOption('--version <version>')
    .option('--algorithm <alg>', 'claimed algorithm (repeatable or comma-separated)', collect)
    .action(async (o) =>
      c.withPlatform(async (p) => {
        const v = await addVersion(p, { productId: o.product, version: o.version, algorithms: o.algorithm ?? [] }, c.operator());
        c.out(v, () => `${v.id}  ${v.productName} ${v.version}`);
      }),
    );

  // ---- certificates of conformity and licences
  const certTable = (rows: CertificateRow[]) =>
    table(
      rows.map((r) => ({ number: r.number, product: `${r.vendorName} — ${r.productName} ${r.version}`, profile: r.profile, status: r.status, issued: day(r.issuedAt), validUntil: day(r.validUntil) })),
      ['number', 'product', 'profile', 'status', 'issued', 'validUntil'],
    );
  const licenceTable = (rows: LicenceRow[]) =>
    table(
      rows.map((r) => ({ number: r.number, vendor: r.vendorName, product: r.productName ?? '', kind: r.kind, status: r.status, issued: day(r.issuedAt), expires: day(r.expiresAt) })),
      ['number', 'vendor', 'product', 'kind', 'status', 'issued', 'expires'],
    );

  const certificate = lab.command('certificate').description('certificates of conformity (issued on a PASS run)');
  certificate
    .command('issue')
    .requiredOption('--product-version <id>')
    .requiredOption('--profile <name>')
    .option('--run <id>', 'the evidencing run (default: the latest PASS run of the version under the profile)')
    .option('--number <number>', 'default LAB-C-<year>-<sequence>')
    .option('--days <n>', 'validity in days (default 3 years)')
    .option('--valid-until <date>')
    .action(async (o) =>
      c.withPlatform(async (p) => {
        const r = await issueCertificate(
          p,
          { productVersionId: o.productVersion, profile: o.profile, runId: o.run, number: o.number, validityDays: o.days ? Number(o.days) : undefined, validUntil: date(o.validUntil, '--valid-until') },
          c.operator(),
        );
        c.out(r, () => certTable([r]));
      }),
    );
  const licence = lab.command('licence').description('licences of vendors (trading, production, …)');
  licence
    .command('issue')
    .requiredOption('--vendor <vendor>', 'vendor id or exact name')
    .requiredOption('--kind <kind>', 'trading, production, import-export, service…')
    .option('--product <id>')
    .option('--scope <text>')
    .option('--number <number>', 'as issued (default LAB-L-<year>-<sequence>)')
    .option('--days <n>', 'validity in days (default 3 years)')
    .option('--valid-until <date>')
    .action(async (o) =>
      c.withPlatform(async (p) => {
        const r = await issueLicence(
          p,
          { vendor: o.vendor, kind: o.kind, productId: o.product, scope: o.scope, number: o.number, validityDays: o.days ? Number(o.days) : undefined, validUntil: date(o.validUntil, '--valid-until') },
          c.operator(),
        );
        c.out(r, () => licenceTable([r]));
      }),
    );

  // the change functions are named, not taken: they are loaded when a command runs (./lazy.ts)
  for (const [cmd, changeFn, show] of [
    [certificate, () => changeCertificateStatus, (r: CertificateRow | LicenceRow) => certTable([r as CertificateRow])],
    [licence, () => changeLicenceStatus, (r: CertificateRow | LicenceRow) => licenceTable([r as LicenceRow])],
  ] as const) {
    for (const action of ['suspend', 'revoke', 'reinstate'] as StatusAction[]) {
      const sub = cmd.command(`${action} <number>`).description(`${action === 'reinstate' ? 'Lift a suspension' : action === 'revoke' ? 'Revoke (final)' : 'Suspend'}`);
      if (action !== 'reinstate') sub.requiredOption('--reason <text>');
      else sub.option('--reason <text>');
      sub.action(async (number: string, o) =>
        c.withPlatform(async (p) => {
          const r = await (changeFn() as (p: Platform, n: string, a: StatusAction, why: string | undefined, actor: string) => Promise<CertificateRow | LicenceRow>)(p, number, action, o.reason, c.operator());
          c.out(r, () => show(r));
        }),
      );
    }
  }

  const listOptions = (cmd: Command) =>
    cmd
      .option('--vendor <vendor>', 'vendor id or name contains')
      .option('--product <text>', 'product name contains')
      .addOption(new Option('--status <status>').choices(['issued', 'suspended', 'revoked']))
      .option('--valid-at <date>', 'in force at this time')
      .option('--expires-before <date>')
      .option('--limit <n>', '', '100');
  listOptions(certificate.command('list'))
    .option('--algorithm <alg>', 'the product version claims it')
    .option('--profile <name>')
    .action(async (o) =>
      c.withPlatform(async (p) => {
        const rows = await searchCertificates(p.db, { vendor: o.vendor, product: o.product, algorithm: o.algorithm, profile: o.profile, status: o.status, validAt: date(o.validAt, '--valid-at'), expiresBefore: date(o.expiresBefore, '--expires-before'), limit: Number(o.limit) });
        c.out(rows, () => certTable(rows));
      }),
    );
  listOptions(licence.command('list'))
    .option('--kind <kind>')
    .action(async (o) =>
      c.withPlatform(async (p) => {
        const rows = await searchLicences(p.db, { vendor: o.vendor, product: o.product, kind: o.kind, status: o.status, validAt: date(o.validAt, '--valid-at'), expiresBefore: date(o.expiresBefore, '--expires-before'), limit: Number(o.limit) });
        c.out(rows, () => licenceTable(rows));
      }),
    );
}
