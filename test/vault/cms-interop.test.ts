import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encryptCms, decryptCms, keyObjectRecipient, keyStoreRecipient } from '../../src/vault/cms/index.js';
import { Pkcs11KeyStore } from '../../src/crypto/pkcs11-keystore.js';
import { openssl, opensslStatus, tmp } from '../helpers/openssl.js';
import { softHsmMissing, softHsmToken, type SoftHsmToken } from '../helpers/softhsm.js';

const dir = tmp('truc-cms-');
const pemToDer = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');

interface Party { name: string; key: string; cert: string; certDer: Buffer }

function ca(): { key: string; cert: string } {
  const key = join(dir, 'ca.key');
  const cert = join(dir, 'ca.crt');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=Test CA', '-days', '2']);
  return { key, cert };
}

/** a certificate from the test CA for any public key (X25519 and token keys cannot sign their own CSR) */
function issue(name: string, pubPem: string, c: { key: string; cert: string }): Buffer {
  const pub = join(dir, `${name}.pub`);
  writeFileSync(pub, pubPem);
  const csr = join(dir, `${name}.csr`);
  openssl(['req', '-new', '-key', c.key, '-subj', `/CN=${name}`, '-out', csr]);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, 'keyUsage=critical,keyEncipherment,keyAgreement\n');
  const cert = join(dir, `${name}.crt`);
  openssl(['x509', '-req', '-in', csr, '-CA', c.cert, '-CAkey', c.key, '-CAcreateserial', '-force_pubkey', pub, '-extfile', ext, '-days', '1', '-out', cert]);
  return pemToDer(readFileSync(cert, 'utf8'));
}

const KEYGEN: Record<string, string[]> = {
  'RSA-2048': ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  'P-256': ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'P-384': ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  'P-521': ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'],
};

const parties: Party[] = [];
let theCa: { key: string; cert: string };

beforeAll(() => {
  theCa = ca();
  for (const [name, args] of Object.entries(KEYGEN)) {
    const key = join(dir, `${name}.key`);
    openssl([...args, '-out', key]);
    const pubPem = createPublicKey(readFileSync(key)).export({ type: 'spki', format: 'pem' }) as string;
    const certDer = issue(name, pubPem, theCa);
    parties.push({ name, key, cert: join(dir, `${name}.crt`), certDer });
  }
}, 60_000);

const party = (n: string) => parties.find((p) => p.name === n)!;
const localKey = (p: Party) => keyObjectRecipient(createPrivateKey(readFileSync(p.key)));

