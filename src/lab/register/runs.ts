/**
 * A test run as the register keeps it: the product is asked (runner), the report built and judged against
 * the profile, signed by the lab, and stored — canonical bytes and signature exactly as signed, the
 * per-suite hashes and counts, the verdict, who ran it and when — with its audit record.
 */
import { TrucError } from '../../errors.js';
import type { ProductAdapter } from '../product.js';
import type { Profile } from '../profile.js';
import { buildReport, type LabReport } from '../report/model.js';
import { runSuite, type ProgressEvent } from '../runner.js';
import { runAcvpSets } from '../acvp/run.js';
import type { AcvpSuiteInput } from '../acvp/vector-set.js';
import type { VectorFile } from '../wycheproof/file.js';
import type { SchemaSet } from '../wycheproof/schema.js';
import { createHash } from 'node:crypto';
import { newId } from './catalogue.js';
import { commit, type LabContext } from './context.js';
import { signReport, type SignedReport } from './signer.js';
import { findRun, findVersion, insertRun, type RunRow } from './store.js';

export interface LabRunInput {
  adapter: ProductAdapter;
  /** Wycheproof files; or `acvp`, ACVP vector sets (one kind per run). */
  files?: readonly VectorFile[];
  acvp?: readonly AcvpSuiteInput[];
  /** ACVP only: largest large-data test message asked, in bytes (default 0: such tests are SKIPPED). */
  largeDataMaxBytes?: number;
  schemas?: SchemaSet;
  profile?: Profile;
  /** the registered product version this run is evidence for */
  productVersionId?: string;
  /** the run's id, when the caller announced it before the run finished */
  id?: string;
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
  /** Limit on the whole run; reached, the report is partial (and never PASS), still signed and recorded. */
  runTimeoutMs?: number;
}

export interface RecordedRun {
  run: RunRow;
  report: LabReport;
  signed: SignedReport;
}

export async function runAndRecord(ctx: LabContext, input: LabRunInput, actor: string): Promise<RecordedRun> {
  if (input.productVersionId && !(await findVersion(ctx.db, input.productVersionId)))
    throw new TrucError('not_found', `no product version "${input.productVersionId}"`);
  if (input.acvp && input.files) throw new TrucError('bad_request', 'a run takes Wycheproof files or ACVP sets, not both');
  const limits = { onProgress: input.onProgress, signal: input.signal, now: ctx.pki.clock, ...(input.runTimeoutMs !== undefined ? { runTimeoutMs: input.runTimeoutMs } : {}) };
  const result = input.acvp
    ? await runAcvpSets(input.adapter, input.acvp, { ...limits, ...(input.largeDataMaxBytes !== undefined ? { largeDataMaxBytes: input.largeDataMaxBytes } : {}) })
    : await runSuite(input.adapter, input.files ?? [], { ...limits, schemas: input.schemas, ...(input.profile?.skip ? { skip: input.profile.skip } : {}) });
  const report = buildReport({ run: result, profile: input.profile });
  const run = await recordRun(ctx, { id: input.id, report, productVersionId: input.productVersionId, adapter: input.adapter.info.adapter }, actor);
  return run;
}

/** Signs a report and stores it as a run of the register. */
export async function recordRun(ctx: LabContext, r: { id?: string; report: LabReport; productVersionId?: string; adapter: string }, actor: string): Promise<RecordedRun> {
  const signed = await signReport(ctx, r.report, actor);
  const report = r.report;
  const id = r.id ?? newId('run');
  const row: RunRow = {
    id,
    productVersionId: r.productVersionId ?? null,
    productName: report.product.name,
    productVersion: report.product.version,
    adapter: r.adapter,
    profile: report.verdict?.profile.id ?? null,
    verdict: report.verdict?.verdict ?? null,
    suites: report.suites.map((s) => ({ file: s.file, sha256: s.sha256, algorithm: s.algorithm, counts: s.counts, ...(s.error ? { error: s.error } : {}) })),
    counts: report.counts,
    reportSha256: createHash('sha256').update(signed.bytes).digest('hex'),
    signed: true,
    signerSerial: signed.signer.serial,
    startedAt: new Date(report.run.startedAt),
    finishedAt: new Date(report.run.finishedAt),
    operator: actor,
  };
  await commit(ctx, actor, async (sql, now) => {
    await insertRun(sql, { ...row, report: Buffer.from(signed.bytes), signature: signed.signature, recordedAt: now });
    return {
      result: undefined,
      change: {
        action: 'run.record',
        target: id,
        detail: { product: `${row.productName} ${row.productVersion}`, productVersion: row.productVersionId, profile: row.profile, verdict: row.verdict, counts: row.counts, reportSha256: row.reportSha256 },
      },
    };
  });
  return { run: (await findRun(ctx.db, id))!, report, signed };
}
