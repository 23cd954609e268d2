/**
 * The console's accessibility and layout in Chromium (issue 18): every page an analyst, lab officer, RA
 * officer, signer and auditor open from the menu, the home page, and an alert's and a lab product's own page, at a laptop (1366×768) and a tablet (768×1024, 1024×768), in Vietnamese
 * and English, is checked in the page by a small checker of our own: the document's language, names of
 * controls, buttons, links and charts, landmarks and heading order, text contrast (WCAG AA), no sideways
 * scrolling of the page, touch targets, and — by keyboard — a visible focus ring on what Tab reaches. On
 * the tablet the menu sits behind a button with aria-expanded.
 * Disabled controls are exempt from the contrast rule, as WCAG 1.4.3 exempts inactive components. Screenshots go to TRUC_E2E_SCREENSHOTS (/tmp).
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/http/auth/store.js';
import { openConsoleRig, type ConsoleRig } from './console-rig.js';
import type { TestPlatform } from '../helpers/platform.js';

const SHOTS = process.env.TRUC_E2E_SCREENSHOTS ?? '/tmp';
const VIEWPORTS = [
  { name: 'laptop', width: 1366, height: 768 },
  { name: 'tablet-portrait', width: 768, height: 1024 },
  { name: 'tablet-landscape', width: 1024, height: 768 },
] as const;

/** runs in the page: the violations found, one line each */
function audit(args: { lang: string; narrow: boolean }): string[] {
  const out: string[] = [];
  const where = (e: Element) => {
    const id = e.id ? `#${e.id}` : '';
    const cls = typeof e.className === 'string' && e.className ? `.${e.className.trim().split(/\s+/).join('.')}` : '';
    return `${e.tagName.toLowerCase()}${id}${cls} "${(e.textContent ?? '').trim().slice(0, 40)}"`;
  };
  const visible = (e: Element) => {
    const r = (e as HTMLElement).getBoundingClientRect();
    const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
  };
  const name = (e: Element): string => {
    const aria = e.getAttribute('aria-label');
    if (aria?.trim()) return aria;
    const by = e.getAttribute('aria-labelledby');
    if (by) return by.split(/\s+/).map((i) => document.getElementById(i)?.textContent ?? '').join(' ').trim();
    const labels = (e as HTMLInputElement).labels;
    if (labels?.length) return Array.from(labels).map((l) => l.textContent ?? '').join(' ').trim();
    if (e.getAttribute('title')?.trim()) return e.getAttribute('title')!;
    if (e.tagName === 'INPUT' && ['button', 'submit', 'reset'].includes((e as HTMLInputElement).type)) return (e as HTMLInputElement).value;
    if (e.tagName === 'BUTTON' || e.tagName === 'A' || e.tagName === 'SUMMARY')
      return (e.textContent ?? '').trim() || Array.from(e.querySelectorAll('img[alt]')).map((i) => i.getAttribute('alt')).join(' ');
    return '';
  };

  if (document.documentElement.lang !== args.lang) out.push(`html lang="${document.documentElement.lang}", expected ${args.lang}`);
  for (const e of Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea')))
    if (!name(e)) out.push(`control without a name: ${where(e)}`);
  for (const e of Array.from(document.querySelectorAll('button, a[href], summary, [role=button]')))
    if (visible(e) && !name(e)) out.push(`button/link without a name: ${where(e)}`);
  for (const e of Array.from(document.querySelectorAll('img'))) if (!e.hasAttribute('alt')) out.push(`image without alt: ${where(e)}`);
  for (const e of Array.from(document.querySelectorAll('svg')))
    if (e.getAttribute('aria-hidden') !== 'true' && !e.closest('[aria-hidden=true]') && !name(e) && !e.querySelector('title'))
      out.push(`svg without a text alternative: ${where(e)}`);
  for (const l of ['main', 'h1']) if (!document.querySelector(l)) out.push(`no <${l}>`);
  let last = 0;
  for (const h of Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6'))) {
    const level = Number(h.tagName[1]);
    if (last && level > last + 1) out.push(`heading skips a level (h${last} → h${level}): ${where(h)}`);
    last = level;
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    out.push(`page scrolls sideways: ${document.documentElement.scrollWidth}px wide in ${window.innerWidth}px`);

  // contrast of every visible text node against the background it is painted on
  const rgba = (c: string) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const [r, g, b, a] = m[1]!.split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r: r!, g: g!, b: b!, a: a ?? 1 };
  };
  const over = (top: { r: number; g: number; b: number; a: number }, under: { r: number; g: number; b: number }) => ({
    r: top.r * top.a + under.r * (1 - top.a),
    g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a),
  });
  const background = (e: Element | null): { r: number; g: number; b: number } | null => {
    const layers: { r: number; g: number; b: number; a: number }[] = [];
    for (let x = e; x; x = x.parentElement) {
      const s = getComputedStyle(x);
      if (s.backgroundImage !== 'none' && !s.backgroundImage.startsWith('linear-gradient')) return null;
      const c = rgba(s.backgroundColor);
      if (c && c.a > 0) {
        layers.push({ ...c, a: c.a * Number(s.opacity) });
        if (c.a >= 1 && Number(s.opacity) >= 1) break;
      }
    }
    let bg = { r: 255, g: 255, b: 255 };
    for (const l of layers.reverse()) bg = over(l, bg);
    return bg;
  };
  const lum = (c: { r: number; g: number; b: number }) => {
    const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set<Element>();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || seen.has(el) || !n.textContent?.trim() || !visible(el) || el.closest('svg, option, [aria-hidden=true], :disabled')) continue;
    seen.add(el);
    const s = getComputedStyle(el);
    const fg = rgba(s.color);
    const bg = background(el);
    if (!fg || !bg) continue;
    let opacity = 1;
    for (let x: Element | null = el; x; x = x.parentElement) opacity *= Number(getComputedStyle(x).opacity);
    const text = over({ ...fg, a: fg.a * opacity }, bg);
    const [a, b] = [lum(text), lum(bg)].sort((x, y) => y - x);
    const ratio = (a! + 0.05) / (b! + 0.05);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5) - 0.01) out.push(`contrast ${ratio.toFixed(2)}:1 (${s.color} on rgb(${bg.r | 0},${bg.g | 0},${bg.b | 0})): ${where(el)}`);
  }

  // touch targets on the tablet: controls at least 24 px high (WCAG 2.2 target size), menu entries too
  if (args.narrow)
    for (const e of Array.from(document.querySelectorAll('button, select, input:not([type=checkbox]):not([type=radio]):not([type=hidden]), .nav a'))) {
      if (!visible(e)) continue;
      const r = e.getBoundingClientRect();
      if (r.height < 24 || r.width < 24) out.push(`touch target ${Math.round(r.width)}×${Math.round(r.height)}: ${where(e)}`);
    }
  return out;
}

