/**
 * Input nested very deep, where a recursive reader would exhaust the stack: JSON, DER (OCSP requests and
 * certificate requests) and PDF. Each is answered with a clear refusal (a problem document, or OCSP's own
 * malformedRequest), and the server keeps answering the honest client afterwards.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createToken } from '../../src/http/auth/store.js';
import { call, isProblem, startRig, type Rig } from './helpers.js';

/** A DER value nested `depth` deep: SEQUENCE { SEQUENCE { … NULL … } }, lengths definite. */
function deepDer(depth: number): Buffer {
  let inner = Buffer.from([0x05, 0x00]);
  for (let i = 0; i < depth; i++) {
    const n = inner.length;
    const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : n < 0x10000 ? Buffer.from([0x82, n >> 8, n & 0xff]) : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
    inner = Buffer.concat([Buffer.from([0x30]), len, inner]);
  }
  return inner;
}

describe('abuse: input nested very deep', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig();
    expect((await rig.issue()).status).toBe(201);
  }, 60_000);
  afterAll(async () => rig?.close());

  const stillServing = async () => {
    expect((await rig.ocsp()).status).toBe(200);
    expect((await rig.issue()).status).toBe(201);
  };

  it('JSON 100,000 objects deep on an authenticated route: 400 problem, the server still serving', async () => {
    const body = '{"profile":"official-signing","csr":"x","extra":' + '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_001);
    const r = await call(rig.url, { method: 'POST', path: '/api/v1/certificates', headers: { authorization: `Bearer ${rig.ra}`, 'content-type': 'application/json' }, body });
    expect([400, 413]).toContain(r.status);
    expect(isProblem(r)).toBe(true);
    await stillServing();
  }, 60_000);

  it('DER 50,000 SEQUENCEs deep as an OCSP request, 8,000 as a CSR: refused, the server still serving', async () => {
    const der = deepDer(50_000);
    const o = await call(rig.url, { method: 'POST', path: '/ocsp', headers: { 'content-type': 'application/ocsp-request' }, body: der });
    // RFC 6960: a request that cannot be parsed is answered malformedRequest (responseStatus 1), or refused over HTTP
    if (o.status === 200) expect([...o.body.subarray(0, 5)]).toEqual([0x30, 0x03, 0x0a, 0x01, 0x01]);
    else expect(o.status).toBeGreaterThanOrEqual(400);
    expect(o.status).toBeLessThan(500);
    // a CSR within the size limit (64 KiB of PEM), 8,000 deep
    const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${deepDer(8_000).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE REQUEST-----\n`;
    const c = await call(rig.url, { method: 'POST', path: '/api/v1/certificates', headers: { authorization: `Bearer ${rig.ra}`, 'content-type': 'application/json' }, body: JSON.stringify({ profile: 'official-signing', csr: pem }) });
    expect([400, 422]).toContain(c.status);
    expect(c.body.toString()).not.toMatch(/more than 65536 characters/); // refused for what it is, not its size
    expect(isProblem(c)).toBe(true);
    await stillServing();
  }, 60_000);

  it('a PDF whose object is 100,000 arrays deep, to validate: answered without a crash, the server still serving', async () => {
    const token = (await createToken(rig.p.db, 'kiem.toan', ['auditor'])).token;
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const objs = [`1 0 obj\n<< /Type /Catalog /Pages 2 0 R /X ${deep} >>\nendobj\n`, '2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n'];
    let pdf = '%PDF-1.7\n';
    const offsets: number[] = [];
    for (const o of objs) {
      offsets.push(pdf.length);
      pdf += o;
    }
    const xref = pdf.length;
    pdf += `xref\n0 3\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
    const r = await call(rig.url, { method: 'POST', path: '/api/v1/validate', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/pdf' }, body: pdf });
    expect(r.status).toBeLessThan(500);
    if (r.status >= 400) expect(isProblem(r)).toBe(true);
    await stillServing();
  }, 60_000);
});
