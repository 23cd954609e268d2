/**
 * Probe: `truc doc …` (src/cli/doc.ts), the clerk's client of the document desk API, as a Vietnamese clerk
 * and an operator use it and as accidents hit it — no token, a wrong one, an address that does not answer
 * or answers something else, missing or empty files, unknown recipients and ids, status codes out of the
 * list, a folder to save into that is not there, Vietnamese file names in both Unicode forms.
 *
 * What is expected is what the rest of the CLI promises (src/cli/output.ts): results on stdout (only JSON
 * with --json), a refusal as one clear line on stderr in Vietnamese with English beside and the error's
 * code, the exit code by kind (2 usage, 3 bad input, 4 not found, 5 conflict, 1 anything else), no stack
 * trace. Two desks (A = 000.00.00.G22, B = 000.00.00.G09) over the stand-in relay of
 * test/exchange/edoc/fixture.ts, each behind its own API, one platform (one token for both).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { openNetwork, until, AGENCIES, type Network, type TestDesk } from '../exchange/edoc/fixture.js';
import { freePort } from '../helpers/ports.js';
import { tmp } from '../helpers/openssl.js';
import { trucAsync, type TrucResult } from '../helpers/truc-cli.js';

/** a stack trace line as Node prints it */
const STACK = /^\s+at .+(\(.*:\d+:\d+\)|:\d+:\d+)$/m;
/** a Vietnamese letter with its diacritics */
const VIETNAMESE = /[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]/i;
const B_CODE = '000.00.00.G09';

/** the first line of stderr without the CLI's prefix, e.g. `Lỗi / error: ` or `error [code]: ` */
const message = (r: TrucResult) => r.stderr.trim().split('\n')[0]!.replace(/^(Lỗi \/ )?error( \[[a-z_]+\])?:\s*/i, '');

