import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import {
  DEFAULT_ALGORITHM_POLICY,
  localTimeStamper,
  reportXml,
  signCades,
  signPdf,
  signXades,
  validateCades,
  validatePdf,
  validateXades,
  type AlgorithmPolicy,
  type LevelContext,
} from '../../src/sign/index.js';
import { openLab, samplePdf, type Lab } from './fixtures.js';

const CONTENT = Buffer.from('Thông tư số 12/TT-BNV: thuật toán và thời hạn\n');
const EDXML = '<edXML xmlns="urn:vn:edxml"><Header><Code>8/UBND-VP</Code></Header></edXML>';
const DAY = 86_400_000;

describe('algorithm policy with expiry dates (EN 319 102-1 cryptographic constraints)', () => {
  let lab: Lab;
  let ctx: LevelContext;
  let rsa: Awaited<ReturnType<Lab['signer']>>;
  let ec: Awaited<ReturnType<Lab['signer']>>;

  beforeAll(async () => {
    lab = await openLab();
    const tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
    await tsa.start();
    ctx = { timeStamper: localTimeStamper(tsa), trustAnchors: [lab.root] };
    rsa = await lab.signer('/CN=Phan Văn Khôi/O=Bộ Nội vụ/C=VN', { keyArgs: ['-newkey', 'rsa:2048'] });
    ec = await lab.signer('/CN=Lý Thị Mai/O=Bộ Nội vụ/C=VN');
  });
  afterAll(async () => lab?.p.close());

  /** the default policy, but with `id` reliable only until `end` */
  const endingAt = (id: string, end: Date): AlgorithmPolicy => ({ ...DEFAULT_ALGORITHM_POLICY, [id]: end });

  it('an RSA-2048 signature past the key size\'s end: B-B is INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE_NO_POE, B-T (time-stamped before the end) passes', async () => {
    const bb = await signCades(CONTENT, rsa);
    const bt = await signCades(CONTENT, rsa, { level: 'B-T', context: ctx });
    const now = { content: CONTENT, trustAnchors: [lab.root] };
    expect((await validateCades(bb, now)).signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED' });

    const policy = endingAt('rsa-2048', new Date(Date.now() + DAY));
    const later = { ...now, at: new Date(Date.now() + 2 * DAY), algorithmPolicy: policy };
    const b = (await validateCades(bb, later)).signatures[0];
    expect(b, JSON.stringify(b)).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE' });
    expect(b.message).toMatch(/rsa-2048 is no longer reliable since/);
    const xml = reportXml(await validateCades(bb, later));
    expect(xml).toContain('urn:etsi:019102:subindication:CRYPTO_CONSTRAINTS_FAILURE_NO_POE');

    const t = (await validateCades(bt, later)).signatures[0];
    expect(t, JSON.stringify(t)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-T' });
    expect(t.warnings.join('\n')).toMatch(/rsa-2048 is no longer reliable since .* proven to exist at/);

    // a time-stamp made after the end proves nothing useful: still no POE before the end
    const tooLate = (await validateCades(bt, { ...later, algorithmPolicy: endingAt('rsa-2048', new Date(Date.now() - DAY)) })).signatures[0];
    expect(tooLate).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE' });
    // the same validation time with ECDSA P-256: unaffected
    const ecSig = await signCades(CONTENT, ec);
    expect((await validateCades(ecSig, later)).signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED' });
  });

  it('the default policy ends RSA-2048 after 2030 (NIST SP 800-57): validated in 2031 without a proof of existence it is CRYPTO_CONSTRAINTS_FAILURE_NO_POE', async () => {
    expect(DEFAULT_ALGORITHM_POLICY['rsa-2048']?.toISOString()).toBe('2030-12-31T23:59:59.000Z');
    const bb = await signCades(CONTENT, rsa);
    const r = (await validateCades(bb, { content: CONTENT, trustAnchors: [lab.root], at: new Date('2031-02-01T00:00:00Z') })).signatures[0];
    expect(r).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE' });
  });

  it('an algorithm the policy does not list is CRYPTO_CONSTRAINTS_FAILURE', async () => {
    const bb = await signCades(CONTENT, rsa);
    const { 'rsa-2048': _dropped, ...withoutRsa2048 } = DEFAULT_ALGORITHM_POLICY;
    const r = (await validateCades(bb, { content: CONTENT, trustAnchors: [lab.root], algorithmPolicy: withoutRsa2048 })).signatures[0];
    expect(r).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE' });
    expect(r.message).toMatch(/rsa-2048 is not allowed/);
  });

  it('digests are judged too: SHA-256 past its end makes PAdES and XAdES B-B signatures CRYPTO_CONSTRAINTS_FAILURE_NO_POE, and a PAdES B-T whose time-stamp relies on SHA-256 as well', async () => {
    const policy = endingAt('sha256', new Date(Date.now() + DAY));
    const later = { trustAnchors: [lab.root], at: new Date(Date.now() + 2 * DAY), algorithmPolicy: policy };
    const pdf = await samplePdf(true);
    const pb = (await validatePdf(await signPdf(pdf, ec), later)).signatures[0];
    expect(pb, JSON.stringify(pb)).toMatchObject({ format: 'PAdES', indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE' });
    const pt = (await validatePdf(await signPdf(pdf, ec, { level: 'B-T', context: ctx }), later)).signatures[0];
    // the time-stamp's own imprint and signature use SHA-256: judged as a signature is, it proves nothing after
    // SHA-256's end (the RSA-2048 case above shows a time-stamp on other algorithms rescuing a signature)
    expect(pt, JSON.stringify(pt)).toMatchObject({ format: 'PAdES', level: 'B-T', indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE' });
    expect(pt.timestamps![0]).toMatchObject({ valid: false, indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE', problem: expect.stringMatching(/sha256 is no longer reliable/) });
    const xb = (await validateXades(await signXades(EDXML, ec), later)).signatures[0];
    expect(xb, JSON.stringify(xb)).toMatchObject({ format: 'XAdES', indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE' });
    expect(xb.message).toMatch(/sha256/);
  });
});
