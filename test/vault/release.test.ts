import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { PDFDocument } from 'pdf-lib';
import fontkit from '@pdf-lib/fontkit';
import { readFileSync } from 'node:fs';
import { openDb, migrate, type Db } from '../../src/store/index.js';
import { ALL_MIGRATIONS } from '../../src/platform.js';
import { InProcessBus, makeEvent, type SecurityEvent } from '../../src/bus/index.js';
import { MonitorService, monitorConfig, type Alert } from '../../src/monitor/index.js';
import {
  vaultMigrations, highestMarking, pdfText, decideRelease, enforceRelease, decideReceipt, enforceReceipt, PolicyStore, DEFAULT_POLICY,
  securityLabelAttribute, readSecurityLabel, LEVELS, type Level, type ReleasePolicy,
} from '../../src/vault/index.js';
import { setOf } from '../../src/asn1/der.js';
import { tmp } from '../helpers/openssl.js';

const dir = tmp('truc-release-');
const FONT = ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', ...(existsSync('/usr/share/fonts/truetype') ? readdirSync('/usr/share/fonts/truetype').map((d) => join('/usr/share/fonts/truetype', d, 'DejaVuSans.ttf')) : [])].find((p) => existsSync(p));

async function pdf(lines: string[]): Promise<string> {
  const doc = await PDFDocument.create();
  doc.registerFontkit(fontkit);
  const font = await doc.embedFont(readFileSync(FONT!), { subset: true });
  const page = doc.addPage([595, 842]);
  lines.forEach((l, i) => page.drawText(l, { x: 50, y: 780 - i * 30, size: 14, font }));
  const p = join(dir, `${Math.random().toString(36).slice(2)}.pdf`);
  writeFileSync(p, await doc.save());
  return p;
}

describe('marking detection', () => {
  it('finds stamps with and without diacritics, any case, as whole words', () => {
    expect(highestMarking('CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nMẬT\nCông văn số 12')).toBe('mat');
    expect(highestMarking('tối mật')).toBe('toi-mat');
    expect(highestMarking('  « TUYỆT MẬT »  ')).toBe('tuyet-mat');
    expect(highestMarking('TOI MAT')).toBe('toi-mat');
    expect(highestMarking('tuyet mat')).toBe('tuyet-mat');
    expect(highestMarking('Độ mật: Tối mật')).toBe('toi-mat');
    expect(highestMarking('Số: 15/UBND          MẬT          Hà Nội, ngày 2')).toBe('mat');
    expect(highestMarking('MẬT\nTUYỆT MẬT')).toBe('tuyet-mat');
  });

  it('does not take ordinary words for stamps', () => {
    for (const t of [
      'Vui lòng đổi MẬT KHẨU sau khi đăng nhập',
      'Hệ thống bảo mật thông tin',
      'Mật mã học và an toàn thông tin',
      'Giữ bí mật nhà nước',
      'mật độ dân số',
      'Mặt trận Tổ quốc',
      'MẶT',
      'mất điện',
      'Mắt',
      'The mat on the floor is automatic',
      'MẬT KHẨU',
      'ĐỘ MẬT',
      'Matrix of TOI MATERIALS',
    ])
      expect(highestMarking(t), t).toBeNull();
  });

  it('reads the text layer of a PDF with pdftotext, bounded', async () => {
    const stamped = await pdf(['CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM', 'TỐI MẬT', 'Về việc triển khai hệ thống']);
    expect(highestMarking(await pdfText(stamped))).toBe('toi-mat');
    // the bytes themselves (a file kept encrypted is never written out in clear to be read)
    expect(highestMarking(await pdfText(readFileSync(stamped)))).toBe('toi-mat');
    await expect(pdfText(Buffer.from('%PDF-1.7 not really'))).rejects.toMatchObject({ code: 'malformed_pdf' });
    const plain = await pdf(['Hướng dẫn đổi mật khẩu', 'Bảo mật thông tin']);
    expect(highestMarking(await pdfText(plain))).toBeNull();
    const junk = join(dir, 'junk.pdf');
    writeFileSync(junk, '%PDF-1.7\n' + 'garbage '.repeat(1000));
    await expect(pdfText(junk)).rejects.toMatchObject({ code: 'malformed_pdf' });
  });
});

describe('ESS security label', () => {
  it('is a signed attribute that reads back, for every level', () => {
    for (const l of LEVELS) {
      const attr = securityLabelAttribute(l);
      const got = readSecurityLabel(setOf([attr]));
      expect(got?.level).toBe(l);
      expect(got?.policy).toBe('2.16.704.1.101.1');
    }
    expect(readSecurityLabel(setOf([]))).toBeNull();
  });
});

