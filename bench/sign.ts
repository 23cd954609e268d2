/**
 * PAdES signing and validation throughput on a small corpus — a 1-page letter, a 50-page report, a ~10 MB
 * file (a page and a 10 MB attachment) — with a platform-held ECDSA P-256 key in the software key store:
 * signatures a second at B-B and at B-LT (signature time-stamp from the TSA in process, DSS with OCSP
 * responses from the responder in process), validations a second of each signed file, and, as the peer,
 * poppler's `pdfsig` validating the same files in the same run (a process per file, as it is used).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { loadConfig } from '../src/config.js';
import { openPlatform } from '../src/platform.js';
import { initHierarchy, listCas } from '../src/pki/index.js';
import { OcspResponder } from '../src/pki/ocsp/index.js';
import { TimeStampAuthority } from '../src/pki/tsa/index.js';
import { DEFAULT_HIERARCHY } from '../src/cli/bootstrap.js';
import { createSignKey, keySigner, localTimeStamper, platformEvidence, signPdf, validatePdf, type Level } from '../src/sign/index.js';

export const title = 'PAdES signing and validation (ECDSA P-256, software key store)';

const SECONDS = Number(process.env.BENCH_SIGN_SECONDS ?? 2);

async function corpus(): Promise<{ name: string; pdf: Buffer }[]> {
  const text = async (pages: number) => {
    const doc = await PDFDocument.create();
    const font = await doc.embedFont(StandardFonts.Helvetica);
    for (let i = 0; i < pages; i++) {
      const page = doc.addPage([595, 842]);
      for (let l = 0; l < 40; l++) page.drawText(`Bao cao so ${i + 1}/${pages} - dong ${l + 1}: noi dung van ban hanh chinh dien tu.`, { x: 40, y: 800 - l * 19, size: 10, font });
    }
    return doc;
  };
  const big = await text(1);
  await big.attach(randomBytes(10 * 1024 * 1024), 'du-lieu.bin', { mimeType: 'application/octet-stream' });
  return [
    { name: '1 page', pdf: Buffer.from(await (await text(1)).save()) },
    { name: '50 pages', pdf: Buffer.from(await (await text(50)).save()) },
    { name: '~10 MB', pdf: Buffer.from(await big.save()) },
  ];
}

/** Runs `fn` for about SECONDS (at least 3 times); answers operations a second. */
async function rate(fn: () => Promise<unknown> | unknown): Promise<{ perSecond: number; n: number }> {
  await fn(); // warm-up
  const started = performance.now();
  let n = 0;
  while (n < 3 || performance.now() - started < SECONDS * 1000) {
    await fn();
    n++;
  }
  const ms = performance.now() - started;
  return { perSecond: Math.round((n / ms) * 1000 * 10) / 10, n };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'truc-bench-sign-'));
  const cfg = loadConfig({ env: {}, overrides: { dataDir: dir, keys: { software: { dir: join(dir, 'keys'), passphrase: 'bench passphrase' } }, log: { level: 'warn' } } as any });
  const p = await openPlatform(cfg);
  const tsa = new TimeStampAuthority(p.pki, p.issuer, p.config.tsa, p.log);
  const ocsp = new OcspResponder(p.pki, p.issuer, { ...p.config.ocsp, presign: false }, p.log);
  try {
    await initHierarchy(p.pki, DEFAULT_HIERARCHY, 'bench');
    await tsa.start();
    await ocsp.start();
    const key = await createSignKey(p.db, p.keys, p.issuer, { principal: 'bench', subject: 'C=VN, O=Bench, CN=Người ký thử', profile: 'official-signing', actor: 'bench' });
    const signer = await keySigner(p.pki, key);
    const trustAnchors = (await listCas(p.db)).filter((c) => !c.parentId).map((c) => Buffer.from(c.certificate));
    const context = { timeStamper: localTimeStamper(tsa), evidence: platformEvidence(p.pki, ocsp), trustAnchors };
    const results: Record<string, unknown> = {};
    for (const { name, pdf } of await corpus()) {
      const row: Record<string, unknown> = { bytes: pdf.length };
      for (const level of ['B-B', 'B-LT'] as Level[]) {
        const signed = await signPdf(pdf, signer, { level, context });
        const path = join(dir, `${name.replace(/\W+/g, '_')}-${level}.pdf`);
        writeFileSync(path, signed);
        const s = await rate(() => signPdf(pdf, signer, { level, context }));
        const v = await rate(async () => {
          const r = await validatePdf(signed, { trustAnchors });
          if (r.signatures[0]?.indication !== 'TOTAL-PASSED') throw new Error(`${name} ${level}: ${r.signatures[0]?.indication} ${r.signatures[0]?.message}`);
        });
        const ps = await rate(() => {
          const out = execFileSync('pdfsig', [path], { encoding: 'utf8' });
          if (!out.includes('Signature is Valid')) throw new Error(`pdfsig does not accept ${path}`);
        });
        row[level] = { signPerSecond: s.perSecond, validatePerSecond: v.perSecond, pdfsigPerSecond: ps.perSecond };
      }
      results[name] = row;
    }
    return results;
  } finally {
    await ocsp.stop().catch(() => {});
    await p.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function describe(r: Record<string, any>): string {
  const lines = [
    `Signing holds the key in the software key store (ECDSA P-256); B-LT adds a signature time-stamp from the TSA and a DSS with OCSP responses from the responder, both in process. Validation is the full EN 319 102-1 validation (path to the root, revocation soft-fail with the carried data); \`pdfsig\` (poppler) is one process a file, as it is used. Each figure runs about ${SECONDS} s.`,
    '',
    '| file | bytes | level | signatures/s | validations/s | pdfsig validations/s |',
    '|---|---:|---|---:|---:|---:|',
  ];
  for (const [name, row] of Object.entries(r))
    for (const level of ['B-B', 'B-LT']) {
      const c = row[level];
      if (c) lines.push(`| ${name} | ${row.bytes} | ${level} | ${c.signPerSecond} | ${c.validatePerSecond} | ${c.pdfsigPerSecond} |`);
    }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().then(
    (r) => console.log(describe(r)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
