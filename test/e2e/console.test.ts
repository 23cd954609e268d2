/**
 * The web console in a real browser (Debian's Chromium driven by playwright-core) against a real platform
 * (PGlite, monitoring on, the built console at /console/). Data comes in by the APIs — an event that fires
 * a built-in rule, a product in the lab register, a certificate from the CA — and each step done in the
 * console is checked through the API: the alert's status, the rule's settings, and that a disabled or
 * tuned rule really stops raising alerts.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/http/auth/store.js';
import { buildReport, loadProfile, type RunResult } from '../../src/lab/index.js';
import { recordRun } from '../../src/lab/register/index.js';
import type { MonitorService } from '../../src/monitor/index.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import type { TestPlatform } from '../helpers/platform.js';
import { workingHoursShift } from '../monitor/helpers.js';
import { openConsoleRig, type ConsoleRig } from './console-rig.js';

const AUDIT_RULE = 'Audit chain tampering';
const MALWARE_RULE = 'Malware in a file received by the platform';
const SHOTS = process.env.TRUC_E2E_SCREENSHOTS ?? '/tmp';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Json = any;

describe('web console in Chromium', () => {
  let p: TestPlatform;
  let m: MonitorService;
  let rig: ConsoleRig | undefined;
  let base: string;
  let page: Page;
  const tokens: Record<string, string> = {};
  const lab: { productId?: string; certificate?: string; licence?: string } = {};
  let serial: string;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    rig = await openConsoleRig({
      // the console's own API calls publish authentication events stamped by this clock: keep them in working
      // hours, so "Access outside permitted hours" does not join the alerts whenever the suite runs
      prepare: (platform) => {
        const shift = workingHoursShift();
        platform.pki.clock = () => new Date(Date.now() + shift);
      },
      defaultTimeoutMs: 10_000,
    });
    ({ p, base, page } = rig);
    m = rig.m!;
    for (const [name, role] of [
      ['Nguyễn Văn An', 'monitor-analyst'],
      ['event sender', 'event-sender'],
      ['Lê Thị Lan', 'lab-officer'],
      ['ra officer', 'ra-officer'],
      ['Phạm Kiểm Toán', 'auditor'],
    ])
      tokens[role] = (await createToken(p.db, name, [role])).token;

    // an event that fires a built-in rule
    await ingest([
      {
        event: {
          action: 'audit.chain.broken',
          category: ['configuration'],
          outcome: 'failure',
          dataset: 'truc.audit',
        },
        host: { name: 'db-01' },
      },
    ]);
    await waitForAlerts(AUDIT_RULE, 1);

    // the lab register: a vendor, a product with a version, a signed PASS run, a certificate and a licence
    const officer = tokens['lab-officer']!;
    const vendor = await call('POST', '/api/v1/lab/vendors', officer, {
      name: 'Công ty Mật mã Sông Hồng',
      country: 'VN',
    });
    const product = await call('POST', '/api/v1/lab/products', officer, {
      vendor: vendor.id,
      name: 'SongHong HSM',
      kind: 'hsm',
      description: 'Mô-đun an toàn phần cứng',
    });
    const version = await call('POST', `/api/v1/lab/products/${product.id}/versions`, officer, {
      version: '4.2',
      algorithms: ['AES-GCM', 'HMACSHA256', 'ECDSA'],
    });
    const profile = await loadProfile('stored-data-protection');
    await recordRun(
      p,
      {
        report: buildReport({ run: passingRun('SongHong HSM', '4.2'), profile }),
        productVersionId: version.id,
        adapter: 'test',
      },
      'Lê Thị Lan',
    );
    lab.productId = product.id;
    lab.certificate = (
      await call('POST', '/api/v1/lab/certificates', officer, {
        productVersionId: version.id,
        profile: profile.id,
        validityDays: 365,
      })
    ).number;
    lab.licence = (
      await call('POST', '/api/v1/lab/licences', officer, {
        vendor: vendor.id,
        productId: product.id,
        kind: 'trading',
        validityDays: 730,
      })
    ).number;

    // a certificate from the CA
    const { csr } = opensslCsr(tmp(), '/C=VN/O=Bộ Nội vụ/CN=Trần Thị Bích');
    serial = (
      await call('POST', '/api/v1/certificates', tokens['ra-officer']!, {
        profile: 'official-signing',
        csr: csr.toString(),
      })
    ).serial;

    // anything the console's CSP blocks would show here (and mean a broken page)
    page.on('console', (msg) => {
      if (/Content[- ]Security[- ]Policy/i.test(msg.text())) cspViolations.push(msg.text());
    });
  }, 120_000);

  afterAll(async () => {
    await rig?.close();
  });

  // ---- helpers: the API as the test's independent witness

  async function call(method: string, path: string, token: string, body?: unknown): Promise<Json> {
    const r = await fetch(base + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return JSON.parse(text);
  }

  async function ingest(events: Record<string, unknown>[]): Promise<string[]> {
    const now = new Date().toISOString();
    const r = await call(
      'POST',
      '/api/v1/events',
      tokens['event-sender']!,
      events.map((e) => ({ '@timestamp': now, ...e })),
    );
    expect(r.accepted).toBe(events.length);
    await m.queue.flush();
    return r.ids;
  }

  const alertsOf = async (title: string): Promise<Json[]> =>
    (await call('GET', '/api/v1/alerts?limit=1000', tokens['monitor-analyst']!)).alerts.filter(
      (a: Json) => a.title === title,
    );

  async function waitForAlerts(title: string, n: number): Promise<Json[]> {
    const end = Date.now() + 10_000;
    for (;;) {
      const found = await alertsOf(title);
      if (found.length >= n) return found;
      if (Date.now() > end) throw new Error(`expected ${n} alert(s) "${title}", have ${found.length}`);
      await sleep(50);
    }
  }

  async function until(ok: () => Promise<boolean>, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
      await sleep(50);
    }
  }

  const ruleByTitle = async (title: string): Promise<Json> =>
    (await call('GET', '/api/v1/rules', tokens['monitor-analyst']!)).rules.find(
      (r: Json) => r.title === title,
    );

  async function signIn(token: string): Promise<void> {
    await page.goto(`${base}/console/signin`);
    await page.fill('input[name=token]', token);
    await page.click('button[type=submit]');
    await page.locator('[data-testid=whoami]').waitFor();
  }

  async function signOut(): Promise<void> {
    await page.getByRole('button', { name: /Đăng xuất/ }).click();
    await page.locator('input[name=token]').waitFor();
  }

  // ---- the console

  it('refuses a wrong token with the API problem and keeps nothing', async () => {
    await page.goto(`${base}/console/`);
    await page.waitForURL(/\/console\/signin/);
    await page.fill('input[name=token]', `truc_${'0'.repeat(16)}_${'A'.repeat(43)}`);
    await page.click('button[type=submit]');
    const problem = page.locator('[role=alert]');
    await problem.waitFor();
    expect(await problem.getAttribute('data-status')).toBe('401');
    expect(await problem.textContent()).toMatch(
      /Chưa xác thực.*a valid API token or client certificate is required/s,
    );
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'truc-console-signin.png') });

    // the CSP is in force: a script injected inline does not run, and the browser reports it
    const ran = await page.evaluate(() => {
      const el = document.createElement('script');
      el.textContent = 'document.body.dataset.injected = "yes"';
      document.head.appendChild(el);
      return document.body.dataset.injected ?? 'no';
    });
    expect(ran).toBe('no');
    await until(async () => cspViolations.length > 0);
    cspViolations.length = 0;
    expect(page.url()).toMatch(/\/console\/signin/);
  });

  it('signs an analyst in, shows the roles, lists the alert and its matching events', async () => {
    await signIn(tokens['monitor-analyst']!);
    expect(await page.locator('[data-testid=whoami]').textContent()).toMatch(
      /Nguyễn Văn An.*monitor-analyst/,
    );
    await page.waitForURL(/\/console\/alerts$/);
    const row = page.locator('[data-testid=alerts-table] tr', { hasText: AUDIT_RULE });
    await row.waitFor();
    expect(await row.textContent()).toMatch(/Nghiêm trọng/); // critical
    // above the alerts, the bus as the monitor sees it (here the one-process bus)
    const bus = page.locator('[data-testid=bus-health]');
    await bus.waitFor();
    expect(await bus.textContent()).toMatch(/Bus sự kiện.*trong tiến trình \(in-process\).*Bản lặp đã bỏ/);
    // the token lives in sessionStorage only
    expect(
      await page.evaluate(() => ({
        s: Object.keys(sessionStorage),
        l: localStorage.length,
        c: document.cookie,
      })),
    ).toEqual({
      s: expect.arrayContaining(['truc.console.token']),
      l: 0,
      c: '',
    });
    await page.screenshot({ path: join(SHOTS, 'truc-console-alerts.png'), fullPage: true });

    // the status filter asks the API: nothing is closed yet
    await page.selectOption('select[name=status]', 'closed');
    await page.getByText('Không có cảnh báo nào khớp').waitFor();
    await page.selectOption('select[name=status]', '');
    await row.getByRole('link').click();
    await page.waitForURL(/\/console\/alerts\/\d+$/);
    await page.locator('[data-testid=events-table] tr', { hasText: 'audit.chain.broken' }).waitFor();
  });

  it('acknowledges, assigns, notes and closes an alert with a reason — as the API then reports', async () => {
    const [alert] = await alertsOf(AUDIT_RULE);
    expect(alert.status).toBe('new');
    await page.getByRole('button', { name: /Tiếp nhận/ }).click();
    await page.locator('.page-title [data-status=acknowledged]').waitFor();
    expect((await call('GET', `/api/v1/alerts/${alert.id}`, tokens['monitor-analyst']!)).status).toBe(
      'acknowledged',
    );

    await page.fill('input[name=assignee]', 'tran.b');
    await page.getByRole('button', { name: /Giao việc/ }).click();
    await page.locator('[data-testid=assignee]', { hasText: 'tran.b' }).waitFor();
    await page.fill('textarea[name=note]', 'Đã đối chiếu bản sao lưu nhật ký');
    await page.getByRole('button', { name: /Thêm ghi chú/ }).click();
    await page.locator('[data-testid=notes]', { hasText: 'Đã đối chiếu bản sao lưu nhật ký' }).waitFor();

    // a reason is required: the button stays disabled without one
    expect(await page.getByRole('button', { name: /Đóng cảnh báo/ }).isDisabled()).toBe(true);
    await page.fill('input[name=reason]', 'Kiểm thử khôi phục, không phải tấn công');
    await page.getByRole('button', { name: /Đóng cảnh báo/ }).click();
    await page.locator('[data-testid=close-reason]', { hasText: 'Kiểm thử khôi phục' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'truc-console-alert.png'), fullPage: true });

    const closed = await call('GET', `/api/v1/alerts/${alert.id}`, tokens['monitor-analyst']!);
    expect(closed).toMatchObject({
      status: 'closed',
      closeReason: 'Kiểm thử khôi phục, không phải tấn công',
      assignee: 'tran.b',
    });
    expect(closed.notes.map((n: Json) => n.text)).toEqual(
      expect.arrayContaining([
        'acknowledged',
        'assigned to tran.b',
        'Đã đối chiếu bản sao lưu nhật ký',
        'closed: Kiểm thử khôi phục, không phải tấn công',
      ]),
    );
    expect(closed.notes.every((n: Json) => n.author === 'Nguyễn Văn An')).toBe(true);
  });

  it('disables a rule: the API says so and its event no longer raises an alert; enabling brings it back', async () => {
    const malware = {
      event: {
        action: 'malware.detected',
        category: ['malware', 'file'],
        outcome: 'failure',
        dataset: 'truc.scan',
      },
      file: { name: 'hoa-don.pdf' },
    };
    await page.goto(`${base}/console/rules`);
    await page.fill('input[name=q]', 'malware');
    const row = page.locator('[data-testid=rules-table] tr', { hasText: MALWARE_RULE });
    await row.waitFor();
    expect(await page.locator('[data-testid=rules-table] tbody tr').count()).toBe(1); // the search narrowed the list
    const toggle = row.locator('input[type=checkbox]');
    expect(await toggle.isChecked()).toBe(true);
    await toggle.click({ force: true });
    await until(async () => (await toggle.isChecked()) === false);
    expect((await ruleByTitle(MALWARE_RULE)).enabled).toBe(false);

    const [id] = await ingest([malware]);
    const stored = await call('GET', `/api/v1/events?id=${id}`, tokens['monitor-analyst']!);
    expect(stored.events).toHaveLength(1);
    await sleep(200);
    expect(await alertsOf(MALWARE_RULE)).toEqual([]);

    await toggle.click({ force: true });
    await until(async () => (await toggle.isChecked()) === true);
    expect((await ruleByTitle(MALWARE_RULE)).enabled).toBe(true);
    await ingest([malware]);
    await waitForAlerts(MALWARE_RULE, 1); // the same event fires the rule once it is on again
  });

  it('tunes a rule with an exception: matching events are let through, others still alert', async () => {
    await page.fill('input[name=q]', 'audit chain');
    const row = page.locator('[data-testid=rules-table] tr', { hasText: AUDIT_RULE });
    await row.getByRole('button', { name: /Tinh chỉnh/ }).click();
    const editor = page.locator('[data-testid=filter-editor]');
    await editor.locator('input[name=field]').fill('host.name');
    await editor.locator('input[name=values]').fill('backup-01, backup-02');
    await editor.getByRole('button', { name: /Tạo ngoại lệ/ }).click();
    await page.screenshot({ path: join(SHOTS, 'truc-console-rules.png'), fullPage: true });
    await editor.getByRole('button', { name: /Lưu ngoại lệ/ }).click();
    await editor.waitFor({ state: 'detached' });
    await row.locator('code', { hasText: 'not exception' }).waitFor();
    expect((await ruleByTitle(AUDIT_RULE)).filter).toEqual({
      exception: { 'host.name': ['backup-01', 'backup-02'] },
      condition: 'not exception',
    });

    const before = (await alertsOf(AUDIT_RULE)).length;
    const broken = (host: string) => ({
      event: {
        action: 'audit.chain.broken',
        category: ['configuration'],
        outcome: 'failure',
        dataset: 'truc.audit',
      },
      host: { name: host },
    });
    await ingest([broken('backup-02')]);
    await sleep(200);
    expect(await alertsOf(AUDIT_RULE)).toHaveLength(before);
    await ingest([broken('db-02')]);
    const after = await waitForAlerts(AUDIT_RULE, before + 1);
    expect(
      after.some((a) => a.group['host.name'] === 'db-02' || JSON.stringify(a.group).includes('db-02')),
    ).toBe(true);
  });

  it('searches events by field', async () => {
    await page.goto(`${base}/console/events`);
    await page.fill('input[name=value-0]', 'malware.detected');
    await page.getByRole('button', { name: /Tìm kiếm/ }).click();
    const rows = page.locator('[data-testid=events-table] tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(2);
    expect(await rows.allTextContents()).toEqual([
      expect.stringContaining('malware.detected'),
      expect.stringContaining('malware.detected'),
    ]);
    await rows.first().click();
    await page.locator('pre.json', { hasText: 'hoa-don.pdf' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'truc-console-events.png'), fullPage: true });
  });

  it('shows the dashboard: totals, events and alerts over time, the top rules and hosts, as the API counts them', async () => {
    // the console's own calls can add events (sign-ins) while the page loads: its figures are bounded by the
    // API's just before and just after, never equal by luck of timing
    const statsNow = () => {
      const to = new Date(Date.now() + 60_000);
      return call('GET', `/api/v1/monitor/stats?from=${encodeURIComponent(new Date(to.getTime() - 86_400_000).toISOString())}&to=${encodeURIComponent(to.toISOString())}`, tokens['monitor-analyst']!);
    };
    const before = await statsNow();
    await page.goto(`${base}/console/dashboard`);
    const totals = page.locator('[data-testid=totals]');
    await totals.waitFor();
    const shownEvents = Number((await page.locator('[data-testid=total-events]').textContent())!.replace(/\D/g, ''));
    const shownAlerts = Number((await page.locator('[data-testid=total-alerts]').textContent())!.replace(/\D/g, ''));
    const bars = await page.locator('[data-testid=events-chart] rect').count();
    const stats = await statsNow();
    expect(before.totals.events).toBeGreaterThan(0);
    expect(shownEvents).toBeGreaterThanOrEqual(before.totals.events);
    expect(shownEvents).toBeLessThanOrEqual(stats.totals.events);
    expect(shownAlerts).toBeGreaterThanOrEqual(before.totals.alerts);
    expect(shownAlerts).toBeLessThanOrEqual(stats.totals.alerts);
    // the charts draw a bar per bucket with events, and the top rules name the rules that raised alerts
    expect(bars).toBeGreaterThanOrEqual(Math.min(1, before.events.length));
    expect(bars).toBeLessThanOrEqual(stats.events.length + 1);
    const topRules = page.locator('[data-testid=top-rules]');
    expect(await topRules.textContent()).toContain(stats.topRules[0].title);
    expect(await page.locator('[data-testid=top-hosts]').textContent()).toContain('db-01');
    await page.getByRole('button', { name: /7 ngày qua/ }).click();
    await expect.poll(async () => page.getByRole('button', { name: /7 ngày qua/ }).getAttribute('aria-pressed')).toBe('true');
    await page.screenshot({ path: join(SHOTS, 'truc-console-dashboard.png'), fullPage: true });
    // a top rule leads to its alerts
    await topRules.getByRole('link', { name: stats.topRules[0].title }).click();
    await page.waitForURL(new RegExp(`/console/alerts\\?rule=${stats.topRules[0].ruleId}`));
    expect(cspViolations).toEqual([]);
  });

  it('hides the lab from a monitor analyst, and shows the API refusal when it is opened anyway', async () => {
    expect(await page.locator('nav a', { hasText: 'Sổ đăng ký' }).count()).toBe(0);
    await page.goto(`${base}/console/lab`);
    const problem = page.locator('[role=alert][data-status="403"]');
    await problem.waitFor();
    expect(await problem.textContent()).toMatch(/Không đủ quyền.*may not lab\.read/s);
    await page.screenshot({ path: join(SHOTS, 'truc-console-forbidden.png') });
    await page.goto(`${base}/console/lab/products/${lab.productId}`);
    await page.locator('[role=alert][data-status="403"]').waitFor();
  });

  it('lets a lab officer search the register and open a product with its versions, runs and certificates', async () => {
    await signOut();
    await signIn(tokens['lab-officer']!);
    await page.waitForURL(/\/console\/lab$/);
    // the register, and the signature validation every role may use
    expect(await page.locator('nav a').allTextContents()).toEqual(['Sổ đăng ký sản phẩm', 'Chữ ký số']);
    await page.fill('input[name=name]', 'songhong');
    await page.fill('input[name=algorithm]', 'ECDSA');
    await page.getByRole('button', { name: /Tìm kiếm/ }).click();
    await page.waitForURL(/name=songhong/);
    const row = page.locator('[data-testid=products-table] tr', { hasText: 'SongHong HSM' });
    await row.waitFor();
    expect(await row.textContent()).toContain('Công ty Mật mã Sông Hồng');
    await page.fill('input[name=algorithm]', 'ML-KEM');
    await page.getByRole('button', { name: /Tìm kiếm/ }).click();
    await page.getByText('Không có kết quả').waitFor();

    await page.goto(`${base}/console/lab?tab=certificates`);
    await page.locator('[data-testid=lab-certificates-table] tr', { hasText: lab.certificate! }).waitFor();

    await page.goto(`${base}/console/lab/products/${lab.productId}`);
    const version = page.locator('[data-version="4.2"]');
    await version.waitFor();
    expect(await version.locator('.algorithms').textContent()).toBe('AES-GCMHMACSHA256ECDSA');
    expect(await version.locator('[data-testid=runs-table] tbody').textContent()).toContain('PASS');
    const cert = version.locator('[data-testid=product-certificates-table] tr', {
      hasText: lab.certificate!,
    });
    expect(await cert.textContent()).toMatch(/còn 36[45] ngày/);
    await page.locator('[data-testid=licences-table] tr', { hasText: lab.licence! }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'truc-console-lab-product.png'), fullPage: true });

    // a lab-only action: suspending the certificate with a reason, as the register then reports
    await cert.locator('input[name=reason]').fill('Đang thanh tra');
    await cert.getByRole('button', { name: /Đình chỉ/ }).click();
    await version.locator('[data-testid=product-certificates-table] [data-status=suspended]').waitFor();
    expect(
      await call('GET', `/api/v1/lab/certificates/${lab.certificate}`, tokens['lab-officer']!),
    ).toMatchObject({ status: 'suspended', statusReason: 'Đang thanh tra' });
  });

  it('lets an auditor search CA certificates read-only, and shows alerts without the analyst actions', async () => {
    await signOut();
    await signIn(tokens.auditor!);
    await page.goto(`${base}/console/certificates`);
    await page.fill('input[name=subject]', 'Trần Thị');
    await page.getByRole('button', { name: /Tìm kiếm/ }).click();
    const row = page.locator(`[data-testid=certificates-table] tr[data-serial="${serial}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('official-signing');
    await row.click();
    await page.locator('pre.pem', { hasText: 'BEGIN CERTIFICATE' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'truc-console-certificates.png'), fullPage: true });

    const [alert] = await alertsOf(MALWARE_RULE);
    await page.goto(`${base}/console/alerts/${alert.id}`);
    await page.locator('h1', { hasText: MALWARE_RULE }).waitFor();
    expect(await page.getByRole('button', { name: /Tiếp nhận/ }).count()).toBe(0);
    await page.goto(`${base}/console/rules`);
    await page.locator('[data-testid=rules-table]').waitFor();
    expect(await page.locator('[data-testid=rules-table] input[type=checkbox]:not([disabled])').count()).toBe(
      0,
    );
    expect(cspViolations).toEqual([]);
  });
});

function passingRun(product: string, version: string): RunResult {
  const counts = { PASS: 8, FAIL: 0, ACCEPTABLE: 0, UNSUPPORTED: 0, SKIPPED: 0, ERROR: 0 };
  const suite = (file: string, algorithm: string) => ({
    kind: 'wycheproof' as const,
    file,
    sha256: 'ef'.repeat(32),
    algorithm,
    schema: 'x',
    numberOfTests: 8,
    counts,
    results: [],
    durationMs: 1,
  });
  return {
    product: { name: product, version, adapter: 'test' },
    sources: [{ name: 'C2SP/wycheproof', commit: 'c' }],
    startedAt: new Date(Date.now() - 120_000).toISOString(),
    finishedAt: new Date(Date.now() - 60_000).toISOString(),
    suites: [suite('aes_gcm_test.json', 'AES-GCM'), suite('hmac_sha256_test.json', 'HMACSHA256')],
    counts: { ...counts, PASS: 16 },
  };
}