const POLICY: ReleasePolicy = {
  senders: { 'van-thu': 'toi-mat', '*': 'unclassified' },
  recipients: { 'bo-cong-an': 'tuyet-mat', 'so-tttt': 'mat', '*': 'unclassified' },
  channels: { 'axis-e2e': 'tuyet-mat', axis: 'unclassified', email: 'unclassified' },
  encryptFrom: 'mat',
};

describe('release checks', () => {
  const base = { documentId: 'cv-1', sender: 'van-thu', recipient: 'bo-cong-an', channel: 'axis-e2e', encrypted: true };
  it('decides every label against sender, recipient, channel and encryption', () => {
    const expected: Record<Level, string[]> = { unclassified: [], mat: [], 'toi-mat': [], 'tuyet-mat': ['sender_not_allowed'] };
    for (const l of LEVELS) expect(decideRelease({ ...base, label: l }, POLICY).reasons, l).toEqual(expected[l]);
    expect(decideRelease({ ...base, label: 'toi-mat', recipient: 'so-tttt' }, POLICY).reasons).toEqual(['recipient_not_cleared']);
    expect(decideRelease({ ...base, label: 'mat', recipient: 'so-tttt' }, POLICY).reasons).toEqual([]);
    expect(decideRelease({ ...base, label: 'mat', channel: 'email' }, POLICY).reasons).toEqual(['channel_not_allowed']);
    expect(decideRelease({ ...base, label: 'mat', encrypted: false }, POLICY).reasons).toEqual(['not_encrypted']);
    expect(decideRelease({ ...base, label: 'unclassified', channel: 'email', encrypted: false }, POLICY).reasons).toEqual([]);
    expect(decideRelease({ ...base, label: null }, POLICY).reasons).toEqual(['label_missing']);
    const stamped = decideRelease({ ...base, label: 'unclassified', markings: 'toi-mat', recipient: 'so-tttt' }, POLICY);
    expect(stamped.level).toBe('toi-mat');
    expect(stamped.reasons).toEqual(['marking_exceeds_label', 'recipient_not_cleared']);
    // the built-in policy lets nothing classified out
    expect(decideRelease({ ...base, label: 'mat' }, DEFAULT_POLICY).allowed).toBe(false);
  });

  it('on receipt: a level above what the channel carries is refused; a stamp above the label is flagged', () => {
    const r = { documentId: 'cv-2', sender: '000.00.00.G22', channel: 'axis-e2e' };
    for (const l of LEVELS) expect(decideReceipt({ ...r, label: l }, POLICY).allowed, l).toBe(true);
    for (const l of LEVELS) expect(decideReceipt({ ...r, label: l, channel: 'axis' }, POLICY).allowed, l).toBe(l === 'unclassified');
    expect(decideReceipt({ ...r, label: null, channel: 'axis' }, POLICY)).toEqual({ allowed: true, level: 'unclassified', reasons: [] });
    expect(decideReceipt({ ...r, label: 'unclassified', markings: 'mat' }, POLICY)).toEqual({ allowed: true, level: 'mat', reasons: ['marking_exceeds_label'] });
    expect(decideReceipt({ ...r, label: 'unclassified', markings: 'mat', channel: 'axis' }, POLICY)).toEqual({ allowed: false, level: 'mat', reasons: ['channel_not_allowed', 'marking_exceeds_label'] });
  });

  it('refusals are clear errors: release_denied, label_missing', async () => {
    await expect(enforceRelease({ ...base, label: 'tuyet-mat' }, POLICY)).rejects.toMatchObject({ code: 'release_denied', detail: { reasons: ['sender_not_allowed'] } });
    await expect(enforceRelease({ ...base, label: undefined }, POLICY)).rejects.toMatchObject({ code: 'label_missing' });
    expect((await enforceRelease({ ...base, label: 'mat' }, POLICY)).allowed).toBe(true);
  });
});

