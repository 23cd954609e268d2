/**
 * Byte-order marks (issue 21): an XAdES file saved with a UTF-8 BOM, or as UTF-16 with its BOM, is the
 * same document — xmlsec1 verifies it and so must we (it was FORMAT_FAILURE "not well-formed XML"); its
 * integrity is computed and the verdict is the one the file without the mark gets.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { signXades, validateFile } from '../../src/sign/index.js';
import { openLab, save, type Lab } from './fixtures.js';

const DOC = '<?xml version="1.0" encoding="UTF-8"?>\n<CongVan><SoKyHieu>12/BNV-VP</SoKyHieu><TrichYeu>Về việc thử nghiệm chữ ký số</TrichYeu></CongVan>';

describe('XAdES files with a byte-order mark', () => {
  let lab: Lab;
  let signed: string;
  beforeAll(async () => {
    lab = await openLab();
    signed = await signXades(DOC, await lab.signer('/C=VN/O=Bộ Nội vụ/CN=Văn thư BOM'));
  }, 60_000);
  afterAll(async () => lab?.p.close());

  const xmlsec = (bytes: Buffer, name: string) =>
    spawnSync('xmlsec1', ['--verify', '--id-attr:Id', 'http://uri.etsi.org/01903/v1.3.2#:SignedProperties', '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, save(lab.dir, name, bytes)], { encoding: 'utf8' });

  const cases: [string, (s: string) => Buffer][] = [
    ['UTF-8 with a BOM', (s) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(s, 'utf8')])],
    ['UTF-16LE with its BOM', (s) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(s.replace('encoding="UTF-8"', 'encoding="UTF-16"'), 'utf16le')])],
    ['UTF-16BE with its BOM', (s) => Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(s.replace('encoding="UTF-8"', 'encoding="UTF-16"'), 'utf16le').swap16()])],
  ];

  it.each(cases)('%s: xmlsec1 verifies it and we find it intact, as without the mark', async (what, encode) => {
    const bytes = encode(signed);
    const x = xmlsec(bytes, `bom-${what.replace(/\W+/g, '-')}.xml`);
    expect(x.status, x.stderr).toBe(0);
    const opts = { trustAnchors: [lab.root], revocation: { mode: 'soft-fail' as const } };
    const plain = (await validateFile(Buffer.from(signed), opts)).signatures[0]!;
    const marked = (await validateFile(bytes, opts)).signatures[0]!;
    expect(marked.checks).toMatchObject({ integrity: true, signatureValue: true });
    expect([marked.indication, marked.subIndication]).toEqual([plain.indication, plain.subIndication]);
  });

  it('a mark before a broken document still says what is broken', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(signed.replace('12/BNV-VP', '13/BNV-VP'))]);
    const r = (await validateFile(bytes, { trustAnchors: [lab.root] })).signatures[0]!;
    expect([r.indication, r.subIndication]).toEqual(['TOTAL-FAILED', 'HASH_FAILURE']);
  });
});
