import { tr } from '../i18n';
import { Bi } from '../components';
/**
 * The lab's product register: vendors, products (with the algorithms their versions claim), certificates
 * of conformity and licences, each searchable as the API allows. A product opens its versions, test runs
 * and certificates.
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { api } from '../api';
import { Empty, Loading, PageTitle, ProblemBox, StatusBadge, useLoad } from '../components';
import { date, validity } from '../format';
import { Link, setQuery, useLocation } from '../router';
import type { ConformityCertificate, Licence, Product, Vendor } from '../types';

const TABS = [
  { id: 'products', vi: 'Sản phẩm', en: 'Products' },
  { id: 'vendors', vi: 'Nhà cung cấp', en: 'Vendors' },
  { id: 'certificates', vi: 'Chứng nhận hợp chuẩn', en: 'Certificates of conformity' },
  { id: 'licences', vi: 'Giấy phép', en: 'Licences' },
] as const;

type Tab = (typeof TABS)[number]['id'];
type Q = Record<string, string>;

export function Lab() {
  const { query } = useLocation();
  const tab = (TABS.find((t) => t.id === query.get('tab'))?.id ?? 'products') as Tab;
  const params: Q = {};
  query.forEach((v, k) => k !== 'tab' && (params[k] = v));
  const go = (t: Tab, q: Q = {}) => setQuery({ tab: t === 'products' ? undefined : t, ...q });

  return (
    <section>
      <PageTitle vi="Sổ đăng ký sản phẩm mật mã" en="Lab product register" />
      <div className="tabs" role="tablist">
        {TABS.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            aria-selected={t.id === tab}
            className={t.id === tab ? 'tab active' : 'tab'}
            onClick={() => go(t.id)}
          >
            <Bi vi={t.vi} en={t.en} />
          </button>
        ))}
      </div>
      {tab === 'products' ? <Products q={params} search={(q) => go('products', q)} /> : null}
      {tab === 'vendors' ? <Vendors q={params} search={(q) => go('vendors', q)} /> : null}
      {tab === 'certificates' ? <Certificates q={params} search={(q) => go('certificates', q)} /> : null}
      {tab === 'licences' ? <Licences q={params} search={(q) => go('licences', q)} /> : null}
    </section>
  );
}

/** A search form over named text inputs (and selects), submitted into the page's query. */
function SearchForm({
  q,
  search,
  fields,
  children,
}: {
  q: Q;
  search: (q: Q) => void;
  fields: { name: string; label: string }[];
  children?: ReactNode;
}) {
  const [values, setValues] = useState<Q>(() =>
    Object.fromEntries(fields.map((f) => [f.name, q[f.name] ?? ''])),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const extra: Q = {};
    form.forEach((v, k) => (extra[k] = String(v)));
    search({ ...extra, ...Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.trim()])) });
  };
  return (
    <form className="filters" onSubmit={submit}>
      {fields.map((f) => (
        <label className="field" key={f.name}>
          <span>{f.label}</span>
          <input
            name={f.name}
            type="search"
            value={values[f.name]}
            onChange={(e) => setValues({ ...values, [f.name]: e.target.value })}
          />
        </label>
      ))}
      {children}
      <button type="submit">
        <Bi vi="Tìm kiếm" en="Search" />
      </button>
    </form>
  );
}

function StatusSelect({ q }: { q: Q }) {
  return (
    <>
      <label className="field">
        <span>
          <Bi vi="Trạng thái" en="status" />
        </span>
        <select name="status" defaultValue={q.status ?? ''}>
          <option value="">{tr('Tất cả', 'all')}</option>
          <option value="issued">{tr('Đã cấp', 'issued')}</option>
          <option value="suspended">{tr('Tạm đình chỉ', 'suspended')}</option>
          <option value="revoked">{tr('Đã thu hồi', 'revoked')}</option>
        </select>
      </label>
      <label className="field checkbox">
        <input name="valid" type="checkbox" value="now" defaultChecked={q.valid === 'now'} />
        <span>
          <Bi vi="Còn hiệu lực hôm nay" en="valid now" />
        </span>
      </label>
    </>
  );
}

