/**
 * Certificates of conformity and licences, and their one status machine: issued ⇄ suspended, and either
 * → revoked, which is final. A certificate of conformity is issued only on evidence — a recorded run of
 * that product version judged PASS against the profile the certificate names.
 */
import { loadProfile } from '../profile.js';
import { commit, type LabContext } from './context.js';
import { refuse, text } from './catalogue.js';
import {
  findCertificate,
  findLicence,
  findProduct,
  findRun,
  findVendor,
  findVersion,
  insertCertificate,
  insertLicence,
  nextNumber,
  searchRuns,
  setStatus,
  type CertificateRow,
  type LicenceRow,
  type Status,
} from './store.js';
import type { Sql } from '../../store/index.js';

export type StatusAction = 'suspend' | 'reinstate' | 'revoke';

const NEXT: Record<StatusAction, { from: Status[]; to: Status }> = {
  suspend: { from: ['issued'], to: 'suspended' },
  reinstate: { from: ['suspended'], to: 'issued' },
  revoke: { from: ['issued', 'suspended'], to: 'revoked' },
};

const DAY = 86_400_000;
const year = (d: Date) => d.getUTCFullYear();

function validity(from: Date, validUntil: Date | undefined, days: number | undefined, action: string): Date {
  if (validUntil && days !== undefined) throw refuse('bad_request', 'give a validity end or a number of days, not both', action);
  const end = validUntil ?? new Date(from.getTime() + (days ?? 3 * 365) * DAY);
  if (Number.isNaN(end.getTime()) || end <= from) throw refuse('bad_request', 'validity must end after issuance', action);
  if (end.getTime() - from.getTime() > 10 * 366 * DAY) throw refuse('bad_request', 'validity of at most ten years', action);
  return end;
}

export interface NewCertificate {
  productVersionId: string;
  profile: string;
  /** the run that evidences conformity; default: the latest PASS run of the version under the profile */
  runId?: string;
  /** the number printed on the certificate; default LAB-C-<year>-<sequence> */
  number?: string;
  validUntil?: Date;
  validityDays?: number;
}

export async function issueCertificate(ctx: LabContext, c: NewCertificate, actor: string): Promise<CertificateRow> {
  const a = 'certificate.issue';
  const profile = await loadProfile(c.profile);
  const number = c.number === undefined ? undefined : text(c.number, 'certificate number', 64, a);
  return commit(ctx, actor, async (sql, now) => {
    const version = await findVersion(sql, c.productVersionId);
    if (!version) throw refuse('not_found', `no product version "${c.productVersionId}"`, a, c.productVersionId);
    const run = c.runId ? await findRun(sql, c.runId) : (await searchRuns(sql, { productVersionId: version.id, profile: profile.id, verdict: 'PASS', limit: 1 }))[0];
    if (!run) throw refuse('conflict', `no PASS run of ${version.productName} ${version.version} under ${profile.id}: run the tests first`, a, version.id);
    if (run.productVersionId !== version.id || run.profile !== profile.id || run.verdict !== 'PASS')
      throw refuse('conflict', `run ${run.id} is not a PASS of this version under ${profile.id}`, a, run.id);
    const n = number ?? `LAB-C-${year(now)}-${(await nextNumber(sql, 'certificate')).padStart(6, '0')}`;
    if (await findCertificate(sql, n)) throw refuse('conflict', `certificate ${n} exists`, a, n);
    const validUntil = validity(now, c.validUntil, c.validityDays, a);
    await insertCertificate(sql, { number: n, productVersionId: version.id, profile: profile.id, standard: profile.standard, runId: run.id, issuedAt: now, validUntil, issuedBy: actor });
    const row = (await findCertificate(sql, n))!;
    return { result: row, change: { action: a, target: n, detail: { productVersion: version.id, profile: profile.id, run: run.id, validUntil: validUntil.toISOString() } } };
  });
}

