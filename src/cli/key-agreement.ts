/**
 * `truc ca ka-request | ka-submit | ka-answer | ka-issue`: a certificate for a key that cannot sign (an EC
 * key made for key agreement only, an RSA key for decryption only) without a PKCS#10 request
 * (src/pki/key-agreement). The agency makes the request and signs it with its signing key (a PEM file or a
 * key in the key stores); the CA's operator submits it and hands back the challenge; the agency answers
 * with the key itself (on a token: there); the operator submits the answer, which issues the certificate.
 * Each file is JSON; each step on the CA's side is audited.
 */
import type { Command } from 'commander';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Platform } from '../platform.js';
import { pemBlocks, toPem } from '../asn1/der.js';
import { TrucError } from '../errors.js';
import { fail } from './output.js';

export interface KaCliContext {
  withPlatform(fn: (p: Platform) => Promise<unknown>): Promise<void>;
  out(v: unknown, text: () => string): void;
  operator(): string;
}

function pemOrDer(path: string, label: string): Buffer {
  const raw = readFileSync(path);
  const [pem] = pemBlocks(raw.toString('latin1'), label, 1);
  return pem ?? raw;
}

/** a public key file: PEM (SPKI) or DER, or the public half of a certificate */
function publicKeyDer(path: string): Buffer {
  const raw = readFileSync(path);
  const text = raw.toString('latin1');
  // PEM: a public key, or a certificate (createPublicKey takes its key)
  if (text.includes('-----BEGIN')) return createPublicKey(text).export({ format: 'der', type: 'spki' });
  return createPublicKey({ key: raw, format: 'der', type: 'spki' }).export({ format: 'der', type: 'spki' });
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TrucError('bad_request', `Tệp ${path} không phải JSON / ${path} is not JSON: ${(e as Error).message}`);
  }
}

const storeRef = (ref: string): [string, string] => {
  const i = ref.indexOf(':');
  if (i < 1) throw new TrucError('bad_request', `"${ref}" is not store:id (software:ID or pkcs11:ID)`);
  return [ref.slice(0, i), ref.slice(i + 1)];
};

