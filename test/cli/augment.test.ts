import { describe, it, expect, beforeAll } from 'vitest';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateFile, type ValidationReport } from '../../src/sign/index.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { TrucLanes, trucDataDir, trucSync, type TrucResult } from '../helpers/truc-cli.js';
import { samplePdf } from '../sign/fixtures.js';
import { judgeCades, judgePdf, judgeXades, splitChain, type Trust } from '../sign/judges.js';

// the data folder (its database made beforehand: ../helpers/truc-cli.ts) is set in beforeAll
const env: NodeJS.ProcessEnv = { ...process.env, TRUC_KEY_PASSPHRASE: 'cli augment passphrase', TRUC_LOG_LEVEL: 'warn' };
delete env.TRUC_DATABASE_URL;

const truc = (...args: string[]): TrucResult => trucSync(env, args);
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
/** until the clock is in a later second than `path` was written: time-stamps made from then on are later than any in it */
async function laterSecondThan(path: string): Promise<void> {
  const written = Math.floor(statSync(path).mtimeMs / 1000);
  while (Math.floor(Date.now() / 1000) <= written) await new Promise((r) => setTimeout(r, 50));
}

type Case = { name: string; format: 'pdf' | 'cades' | 'xades'; signed: string; content?: string };

describe('truc augment', () => {
  const dir = tmp();
  let trust: Trust;
  let root: Buffer;
  const cases: Case[] = [];
  /** the file each case reached at each level */
  const at: Record<string, Record<string, string>> = {};
  /** copies of the data folder once the CA has issued the certificate: the cases run side by side, each on one */
  let lanes: TrucLanes;

  /** our validator, offline from B-LT on (hard-fail: the carried data must do) */
  async function validate(path: string, level: string, content?: string): Promise<ValidationReport> {
    return validateFile(readFileSync(path), {
      trustAnchors: [root],
      revocation: { mode: level === 'B-T' ? 'soft-fail' : 'hard-fail' },
      ...(content ? { content: readFileSync(content) } : {}),
    });
  }

  beforeAll(async () => {
    env.TRUC_DATA_DIR = await trucDataDir('truc-cli-augment-');
    expect(truc('ca', 'init').status).toBe(0);
    const { csrPath, keyPath } = opensslCsr(dir, '/C=VN/O=Bộ Tài chính/CN=Trần Văn Bình');
    const cert = join(dir, 'cert.pem');
    const issued = truc('ca', 'issue', '--csr', csrPath, '--profile', 'official-signing', '--out', cert, '--chain');
    expect(issued.status, issued.stderr).toBe(0);
    const chain = splitChain(readFileSync(cert, 'utf8'));
    trust = { dir, rootPath: join(dir, 'root.pem'), issuingPath: join(dir, 'issuing.pem') };
    writeFileSync(trust.rootPath, chain.root);
    writeFileSync(trust.issuingPath, chain.issuing);
    root = Buffer.from(new X509Certificate(chain.root).raw);

    const pdf = join(dir, 'cong-van.pdf');
    writeFileSync(pdf, await samplePdf(true));
    const content = join(dir, 'quyet-dinh.txt');
    writeFileSync(content, 'Quyết định số 31/QĐ-BTC về lưu trữ hồ sơ điện tử\n');
    const xml = join(dir, 'edxml.xml');
    writeFileSync(xml, '<edXML xmlns="urn:vn:edxml"><Header><Code>12/BTC-VP</Code></Header><Subject>Về việc lưu trữ</Subject></edXML>');
    lanes = new TrucLanes(env);
    const sign = async (format: string, input: string, out: string, ...more: string[]) => {
      const r = await lanes.run('sign', format, input, '--out', out, '--key-pem', keyPath, '--cert-pem', cert, ...more);
      expect(r.status, r.stderr).toBe(0);
      return out;
    };
    const [bbPdf, bbP7s, bbP7m, bbXml, bbEnveloping, bbDetached] = await Promise.all([
      sign('pdf', pdf, join(dir, 'bb.pdf')),
      sign('cades', content, join(dir, 'bb.p7s')),
      sign('cades', content, join(dir, 'bb.p7m'), '--enveloping'),
      sign('xades', xml, join(dir, 'bb.xml')),
      sign('xades', xml, join(dir, 'bb-enveloping.xml'), '--enveloping'),
      sign('xades', content, join(dir, 'bb-detached.xml'), '--detached'),
    ]);
    cases.push(
      { name: 'PAdES', format: 'pdf', signed: bbPdf },
      { name: 'CAdES detached', format: 'cades', signed: bbP7s, content },
      { name: 'CAdES enveloping', format: 'cades', signed: bbP7m },
      { name: 'XAdES', format: 'xades', signed: bbXml },
      { name: 'XAdES enveloping', format: 'xades', signed: bbEnveloping },
      // named by its file name: the judge runs xmlsec1 in this folder, where the content is
      { name: 'XAdES detached', format: 'xades', signed: bbDetached, content },
    );
  });

  /** the independent tools on a file at `level`: every signature and time-stamp they can check passes */
  function judge(c: Case, path: string, level: string, archives: number): void {
    const bytes = readFileSync(path);
    if (c.format === 'pdf') {
      const j = judgePdf(trust, bytes);
      expect(j.qpdf, j.out).toBe(0);
      expect(j.valid, j.out).toBe(1); // the signature; pdfsig lists the document time-stamps it cannot validate
      expect(j.listed, j.out).toBe(1 + (level === 'B-T' ? 1 : level === 'B-LT' ? 1 : 1 + archives));
    } else if (c.format === 'cades') {
      const j = judgeCades(trust, bytes, c.content ? readFileSync(c.content) : undefined);
      expect(j.cms, j.out).toBe(true);
      expect(j.stamps, j.out).toBe(1 + archives);
      expect(j.accepted, j.out).toBe(j.stamps);
    } else {
      const j = judgeXades(trust, bytes);
      expect(j.ok, j.out).toBe(true);
    }
  }

  it('raises PAdES, CAdES (detached and enveloping) and XAdES (enveloped, enveloping, detached) B-B → B-T → B-LT → B-LTA; each TOTAL-PASSED at its level for us, pdfsig/qpdf, openssl cms/ts and xmlsec1; the input untouched', async () => {
    // each case raised on a lane of its own, the cases side by side
    const raise = (c: Case) => lanes.lane(async (truc) => {
      at[c.name] = { 'B-B': c.signed };
      let prev = c.signed;
      for (const level of ['B-T', 'B-LT', 'B-LTA']) {
        const out = join(dir, `${c.name.replace(/\W+/g, '-')}-${level}.${c.signed.split('.').pop()}`);
        const before = sha(prev);
        const withContent = c.content && level === 'B-LTA' ? ['--content', c.content] : [];
        const r = await truc('--json', 'augment', c.format, prev, '--out', out, '--level', level, ...withContent);
        expect(r.status, `${c.name} ${level}: ${r.stderr}`).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ format: c.format, from: level === 'B-T' ? 'B-B' : level === 'B-LT' ? 'B-T' : 'B-LT', level, changed: true, renewed: false });
        expect(sha(prev), 'the input is never modified').toBe(before);
        const report = await validate(out, level, c.content);
        expect(report.signatures, `${c.name} ${level}`).toHaveLength(1);
        expect(report.signatures[0], `${c.name} ${level}: ${JSON.stringify(report.signatures[0], null, 1)}`).toMatchObject({ indication: 'TOTAL-PASSED', level });
        judge(c, out, level, level === 'B-LTA' ? 1 : 0);
        at[c.name][level] = out;
        prev = out;
      }
    });
    await Promise.all(cases.map(raise));
  }, 240_000);

  it('--renew adds a second archive time-stamp after fresh validation data; the file still validates for us and for the independent tools', async () => {
    expect(Object.keys(at), 'the first test reached B-LTA').toHaveLength(cases.length);
    const renew = async (c: Case) => {
      const lta = at[c.name]['B-LTA'];
      await laterSecondThan(lta); // a later genTime for the renewal
      const before = sha(lta);
      const out = join(dir, `${c.name.replace(/\W+/g, '-')}-renewed.${c.signed.split('.').pop()}`);
      const r = await lanes.run('--json', 'augment', c.format, lta, '--out', out, '--renew', ...(c.content ? ['--content', c.content] : []));
      expect(r.status, `${c.name}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ from: 'B-LTA', level: 'B-LTA', changed: true, renewed: true });
      expect(sha(lta)).toBe(before);
      const report = await validate(out, 'B-LTA', c.content);
      const [s] = report.signatures;
      expect(s, `${c.name}: ${JSON.stringify(s, null, 1)}`).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
      const archives = c.format === 'pdf' ? (report.documentTimestamps ?? []).filter((t) => t.valid).length - 1 : s.timestamps!.filter((t) => t.type === 'archive' && t.valid).length;
      expect(archives, `${c.name}: two archive time-stamps`).toBe(2);
      expect(s.warnings.filter((w) => /time-stamp/.test(w))).toEqual([]);
      judge(c, out, 'B-LTA', 2);
    };
    await Promise.all(cases.map(renew));
  }, 120_000);

  it('refuses bad input with its error code and exit status, writes nothing and leaves the input as it was', async () => {
    expect(Object.keys(at)).toHaveLength(cases.length);
    const refused = async (args: string[], exit: number, code: RegExp, input: string) => {
      const out = join(dir, `refused-${Math.random().toString(36).slice(2)}`);
      const before = sha(input);
      const r = await lanes.run('augment', ...args.map((a) => (a === 'OUT' ? out : a)));
      expect(r.status, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(exit);
      expect(r.stderr).toMatch(code);
      expect(existsSync(out), 'nothing written').toBe(false);
      expect(sha(input)).toBe(before);
    };
    const pdf = at.PAdES;
    const detached = at['CAdES detached'];
    const text = join(dir, 'plain.txt');
    writeFileSync(text, 'không phải chữ ký\n');
    const unsigned = join(dir, 'unsigned.pdf');
    writeFileSync(unsigned, await samplePdf(false));
    const tampered = join(dir, 'tampered.pdf');
    const t = readFileSync(pdf['B-B']);
    t[t.indexOf('\n%', 0, 'latin1') + 2] ^= 1;
    writeFileSync(tampered, t);
    const again = join(dir, 'again.xml');
    // each refusal (and the two commands after them) on the next free lane, side by side
    await Promise.all([
      // not a signature
      refused(['cades', text, '--out', 'OUT', '--level', 'B-T'], 3, /error \[unsupported\]: .* not a PDF, CMS or XML signature/, text),
      refused(['pdf', unsigned, '--out', 'OUT', '--level', 'B-T'], 3, /error \[bad_request\]: the PDF file has no signature to augment/, unsigned),
      refused(['xades', pdf['B-B'], '--out', 'OUT', '--level', 'B-T'], 3, /error \[bad_request\]: .* is not a xades file \(it looks like a PDF\)/, pdf['B-B']),
      // already at a higher level; renewal of a signature that is not B-LTA
      refused(['pdf', pdf['B-LTA'], '--out', 'OUT', '--level', 'B-T'], 5, /error \[conflict\]: the signature is already at B-LTA, above the B-T asked/, pdf['B-LTA']),
      refused(['xades', at.XAdES['B-LT'], '--out', 'OUT', '--renew'], 5, /error \[conflict\]: the signature is at B-LT; only a B-LTA signature has an archive time-stamp to renew/, at.XAdES['B-LT']),
      // B-LTA, or renewal, of a detached CAdES without its content; content for what is not detached CAdES
      refused(['cades', detached['B-LT'], '--out', 'OUT', '--level', 'B-LTA'], 3, /error \[bad_request\]: the signed content is needed for B-LTA on a detached CAdES signature/, detached['B-LT']),
      refused(['cades', detached['B-LTA'], '--out', 'OUT', '--renew'], 3, /error \[bad_request\]: the signed content is needed for renewing/, detached['B-LTA']),
      refused(['cades', at['CAdES enveloping']['B-B'], '--out', 'OUT', '--level', 'B-T', '--content', text], 3, /error \[bad_request\]: .*carries its content/, at['CAdES enveloping']['B-B']),
      // the same for a detached XAdES signature: its archive time-stamp covers the content
      refused(['xades', at['XAdES detached']['B-LT'], '--out', 'OUT', '--level', 'B-LTA'], 3, /error \[bad_request\]: the signed content is needed for B-LTA on a detached XAdES signature/, at['XAdES detached']['B-LT']),
      refused(['xades', at['XAdES detached']['B-LT'], '--out', 'OUT', '--level', 'B-LTA', '--content', text], 3, /error \[invalid_signature\]: signature #1 is TOTAL-FAILED\/HASH_FAILURE/, at['XAdES detached']['B-LT']),
      // the wrong content for a detached signature: HASH_FAILURE, not time-stamped
      refused(['cades', detached['B-LT'], '--out', 'OUT', '--level', 'B-LTA', '--content', text], 3, /error \[invalid_signature\]: signature #1 is TOTAL-FAILED\/HASH_FAILURE/, detached['B-LT']),
      // a tampered PDF
      refused(['pdf', tampered, '--out', 'OUT', '--level', 'B-T'], 3, /error \[invalid_signature\]: signature #1 is TOTAL-FAILED/, tampered),
      // B-B is no augmentation; --out naming the input; no level
      refused(['pdf', pdf['B-B'], '--out', 'OUT', '--level', 'B-B'], 3, /error \[bad_request\]: augmenting raises a signature to B-T, B-LT or B-LTA/, pdf['B-B']),
      refused(['pdf', pdf['B-B'], '--out', 'OUT'], 3, /option --level is required/, pdf['B-B']),
      (async () => {
        const same = await lanes.run('augment', 'pdf', pdf['B-B'], '--out', pdf['B-B'], '--level', 'B-T');
        expect(same.status).toBe(3);
        expect(same.stderr).toMatch(/--out must not be the input file/);
      })(),
      // at the level asked already: written unchanged, exit 0
      (async () => {
        const r = await lanes.run('--json', 'augment', 'xades', at.XAdES['B-LT'], '--out', again, '--level', 'B-LT');
        expect(r.status, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ from: 'B-LT', level: 'B-LT', changed: false });
        expect(sha(again)).toBe(sha(at.XAdES['B-LT']));
      })(),
    ]);
    expect(judgePdf(trust, readFileSync(pdf['B-B'])).listed).toBe(1);
  }, 240_000);
});
