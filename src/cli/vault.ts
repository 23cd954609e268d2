/**
 * `truc encrypt` / `truc decrypt` (CMS to recipients' certificates, interoperable with `openssl cms`),
 * and `truc vault …`: the key ring (add a key-encryption key, rotate, destroy retired ones), retention
 * (crypto-shredding of expired objects), and the secrecy-stamp check of a PDF. Output files are written
 * beside their target and renamed into place only once complete: a failed decryption leaves nothing.
 */
import type { Command } from 'commander';
import { readFileSync, renameSync, writeFileSync, unlinkSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import type { Platform } from '../platform.js';
import { TrucError } from '../errors.js';
import { fail } from './output.js';
import type * as VaultApi from '../vault/index.js';
import { loadBefore } from './lazy.js';
import { pemBlocks } from '../asn1/der.js';

// the vault, behind `truc encrypt`, `decrypt` and `vault`, loaded when one of its commands runs (./lazy.ts)
let Vault: typeof VaultApi.Vault;
let encryptCms: typeof VaultApi.encryptCms;
let decryptCms: typeof VaultApi.decryptCms;
let keyObjectRecipient: typeof VaultApi.keyObjectRecipient;
let keyStoreRecipient: typeof VaultApi.keyStoreRecipient;
let highestMarking: typeof VaultApi.highestMarking;
let findMarkings: typeof VaultApi.findMarkings;
let pdfText: typeof VaultApi.pdfText;
let LEVEL_NAME: typeof VaultApi.LEVEL_NAME;

async function load(): Promise<void> {
  ({ Vault, encryptCms, decryptCms, keyObjectRecipient, keyStoreRecipient, highestMarking, findMarkings, pdfText, LEVEL_NAME } = await import('../vault/index.js'));
}

export interface VaultCliContext {
  withPlatform(fn: (p: Platform) => Promise<unknown>): Promise<void>;
  out(v: unknown, text: () => string): void;
}

function certDer(path: string): Buffer {
  const text = readFileSync(path);
  const s = text.toString('latin1');
  return pemBlocks(s, 'CERTIFICATE', 1)[0] ?? text;
}

function writeAtomically(path: string, data: Uint8Array): void {
  const tmp = `${path}.${process.pid}.part`;
  try {
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was written
    }
    throw e;
  }
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function vaultCommands(program: Command, c: VaultCliContext): void {
  program
    .command('encrypt <in>')
    .description('Mã hoá tệp tới chứng thư người nhận (CMS) / Encrypt a file to recipients\' certificates: CMS AuthEnvelopedData (AES-256-GCM) or, with --cbc, EnvelopedData (AES-256-CBC); RSA-OAEP or ECDH (P-256/384/521)')
    .requiredOption('--to <cert>', 'recipient certificate, PEM or DER (repeatable)', collect)
    .requiredOption('--out <file>', 'the encrypted file (DER)')
    .option('--cbc', 'EnvelopedData with AES-256-CBC instead of AuthEnvelopedData')
    .option('--oaep-sha1', 'RSA-OAEP với SHA-1 / RSA-OAEP with SHA-1 (for tokens with neither OAEP-SHA-256 nor raw RSA)')
    .action((input: string, o: { to: string[]; out: string; cbc?: boolean; oaepSha1?: boolean }) => {
      try {
        const ct = encryptCms(readFileSync(input), o.to.map(certDer), { mode: o.cbc ? 'enveloped' : 'auth-enveloped', rsaOaepHash: o.oaepSha1 ? 'sha1' : 'sha256' });
        writeAtomically(o.out, ct);
        c.out({ out: o.out, recipients: o.to.length, bytes: ct.length }, () => `đã mã hoá / encrypted → ${o.out} (${o.to.length} người nhận / recipients)`);
      } catch (e) {
        fail(e);
      }
    });

  program
    .command('decrypt <in>')
    .description('Giải mã tệp CMS / Decrypt a CMS file with a PEM key (--key) or a key in the platform\'s key stores (--key-ref software:ID or pkcs11:ID)')
    .requiredOption('--out <file>', 'where the plaintext goes (written only when decryption succeeds)')
    .option('--key <pem>', 'the recipient private key (PEM)')
    .option('--key-ref <store:id>', 'a key in the platform key stores')
    .option('--cert <cert>', 'the recipient certificate (picks its RecipientInfo)')
    .option('--allow-pkcs1', 'accept RSA PKCS#1 v1.5 key transport (legacy senders)')
    .action(async (input: string, o: { out: string; key?: string; keyRef?: string; cert?: string; allowPkcs1?: boolean }) => {
      const run = async (key: Parameters<typeof decryptCms>[1]) => {
        const r = await decryptCms(readFileSync(input), key, { certificate: o.cert ? certDer(o.cert) : undefined, allowPkcs1: !!o.allowPkcs1 });
        writeAtomically(o.out, r.content);
        c.out({ out: o.out, bytes: r.content.length, structure: r.structure }, () => `đã giải mã / decrypted → ${o.out} (${r.content.length} bytes, ${r.structure})`);
      };
      if (!!o.key === !!o.keyRef) return fail(new TrucError('bad_request', 'give exactly one of --key or --key-ref'));
      if (o.key) {
        try {
          await run(keyObjectRecipient(createPrivateKey(readFileSync(o.key))));
        } catch (e) {
          fail(e);
        }
        return;
      }
      const [store, id] = o.keyRef!.split(':');
      await c.withPlatform(async (p) => run(await keyStoreRecipient(p.keys.get(store), id)));
    });

  const vault = program.command('vault').description('Kho mã hoá / Vault: key-encryption keys, rotation, retention, markings');
  vault
    .command('kek-add')
    .description('Add a key-encryption key and make it active (then run `truc vault rotate`)')
    .option('--store <kind>', 'software or pkcs11 (default: the default key store)')
    .action(async (o: { store?: string }) =>
      c.withPlatform(async (p) => {
        const k = await new Vault({ db: p.db, keys: p.keys, bus: p.bus }).addKek({ store: o.store, actor: 'cli' });
        c.out(k, () => `KEK v${k.version} (${k.store}) đang dùng / active`);
      }),
    );
  vault
    .command('kek-list')
    .description('The key ring')
    .action(async () =>
      c.withPlatform(async (p) => {
        const ks = await new Vault({ db: p.db, keys: p.keys }).keks();
        c.out(ks, () => ks.map((k) => `v${k.version}\t${k.store}\t${k.state}\t${k.createdAt.toISOString()}`).join('\n') || '(none)');
      }),
    );
  vault
    .command('rotate')
    .description('Re-wrap every data key under the active key-encryption key (resumable), then destroy retired keys no longer needed')
    .option('--batch <n>', 'data keys per transaction', '200')
    .option('--keep-retired', 'do not destroy retired keys')
    .action(async (o: { batch: string; keepRetired?: boolean }) =>
      c.withPlatform(async (p) => {
        const v = new Vault({ db: p.db, keys: p.keys, bus: p.bus });
        const r = await v.rotate({ batchSize: Number(o.batch), actor: 'cli', onBatch: (n) => process.stderr.write(`\r${n} re-wrapped`) });
        process.stderr.write('\n');
        const destroyed = o.keepRetired || r.remaining ? [] : await v.destroyRetiredKeks('cli');
        c.out({ ...r, destroyed }, () => `đã bọc lại / re-wrapped ${r.rewrapped}, còn lại / remaining ${r.remaining}; huỷ KEK / destroyed: ${destroyed.join(', ') || '—'}`);
      }),
    );
  vault
    .command('shred-expired')
    .description('Crypto-shred objects whose retention has expired (audited)')
    .action(async () =>
      c.withPlatform(async (p) => {
        const n = await new Vault({ db: p.db, keys: p.keys, bus: p.bus }).shredExpired({ actor: 'cli' });
        c.out({ shredded: n }, () => `đã huỷ khoá / shredded: ${n}`);
      }),
    );
  vault
    .command('markings <pdf>')
    .description('Dấu độ mật trong văn bản PDF / Secrecy stamps in a PDF\'s text layer')
    .action(async (pdf: string) => {
      try {
        const text = await pdfText(pdf);
        const level = highestMarking(text);
        const found = findMarkings(text);
        c.out({ level, markings: found }, () => (level ? `${LEVEL_NAME[level]}: ${found.map((m) => `"${m.text}" (dòng/line ${m.line})`).join(', ')}` : 'không thấy dấu độ mật / no secrecy stamp found'));
      } catch (e) {
        fail(e);
      }
    });

  for (const cmd of program.commands) if (['encrypt', 'decrypt', 'vault'].includes(cmd.name())) loadBefore(cmd, load);
}
