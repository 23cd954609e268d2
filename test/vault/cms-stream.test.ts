/**
 * AuthEnvelopedData written and read as a stream (the attachments of classified packages): what we write
 * is DER that `openssl cms -decrypt` and the whole-buffer `decryptCms` read; what we read back is the
 * content, in pieces; another recipient's key, an altered byte anywhere and a cut stream are refused.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cmsDecryptStream, cmsEncryptStream, decryptCms, keyObjectRecipient } from '../../src/vault/cms/index.js';
import { openssl, tmp } from '../helpers/openssl.js';

const dir = tmp('truc-cms-stream-');
const pemToDer = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
interface Party { key: string; cert: string; certDer: Buffer }
const parties: Record<string, Party> = {};

function party(name: string, keygen: string[], ca: { key: string; cert: string }): Party {
  const key = join(dir, `${name}.key`);
  openssl([...keygen, '-out', key]);
  const csr = join(dir, `${name}.csr`);
  openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr]);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, 'keyUsage=critical,keyEncipherment,keyAgreement\n');
  const cert = join(dir, `${name}.crt`);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-extfile', ext, '-days', '1', '-out', cert]);
  return { key, cert, certDer: pemToDer(readFileSync(cert, 'utf8')) };
}

async function* pieces(b: Buffer, size = 65_537): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function collect(g: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of g) out.push(c);
  return Buffer.concat(out);
}

const keyOf = (p: Party) => ({ key: keyObjectRecipient(createPrivateKey(readFileSync(p.key))), certificate: p.certDer });

beforeAll(() => {
  const ca = { key: join(dir, 'ca.key'), cert: join(dir, 'ca.crt') };
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', ca.key, '-out', ca.cert, '-subj', '/CN=Stream CA', '-days', '2']);
  parties['P-256'] = party('P-256', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], ca);
  parties['RSA-2048'] = party('RSA-2048', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], ca);
  parties.other = party('other', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], ca);
}, 60_000);

describe('CMS AuthEnvelopedData as a stream', () => {
  for (const name of ['P-256', 'RSA-2048'])
    it(`${name}: the announced length, openssl cms -decrypt, decryptCms and the stream reader agree`, async () => {
      const p = parties[name]!;
      const content = randomBytes(3 * 1024 * 1024 + 7);
      const w = cmsEncryptStream(content.length, [p.certDer]);
      const der = await collect(w.encrypt(pieces(content)));
      expect(der.length).toBe(w.length);
      const f = join(dir, `${name}.p7m`);
      const out = join(dir, `${name}.out`);
      writeFileSync(f, der);
      openssl(['cms', '-decrypt', '-inform', 'DER', '-in', f, '-inkey', p.key, '-recip', p.cert, '-out', out, '-binary']);
      expect(readFileSync(out).equals(content)).toBe(true);
      expect((await decryptCms(der, keyOf(p).key, { certificate: p.certDer })).content.equals(content)).toBe(true);
      expect((await collect(cmsDecryptStream(pieces(der, 4093), [keyOf(parties.other!), keyOf(p)]))).equals(content)).toBe(true);
    }, 60_000);

  it('empty content, and the key of another recipient refused at the recipient stage', async () => {
    const p = parties['P-256']!;
    const w = cmsEncryptStream(0, [p.certDer]);
    const der = await collect(w.encrypt(pieces(Buffer.alloc(0))));
    expect((await collect(cmsDecryptStream(pieces(der), [keyOf(p)]))).length).toBe(0);
    await expect(collect(cmsDecryptStream(pieces(der), [keyOf(parties.other!)]))).rejects.toMatchObject({ code: 'decrypt_failed', detail: { stage: 'recipient' } });
  });

  it('an altered byte of the content or the MAC is refused at the end; a cut stream or lengths that disagree are malformed', async () => {
    const p = parties['P-256']!;
    const content = randomBytes(200_000);
    const w = cmsEncryptStream(content.length, [p.certDer]);
    const der = await collect(w.encrypt(pieces(content)));
    for (const at of [der.length - 100_000, der.length - 1]) {
      const bad = Buffer.from(der);
      bad[at]! ^= 0x01;
      await expect(collect(cmsDecryptStream(pieces(bad), [keyOf(p)]))).rejects.toMatchObject({ code: 'decrypt_failed', detail: { stage: 'content' } });
    }
    await expect(collect(cmsDecryptStream(pieces(der.subarray(0, der.length - 20)), [keyOf(p)]))).rejects.toMatchObject({ code: 'malformed_cms' });
    await expect(collect(cmsDecryptStream(pieces(Buffer.concat([der, Buffer.from([0])])), [keyOf(p)]))).rejects.toMatchObject({ code: 'malformed_cms' });
    // openssl's own (BER, indefinite lengths) is for decryptCms, not for the stream reader
    const pt = join(dir, 'o.txt');
    const f = join(dir, 'o.p7m');
    writeFileSync(pt, 'xin chào');
    openssl(['cms', '-encrypt', '-binary', '-stream', '-in', pt, '-outform', 'DER', '-out', f, '-aes-256-gcm', '-recip', p.cert]);
    await expect(collect(cmsDecryptStream(pieces(readFileSync(f)), [keyOf(p)]))).rejects.toMatchObject({ code: 'malformed_cms' });
  });
});