export async function changeCertificateStatus(ctx: LabContext, number: string, action: StatusAction, reason: string | undefined, actor: string): Promise<CertificateRow> {
  const a = `certificate.${action}`;
  const why = reason === undefined ? null : text(reason, 'reason', 500, a);
  if (action !== 'reinstate' && !why) throw refuse('bad_request', `a reason is required to ${action}`, a, number);
  return commit(ctx, actor, async (sql, now) => {
    const c = await findCertificate(sql, number, true);
    if (!c) throw refuse('not_found', `no certificate of conformity "${number}"`, a, number);
    await transition(sql, 'lab_certificate', c, action, why, now, a);
    const row = (await findCertificate(sql, number))!;
    return { result: row, change: { action: a, target: number, detail: { from: c.status, to: row.status, reason: why } } };
  });
}

async function transition(sql: Sql, table: 'lab_certificate' | 'lab_licence', row: { number: string; status: Status }, action: StatusAction, reason: string | null, now: Date, a: string): Promise<void> {
  const rule = NEXT[action];
  if (!rule.from.includes(row.status)) throw refuse('conflict', `${row.number} is ${row.status}: cannot ${action}`, a, row.number);
  await setStatus(sql, table, row.number, rule.to, reason, now);
}

export interface NewLicence {
  /** vendor id or exact name */
  vendor: string;
  productId?: string;
  /** e.g. trading, production, import-export, service */
  kind: string;
  scope?: string;
  /** the licence number as issued; default LAB-L-<year>-<sequence> */
  number?: string;
  validUntil?: Date;
  validityDays?: number;
}

export async function issueLicence(ctx: LabContext, l: NewLicence, actor: string): Promise<LicenceRow> {
  const a = 'licence.issue';
  const kind = text(l.kind, 'licence kind', 50, a);
  const scope = l.scope === undefined ? null : text(l.scope, 'scope', 2000, a);
  const number = l.number === undefined ? undefined : text(l.number, 'licence number', 64, a);
  return commit(ctx, actor, async (sql, now) => {
    const vendor = await findVendor(sql, l.vendor);
    if (!vendor) throw refuse('not_found', `no vendor "${l.vendor}"`, a, l.vendor);
    if (l.productId) {
      const p = await findProduct(sql, l.productId);
      if (!p) throw refuse('not_found', `no product "${l.productId}"`, a, l.productId);
      if (p.vendorId !== vendor.id) throw refuse('bad_request', `product ${p.id} is not ${vendor.name}'s`, a, l.productId);
    }
    const n = number ?? `LAB-L-${year(now)}-${(await nextNumber(sql, 'licence')).padStart(6, '0')}`;
    if (await findLicence(sql, n)) throw refuse('conflict', `licence ${n} exists`, a, n);
    const expiresAt = validity(now, l.validUntil, l.validityDays, a);
    await insertLicence(sql, { number: n, vendorId: vendor.id, productId: l.productId ?? null, kind, scope, issuedAt: now, expiresAt, issuedBy: actor });
    const row = (await findLicence(sql, n))!;
    return { result: row, change: { action: a, target: n, detail: { vendor: vendor.id, product: l.productId ?? null, kind, expiresAt: expiresAt.toISOString() } } };
  });
}

export async function changeLicenceStatus(ctx: LabContext, number: string, action: StatusAction, reason: string | undefined, actor: string): Promise<LicenceRow> {
  const a = `licence.${action}`;
  const why = reason === undefined ? null : text(reason, 'reason', 500, a);
  if (action !== 'reinstate' && !why) throw refuse('bad_request', `a reason is required to ${action}`, a, number);
  return commit(ctx, actor, async (sql, now) => {
    const l = await findLicence(sql, number, true);
    if (!l) throw refuse('not_found', `no licence "${number}"`, a, number);
    await transition(sql, 'lab_licence', l, action, why, now, a);
    const row = (await findLicence(sql, number))!;
    return { result: row, change: { action: a, target: number, detail: { from: l.status, to: row.status, reason: why } } };
  });
}
