import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { children, parseOne, type Element } from '../../src/asn1/reader.js';
import { augmentCades, embedCms, inspectCms, localTimeStamper, readPdfSignatures, signCades, validateCades, validatePdf, verifyDetached } from '../../src/sign/index.js';
import { appendSignatureField } from '../../src/sign/pades/prepare.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { openssl, opensslStatus } from '../helpers/openssl.js';
import { openLab, samplePdf, save, type Lab } from './fixtures.js';

/** openssl's own parse of a BER file: offset, depth and header of each element (EOCs included). */
function asn1parse(path: string): { offset: number; depth: number; text: string }[] {
  const out = openssl(['asn1parse', '-inform', 'DER', '-in', path, '-i']);
  return [...out.matchAll(/^\s*(\d+):d=(\d+)\s+hl=\d+\s+l=\s*\S+\s+(?:prim|cons):\s*(.*)$/gm)].map((m) => ({ offset: +m[1], depth: +m[2], text: m[3].trim() }));
}

/**
 * A detached BER signature made by openssl: `cms -sign -stream` writes indefinite lengths but puts the
 * content inside (as chunks of a constructed OCTET STRING), so its eContent element — located by openssl's
 * own asn1parse, from its [0] to the end-of-contents closing encapContentInfo — is cut out. Inside
 * indefinite-length containers no length changes: the rest is byte for byte what openssl wrote.
 */
function detachedFromStream(streamed: Buffer, path: string): Buffer {
  const els = asn1parse(path);
  const data = els.findIndex((e) => e.depth === 4 && /OBJECT\s+:pkcs7-data/.test(e.text));
  const econtent = els[data + 1];
  expect(econtent.text).toMatch(/^cont \[ 0 \]/);
  const after = els.slice(data + 2).find((e) => e.depth <= 4)!; // the end-of-contents of encapContentInfo
  expect(after.text).toMatch(/EOC/);
  return Buffer.concat([streamed.subarray(0, econtent.offset), streamed.subarray(after.offset)]);
}

/** The same CMS with every constructed element re-encoded with an indefinite length (BER), optionally the signed attributes in reverse order. */
function allIndefinite(der: Buffer, opts: { reverseSignedAttributes?: boolean } = {}): Buffer {
  const walk = (el: Element, inSignerInfo: boolean): Buffer => {
    if (!el.constructed) return Buffer.from(el.raw);
    let kids = children(el);
    if (opts.reverseSignedAttributes && inSignerInfo && el.tag === 0xa0) kids = [...kids].reverse();
    const isSignerInfo = el.tag === 0x30 && kids[0]?.tag === 0x02 && kids[1]?.tag === 0x30 && kids[3]?.tag === 0xa0;
    return Buffer.concat([Buffer.from([el.tag, 0x80]), ...kids.map((k) => walk(k, isSignerInfo)), Buffer.from([0, 0])]);
  };
  return walk(parseOne(der, 'CMS', 1 << 23), false);
}

