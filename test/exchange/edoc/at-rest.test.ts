/**
 * The document desk's files encrypted at rest under the vault: attachments staged for sending, packages'
 * attachments received, uploads. On disk each is ciphertext under its own data key; through the desk they
 * read back byte for byte; an altered file fails its tag; a refused package leaves no key behind.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { signPdf } from '../../../src/sign/index.js';
import { Vault } from '../../../src/vault/index.js';
import { bodyCipher } from '../../../src/vault/envelope/body-cipher.js';
import type { SendInput } from '../../../src/exchange/edoc/desk.js';
import { samplePdf } from '../../sign/fixtures.js';
import { testPlatform, type TestPlatform } from '../../helpers/platform.js';
import { AGENCIES, openNetwork, until, type Network, type TestDesk } from './fixture.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const G09 = '000.00.00.G09';

/** every file under a folder, recursively */
function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

async function bytesOf(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(Buffer.from(c as Buffer));
  return Buffer.concat(parts);
}

describe('the document desk keeps its files encrypted at rest', () => {
  let p: TestPlatform;
  let net: Network;
  let vpcp: TestDesk, bnv: TestDesk;
  let pdf: Buffer;
  const note = Buffer.from('Phụ lục MẬT: danh sách cán bộ được phân công\n'.repeat(200));

  beforeAll(async () => {
    p = await testPlatform('memory://');
    const vault = new Vault({ db: p.db, keys: p.keys, bus: p.bus });
    net = await openNetwork(AGENCIES.slice(0, 2), { cipher: bodyCipher(vault, 'edoc') });
    [vpcp, bnv] = net.desks as [TestDesk, TestDesk];
    pdf = await signPdf(await samplePdf(true, 'Quyet dinh mat'), vpcp.signer);
  }, 60_000);
  afterAll(async () => {
    await net?.close();
    await p?.close();
  });

  const decision = (n: number, attachments: SendInput['attachments']): SendInput => ({
    to: [G09],
    code: { number: String(n), notation: 'QĐ-VPCP' },
    promulgation: { place: 'Hà Nội', date: '2026-12-03' },
    documentType: { type: 2, typeName: 'Quyết định' },
    subject: `Quyết định số ${n}`,
    signer: { fullName: 'Nguyễn Văn A' },
    attachments,
  });

  it('stages, sends, receives and uploads as ciphertext; reads back byte for byte; the PDF is validated on arrival', async () => {
    // an upload, then sent as the second attachment
    const up = await vpcp.desk.upload(Readable.from([note.subarray(0, 5000), note.subarray(5000)]), 'clerk@vpcp');
    expect(up.sha256).toBe(sha(note));
    const uploaded = vpcp.desk.uploadPath(up.upload);
    expect(uploaded).toMatch(/\.vlt$/);
    expect(readFileSync(uploaded).includes(Buffer.from('danh sách cán bộ'))).toBe(false);

    const sent = await vpcp.desk.send(
      decision(1, [
        { name: 'qd-1.pdf', contentType: 'application/pdf', bytes: pdf },
        { name: 'phu-luc.txt', contentType: 'text/plain', path: uploaded },
      ]),
      'clerk@vpcp',
    );
    await until(async () => (await vpcp.desk.recipientStatuses(sent.id)).find((r) => r.organId === G09)?.status === '01', 30_000, '01');

    // on disk: only .vlt files under files/, none holding the plaintext
    for (const d of [vpcp, bnv]) {
      const stored = files(join(d.dir, 'desk', 'files'));
      expect(stored.length).toBe(2);
      for (const f of stored) {
        expect(f).toMatch(/\/\d\.[0-9a-f-]{36}\.vlt$/);
        const raw = readFileSync(f);
        expect(raw.includes(Buffer.from('%PDF'))).toBe(false);
        expect(raw.includes(Buffer.from('danh sách cán bộ'))).toBe(false);
      }
      expect(files(join(d.dir, 'desk', 'spool'))).toEqual([]);
    }
    // through the desk: the same bytes, and the PDF's signature validated after decryption
    const item = (await bnv.desk.inbox()).documents.find((x) => x.documentId === sent.documentId)!;
    const got = await bnv.desk.get(item.id);
    expect((got.attachments[0]!.report as { signatures: { indication: string }[] }).signatures[0]!.indication).toBe('TOTAL-PASSED');
    expect(sha(await bytesOf((await bnv.desk.attachment(item.id, 'att1')).open()))).toBe(sha(pdf));
    expect(sha(await bytesOf((await bnv.desk.attachment(item.id, 'att2')).open()))).toBe(sha(note));
    expect(sha(await bytesOf((await vpcp.desk.attachment(sent.id, 'att1')).open()))).toBe(sha(pdf));

    // an encrypted file altered at rest: reading it fails (decrypt_failed), it never yields altered bytes
    const victim = files(join(bnv.dir, 'desk', 'files')).find((f) => /\/1\./.test(f))!;
    const b = readFileSync(victim);
    b[b.length - 40] ^= 1;
    writeFileSync(victim, b);
    await expect(bytesOf((await bnv.desk.attachment(item.id, 'att2')).open())).rejects.toMatchObject({ code: 'decrypt_failed' });
  }, 90_000);

  it('a failed send leaves no file and shreds the key of what it had staged', async () => {
    const shredded = async () => Number((await p.db.query<{ n: string }>("SELECT count(*)::text AS n FROM xv_data_key WHERE object_id LIKE 'edoc:%' AND wrapped IS NULL"))[0]!.n);
    const before = await shredded();
    const staged = files(join(vpcp.dir, 'desk', 'files')).length;
    // the first attachment is staged (encrypted, its key made), the second cannot be read
    await expect(
      vpcp.desk.send(decision(2, [{ name: 'qd-2.pdf', contentType: 'application/pdf', bytes: pdf }, { name: 'missing.txt', path: join(vpcp.dir, 'no-such-file.txt') }]), 'clerk@vpcp'),
    ).rejects.toThrow(/ENOENT|no such file/);
    expect(files(join(vpcp.dir, 'desk', 'files')).length).toBe(staged);
    expect(await shredded()).toBeGreaterThanOrEqual(before + 1); // the staged file's key (and the unreadable one's, made before its read failed)
    // every live key of the desk's files belongs to a file still on disk, every live record key to a stored document
    const live = (await p.db.query<{ object_id: string }>("SELECT object_id FROM xv_data_key WHERE object_id LIKE 'edoc:%' AND wrapped IS NOT NULL")).map((r) => r.object_id.replace(/^edoc:/, ''));
    const onDisk = new Set([vpcp, bnv].flatMap((d) => [...files(join(d.dir, 'desk', 'files')), ...files(join(d.dir, 'desk', 'uploads'))]).map((f) => /([0-9a-f-]{36})\.vlt$/.exec(f)?.[1]));
    expect(live.filter((id) => !id.startsWith('doc:') && !id.startsWith('status:') && !onDisk.has(id))).toEqual([]);
    const rows = new Set<string>();
    for (const d of [vpcp, bnv]) {
      for (const r of await d.db.query<{ id: string }>('SELECT id FROM xd_document WHERE sealed IS NOT NULL')) rows.add(`doc:${r.id}`);
      for (const r of await d.db.query<{ id: string }>('SELECT id FROM xd_status WHERE sealed IS NOT NULL')) rows.add(`status:${r.id}`);
    }
    expect(live.filter((id) => (id.startsWith('doc:') || id.startsWith('status:')) && !rows.has(id))).toEqual([]);
  }, 60_000);
});