describe('CMS encryption, interoperable with openssl cms both ways', () => {
  for (const name of Object.keys(KEYGEN)) {
    for (const mode of ['auth-enveloped', 'enveloped'] as const) {
      it(`${name}, ${mode}: ours decrypted by openssl`, () => {
        const p = party(name);
        const msg = Buffer.from(`Công văn mật gửi ${name} ${randomBytes(8).toString('hex')}`);
        const f = join(dir, `ours-${name}-${mode}.der`);
        writeFileSync(f, encryptCms(msg, [p.certDer], { mode }));
        const out = join(dir, `ours-${name}-${mode}.out`);
        openssl(['cms', '-decrypt', '-inform', 'DER', '-in', f, '-inkey', p.key, '-recip', p.cert, '-out', out, '-binary']);
        expect(readFileSync(out).equals(msg)).toBe(true);
      });

      it(`${name}, ${mode}: openssl's decrypted by us`, async () => {
        const p = party(name);
        const msg = randomBytes(5000);
        const pt = join(dir, `pt-${name}-${mode}`);
        writeFileSync(pt, msg);
        const f = join(dir, `theirs-${name}-${mode}.der`);
        const cipher = mode === 'auth-enveloped' ? '-aes-256-gcm' : '-aes256';
        const keyopt = name.startsWith('RSA') ? ['-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256'] : [];
        openssl(['cms', '-encrypt', '-binary', '-in', pt, '-outform', 'DER', '-out', f, cipher, '-recip', p.cert, ...keyopt]);
        const r = await decryptCms(readFileSync(f), localKey(p), { certificate: p.certDer });
        expect(r.content.equals(msg)).toBe(true);
        expect(r.structure).toBe(mode);
      });
    }
  }

  it('several recipients of every kind in one message, each decrypts (openssl and us)', async () => {
    const msg = Buffer.from('một bản, năm người nhận');
    const f = join(dir, 'multi.der');
    writeFileSync(f, encryptCms(msg, parties.map((p) => p.certDer)));
    for (const p of parties) {
      expect(openssl(['cms', '-decrypt', '-inform', 'DER', '-in', f, '-inkey', p.key, '-recip', p.cert, '-binary'])).toBe(msg.toString());
      expect((await decryptCms(readFileSync(f), localKey(p), { certificate: p.certDer })).content.equals(msg)).toBe(true);
      // without naming the certificate, every RecipientInfo of the key's kind is tried
      expect((await decryptCms(readFileSync(f), localKey(p))).content.equals(msg)).toBe(true);
    }
  });

  it('RSA PKCS#1 v1.5 from openssl is refused unless policy allows it', async () => {
    const p = party('RSA-2048');
    const pt = join(dir, 'pkcs1.txt');
    writeFileSync(pt, 'legacy sender');
    const f = join(dir, 'pkcs1.der');
    openssl(['cms', '-encrypt', '-binary', '-in', pt, '-outform', 'DER', '-out', f, '-aes256', '-recip', p.cert]);
    await expect(decryptCms(readFileSync(f), localKey(p), { certificate: p.certDer })).rejects.toMatchObject({ code: 'decrypt_failed', message: expect.stringMatching(/policy/) });
    const r = await decryptCms(readFileSync(f), localKey(p), { certificate: p.certDer, allowPkcs1: true });
    expect(r.content.toString()).toBe('legacy sender');
  });

  it('wrong recipient key, tampered and truncated ciphertext are clear errors', async () => {
    const a = party('P-256');
    const b = party('P-384');
    const rsa = party('RSA-2048');
    const msg = Buffer.from('x'.repeat(1000));
    for (const mode of ['auth-enveloped', 'enveloped'] as const) {
      const ct = encryptCms(msg, [a.certDer, rsa.certDer], { mode });
      await expect(decryptCms(ct, localKey(b))).rejects.toMatchObject({ code: 'decrypt_failed' });
      await expect(decryptCms(ct, localKey(b), { certificate: a.certDer })).rejects.toMatchObject({ code: 'decrypt_failed' });
      const other = Buffer.from(openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']));
      await expect(decryptCms(ct, keyObjectRecipient(createPrivateKey(other)))).rejects.toMatchObject({ code: 'decrypt_failed' });
      const truncated = ct.subarray(0, ct.length - 40);
      await expect(decryptCms(truncated, localKey(a))).rejects.toMatchObject({ code: 'malformed_cms' });
      await expect(decryptCms(Buffer.from('not cms at all'), localKey(a))).rejects.toMatchObject({ code: 'malformed_cms' });
    }
    // a flipped bit in the content of AuthEnvelopedData: the tag refuses it, no plaintext comes out
    const ct = encryptCms(msg, [a.certDer]);
    const at = ct.length - 100; // inside the encrypted content, before the MAC
    const bad = Buffer.from(ct);
    bad[at] ^= 1;
    await expect(decryptCms(bad, localKey(a))).rejects.toMatchObject({ code: expect.stringMatching(/decrypt_failed|malformed_cms/) });
    expect(opensslStatus(['cms', '-decrypt', '-inform', 'DER', '-in', (writeFileSync(join(dir, 'bad.der'), bad), join(dir, 'bad.der')), '-inkey', a.key, '-recip', a.cert]).status).not.toBe(0);
  });
});

describe.skipIf(softHsmMissing() !== null)('CMS recipients on PKCS#11 (SoftHSM2)', () => {
  let token: SoftHsmToken;
  let hsm: Pkcs11KeyStore;
  beforeAll(async () => {
    token = softHsmToken();
    hsm = await Pkcs11KeyStore.open({ module: token.modulePath, slot: { tokenLabel: token.tokenLabel }, pin: token.pin });
  });
  afterAll(async () => {
    await hsm?.close();
    token?.cleanup();
  });

  for (const alg of ['RSA-2048', 'EC-P256', 'EC-P384'] as const) {
    it(`${alg} on the token: openssl's and ours decrypt on the token`, async () => {
      const info = await hsm.generate(alg, `recipient ${alg}`, { usage: 'decrypt' });
      const pubPem = createPublicKey({ key: info.spki, format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }) as string;
      const certDer = issue(`hsm-${alg}`, pubPem, theCa);
      const cert = join(dir, `hsm-${alg}.crt`);
      const key = await keyStoreRecipient(hsm, info.ref.id);
      const pt = join(dir, `hsm-${alg}.txt`);
      writeFileSync(pt, 'gửi tới khoá trên token');
      for (const cipher of ['-aes-256-gcm', '-aes256']) {
        const f = join(dir, `hsm-${alg}${cipher}.der`);
        // RSA: OAEP with SHA-1 (openssl's OAEP default; SoftHSM2 2.6's own OAEP) and with SHA-256 (which
        // SoftHSM2 2.6 refuses: the token's raw RSA then, the padding checked by the store)
        const keyopts = alg.startsWith('RSA') ? [['-keyopt', 'rsa_padding_mode:oaep'], ['-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256']] : [[]];
        for (const keyopt of keyopts) {
          openssl(['cms', '-encrypt', '-binary', '-in', pt, '-outform', 'DER', '-out', f, cipher, '-recip', cert, ...keyopt]);
          expect((await decryptCms(readFileSync(f), key, { certificate: certDer })).content.toString()).toBe('gửi tới khoá trên token');
        }
      }
      for (const rsaOaepHash of ['sha1', 'sha256'] as const) {
        const ours = encryptCms(Buffer.from('ours'), [certDer, party('P-256').certDer], { rsaOaepHash });
        expect(openssl(['cms', '-decrypt', '-inform', 'DER', '-in', (writeFileSync(join(dir, 'o.der'), ours), join(dir, 'o.der')), '-inkey', party('P-256').key, '-recip', party('P-256').cert, '-binary'])).toBe('ours');
        expect((await decryptCms(ours, key, { certificate: certDer })).content.toString()).toBe('ours');
      }
      if (alg === 'RSA-2048') {
        // the token-side path refuses what is not for this key: a flipped bit in the key transport's
        // ciphertext is decrypt_failed, never a wrong key let through to the content
        const ours = encryptCms(Buffer.from('ours'), [certDer]);
        const ek = ours.indexOf(Buffer.from([0x04, 0x82, 0x01, 0x00])); // the 256-byte encryptedKey
        expect(ek).toBeGreaterThan(0);
        const bad = Buffer.from(ours);
        bad[ek + 4 + 100]! ^= 1;
        await expect(decryptCms(bad, key, { certificate: certDer })).rejects.toMatchObject({ code: 'decrypt_failed' });
      }
      // the token's key is not the one for another recipient's info
      await expect(decryptCms(encryptCms(Buffer.from('no'), [party(alg === 'RSA-2048' ? 'RSA-2048' : 'P-256').certDer], { rsaOaepHash: 'sha1' }), key)).rejects.toMatchObject({ code: 'decrypt_failed' });
    });
  }
});