describe('BER in CMS (indefinite lengths, constructed strings) from a signer that is not ours', () => {
  let lab: Lab;
  let official: Awaited<ReturnType<Lab['signer']>>;
  beforeAll(async () => {
    lab = await openLab();
    official = await lab.signer('/CN=Đặng Văn Hùng/O=Sở Thông tin và Truyền thông/C=VN');
  });
  afterAll(async () => lab?.p.close());

  const sign = (content: string, out: string) =>
    openssl(['cms', '-sign', '-binary', '-stream', '-cades', '-md', 'sha256', '-in', content, '-signer', official.certPath, '-inkey', official.keyPath, '-certfile', lab.issuingPath, '-outform', 'DER', '-out', out]);

  it('openssl cms -sign -stream, enveloping: content in 4 KiB chunks of a constructed OCTET STRING; TOTAL-PASSED', async () => {
    const content = randomBytes(10_000);
    const out = join(lab.dir, 'stream-enveloping.p7m');
    sign(save(lab.dir, 'big.bin', content), out);
    const ber = readFileSync(out);
    expect(ber.subarray(0, 2).toString('hex')).toBe('3080'); // indefinite length
    expect(asn1parse(out).filter((e) => e.depth === 6 && /OCTET STRING/.test(e.text)).length).toBeGreaterThan(1);
    const i = inspectCms(ber);
    expect(i.fromBer).toBe(true);
    expect(i.content!.equals(content)).toBe(true);
    const r = (await validateCades(ber, { trustAnchors: [lab.root] })).signatures[0];
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', checks: { integrity: true, signatureValue: true, signingCertificateReference: 'ok' } });
    expect(r.signer?.commonName).toBe('Đặng Văn Hùng');
  });

  it('a detached BER signature over a file: TOTAL-PASSED with the content, HASH_FAILURE with other content, SIGNED_DATA_NOT_FOUND without; the lab verifier accepts it too', async () => {
    const content = Buffer.from('Công văn số 88/STTTT-CĐS về chuyển đổi số\n');
    const file = save(lab.dir, 'cv88.txt', content);
    const streamed = join(lab.dir, 'cv88-stream.der');
    sign(file, streamed);
    const ber = detachedFromStream(readFileSync(streamed), streamed);
    const path = save(lab.dir, 'cv88.p7s', ber);
    // still BER, and openssl itself still verifies it as a detached signature
    expect(asn1parse(path).some((e) => /EOC/.test(e.text))).toBe(true);
    const v = opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-in', path, '-content', file, '-CAfile', lab.rootPath, '-purpose', 'any', '-out', '/dev/null']);
    expect(v.out).toMatch(/Verification successful/);

    const ok = (await validateCades(ber, { content, trustAnchors: [lab.root] })).signatures[0];
    expect(ok, JSON.stringify(ok, null, 1)).toMatchObject({ format: 'CAdES', indication: 'TOTAL-PASSED', level: 'B-B' });
    expect((await validateCades(ber, { content: Buffer.from('khác'), trustAnchors: [lab.root] })).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
    expect((await validateCades(ber, { trustAnchors: [lab.root] })).signatures[0]).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'SIGNED_DATA_NOT_FOUND' });
    expect((await verifyDetached(ber, content, { trustAnchors: [lab.root], at: new Date() })).trusted).toBe(true);

    // raised to B-T by us: the result is DER, the signature value untouched
    const tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
    await tsa.start();
    const bt = await augmentCades(ber, 'B-T', { timeStamper: localTimeStamper(tsa) });
    expect(inspectCms(bt, content).fromBer).toBe(false);
    expect(inspectCms(bt, content).signers[0].signatureValue.equals(inspectCms(ber, content).signers[0].signatureValue)).toBe(true);
    expect((await validateCades(bt, { content, trustAnchors: [lab.root] })).signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-T' });
  });

  it('signed attributes that arrive as BER are verified over their DER encoding (RFC 5652 §5.4): indefinite lengths and unsorted attributes still pass; a changed attribute fails', async () => {
    const content = Buffer.from('Tờ trình số 3\n');
    const der = await signCades(content, official);
    for (const reverse of [false, true]) {
      const ber = allIndefinite(der, { reverseSignedAttributes: reverse });
      expect(ber.equals(der)).toBe(false);
      const r = (await validateCades(ber, { content, trustAnchors: [lab.root] })).signatures[0];
      expect(r, `reversed=${reverse}: ${JSON.stringify(r)}`).toMatchObject({ indication: 'TOTAL-PASSED', checks: { signatureValue: true } });
    }
    // the signing time inside the BER signed attributes changed: the DER re-encoding no longer matches the signature
    const ber = allIndefinite(der);
    const time = ber.indexOf(Buffer.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05])); // id-signingTime
    const forged = Buffer.from(ber);
    const digitAt = forged.indexOf(0x17, time) + 2 + 11; // a seconds digit of the UTCTime
    forged[digitAt] = forged[digitAt] === 0x30 ? 0x31 : 0x30;
    expect((await validateCades(forged, { content, trustAnchors: [lab.root] })).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'SIG_CRYPTO_FAILURE' });
  });

  it('a PDF whose /Contents holds openssl\'s BER signature over the ByteRange: TOTAL-PASSED, and pdfsig agrees', async () => {
    const placed = appendSignatureField(await samplePdf(true), { type: 'Sig', subFilter: 'adbe.pkcs7.detached', contentsBytes: 8_000, digest: 'sha256' });
    const [a, b, c, d] = placed.byteRange;
    const covered = save(lab.dir, 'covered.bin', Buffer.concat([placed.pdf.subarray(a, a + b), placed.pdf.subarray(c, c + d)]));
    const streamed = join(lab.dir, 'pdf-stream.der');
    sign(covered, streamed);
    const ber = detachedFromStream(readFileSync(streamed), streamed);
    const pdf = embedCms(placed, ber);
    const path = save(lab.dir, 'ber-signed.pdf', pdf);
    const [sig] = readPdfSignatures(pdf);
    expect(sig.formatProblem).toBeUndefined();
    expect(sig.cms!.equals(ber)).toBe(true); // the BER element found inside the zero padding
    const r = (await validatePdf(pdf, { trustAnchors: [lab.root] })).signatures[0];
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ format: 'PAdES', indication: 'TOTAL-PASSED', pdf: { coversWholeFile: true, modifiedAfter: false } });
    const ps = spawnSync('pdfsig', [path], { encoding: 'utf8' });
    expect(ps.stdout, ps.stderr).toMatch(/Signature Validation: Signature is Valid\./);
    // one byte of the document changed: HASH_FAILURE from the BER signature too
    const tampered = Buffer.from(pdf);
    tampered[200] ^= 0x01;
    expect((await validatePdf(tampered, { trustAnchors: [lab.root] })).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
  });

  it('hostile BER stays bounded: deep indefinite nesting, a missing end-of-contents, an indefinite primitive are FORMAT_FAILURE', async () => {
    const deep = Buffer.concat([...Array.from({ length: 200 }, () => Buffer.from([0x30, 0x80])), ...Array.from({ length: 200 }, () => Buffer.from([0, 0]))]);
    const der = await signCades(Buffer.from('x'), official);
    const unterminated = allIndefinite(der).subarray(0, -2);
    const primitive = Buffer.from([0x30, 0x80, 0x04, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00]);
    for (const bad of [deep, unterminated, primitive]) {
      const r = (await validateCades(bad, { content: Buffer.from('x'), trustAnchors: [lab.root] })).signatures[0];
      expect(r).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE' });
    }
  });
});
