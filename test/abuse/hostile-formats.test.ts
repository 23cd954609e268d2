/**
 * Hostile JSON, DER and PDF against the real endpoints that take them — event intake, validation, signing,
 * the lab, certificate requests, OCSP and time-stamping: nesting a million deep, millions of tiny values,
 * identifiers and integers of megabytes, indefinite and impossible lengths, cross-reference loops and
 * object streams that inflate to gigabytes. Each is answered with a clear refusal (a problem document, a
 * report saying what is wrong, or the protocol's own error) within the client's generous timeout, and the
 * honest client's issuance and OCSP are answered right after.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createToken } from '../../src/http/auth/store.js';
import { call, isProblem, startRig, type Answer, type Rig } from './helpers.js';
import { objectStreamBomb } from './corpus.js';

/** A DER element of any length (long-form lengths up to four octets). */
function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len =
    n < 0x80
      ? [n]
      : n < 0x100
        ? [0x81, n]
        : n < 0x10000
          ? [0x82, n >> 8, n & 0xff]
          : n < 0x1000000
            ? [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]
            : [0x84, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), content]);
}
const OID_SIGNED_DATA = Buffer.from('2a864886f70d010702', 'hex');
const OID_DATA = Buffer.from('2a864886f70d010701', 'hex');
/** a ContentInfo/SignedData whose digestAlgorithms hold `inner` */
const signedDataWith = (inner: Buffer) =>
  der(
    0x30,
    Buffer.concat([
      der(0x06, OID_SIGNED_DATA),
      der(
        0xa0,
        der(
          0x30,
          Buffer.concat([
            der(0x02, Buffer.from([1])),
            der(0x31, inner),
            der(0x30, der(0x06, OID_DATA)),
            der(0x31, Buffer.alloc(0)),
          ]),
        ),
      ),
    ]),
  );
/** an OBJECT IDENTIFIER whose one arc takes `n` octets */
const oidBomb = (n: number) => der(0x06, Buffer.concat([Buffer.alloc(n - 1, 0xff), Buffer.from([0x7f])]));

/** A PDF with a classic cross-reference table; `trailer` gets the table's offset. */
function pdf(objects: string[], trailer: (xrefAt: number) => string): Buffer {
  let out = '%PDF-1.7\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const at = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}${trailer(at)}`;
  return Buffer.from(out, 'latin1');
}