export function keyAgreementCommands(ca: Command, c: KaCliContext): void {
  ca.command('ka-request')
    .description('Yêu cầu chứng thư cho khoá không ký được / Make a certificate request for a key that cannot sign (key agreement, decryption), signed with the agency’s signing key')
    .requiredOption('--public-key <file>', 'the key to certify: public key (PEM or DER SPKI)')
    .requiredOption('--subject <dn>', 'e.g. "CN=Bộ Nội vụ (mã hoá), O=Bộ Nội vụ, C=VN, serialNumber=VN/GOV/000.00.00.G09"')
    .option('--profile <name>', 'agency-encryption (EC) or agency-encryption-rsa', 'agency-encryption')
    .requiredOption('--sign-cert <file>', 'the agency’s signing certificate (agency-signing, PEM or DER)')
    .option('--sign-key <pem>', 'its private key (PEM)')
    .option('--sign-key-ref <store:id>', 'or its key in the platform key stores (software:ID, pkcs11:ID)')
    .requiredOption('--out <file>', 'the signed request (JSON)')
    .action(async (o: { publicKey: string; subject: string; profile: string; signCert: string; signKey?: string; signKeyRef?: string; out: string }) => {
      const { signKaRequest } = await import('../pki/key-agreement/request.js');
      const { keyAlgorithmOf } = await import('../pki/csr.js');
      const { parseCertificate } = await import('../pki/path/index.js');
      const { defaultScheme } = await import('../crypto/algorithms.js');
      const { signWith } = await import('../crypto/sign.js');
      const make = async (sign: (scheme: Parameters<typeof signWith>[1], data: Buffer) => Promise<Buffer>) => {
        const certificate = pemOrDer(o.signCert, 'CERTIFICATE');
        const scheme = defaultScheme(keyAlgorithmOf(parseCertificate(certificate).spki));
        const req = await signKaRequest({ profile: o.profile, subject: o.subject, publicKey: publicKeyDer(o.publicKey) }, { scheme, certificate, sign: (d) => sign(scheme, d) });
        writeFileSync(o.out, JSON.stringify(req, null, 2) + '\n');
        c.out({ out: o.out, id: JSON.parse(Buffer.from(req.payload, 'base64').toString('utf8')).id }, () => `đã lập yêu cầu / request written → ${o.out}`);
      };
      if (!!o.signKey === !!o.signKeyRef) return fail(new TrucError('bad_request', 'give exactly one of --sign-key or --sign-key-ref'));
      if (o.signKey) {
        try {
          const key = createPrivateKey(readFileSync(o.signKey));
          await make(async (scheme, d) => signWith(key, scheme, d));
        } catch (e) {
          fail(e);
        }
        return;
      }
      const [store, id] = storeRef(o.signKeyRef!);
      await c.withPlatform(async (p) => make((scheme, d) => p.keys.get(store).sign(id, scheme, d)));
    });

  ca.command('ka-submit <request>')
    .description('Nộp yêu cầu, nhận thử thách / Submit a key-agreement request to this CA (checks its signature and signing certificate) and write the challenge for the agency')
    .requiredOption('--out <file>', 'the challenge (JSON)')
    .action(async (request: string, o: { out: string }) =>
      c.withPlatform(async (p) => {
        const { KeyAgreementRequests } = await import('../pki/key-agreement/service.js');
        const challenge = await new KeyAgreementRequests(p.pki, p.issuer).submit(readJson(request), c.operator());
        writeFileSync(o.out, JSON.stringify(challenge, null, 2) + '\n');
        c.out(challenge, () => `yêu cầu / request ${challenge.id}: thử thách / challenge → ${o.out} (hết hạn / expires ${challenge.expiresAt})`);
      }),
    );

  ca.command('ka-answer <challenge>')
    .description('Trả lời thử thách bằng chính khoá đó / Answer a challenge with the key being certified (a PEM file, or a key in the key stores: the derivation or decryption runs there)')
    .requiredOption('--public-key <file>', 'the key’s public half, as in the request')
    .option('--key <pem>', 'the private key (PEM)')
    .option('--key-ref <store:id>', 'or the key in the platform key stores (software:ID, pkcs11:ID)')
    .requiredOption('--out <file>', 'the answer (JSON)')
    .action(async (challengeFile: string, o: { publicKey: string; key?: string; keyRef?: string; out: string }) => {
      const { answerChallenge } = await import('../pki/key-agreement/request.js');
      const { keyObjectRecipient, keyStoreRecipient } = await import('../vault/index.js');
      const challenge = readJson(challengeFile) as Parameters<typeof answerChallenge>[0];
      const write = async (key: Parameters<typeof answerChallenge>[2]) => {
        const answer = await answerChallenge(challenge, publicKeyDer(o.publicKey), key);
        writeFileSync(o.out, JSON.stringify({ id: challenge.id, answer: answer.toString('base64') }, null, 2) + '\n', { mode: 0o600 });
        c.out({ out: o.out, id: challenge.id }, () => `đã trả lời / answered ${challenge.id} → ${o.out}`);
      };
      if (!!o.key === !!o.keyRef) return fail(new TrucError('bad_request', 'give exactly one of --key or --key-ref'));
      if (o.key) {
        try {
          await write(keyObjectRecipient(createPrivateKey(readFileSync(o.key))));
        } catch (e) {
          fail(e);
        }
        return;
      }
      const [store, id] = storeRef(o.keyRef!);
      await c.withPlatform(async (p) => write(await keyStoreRecipient(p.keys.get(store), id)));
    });

  ca.command('ka-issue <answer>')
    .description('Nộp trả lời và cấp chứng thư / Submit the answer to a key-agreement request: a right answer issues the certificate (the operator’s act authorises it)')
    .option('--out <file>', 'write the certificate (PEM) here instead of stdout')
    .action(async (answerFile: string, o: { out?: string }) =>
      c.withPlatform(async (p) => {
        const { KeyAgreementRequests } = await import('../pki/key-agreement/service.js');
        const a = readJson(answerFile) as { id?: unknown; answer?: unknown };
        if (typeof a.id !== 'string' || typeof a.answer !== 'string') throw new TrucError('bad_request', 'the answer file needs id and answer');
        const issued = await new KeyAgreementRequests(p.pki, p.issuer).answer(a.id, Buffer.from(a.answer, 'base64'), c.operator());
        const pem = toPem('CERTIFICATE', issued.der);
        if (o.out) writeFileSync(o.out, pem);
        c.out({ ...issued, der: undefined, certificate: o.out ? undefined : pem }, () => (o.out ? `đã cấp / issued ${issued.serial} (${issued.subject}) → ${o.out}` : pem.trimEnd()));
      }),
    );
}