describe('policies as data, and the leak attempt raising an alert through the real monitor', () => {
  let db: Db;
  let bus: InProcessBus;
  let monitor: MonitorService;
  const events: SecurityEvent[] = [];
  beforeAll(async () => {
    db = await openDb({ url: 'memory://' });
    await migrate(db, [...ALL_MIGRATIONS.filter((m) => !m.id.startsWith('vault/')), ...vaultMigrations]);
    bus = new InProcessBus();
    bus.subscribe('truc.vault.>', (_s, e) => void events.push(e));
    monitor = await MonitorService.start({ db, bus, log: pino({ level: 'silent' }), config: monitorConfig({}), listen: false, scanner: null, subscribe: true });
  }, 60_000);
  afterAll(async () => {
    await monitor?.stop();
    await db?.close();
  });

  it('stores versions, audits each change, refuses bad documents and stale writers', async () => {
    const store = new PolicyStore({ db, bus });
    expect((await store.current()).version).toBe(0);
    const v1 = await store.put(POLICY, 'officer-a');
    expect(v1.version).toBe(1);
    await expect(store.put({ ...POLICY, recipients: { x: 'secret' } }, 'officer-a')).rejects.toMatchObject({ code: 'bad_request' });
    await expect(store.put({ ...POLICY, typo: 1 }, 'officer-a')).rejects.toMatchObject({ code: 'bad_request' });
    await expect(store.put(POLICY, 'officer-b', 0)).rejects.toMatchObject({ code: 'conflict' });
    expect((await store.put({ ...POLICY, encryptFrom: 'unclassified' }, 'officer-b', 1)).version).toBe(2);
    expect((await store.current()).policy.encryptFrom).toBe('unclassified');
    const audit = await db.query<{ actor: string; target: string }>("SELECT actor, target FROM audit_log WHERE action = 'vault.policy.change' ORDER BY seq");
    expect(audit).toEqual([{ actor: 'officer-a', target: 'release-policy:1' }, { actor: 'officer-b', target: 'release-policy:2' }]);
  });

  it('a Tối mật package arriving over a channel not allowed for it is refused and alerted on', async () => {
    const alerts: Alert[] = [];
    monitor.onAlert((a) => alerts.push(a));
    await expect(enforceReceipt({ documentId: 'cv-100', label: 'toi-mat', sender: '000.00.00.G22', channel: 'axis' }, POLICY, { bus })).rejects.toMatchObject({ code: 'classification_refused', detail: { reasons: ['channel_not_allowed'] } });
    expect(events.find((e) => e.event.action === 'vault.receipt.denied')!.truc).toMatchObject({ receipt: { document: 'cv-100', level: 'toi-mat', channel: 'axis', classified: true } });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !alerts.some((a) => a.title === 'Classified document received over a channel not allowed for it')) await new Promise((r) => setTimeout(r, 100));
    expect(alerts.map((a) => a.title)).toContain('Classified document received over a channel not allowed for it');
  }, 45_000);

  it('a classified package the receiving desk could not decrypt (altered, or not to its key) is alerted on', async () => {
    const alerts: Alert[] = [];
    monitor.onAlert((a) => alerts.push(a));
    // the event the document desk publishes when it refuses such a package (test/exchange/edoc/e2e.test.ts)
    await bus.publish('truc.exchange.doc.receive.refused', makeEvent('exchange', 'doc.receive.refused', 'failure', { category: ['network'], reason: 'the package ciphertext was altered or cut', truc: { agency: '000.00.00.G09', code: 'e2e_tampered' } }));
    await bus.publish('truc.exchange.doc.receive.refused', makeEvent('exchange', 'doc.receive.refused', 'failure', { category: ['network'], truc: { agency: '000.00.00.G09', code: 'bad_package' } }));
    const title = 'Classified package that the receiving agency could not decrypt';
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !alerts.some((a) => a.title === title)) await new Promise((r) => setTimeout(r, 100));
    expect(alerts.filter((a) => a.title === title)).toHaveLength(1);
  }, 45_000);

  it('a stamped Tối mật document labelled lower, sent to an uncleared agency, is held back and alerted on', async () => {
    const alerts: Alert[] = [];
    monitor.onAlert((a) => alerts.push(a));
    const file = await pdf(['TỐI MẬT', 'Kế hoạch bảo vệ']);
    const markings = highestMarking(await pdfText(file));
    await expect(
      enforceRelease({ documentId: 'cv-99', label: 'mat', markings, sender: 'van-thu', recipient: 'so-tttt', channel: 'axis-e2e', encrypted: true }, POLICY, { bus }),
    ).rejects.toMatchObject({ code: 'release_denied' });
    const ev = events.find((e) => e.event.action === 'vault.release.denied')!;
    expect(ev.truc).toMatchObject({ release: { document: 'cv-99', level: 'toi-mat', leak_attempt: true, reasons: ['marking_exceeds_label', 'recipient_not_cleared'] } });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !alerts.some((a) => a.title === 'Attempt to send a classified document outside the rules')) await new Promise((r) => setTimeout(r, 100));
    const titles = alerts.map((a) => a.title);
    expect(titles).toContain('Attempt to send a classified document outside the rules');
    expect(titles).toContain('Release of a document refused by the protection policy');
  }, 45_000);
});