describe('abuse: hostile JSON, DER and PDF on the endpoints that take them', () => {
  let rig: Rig;
  let sender: string;
  let auditor: string;
  let signer: string;
  let lab: string;
  beforeAll(async () => {
    rig = await startRig();
    expect((await rig.issue()).status).toBe(201);
    sender = (await createToken(rig.p.db, 'sender', ['event-sender'])).token;
    auditor = (await createToken(rig.p.db, 'kiem.toan', ['auditor'])).token;
    signer = (await createToken(rig.p.db, 'ky.so', ['signer'])).token;
    lab = (await createToken(rig.p.db, 'phong.thu', ['lab-officer'])).token;
  }, 60_000);
  afterAll(async () => rig?.close());

  const stillServing = async () => {
    expect((await rig.ocsp()).status).toBe(200);
    expect((await rig.issue()).status).toBe(201);
  };
  const post = (
    path: string,
    token: string | undefined,
    type: string,
    body: string | Buffer,
    method = 'POST',
  ) =>
    call(rig.url, {
      method,
      path,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': type },
      body,
      timeoutMs: 120_000,
    });
  const refused = (r: Answer, statuses: number[]) => {
    expect(statuses, `${r.status} ${r.body.toString().slice(0, 200)}`).toContain(r.status);
    expect(isProblem(r)).toBe(true);
  };
  const ev = (x: Record<string, unknown> = {}) => ({
    '@timestamp': new Date().toISOString(),
    event: { kind: 'event', action: 'probe' },
    ...x,
  });
  const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

  it('event intake: an event nested a million deep is refused by its index, its neighbours stored', async () => {
    const body = `[${JSON.stringify(ev({ n: 1 }))},${JSON.stringify(ev()).slice(0, -1)},"x":${deep(200_000)}},${JSON.stringify(ev({ n: 3 }))}]`;
    const r = await post('/api/v1/events', sender, 'application/json', body);
    expect(r.status).toBe(202);
    const j = JSON.parse(r.body.toString());
    expect(j.accepted).toBe(2);
    expect(j.rejected).toEqual([{ index: 1, reason: 'event nested deeper than 16' }]);
    // the same through {"events": [...]} and NDJSON, where a line a million deep fails alone too
    const w = await post('/api/v1/events', sender, 'application/json', `{"source":"probe","events":${body}}`);
    expect(JSON.parse(w.body.toString()).rejected).toEqual([
      { index: 1, reason: 'event nested deeper than 16' },
    ]);
    const nd = await post(
      '/api/v1/events',
      sender,
      'application/x-ndjson',
      `${JSON.stringify(ev())}\n${deep(1_000)}\n\n${JSON.stringify(ev())}\n`,
    );
    expect(nd.status).toBe(202);
    expect(JSON.parse(nd.body.toString())).toMatchObject({
      accepted: 2,
      rejected: [{ index: 1, reason: 'event nested deeper than 16' }],
    });
    await stillServing();
  }, 120_000);

  it('event intake: 30 MB of empty arrays, a body a million deep and one of millions of values are refused while streaming', async () => {
    refused(
      await post('/api/v1/events', sender, 'application/json', '[' + '[],'.repeat(10_000_000) + '[]]'),
      [413],
    );
    // a million brackets: the one event too deep, then the body ends inside it
    refused(await post('/api/v1/events', sender, 'application/json', '['.repeat(1_000_000)), [400]);
    refused(await post('/api/v1/events', sender, 'application/json', '['.repeat(3_000_000)), [413]);
    refused(
      await post(
        '/api/v1/events',
        sender,
        'application/json',
        '[' +
          Array.from(
            { length: 400 },
            () => `{${Array.from({ length: 9000 }, (_, k) => `"k${k}":0`).join(',')}}`,
          ).join(',') +
          ']',
      ),
      [413],
    );
    refused(await post('/api/v1/events', sender, 'application/json', '{"events": [1, 2'), [400]);
    refused(await post('/api/v1/events', sender, 'application/json', '[{"a":1},]'), [400]);
    // and an ordinary batch right after is stored whole
    const ok = await post(
      '/api/v1/events',
      sender,
      'application/json',
      JSON.stringify([ev({ message: 'a "[{" in a string \\ and }]' }), ev()]),
    );
    expect(ok.status).toBe(202);
    expect(JSON.parse(ok.body.toString())).toMatchObject({ accepted: 2, rejected: [] });
    await stillServing();
  }, 180_000);

  it('JSON on the other routes: 60 MB of tiny objects to validate, nesting past 64 to sign and to the lab — refused before parsing', async () => {
    refused(
      await post(
        '/api/v1/validate',
        auditor,
        'application/json',
        '{"file":"JVBERg==","x":[' + '{},'.repeat(20_000_000) + '{}]}',
      ),
      [413],
    );
    refused(
      await post(
        '/api/v1/validate',
        auditor,
        'application/json',
        `{"file":"JVBERg==","x":${deep(1_000_000)}}`,
      ),
      [400],
    );
    refused(
      await post(
        '/api/v1/sign',
        signer,
        'application/json',
        `{"file":"JVBERg==","x":${'['.repeat(100_000)}}`,
      ),
      [400],
    );
    refused(
      await post(
        '/api/v1/lab/runs',
        lab,
        'application/json',
        `{"product":"x","suites":${'['.repeat(300_000)}${']'.repeat(300_000)}}`,
      ),
      [400],
    );
    // within the bounds, JSON is still Fastify's: prototype poisoning refused
    refused(
      await post('/api/v1/lab/runs', lab, 'application/json', '{"product":"x","__proto__":{"admin":true}}'),
      [400],
    );
    await stillServing();
  }, 180_000);

  it('DER: identifiers and integers of megabytes, many tiny elements, indefinite and impossible lengths', async () => {
    // in a certificate request (64 KiB of PEM at most)
    const pem = (d: Buffer) =>
      `-----BEGIN CERTIFICATE REQUEST-----\n${d.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE REQUEST-----\n`;
    const csr = (inner: Buffer) =>
      der(
        0x30,
        Buffer.concat([
          der(
            0x30,
            Buffer.concat([
              der(0x02, Buffer.from([0])),
              der(0x30, Buffer.alloc(0)),
              der(0x30, Buffer.concat([der(0x30, inner), der(0x03, Buffer.from([0, 4, 1, 2]))])),
              Buffer.from([0xa0, 0x00]),
            ]),
          ),
          der(0x30, der(0x06, Buffer.from('2a8648ce3d040302', 'hex'))),
          der(0x03, Buffer.from([0, 1])),
        ]),
      );
    for (const inner of [
      oidBomb(40_000),
      der(0x02, Buffer.alloc(40_000, 0x7f)),
      Buffer.concat(Array.from({ length: 20_000 }, () => Buffer.from([5, 0]))),
    ]) {
      const r = await post(
        '/api/v1/certificates',
        rig.ra,
        'application/json',
        JSON.stringify({ profile: 'official-signing', csr: pem(csr(inner)) }),
      );
      refused(r, [400, 422]);
    }
    for (const bytes of [
      Buffer.from('30840fffffff0500', 'hex'),
      Buffer.concat([Buffer.alloc(20_000).map((_, i) => (i % 2 ? 0x80 : 0x30)), Buffer.alloc(20_000)]),
    ]) {
      const r = await post(
        '/api/v1/certificates',
        rig.ra,
        'application/json',
        JSON.stringify({ profile: 'official-signing', csr: pem(bytes) }),
      );
      refused(r, [400]);
    }
    // a time-stamp request naming a policy of 9,000 octets: the protocol's own refusal (rejection, badDataFormat), no echo of it
    const tsq = der(
      0x30,
      Buffer.concat([
        der(0x02, Buffer.from([1])),
        der(
          0x30,
          Buffer.concat([
            der(0x30, der(0x06, Buffer.from('608648016503040201', 'hex'))),
            der(0x04, Buffer.alloc(32)),
          ]),
        ),
        oidBomb(9_000),
      ]),
    );
    const t = await post('/tsa', undefined, 'application/timestamp-query', tsq);
    expect(t.status).toBe(200);
    expect(t.headers['content-type']).toContain('application/timestamp-reply');
    expect(t.body.length).toBeLessThan(1024);
    // CMS to validate: 4 million NULLs, an identifier of 3 MB, an integer of 8 MB, a length past the end, BER nested to the limit
    const cms = [
      signedDataWith(
        der(
          0x30,
          Buffer.concat(
            Array.from({ length: 64 }, () => Buffer.alloc(125_000, 0)).map((b) =>
              b.map((_, i) => (i % 2 ? 0 : 5)),
            ),
          ),
        ),
      ),
      signedDataWith(der(0x30, oidBomb(3_000_000))),
      signedDataWith(der(0x30, der(0x02, Buffer.alloc(8_000_000, 0x7f)))),
      Buffer.concat([Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff]), Buffer.alloc(100)]),
      Buffer.concat([
        Buffer.from('3080', 'hex'),
        der(0x06, OID_SIGNED_DATA),
        Buffer.from('a080', 'hex'),
        Buffer.alloc(400_000).map((_, i) => (i % 2 ? 0x80 : 0x30)),
        Buffer.alloc(400_004),
      ]),
    ];
    for (const c of cms) {
      const r = await post('/api/v1/validate', auditor, 'application/pkcs7-signature', c);
      if (r.status === 200) {
        // a report that says the signature failed, and why
        const report = JSON.parse(r.body.toString());
        expect(report.signatures.every((s: { indication: string }) => s.indication === 'TOTAL-FAILED')).toBe(
          true,
        );
      } else refused(r, [400, 413, 422]);
    }
    await stillServing();
  }, 180_000);

  it('PDF: a /Prev loop, a cross-reference of 1.2 million entries, dictionaries 500,000 deep, object streams inflating past the file bound', async () => {
    const basic = ['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [] /Count 0 >>'];
    const loop = pdf(
      basic,
      (at) => `trailer\n<< /Size 3 /Root 1 0 R /Prev ${at} >>\nstartxref\n${at}\n%%EOF\n`,
    );
    refused(await post('/api/v1/validate', auditor, 'application/pdf', loop), [400]);
    let body = '%PDF-1.7\n';
    const o1 = body.length;
    body += `1 0 obj\n${basic[0]}\nendobj\n`;
    const o2 = body.length;
    body += `2 0 obj\n${basic[1]}\nendobj\n`;
    const at = body.length;
    const huge = Buffer.from(
      `${body}xref\n0 1200003\n0000000000 65535 f \n${String(o1).padStart(10, '0')} 00000 n \n${String(o2).padStart(10, '0')} 00000 n \n${'0000000000 00000 f \n'.repeat(1_200_000)}trailer\n<< /Size 1200003 /Root 1 0 R >>\nstartxref\n${at}\n%%EOF\n`,
      'latin1',
    );
    const h = await post('/api/v1/validate', auditor, 'application/pdf', huge);
    // read within the bounds: a report that the file carries no signature
    expect(h.status).toBe(200);
    expect(JSON.parse(h.body.toString()).signatures).toEqual([]);
    const nested = pdf(
      [
        '<< /Type /Catalog /Pages 2 0 R /X ' + '<< /A '.repeat(500_000) + '1' + ' >>'.repeat(500_000) + ' >>',
        basic[1],
      ],
      (x) => `trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n${x}\n%%EOF\n`,
    );
    refused(await post('/api/v1/validate', auditor, 'application/pdf', nested), [400]);
    // five object streams of 60 MB each (about 300 KB on the wire): more than a file's streams may decode to in all
    const bomb = objectStreamBomb(5, 60_000_000);
    expect(bomb.length).toBeLessThan(1_000_000);
    const b = await post('/api/v1/validate', auditor, 'application/pdf', bomb);
    refused(b, [400]);
    expect(JSON.parse(b.body.toString()).detail).toMatch(/decode to more than/);
    await stillServing();
  }, 180_000);
});
