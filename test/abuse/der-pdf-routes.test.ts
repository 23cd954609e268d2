/**
 * Hostile DER and hostile PDFs through every route that reads them, each way the route takes them (raw
 * body, base64 in JSON, in the path): certificate requests, certificate path validation (target,
 * intermediates, anchors, CRLs), OCSP (POST and GET), time-stamping, signature validation, augmentation,
 * signing (one-step and two-phase), the vault (recipient certificates, CMS to decrypt, PDFs whose markings
 * it reads), malware scanning and the central server's registration. DER nested 50,000 deep, indefinite
 * lengths 20,000 deep, lengths of 2 GiB and 2^64, a truncated certificate, an identifier of 40,000 octets,
 * 100,000 NULLs; PDFs nested deep, with cross-reference loops, a stream declaring a terabyte, a content
 * stream inflating to a gigabyte, object streams inflating past the file's bound, a signature whose CMS is
 * hostile, a truncated file. Each is answered without a server error — a problem document, a report that
 * says what failed, or the protocol's own refusal — while a health request made at the same time is
 * answered, and the process's memory stays bounded. (The lab takes no DER or PDF over HTTP: its vectors
 * are local files; the document desk's uploads are checked by test/exchange/edoc.)
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomUUID } from 'node:crypto';
import { PDFDocument } from 'pdf-lib';
import { listCas } from '../../src/pki/index.js';
import { createSignKey } from '../../src/sign/index.js';
import { routeTable } from '../../src/http/app.js';
import { call, isProblem, startEveryRoute, type Answer, type EveryRoute } from './helpers.js';
import { der, hostileDer, hostilePdfs } from './corpus.js';

const MB = 1024 * 1024;
const ATTACKER = '127.0.0.8';

interface Way {
  route: string;
  send(x: Buffer): { method: string; path: string; type: string; body: Buffer | string };
}

describe('abuse: hostile DER and PDF through every route that reads them', () => {
  let rig: EveryRoute;
  let caCert: Buffer;
  let signerCert: Buffer;
  let keyRef: string;
  let realPdf: Buffer;
  let rssBase = 0;
  let rssPeak = 0;
  let sampler: NodeJS.Timeout;

  beforeAll(async () => {
    rig = await startEveryRoute();
    const cas = await listCas(rig.p.db);
    caCert = Buffer.from(cas.find((c) => c.parentId)!.certificate);
    keyRef = `software:${cas.find((c) => c.parentId)!.keyId}`;
    const key = await createSignKey(rig.p.db, rig.p.keys, rig.p.issuer, { principal: 'every role', subject: 'C=VN, O=Bộ Nội vụ, CN=Người ký thử', profile: 'official-signing', actor: 'test' });
    signerCert = Buffer.from(key.certificate);
    const doc = await PDFDocument.create();
    doc.addPage([595, 842]).drawText('Quyet dinh', { x: 50, y: 800 });
    realPdf = Buffer.from(await doc.save({ useObjectStreams: false }));
    rssBase = process.memoryUsage().rss;
    rssPeak = rssBase;
    sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
  }, 120_000);
  afterAll(async () => {
    clearInterval(sampler);
    await rig?.close();
  });

  const json = (method: string, path: string, o: unknown) => ({ method, path, type: 'application/json', body: JSON.stringify(o) });
  const raw = (path: string, type: string) => (x: Buffer) => ({ method: 'POST', path, type, body: x });
  const b64 = (x: Buffer) => x.toString('base64');
  const pem = (label: string, x: Buffer) => `-----BEGIN ${label}-----\n${b64(x).replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`;
  const canonical = (v: unknown): string =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? `{${Object.keys(v)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
          .join(',')}}`
      : JSON.stringify(v);

  const DER_WAYS: Way[] = [
    { route: 'POST /api/v1/certificates', send: (x) => json('POST', '/api/v1/certificates', { profile: 'official-signing', csr: pem('CERTIFICATE REQUEST', x) }) },
    { route: 'POST /api/v1/certificates', send: (x) => json('POST', '/api/v1/certificates', { profile: 'official-signing', csr: b64(x) }) },
    { route: 'POST /api/v1/certificates/validate', send: (x) => json('POST', '/api/v1/certificates/validate', { certificate: b64(x) }) },
    { route: 'POST /api/v1/certificates/validate', send: (x) => json('POST', '/api/v1/certificates/validate', { certificate: b64(caCert), intermediates: [b64(x)], trustAnchors: [b64(x)] }) },
    { route: 'POST /api/v1/certificates/validate', send: (x) => json('POST', '/api/v1/certificates/validate', { certificate: b64(signerCert), crls: [b64(x)] }) },
    { route: 'POST /ocsp', send: raw('/ocsp', 'application/ocsp-request') },
    { route: 'GET /ocsp/*', send: (x) => ({ method: 'GET', path: `/ocsp/${encodeURIComponent(b64(x.subarray(0, 3000)))}`, type: 'application/ocsp-request', body: '' }) },
    { route: 'POST /tsa', send: raw('/tsa', 'application/timestamp-query') },
    { route: 'POST /api/v1/validate', send: raw('/api/v1/validate', 'application/pkcs7-signature') },
    { route: 'POST /api/v1/validate', send: (x) => json('POST', '/api/v1/validate', { file: b64(x), content: b64(Buffer.from('nội dung')) }) },
    { route: 'POST /api/v1/augment', send: (x) => ({ ...raw('/api/v1/augment', 'application/pkcs7-signature')(x), path: '/api/v1/augment?level=B-T' }) },
    { route: 'POST /api/v1/sign/prepare', send: (x) => json('POST', '/api/v1/sign/prepare', { certificate: b64(x), file: b64(realPdf), format: 'pades' }) },
    { route: 'POST /api/v1/sign/complete', send: (x) => json('POST', '/api/v1/sign/complete', { handle: 'h'.repeat(40), signature: b64(x.subarray(0, 4000)) }) },
    { route: 'POST /api/v1/vault/encrypt', send: (x) => json('POST', '/api/v1/vault/encrypt', { content: b64(Buffer.from('mật')), recipients: [b64(x)] }) },
    { route: 'POST /api/v1/vault/decrypt', send: (x) => json('POST', '/api/v1/vault/decrypt', { cms: b64(x), keyRef }) },
    { route: 'POST /api/v1/scan', send: raw('/api/v1/scan', 'application/octet-stream') },
    {
      route: 'POST /central/register',
      send: (x) =>
        json('POST', '/central/register', {
          payload: b64(Buffer.from(canonical({ address: 'ss1.bnv.gov.vn:5500', createdAt: new Date().toISOString(), id: `abuse-${randomUUID()}`, instance: 'VN', server: { memberClass: 'GOV', memberCode: 'BNV', serverCode: 'ss1' }, type: 'address-change' }))),
          signingCert: b64(x.subarray(0, 60_000)),
          signingOcsp: b64(x.subarray(0, 60_000)),
          signatureAlgorithm: 'ECDSA-SHA256',
          signature: b64(x.subarray(0, 1000)),
        }),
    },
  ];

  const PDF_WAYS: Way[] = [
    { route: 'POST /api/v1/validate', send: raw('/api/v1/validate', 'application/pdf') },
    { route: 'POST /api/v1/augment', send: (x) => ({ ...raw('/api/v1/augment', 'application/pdf')(x), path: '/api/v1/augment?level=B-T' }) },
    { route: 'POST /api/v1/sign', send: raw('/api/v1/sign', 'application/pdf') },
    { route: 'POST /api/v1/sign/prepare', send: (x) => json('POST', '/api/v1/sign/prepare', { certificate: b64(signerCert), file: b64(x), format: 'pades' }) },
    { route: 'POST /api/v1/vault/encrypt', send: (x) => json('POST', '/api/v1/vault/encrypt', { content: b64(x), recipients: [b64(caCert)], release: { label: 'unclassified', documentId: 'cv-1', recipient: 'x' } }) },
    { route: 'POST /api/v1/scan', send: raw('/api/v1/scan', 'application/octet-stream') },
  ];

  it('names only routes the router has', () => {
    const have = new Set(routeTable(rig.app).map((r) => `${r.method} ${r.url}`));
    for (const w of [...DER_WAYS, ...PDF_WAYS]) expect(have, w.route).toContain(w.route);
  });

  /** Sends every input every way; says at the end all that went wrong. */
  async function each(inputs: { name: string; bytes: Buffer }[], ways: Way[], fine: (w: Way, a: Answer) => boolean): Promise<string[]> {
    const wrong: string[] = [];
    for (const i of inputs)
      for (const w of ways) {
        const s = w.send(i.bytes);
        const what = `${w.route} ← ${i.name}`;
        const t0 = performance.now();
        const [a, health] = await Promise.all([
          call(rig.url, { method: s.method, path: s.path, localAddress: ATTACKER, headers: { authorization: `Bearer ${rig.token}`, 'content-type': s.type }, ...(s.method === 'GET' ? {} : { body: s.body }), timeoutMs: 120_000 }).catch(
            (e: Error) => ({ status: -1, headers: {}, body: Buffer.from(e.message) }) as Answer,
          ),
          call(rig.url, { path: '/healthz' }),
        ]);
        if (process.env.TRUC_ABUSE_TRACE) console.log(`${Math.round(performance.now() - t0)} ms\t${a.status}\t${what}\t${a.body.subarray(0, 160).toString().replace(/\s+/g, ' ')}`);
        if (health.status !== 200) wrong.push(`health beside ${what}: ${health.status}`);
        if (!fine(w, a)) wrong.push(`${what}: ${a.status} ${a.body.subarray(0, 300).toString()}`);
      }
    return wrong;
  }

  /** OCSP and TSP refuse in their own protocol; other routes with a problem document, or a report that says the signature failed. */
  const answeredCleanly = (w: Way, a: Answer): boolean => {
    if (a.status <= 0 || a.status >= 500) return false;
    if (w.route.includes('/ocsp')) return a.status === 200 && String(a.headers['content-type']).includes('application/ocsp-response');
    if (w.route === 'POST /tsa') return a.status === 200 && String(a.headers['content-type']).includes('application/timestamp-reply') && a.body.length < 1024;
    if (a.status >= 400) return isProblem(a);
    return true;
  };

  it('DER: every route answers without a server error, a health request answered beside each', async () => {
    const inputs = hostileDer(caCert.subarray(0, Math.floor(caCert.length / 2))).map((d) => ({ name: d.name, bytes: d.der }));
    const wrong = await each(inputs, DER_WAYS, (w, a) => {
      if (!answeredCleanly(w, a)) return false;
      // what reads DER must not take the hostile value as valid
      if (w.route === 'POST /api/v1/certificates') return a.status >= 400;
      if (w.route === 'POST /api/v1/certificates/validate') return a.status >= 400 || JSON.parse(a.body.toString()).valid === false;
      if (w.route === 'POST /api/v1/validate' && a.status === 200) return JSON.parse(a.body.toString()).signatures.every((s: { indication: string }) => s.indication !== 'TOTAL-PASSED');
      if (w.route.startsWith('POST /api/v1/vault') || w.route.startsWith('POST /api/v1/sign') || w.route === 'POST /api/v1/augment' || w.route === 'POST /central/register') return a.status >= 400;
      return true;
    });
    expect(wrong).toEqual([]);
  }, 600_000);

  it('PDF: every route answers without a server error, a health request answered beside each, memory bounded', async () => {
    const deepCms = Buffer.concat([Buffer.from('3080', 'hex'), der(0x06, Buffer.from('2a864886f70d010702', 'hex')), Buffer.from('a080' + '3080'.repeat(20_000), 'hex'), Buffer.alloc(40_004)]);
    const inputs = hostilePdfs(realPdf, deepCms).map((d) => ({ name: d.name, bytes: d.pdf }));
    for (const i of inputs) expect(i.bytes.length, i.name).toBeLessThan(8 * MB);
    const wrong = await each(inputs, PDF_WAYS, (w, a) => {
      if (!answeredCleanly(w, a)) return false;
      if (w.route === 'POST /api/v1/validate' && a.status === 200) return JSON.parse(a.body.toString()).signatures.every((s: { indication: string }) => s.indication !== 'TOTAL-PASSED');
      // nothing is augmented that carries no sound signature
      if (w.route === 'POST /api/v1/augment') return a.status >= 400;
      return true;
    });
    expect(wrong).toEqual([]);
    console.log(`hostile DER and PDF: RSS grew ${Math.round((rssPeak - rssBase) / MB)} MB at most`);
    expect(rssPeak - rssBase, `RSS grew ${Math.round((rssPeak - rssBase) / MB)} MB`).toBeLessThan(1536 * MB);
  }, 600_000);
});
