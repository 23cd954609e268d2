/**
 * Vendors, their products and product versions. A version names the algorithms its vendor claims, which
 * is what the register is searched by and what a test run of that version is expected to evidence.
 */
import { randomBytes } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { commit, type LabContext } from './context.js';
import { findProduct, findVendor, findVersion, insertProduct, insertVendor, insertVersion, type ProductRow, type VendorRow, type VersionRow } from './store.js';

export const newId = (prefix: string): string => `${prefix}_${randomBytes(6).toString('hex')}`;

/** A refusal the register audits (outcome failure) and publishes. */
export function refuse(code: 'bad_request' | 'conflict' | 'not_found', message: string, action: string, target?: string): TrucError {
  return new TrucError(code, message, { action, ...(target ? { target } : {}) });
}

export function text(v: unknown, what: string, max = 200, action = 'register'): string {
  if (typeof v !== 'string' || !v.trim() || v.length > max || /[\x00-\x1f\x7f]/.test(v)) throw refuse('bad_request', `${what} must be 1 to ${max} printable characters`, action);
  return v.trim();
}

const optional = (v: unknown, what: string, max = 500, action = 'register'): string | null => (v === undefined || v === null || v === '' ? null : text(v, what, max, action));

export interface NewVendor {
  name: string;
  country?: string;
  taxId?: string;
  contact?: string;
}

export async function addVendor(ctx: LabContext, v: NewVendor, actor: string): Promise<VendorRow> {
  const a = 'vendor.add';
  const row: VendorRow = {
    id: newId('ven'),
    name: text(v.name, 'vendor name', 200, a),
    country: optional(v.country, 'country', 2, a),
    taxId: optional(v.taxId, 'tax id', 50, a),
    contact: optional(v.contact, 'contact', 500, a),
    createdAt: ctx.pki.clock(),
  };
  return commit(ctx, actor, async (sql, now) => {
    if (await findVendor(sql, row.name)) throw refuse('conflict', `vendor "${row.name}" is already registered`, a, row.name);
    row.createdAt = now;
    await insertVendor(sql, { ...row, createdBy: actor });
    return { result: row, change: { action: a, target: row.id, detail: { name: row.name } } };
  });
}

export interface NewProduct {
  /** vendor id or exact name */
  vendor: string;
  name: string;
  /** what it is: library, hsm, token, application, service… */
  kind?: string;
  description?: string;
}

export async function addProduct(ctx: LabContext, p: NewProduct, actor: string): Promise<ProductRow> {
  const a = 'product.add';
  const name = text(p.name, 'product name', 200, a);
  const kind = p.kind === undefined ? 'library' : text(p.kind, 'product kind', 50, a);
  const description = optional(p.description, 'description', 2000, a);
  return commit(ctx, actor, async (sql, now) => {
    const vendor = await findVendor(sql, p.vendor);
    if (!vendor) throw refuse('not_found', `no vendor "${p.vendor}"`, a, p.vendor);
    const [dup] = await sql.query('SELECT 1 FROM lab_product WHERE vendor_id = $1 AND name = $2', [vendor.id, name]);
    if (dup) throw refuse('conflict', `${vendor.name} already has a product "${name}"`, a, name);
    const row: ProductRow = { id: newId('prd'), vendorId: vendor.id, vendorName: vendor.name, name, kind, description, createdAt: now };
    await insertProduct(sql, { ...row, createdBy: actor });
    return { result: row, change: { action: a, target: row.id, detail: { vendor: vendor.id, name } } };
  });
}

export interface NewVersion {
  productId: string;
  version: string;
  /** algorithms the vendor claims, as the lab names them (AES-GCM, ECDSA, HMACSHA256, ML-KEM-768…) */
  algorithms?: string[];
}

export async function addVersion(ctx: LabContext, v: NewVersion, actor: string): Promise<VersionRow> {
  const a = 'version.add';
  const version = text(v.version, 'version', 100, a);
  const algorithms = [...new Set((v.algorithms ?? []).map((x) => text(x, 'algorithm', 64, a)))];
  if (algorithms.length > 200) throw refuse('bad_request', 'at most 200 algorithms a version', a);
  return commit(ctx, actor, async (sql, now) => {
    const product = await findProduct(sql, v.productId);
    if (!product) throw refuse('not_found', `no product "${v.productId}"`, a, v.productId);
    const [dup] = await sql.query('SELECT 1 FROM lab_product_version WHERE product_id = $1 AND version = $2', [product.id, version]);
    if (dup) throw refuse('conflict', `${product.name} already has version "${version}"`, a, version);
    const id = newId('ver');
    await insertVersion(sql, { id, productId: product.id, version, algorithms, createdAt: now, createdBy: actor });
    const row = (await findVersion(sql, id))!;
    return { result: row, change: { action: a, target: id, detail: { product: product.id, version, algorithms } } };
  });
}