function Results<T>({
  load,
  deps,
  render,
}: {
  load: () => Promise<T[]>;
  deps: unknown[];
  render: (rows: T[]) => ReactNode;
}) {
  const { data, error, loading } = useLoad(load, deps);
  return (
    <>
      <ProblemBox error={error} />
      {loading && !data ? <Loading /> : null}
      {data && !data.length ? <Empty /> : null}
      {data && data.length ? render(data) : null}
    </>
  );
}

function Products({ q, search }: { q: Q; search: (q: Q) => void }) {
  return (
    <>
      <SearchForm
        q={q}
        search={search}
        fields={[
          { name: 'vendor', label: tr('Nhà cung cấp', 'vendor') },
          { name: 'name', label: tr('Tên sản phẩm', 'product name') },
          { name: 'algorithm', label: tr('Thuật toán', 'algorithm') },
        ]}
      />
      <Results
        load={() =>
          api<Product[]>('/api/v1/lab/products', {
            query: { vendor: q.vendor, name: q.name, algorithm: q.algorithm, limit: 200 },
          })
        }
        deps={[q.vendor, q.name, q.algorithm]}
        render={(rows) => (
          <table className="table" data-testid="products-table">
            <thead>
              <tr>
                <th>
                  <Bi vi="Sản phẩm" en="product" />
                </th>
                <th>
                  <Bi vi="Nhà cung cấp" en="vendor" />
                </th>
                <th>
                  <Bi vi="Loại" en="kind" />
                </th>
                <th>
                  <Bi vi="Mô tả" en="description" />
                </th>
                <th>
                  <Bi vi="Đăng ký" en="registered" />
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((p) => (
                <tr key={p.id}>
                  <td>
                    <Link to={`/lab/products/${encodeURIComponent(p.id)}`}>{p.name}</Link>
                  </td>
                  <td>{p.vendorName}</td>
                  <td>{p.kind}</td>
                  <td className="muted">{p.description ?? ''}</td>
                  <td className="nowrap">{date(p.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      />
    </>
  );
}

function Vendors({ q, search }: { q: Q; search: (q: Q) => void }) {
  return (
    <>
      <SearchForm
        q={q}
        search={search}
        fields={[{ name: 'name', label: tr('Tên nhà cung cấp', 'vendor name') }]}
      />
      <Results
        load={() => api<Vendor[]>('/api/v1/lab/vendors', { query: { name: q.name, limit: 200 } })}
        deps={[q.name]}
        render={(rows) => (
          <table className="table" data-testid="vendors-table">
            <thead>
              <tr>
                <th>
                  <Bi vi="Nhà cung cấp" en="vendor" />
                </th>
                <th>
                  <Bi vi="Quốc gia" en="country" />
                </th>
                <th>
                  <Bi vi="Mã số thuế" en="tax id" />
                </th>
                <th>
                  <Bi vi="Liên hệ" en="contact" />
                </th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rows.map((v) => (
                <tr key={v.id}>
                  <td>{v.name}</td>
                  <td>{v.country ?? '—'}</td>
                  <td className="mono">{v.taxId ?? '—'}</td>
                  <td>{v.contact ?? '—'}</td>
                  <td>
                    <Link to={`/lab?vendor=${encodeURIComponent(v.id)}`}>
                      <Bi vi="Sản phẩm" en="products" /> →
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      />
    </>
  );
}

const validNow = (q: Q) => (q.valid === 'now' ? new Date().toISOString() : undefined);

export function ValidityCell({ until, status }: { until: string; status: string }) {
  const v = validity(until);
  return (
    <span className={v.expired || status !== 'issued' ? 'invalid' : v.soon ? 'soon' : 'valid'}>
      {date(until)} · {v.text}
    </span>
  );
}

/** A certificate of conformity's issue date, validity and status, as three table cells. */
export function ConformityCells({ c }: { c: ConformityCertificate }) {
  return (
    <>
      <td className="nowrap">{date(c.issuedAt)}</td>
      <td>
        <ValidityCell until={c.validUntil} status={c.status} />
      </td>
      <td>
        <StatusBadge status={c.status} />
        {c.statusReason ? <div className="muted small-text">{c.statusReason}</div> : null}
      </td>
    </>
  );
}

function Certificates({ q, search }: { q: Q; search: (q: Q) => void }) {
  return (
    <>
      <SearchForm
        q={q}
        search={search}
        fields={[
          { name: 'vendor', label: tr('Nhà cung cấp', 'vendor') },
          { name: 'product', label: tr('Sản phẩm', 'product') },
          { name: 'algorithm', label: tr('Thuật toán', 'algorithm') },
          { name: 'profile', label: tr('Hồ sơ chuẩn', 'profile') },
        ]}
      >
        <StatusSelect q={q} />
      </SearchForm>
      <Results
        load={() =>
          api<ConformityCertificate[]>('/api/v1/lab/certificates', {
            query: {
              vendor: q.vendor,
              product: q.product,
              algorithm: q.algorithm,
              profile: q.profile,
              status: q.status,
              validAt: validNow(q),
              limit: 200,
            },
          })
        }
        deps={[q.vendor, q.product, q.algorithm, q.profile, q.status, q.valid]}
        render={(rows) => (
          <table className="table" data-testid="lab-certificates-table">
            <thead>
              <tr>
                <th>
                  <Bi vi="Số" en="number" />
                </th>
                <th>
                  <Bi vi="Sản phẩm" en="product" />
                </th>
                <th>
                  <Bi vi="Hồ sơ chuẩn" en="profile" />
                </th>
                <th>
                  <Bi vi="Cấp ngày" en="issued" />
                </th>
                <th>
                  <Bi vi="Hiệu lực đến" en="valid until" />
                </th>
                <th>
                  <Bi vi="Trạng thái" en="status" />
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((c) => (
                <tr key={c.number}>
                  <td className="mono">{c.number}</td>
                  <td>
                    {c.vendorName} · {c.productName} {c.version}
                  </td>
                  <td>{c.profile}</td>
                  <ConformityCells c={c} />
                </tr>
              ))}
            </tbody>
          </table>
        )}
      />
    </>
  );
}

function Licences({ q, search }: { q: Q; search: (q: Q) => void }) {
  return (
    <>
      <SearchForm
        q={q}
        search={search}
        fields={[
          { name: 'vendor', label: tr('Nhà cung cấp', 'vendor') },
          { name: 'product', label: tr('Sản phẩm', 'product') },
          { name: 'kind', label: tr('Loại giấy phép', 'kind') },
        ]}
      >
        <StatusSelect q={q} />
      </SearchForm>
      <Results
        load={() =>
          api<Licence[]>('/api/v1/lab/licences', {
            query: {
              vendor: q.vendor,
              product: q.product,
              kind: q.kind,
              status: q.status,
              validAt: validNow(q),
              limit: 200,
            },
          })
        }
        deps={[q.vendor, q.product, q.kind, q.status, q.valid]}
        render={(rows) => <LicenceTable rows={rows} />}
      />
    </>
  );
}

export function LicenceTable({ rows }: { rows: Licence[] }) {
  return (
    <table className="table" data-testid="licences-table">
      <thead>
        <tr>
          <th>
            <Bi vi="Số" en="number" />
          </th>
          <th>
            <Bi vi="Nhà cung cấp" en="vendor" />
          </th>
          <th>
            <Bi vi="Sản phẩm" en="product" />
          </th>
          <th>
            <Bi vi="Loại" en="kind" />
          </th>
          <th>
            <Bi vi="Phạm vi" en="scope" />
          </th>
          <th>
            <Bi vi="Hết hạn" en="expires" />
          </th>
          <th>
            <Bi vi="Trạng thái" en="status" />
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((l) => (
          <tr key={l.number}>
            <td className="mono">{l.number}</td>
            <td>{l.vendorName}</td>
            <td>{l.productName ?? '—'}</td>
            <td>{l.kind}</td>
            <td className="muted">{l.scope ?? ''}</td>
            <td>
              <ValidityCell until={l.expiresAt} status={l.status} />
            </td>
            <td>
              <StatusBadge status={l.status} />
              {l.statusReason ? <div className="muted small-text">{l.statusReason}</div> : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