/** runs in the page: whether the focused element shows a focus indicator, and what it is */
function focused(): { what: string; ring: boolean } | null {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 1) || s.boxShadow !== 'none';
  return { what: `${e.tagName.toLowerCase()} "${(e.textContent ?? (e as HTMLInputElement).name ?? '').trim().slice(0, 30)}"`, ring };
}

describe('the console is accessible and fits a laptop and a tablet, in Chromium', () => {
  let p: TestPlatform;
  let rig: ConsoleRig | undefined;
  let base: string;
  let page: Page;
  let token: string;

  beforeAll(async () => {
    rig = await openConsoleRig({ defaultTimeoutMs: 15_000 });
    ({ p, base, page } = rig);
    token = (await createToken(p.db, 'Nguyễn Văn An', ['monitor-analyst', 'lab-officer', 'ra-officer', 'signer', 'auditor'])).token;
    // pages reached from a list rather than the menu: an alert (an event that fires a built-in rule) and a
    // product of the lab register
    const sender = (await createToken(p.db, 'event sender', ['event-sender'])).token;
    await api('POST', '/api/v1/events', sender, [{ '@timestamp': new Date().toISOString(), event: { action: 'audit.chain.broken', category: ['configuration'], outcome: 'failure', dataset: 'truc.audit' }, host: { name: 'db-01' } }]);
    await rig.m!.queue.flush();
    for (const end = Date.now() + 10_000; !alertId && Date.now() < end; await new Promise((r) => setTimeout(r, 50)))
      alertId = (await api('GET', '/api/v1/alerts?limit=10', token)).alerts[0]?.id;
    expect(alertId, 'the event fired an alert').toBeTruthy();
    const vendor = await api('POST', '/api/v1/lab/vendors', token, { name: 'Công ty Mật mã Sông Hồng', country: 'VN' });
    productId = (await api('POST', '/api/v1/lab/products', token, { vendor: vendor.id, name: 'SongHong HSM', kind: 'hsm', description: 'Mô-đun an toàn phần cứng' })).id;
  }, 180_000);

  let alertId: string | undefined;
  let productId: string | undefined;
  async function api(method: string, path: string, bearer: string, body?: unknown) {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return JSON.parse(text);
  }

  afterAll(async () => {
    await rig?.close();
  });

  const check = async (where: string, lang: string, narrow: boolean) => {
    await page.waitForLoadState('networkidle');
    return (await page.evaluate(audit, { lang, narrow })).map((v) => `${where}: ${v}`);
  };

  for (const lang of ['vi', 'en'] as const) {
    it(`every page in ${lang === 'vi' ? 'Vietnamese' : 'English'} at a laptop and a tablet`, async () => {
      const violations: string[] = [];
      await page.setViewportSize({ width: 1366, height: 768 });
      await page.goto(`${base}/console/signin`);
      await page.locator('select[name=lang]').selectOption(lang);
      await page.locator('h1').waitFor();
      violations.push(...(await check('signin', lang, false)));
      // the sign-in form by keyboard alone: Tab reaches the token and the button, each with a ring
      await page.locator('body').focus();
      const reached: string[] = [];
      for (let i = 0; i < 6; i++) {
        await page.keyboard.press('Tab');
        const f = await page.evaluate(focused);
        if (!f) continue;
        reached.push(f.what);
        if (!f.ring) violations.push(`signin: no focus ring on ${f.what}`);
      }
      await page.locator('input[name=token]').focus();
      await page.keyboard.type(token);
      await page.keyboard.press('Enter');
      await page.locator('[data-testid=whoami]').waitFor();
      const menu = await page.locator('nav a').evaluateAll((as) => as.map((a) => new URL((a as HTMLAnchorElement).href).pathname));
      expect(menu.length).toBeGreaterThan(5);
      // every menu page, the home page, and an alert's and a product's own page
      const paths = ['/console/', ...menu, `/console/alerts/${alertId}`, `/console/lab/products/${productId}`];

      for (const vp of VIEWPORTS) {
        await page.setViewportSize({ width: vp.width, height: vp.height });
        const narrow = vp.width < 1100;
        for (const path of paths) {
          await page.goto(`${base}${path}`);
          await page.locator('main h1').first().waitFor();
          const where = `${vp.name} ${lang} ${path}`;
          violations.push(...(await check(where, lang, narrow)));
          if (vp.name === 'laptop') {
            // keyboard: the first stops of Tab each show a ring and reach into the page's main part
            await page.locator('body').focus();
            let intoMain = false;
            for (let i = 0; i < 25 && !intoMain; i++) {
              await page.keyboard.press('Tab');
              const f = await page.evaluate(focused);
              if (f && !f.ring) violations.push(`${where}: no focus ring on ${f.what}`);
              intoMain = await page.evaluate(() => !!document.activeElement?.closest('main'));
            }
            if (!intoMain) violations.push(`${where}: 25 Tabs do not reach the page's content`);
          }
          await page.screenshot({ path: join(SHOTS, `truc-a11y-${lang}-${vp.name}${path.replace(/\/$/, '').replaceAll('/', '-')}.png`), fullPage: true });
        }
        if (narrow) {
          // the menu behind a button: closed, opened by keyboard, and it leads to a page
          const toggle = page.locator('button[aria-controls=site-nav]');
          expect(await toggle.getAttribute('aria-expanded')).toBe('false');
          expect(await page.locator('#site-nav').isVisible()).toBe(false);
          await toggle.focus();
          await page.keyboard.press('Enter');
          expect(await toggle.getAttribute('aria-expanded')).toBe('true');
          await page.locator('#site-nav a').first().waitFor({ state: 'visible' });
          violations.push(...(await check(`${vp.name} ${lang} menu open`, lang, narrow)));
          await page.screenshot({ path: join(SHOTS, `truc-a11y-${lang}-${vp.name}-menu.png`) });
          await page.locator('#site-nav a').first().click();
          await page.locator('main h1').first().waitFor();
          expect(await toggle.getAttribute('aria-expanded')).toBe('false');
        } else {
          expect(await page.locator('button[aria-controls=site-nav]').isVisible()).toBe(false);
        }
      }
      await page.getByRole('button', { name: lang === 'vi' ? 'Đăng xuất (Sign out)' : 'Sign out' }).click();
      await page.locator('input[name=token]').waitFor();
      expect(violations).toEqual([]);
    }, 240_000);
  }
});