function refused(r: TrucResult, exit: number, mentions?: RegExp | string): void {
  const why = `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  expect(r.stderr.trim(), why).not.toBe('');
  expect(r.stderr, `stack trace on stderr:\n${r.stderr}`).not.toMatch(STACK);
  expect(r.stdout, `stack trace on stdout:\n${r.stdout}`).not.toMatch(STACK);
  if (mentions) expect(r.stderr, why).toMatch(mentions);
  expect(r.status, why).toBe(exit);
}

/** Vietnamese first, English beside: the message's first half (before ` / `) holds Vietnamese letters */
function vietnameseFirst(r: TrucResult): void {
  const m = message(r);
  const [first, ...rest] = m.split(' / ');
  expect(rest.length, `not bilingual (no " / "): ${r.stderr}`).toBeGreaterThan(0);
  expect(first, `Vietnamese is not first: ${r.stderr}`).toMatch(VIETNAMESE);
}

describe('document desk CLI probe (truc doc)', () => {
  let net: Network;
  let a: TestDesk, b: TestDesk;
  const apps: FastifyInstance[] = [];
  let junk: http.Server;
  let urlA = '', urlB = '', urlNoDesk = '', urlJunk = '', urlClosed = '';
  let clerk = '', auditor = '';
  const dir = tmp('truc-doc-probe-');
  const f = {
    missing: join(dir, 'khong-co', 'cong-van.pdf'),
    folder: join(dir, 'thu-muc'),
    empty: join(dir, 'rong.pdf'),
    good: join(dir, 'cong-van.txt'),
    /** "Quyết định số 5.txt" written decomposed (NFD), as macOS and some zip tools hand it over */
    nfd: join(dir, 'Quyết định số 5.txt'.normalize('NFD')),
    saveMissing: join(dir, 'chua-tao'),
    saveDup: join(dir, 'luu-trung'),
    saveNfd: join(dir, 'luu-nfd'),
  };
  /** ids at the desks: a document A sent to B (A's id, B's id), one for recall, one sent with two same-named attachments */
  const id = { sentAtA: '', receivedAtB: '', recallAtA: '', dupAtB: '', nfdAtB: '' };
  const r: Record<string, TrucResult> = {};
  const env = (over: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = { ...process.env, TRUC_LOG_LEVEL: 'warn', ...over };
    for (const k of ['TRUC_TOKEN', 'TRUC_URL', 'TRUC_CONFIG', 'TRUC_DATABASE_URL']) if (!(k in over)) delete e[k];
    for (const [k, v] of Object.entries(over)) if (v === undefined) delete e[k];
    return e;
  };
  const doc = (url: string, token: string | undefined, ...args: string[]) => trucAsync(env(), ['doc', '--url', url, ...(token ? ['--token', token] : []), ...args], 60_000);
  const docJson = (url: string, token: string, ...args: string[]) => trucAsync(env(), ['--json', 'doc', '--url', url, '--token', token, ...args], 60_000);
  const sendArgs = (n: string, to = B_CODE) => ['--to', to, '--number', n, '--notation', 'CV-VPCP', '--subject', 'Về việc thử dòng lệnh', '--signer-name', 'Đỗ Thị Mai', '--date', '2026-12-02'];
  const baseBody = (n: string) => ({
    to: [B_CODE],
    code: { number: n, notation: 'CV-VPCP' },
    promulgation: { place: 'Hà Nội', date: '2026-12-02' },
    documentType: { type: 1, typeName: 'Công văn' },
    subject: `Công văn số ${n} về việc thử nghiệm`,
    signer: { fullName: 'Đỗ Thị Mai', position: 'Chánh Văn phòng' },
  });

  beforeAll(async () => {
    mkdirSync(f.folder, { recursive: true });
    mkdirSync(f.saveDup, { recursive: true });
    mkdirSync(f.saveNfd, { recursive: true });
    writeFileSync(f.empty, '');
    writeFileSync(f.good, 'Nội dung công văn thử nghiệm');
    writeFileSync(f.nfd, 'Quyết định thử nghiệm (tên tệp NFD)');

    net = await openNetwork(AGENCIES.slice(0, 2));
    [a, b] = net.desks as [TestDesk, TestDesk];
    const appA = await buildApp(net.lab.p, { docDesk: a.desk });
    const appB = await buildApp(net.lab.p, { docDesk: b.desk, docOptions: { providerFrom: ['10.0.0.1'] } });
    const appNoDesk = await buildApp(net.lab.p);
    apps.push(appA, appB, appNoDesk);
    [urlA, urlB, urlNoDesk] = await Promise.all(apps.map((x) => x.listen({ port: 0, host: '127.0.0.1' })));
    // an address that answers something other than the desk: a web page, 200
    junk = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><html><body>Cổng thông tin</body></html>'));
    await new Promise<void>((ok) => junk.listen(0, '127.0.0.1', ok));
    urlJunk = `http://127.0.0.1:${(junk.address() as AddressInfo).port}`;
    urlClosed = `http://127.0.0.1:${await freePort()}`;
    clerk = (await createToken(net.lab.p.db, 'van.thu', ['doc-clerk'])).token;
    auditor = (await createToken(net.lab.p.db, 'kiem.toan', ['auditor'])).token;

    // documents the cases act on, sent through the desks themselves
    const txt = (s: string) => Buffer.from(s);
    const s1 = await a.desk.send({ ...baseBody('101'), attachments: [{ name: 'cong-van-101.txt', contentType: 'text/plain', bytes: txt('Công văn 101') }] }, 'setup');
    const s2 = await a.desk.send({ ...baseBody('102'), attachments: [{ name: 'cong-van-102.txt', contentType: 'text/plain', bytes: txt('Công văn 102') }] }, 'setup');
    const s3 = await a.desk.send({ ...baseBody('103'), attachments: [{ name: 'phu-luc.txt', contentType: 'text/plain', bytes: txt('Phụ lục thứ nhất') }, { name: 'phu-luc.txt', contentType: 'text/plain', bytes: txt('Phụ lục thứ hai, khác hẳn') }] }, 'setup');
    id.sentAtA = s1.id;
    id.recallAtA = s2.id;
    const arrived = (documentId: string) => until(async () => (await b.desk.inbox({ all: true })).documents.find((d) => d.documentId === documentId)?.id, 20_000, documentId);
    id.receivedAtB = await arrived(s1.documentId);
    id.dupAtB = await arrived(s3.documentId);

    // the CLI sends a file whose name is decomposed (NFD); B's clerk saves it
    r.sendNfd = await doc(urlA, clerk, 'send', f.nfd, ...sendArgs('104'));
    if (r.sendNfd.status === 0) id.nfdAtB = await arrived('000.00.00.G22,2026/12/02,104/CV-VPCP');

    const bigId = 'x'.repeat(3000);
    const probes: Record<string, () => Promise<TrucResult>> = {
      noToken: () => doc(urlA, undefined, 'recipients'),
      wrongToken: () => doc(urlA, 'truc_khong-phai-ma-that', 'recipients'),
      auditorSends: () => doc(urlA, auditor, 'send', f.good, ...sendArgs('105')),
      closedPort: () => doc(urlClosed, clerk, 'recipients'),
      notAUrl: () => doc('khong-phai-dia-chi', clerk, 'recipients'),
      junkServer: () => doc(urlJunk, clerk, 'recipients'),
      noDesk: () => doc(urlNoDesk, clerk, 'inbox'),
      sendMissing: () => doc(urlA, clerk, 'send', f.missing, ...sendArgs('106')),
      sendFolder: () => doc(urlA, clerk, 'send', f.folder, ...sendArgs('107')),
      sendEmpty: () => doc(urlA, clerk, 'send', f.empty, ...sendArgs('108')),
      sendUnknownRecipient: () => doc(urlA, clerk, 'send', f.good, ...sendArgs('109', '000.00.99.Z99')),
      sendPriorityWord: () => doc(urlA, clerk, 'send', f.good, ...sendArgs('110'), '--priority', 'khẩn'),
      sendTypeWord: () => doc(urlA, clerk, 'send', f.good, ...sendArgs('111'), '--type', 'quyết định'),
      sendDayFirst: () => doc(urlA, clerk, 'send', f.good, '--to', B_CODE, '--number', '112', '--notation', 'CV-VPCP', '--subject', 'Ngày kiểu Việt', '--signer-name', 'Đỗ Thị Mai', '--date', '02/12/2026'),
      sendAgain: () => doc(urlA, clerk, 'send', f.good, ...sendArgs('101')),
      showUnknown: () => doc(urlA, clerk, 'show', '00000000-0000-4000-8000-000000000000'),
      showOtherAgency: () => doc(urlA, clerk, 'show', id.receivedAtB),
      showTraversal: () => doc(urlA, clerk, 'show', '../../recipients'),
      showHuge: () => doc(urlA, clerk, 'show', bigId),
      showJsonUnknown: () => docJson(urlA, clerk, 'show', '00000000-0000-4000-8000-000000000000'),
      recipientsJson: () => docJson(urlA, clerk, 'recipients'),
      showJson: () => docJson(urlA, clerk, 'show', id.sentAtA),
      saveMissingFolder: () => doc(urlB, clerk, 'show', id.receivedAtB, '--save', f.saveMissing),
      saveDup: () => doc(urlB, clerk, 'show', id.dupAtB, '--save', f.saveDup),
      saveNfd: () => (id.nfdAtB ? doc(urlB, clerk, 'show', id.nfdAtB, '--save', f.saveNfd) : Promise.resolve({ status: -1, stdout: '', stderr: 'not sent' })),
      status99: () => doc(urlB, clerk, 'status', id.receivedAtB, '99'),
      statusWord: () => doc(urlB, clerk, 'status', id.receivedAtB, 'abc'),
      statusNoZero: () => doc(urlB, clerk, 'status', id.receivedAtB, '3', '--description', 'Đã vào sổ'),
      statusOnSent: () => doc(urlA, clerk, 'status', id.sentAtA, '03'),
      recallReceived: () => doc(urlB, clerk, 'recall', id.receivedAtB, '--reason', 'Nhầm'),
      recallBlank: () => doc(urlA, clerk, 'recall', id.sentAtA, '--reason', '   '),
      ackUnknown: () => doc(urlB, clerk, 'ack', '00000000-0000-4000-8000-000000000000'),
      inboxLimit: () => doc(urlB, clerk, 'inbox', '--limit', '1'),
      viaEnv: () => trucAsync(env({ TRUC_URL: urlA, TRUC_TOKEN: clerk }), ['doc', 'recipients'], 60_000),
      optionsAfter: () => trucAsync(env(), ['doc', 'recipients', '--url', urlA, '--token', clerk], 60_000),
      helpDoc: () => trucAsync(env(), ['doc', '--help']),
      helpSend: () => trucAsync(env(), ['doc', 'send', '--help']),
      helpInbox: () => trucAsync(env(), ['doc', 'inbox', '--help']),
    };
    // a few at a time (each is a node process)
    const queue = Object.entries(probes);
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) r[next[0]] = await next[1]();
      }),
    );
    // recall twice, one after the other
    r.recallFirst = await doc(urlA, clerk, 'recall', id.recallAtA, '--reason', 'Ban hành nhầm');
    r.recallSecond = await doc(urlA, clerk, 'recall', id.recallAtA, '--reason', 'Ban hành nhầm');
  }, 240_000);

  afterAll(async () => {
    for (const x of apps) await x.close();
    await new Promise<void>((ok) => (junk ? junk.close(() => ok()) : ok()));
    await net?.close();
  });

  /** [case, what it is refused as, the exit code src/cli/output.ts's exitCodeFor gives that] */
  const byKind = (rows: [string, number][]) => {
    const wrong = rows.filter(([name, exit]) => r[name]!.status !== exit).map(([name, exit]) => `${name}: exit ${r[name]!.status}, want ${exit} — ${r[name]!.stderr.trim().split('\n')[0]}`);
    expect(wrong).toEqual([]);
  };

  describe('reaching the desk', () => {
    it('no token: exit 2 (usage), names --token and TRUC_TOKEN, Vietnamese first with English beside', () => {
      refused(r.noToken!, 2, /--token.*TRUC_TOKEN/);
      vietnameseFirst(r.noToken!);
    });
    it('TRUC_URL and TRUC_TOKEN from the environment, and --url/--token given after the subcommand, both work', () => {
      for (const x of [r.viaEnv!, r.optionsAfter!]) {
        expect(x.status, x.stderr).toBe(0);
        expect(x.stdout).toMatch(/000\.00\.00\.G09\s+Bộ Nội vụ/);
      }
    });
    it('a wrong token: the server’s 401 shown as it is worded, Vietnamese first', () => {
      refused(r.wrongToken!, r.wrongToken!.status || -1, /mã truy cập/);
      vietnameseFirst(r.wrongToken!);
    });
    it('an address where nothing listens: names the address, Vietnamese first — not a bare "fetch failed"', () => {
      refused(r.closedPort!, r.closedPort!.status || -1, urlClosed.replace('http://', ''));
      expect(message(r.closedPort!)).not.toMatch(/^fetch failed$/);
      vietnameseFirst(r.closedPort!);
    });
    it('--url that is not a URL: a usage error (exit 2) naming --url', () => refused(r.notAUrl!, 2, /--url/));
    it('an address that answers a web page, not the desk: a clear message, not a JSON parser’s error', () => {
      refused(r.junkServer!, r.junkServer!.status || -1);
      expect(r.junkServer!.stderr).not.toMatch(/Unexpected token|is not valid JSON/);
      vietnameseFirst(r.junkServer!);
    });
    it('a platform without a document desk: says the desk is not there, Vietnamese first — not "no route GET …"', () => {
      refused(r.noDesk!, r.noDesk!.status || -1);
      expect(r.noDesk!.stderr).not.toMatch(/: no route/);
      vietnameseFirst(r.noDesk!);
    });
  });

  describe('truc doc send', () => {
    it('a file that does not exist: exit 3, names the file, Vietnamese first (as readInput words it)', () => {
      refused(r.sendMissing!, 3, f.missing);
      vietnameseFirst(r.sendMissing!);
    });
    it('a folder given as a file: exit 3, names it, Vietnamese first — not "fetch failed"', () => {
      refused(r.sendFolder!, 3, f.folder);
      vietnameseFirst(r.sendFolder!);
    });
    it('an empty file as the main document: refused (exit 3) naming it, nothing sent', async () => {
      expect((await a.desk.outbox()).some((d) => d.documentId.endsWith(',108/CV-VPCP')), 'an empty document went out').toBe(false);
      refused(r.sendEmpty!, 3, f.empty);
    });
    it('an unknown recipient code: refused, names the code, Vietnamese first', () => {
      refused(r.sendUnknownRecipient!, r.sendUnknownRecipient!.status || -1, /000\.00\.99\.Z99/);
      vietnameseFirst(r.sendUnknownRecipient!);
    });
    it('--priority khẩn and --type "quyết định" (words, not codes): refused naming the option the clerk typed', () => {
      refused(r.sendPriorityWord!, r.sendPriorityWord!.status || -1, /--priority/);
      refused(r.sendTypeWord!, r.sendTypeWord!.status || -1, /--type/);
    });
    it('--date 02/12/2026 (day first, as clerks write it): refused naming the value, Vietnamese first', () => {
      refused(r.sendDayFirst!, r.sendDayFirst!.status || -1, /02\/12\/2026/);
      vietnameseFirst(r.sendDayFirst!);
    });
    it('a file named in decomposed Unicode (NFD) reaches the recipient named in composed form (NFC)', () => {
      expect(r.sendNfd!.status, r.sendNfd!.stderr).toBe(0);
      expect(r.saveNfd!.status, r.saveNfd!.stderr).toBe(0);
      const saved = readdirSync(f.saveNfd);
      expect(saved.map((n) => [n, n === n.normalize('NFC') ? 'NFC' : 'not NFC'])).toEqual([['Quyết định số 5.txt'.normalize('NFC'), 'NFC']]);
      expect(readFileSync(join(f.saveNfd, saved[0]!), 'utf8')).toBe('Quyết định thử nghiệm (tên tệp NFD)');
    });
    it('a send the CLI can refuse itself (recipient, priority, type, date, file) uploads nothing; a document sent leaves no upload behind', () => {
      // the CLI checks before it uploads; the desk copies an upload into the document's own files when it sends
      // and drops it then; a send the desk refuses (the number taken: sendAgain's one file) keeps its upload for
      // a corrected retry, swept after a day (test/exchange/edoc/routes.test.ts)
      const uploads = readdirSync(join(a.dir, 'desk', 'uploads'));
      expect(uploads, `files left in the desk’s uploads/ (sendNfd exit ${r.sendNfd!.status}, sendAgain exit ${r.sendAgain!.status})`).toHaveLength(1);
    });
  });

  describe('truc doc show', () => {
    it('an unknown id: refused, Vietnamese first, nothing on stdout', () => {
      refused(r.showUnknown!, r.showUnknown!.status || -1, /không có văn bản/);
      vietnameseFirst(r.showUnknown!);
      expect(r.showUnknown!.stdout).toBe('');
    });
    it('another agency’s document id (B’s, asked at A), or an id with ../: refused as unknown, nothing shown', () => {
      for (const x of [r.showOtherAgency!, r.showTraversal!]) {
        refused(x, x.status || -1, /không có văn bản/);
        expect(x.stdout).toBe('');
      }
    });
    it('--json: stdout is one JSON value and nothing else (recipients, show)', () => {
      for (const x of [r.recipientsJson!, r.showJson!]) {
        expect(x.status, x.stderr).toBe(0);
        expect(() => JSON.parse(x.stdout), x.stdout).not.toThrow();
      }
      expect(JSON.parse(r.recipientsJson!.stdout)).toEqual([{ id: B_CODE, name: 'Bộ Nội vụ' }]);
    });
    it('--json with a refusal: stdout empty (or JSON), the message on stderr', () => {
      refused(r.showJsonUnknown!, r.showJsonUnknown!.status || -1, /không có văn bản/);
      if (r.showJsonUnknown!.stdout.trim()) expect(() => JSON.parse(r.showJsonUnknown!.stdout)).not.toThrow();
    });
    it('--save into a folder that does not exist: the folder made, or exit 3 naming it, Vietnamese first', () => {
      if (r.saveMissingFolder!.status === 0) {
        expect(existsSync(join(f.saveMissing, 'cong-van-101.txt'))).toBe(true);
        return;
      }
      refused(r.saveMissingFolder!, 3, f.saveMissing);
      vietnameseFirst(r.saveMissingFolder!);
    });
    it('--save of a document with two attachments of the same name keeps both (the second does not overwrite the first)', () => {
      expect(r.saveDup!.status, r.saveDup!.stderr).toBe(0);
      const saved = readdirSync(f.saveDup).sort();
      const contents = saved.map((n) => readFileSync(join(f.saveDup, n), 'utf8')).sort();
      expect(contents, `saved: ${saved.join(', ')}`).toEqual(['Phụ lục thứ hai, khác hẳn', 'Phụ lục thứ nhất']);
    });
  });

  describe('truc doc status / recall / inbox', () => {
    it('status 99 and status abc: refused with the list of codes, Vietnamese first', () => {
      for (const x of [r.status99!, r.statusWord!]) {
        refused(x, x.status || -1, /01 02 03 04 05 06 15 16/);
        vietnameseFirst(x);
      }
    });
    it('status 3 (the leading zero dropped): taken as 03, or refused naming the codes', () => {
      if (r.statusNoZero!.status === 0) expect(r.statusNoZero!.stdout).toMatch(/03/);
      else refused(r.statusNoZero!, r.statusNoZero!.status, /\b03\b/);
    });
    it('recall: a blank --reason is refused; a second recall while the first is pending is refused, not sent again', () => {
      refused(r.recallBlank!, r.recallBlank!.status || -1, /lý do/);
      expect(r.recallFirst!.status, r.recallFirst!.stderr).toBe(0);
      refused(r.recallSecond!, r.recallSecond!.status || -1, /thu hồi/);
    });
    it('inbox --limit N (the API takes 1–1000 and returns 100 by default): the CLI offers it', () => {
      expect(r.inboxLimit!.status, r.inboxLimit!.stderr).toBe(0);
    });
  });

  describe('consistent with the rest of the CLI (src/cli/output.ts)', () => {
    it('a refusal from the server keeps its code on stderr, as `error [code]: …` of fail()', () => {
      const lost = (
        [
          ['wrongToken', 'unauthenticated'],
          ['auditorSends', 'forbidden'],
          ['sendUnknownRecipient', 'unknown_member'],
          ['sendAgain', 'conflict'],
          ['showUnknown', 'unknown_document'],
          ['status99', 'bad_request'],
          ['recallSecond', 'conflict'],
        ] as const
      )
        .filter(([name, code]) => !r[name]!.stderr.includes(`[${code}]`))
        .map(([name, code]) => `${name} (${code}): ${r[name]!.stderr.trim()}`);
      expect(lost).toEqual([]);
    });
    it('not found is exit 4: unknown id to show / ack, status of a sent document, recall of a received one, another agency’s id', () =>
      byKind([['showUnknown', 4], ['ackUnknown', 4], ['statusOnSent', 4], ['recallReceived', 4], ['showOtherAgency', 4], ['showJsonUnknown', 4]]));
    it('a conflict is exit 5: the same number sent again, a second recall pending', () => byKind([['sendAgain', 5], ['recallSecond', 5]]));
    it('bad input and refused credentials are exit 3: status 99/abc, blank reason, bad date, 3000-character id, wrong token, role without doc.send', () =>
      byKind([['status99', 3], ['statusWord', 3], ['recallBlank', 3], ['sendDayFirst', 3], ['showHuge', 3], ['wrongToken', 3], ['auditorSends', 3]]));
  });

  describe('help', () => {
    it('doc --help, doc send --help, doc inbox --help: every description and option says it in Vietnamese too', () => {
      const lines: string[] = [];
      for (const h of [r.helpDoc!, r.helpSend!, r.helpInbox!]) {
        expect(h.status).toBe(0);
        const body = h.stdout.split('\n');
        for (const l of body) {
          const m = /^\s{2}(\S.*?)\s{2,}(\S.*)$/.exec(l);
          if (m && !/display help|help \[command\]/.test(l) && !VIETNAMESE.test(m[2]!)) lines.push(l.trim());
        }
        const description = body.find((l, i) => i > 0 && l.trim() && !/^(Usage|Options|Commands|Arguments):/.test(l) && !/^\s/.test(l));
        if (description && !VIETNAMESE.test(description)) lines.push(`(description) ${description.trim()}`);
      }
      expect(lines).toEqual([]);
    });
  });
});
