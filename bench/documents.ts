/**
 * Official documents end to end between document desks: the sender builds and signs the package (XAdES),
 * stores it and its 200 KB PAdES-signed PDF, delivers it (frames, streamed); the recipient checks the
 * envelope and its signature (path to the root), spools and hashes the attachment, validates the PDF's
 * signature, stores it, and answers with a signed status 01 that travels back, is verified and moves the
 * sender's view of that recipient. A document counts when the sender has its 01.
 *
 * Setup (not timed): a platform with the default hierarchy (its CA issues each agency's agency-signing
 * certificate), one desk per agency with its own PostgreSQL database (PGlite when no server answers), and
 * between them the stand-in relay of the unit tests (test/exchange/edoc/fixture.ts) in place of the two
 * security servers — so these figures are the desks' own cost; the security servers' signing and message
 * log come on top (bench/exchange.ts measures those). Peer, same run: the same work without the transport
 * or the database — sign the envelope, validate it, validate the PDF, sign and validate the status — in a
 * loop.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { signPdf, signXades, validatePdf, validateXades } from '../src/sign/index.js';
import { writeEnvelope } from '../src/exchange/edoc/xml.js';
import { writeStatus } from '../src/exchange/edoc/status.js';
import { openNetwork, until, AGENCIES, type AgencySpec, type TestDesk } from '../test/exchange/edoc/fixture.js';
import { samplePackage } from '../test/exchange/edoc/samples.js';

export const title = 'Official documents between desks (sign, send, receive, validate, receipt)';

const DOCS = Number(process.env.BENCH_DOCS ?? 40);
const FANOUT = Number(process.env.BENCH_DOCS_FANOUT ?? 63);

async function pdf200k(): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const page = doc.addPage([595, 842]);
  page.drawText('Quyet dinh so 7816/QD-VPCP', { x: 50, y: 780, size: 14, font });
  await doc.attach(randomBytes(190 * 1024), 'phu-luc.bin', { mimeType: 'application/octet-stream' });
  return Buffer.from(await doc.save());
}

const input = (to: string[], n: number, pdf: Buffer) => ({
  to,
  code: { number: String(n), notation: 'QĐ-VPCP' },
  promulgation: { place: 'Hà Nội', date: '2026-12-02' },
  documentType: { type: 2, typeName: 'Quyết định' },
  subject: `Quyết định số ${n}`,
  signer: { fullName: 'Nguyễn Văn A' },
  attachments: [{ name: `${n}.pdf`, contentType: 'application/pdf', bytes: pdf }],
});

async function allArrived(d: TestDesk, id: string, n: number): Promise<boolean> {
  const r = await d.desk.recipientStatuses(id);
  return r.length === n && r.every((x) => x.status === '01');
}

export async function run(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  // one to one, many documents in flight
  {
    const net = await openNetwork(AGENCIES.slice(0, 2), { retry: { firstMs: 100, maxMs: 1000 } });
    try {
      const [a, b] = net.desks as [TestDesk, TestDesk];
      const pdf = await signPdf(await pdf200k(), a.signer);
      out.pdfBytes = pdf.length;
      // warm-up
      const w = await a.desk.send(input([b.spec.organ.organId], 1, pdf), 'bench');
      await until(() => allArrived(a, w.id, 1), 60_000);
      const t0 = performance.now();
      const ids = await Promise.all(Array.from({ length: DOCS }, (_, i) => a.desk.send(input([b.spec.organ.organId], 100 + i, pdf), 'bench')));
      for (const s of ids) await until(() => allArrived(a, s.id, 1), 300_000);
      const s = (performance.now() - t0) / 1000;
      out.oneToOne = { documents: DOCS, seconds: +s.toFixed(2), perSecond: +(DOCS / s).toFixed(1) };

      // peer: the cryptographic work alone
      const pkg = samplePackage();
      const t1 = performance.now();
      const N = 10;
      for (let i = 0; i < N; i++) {
        const env = await signXades(writeEnvelope(pkg), a.signer);
        await validateXades(env, { trustAnchors: [net.lab.root] });
        await validatePdf(pdf, { trustAnchors: [net.lab.root] });
        const st = await signXades(writeStatus({ responseFor: { organId: '000.00.00.G22', code: '7816/VPCP-TTĐT', promulgationDate: '2026-12-02', documentId: pkg.header.documentId }, from: b.spec.organ, code: '01', timestamp: new Date().toISOString() }), b.signer);
        await validateXades(st, { trustAnchors: [net.lab.root] });
      }
      out.cryptoOnlyPerSecond = +(N / ((performance.now() - t1) / 1000)).toFixed(1);
    } finally {
      await net.close();
    }
  }
  // fan-out: one call to FANOUT agencies, each a desk of its own
  {
    const specs: AgencySpec[] = [AGENCIES[0]!, ...Array.from({ length: FANOUT }, (_, i) => ({ organ: { organId: `000.00.${String(i + 1).padStart(2, '0')}.H${String(i + 1).padStart(2, '0')}`, organName: `UBND tỉnh số ${i + 1}` }, memberClass: 'PROV' }))];
    const t = performance.now();
    const net = await openNetwork(specs, { retry: { firstMs: 200, maxMs: 2000 } });
    out.fanoutSetupSeconds = +((performance.now() - t) / 1000).toFixed(1);
    try {
      const a = net.desks[0]!;
      const pdf = await signPdf(await pdf200k(), a.signer);
      const t0 = performance.now();
      const sent = await a.desk.send(input(specs.slice(1).map((s) => s.organ.organId), 7816, pdf), 'bench');
      const sentAt = performance.now();
      await until(() => allArrived(a, sent.id, FANOUT), 600_000);
      const s = (performance.now() - t0) / 1000;
      out.fanout = { agencies: FANOUT, sendCallMs: Math.round(sentAt - t0), allArrivedSeconds: +s.toFixed(2), perSecond: +(FANOUT / s).toFixed(1) };
    } finally {
      await net.close();
    }
  }
  return out;
}

export function describe(r: Record<string, any>): string {
  return [
    `A ${r.pdfBytes}-byte PAdES-signed PDF per document; ECDSA P-256 agency keys; desks on PostgreSQL (one database each), the stand-in relay between them (no security servers, no message log). A document counts when the sender holds the recipient's verified status 01.`,
    '',
    '| path | documents | seconds | documents/s |',
    '|---|---:|---:|---:|',
    `| one to one, ${r.oneToOne.documents} sent at once | ${r.oneToOne.documents} | ${r.oneToOne.seconds} | ${r.oneToOne.perSecond} |`,
    `| fan-out: one call to ${r.fanout.agencies} agencies (each its own desk), until all 01 are back | ${r.fanout.agencies} | ${r.fanout.allArrivedSeconds} | ${r.fanout.perSecond} |`,
    '',
    '| peer, same run | per second |',
    '|---|---:|',
    `| the cryptography of one document alone: sign the envelope, validate it, validate the PDF, sign and validate the status | ${r.cryptoOnlyPerSecond} |`,
    '',
    `The send call for ${r.fanout.agencies} agencies returned in ${r.fanout.sendCallMs} ms (one signature, one transaction; delivery follows, 8 at once). Setting up ${r.fanout.agencies + 1} desks took ${r.fanoutSetupSeconds} s (not timed).`,
  ].join('\n');
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
