/**
 * The document desk's database holds no readable envelope: with a cipher, each document's signed
 * envelope, whole header (subject, summary, signer, recipients, places …) and its attachments' names and
 * reports are sealed under the vault, and only the public part — what the desk looks rows up by — stays
 * readable. The tables are read directly here, at both desks; the desk and its HTTP API (what the console
 * shows) still give everything. Rows written in clear before are read, then sealed in place; a record
 * moved or a readable column changed fails to open; shredding destroys the keys (explicitly, or by
 * retention through the vault).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { signPdf } from '../../../src/sign/index.js';
import { Vault } from '../../../src/vault/index.js';
import { bodyCipher } from '../../../src/vault/envelope/body-cipher.js';
import type { Db } from '../../../src/store/index.js';
import type { SendInput } from '../../../src/exchange/edoc/desk.js';
import { buildApp } from '../../../src/http/app.js';
import { createToken } from '../../../src/http/auth/store.js';
import { samplePdf } from '../../sign/fixtures.js';
import { AGENCIES, openNetwork, until, type Network, type TestDesk } from './fixture.js';

const G09 = '000.00.00.G09';

/**
 * Every row of every table of a database (or of the desk's `xd_` tables), as text — byte columns as UTF-8
 * too, so plaintext in them shows.
 */
async function dump(db: Db, only?: 'xd'): Promise<string> {
  const tables = (
    await db.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
  ).filter((t) => !only || t.table_name.startsWith('xd_'));
  const out: string[] = [];
  for (const { table_name } of tables)
    for (const r of await db.query(`SELECT * FROM "${table_name}"`))
      out.push(
        JSON.stringify(r, (_k, v: unknown) =>
          v instanceof Uint8Array
            ? Buffer.from(v).toString('utf8')
            : v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer'
              ? Buffer.from((v as { data: number[] }).data).toString('utf8')
              : v,
        ),
      );
  return out.join('\n');
}

describe('the document desk seals envelopes and headers in its database', () => {
  let net: Network;
  let vpcp: TestDesk, bnv: TestDesk;
  let pdf: Buffer;
  let app: FastifyInstance;
  let token: string;
  const cipher = () => bodyCipher(new Vault({ db: net.lab.p.db, keys: net.lab.p.keys }), 'edoc');

  const doc = (n: number, extra: Partial<SendInput> = {}): SendInput => ({
    to: [G09],
    code: { number: String(n), notation: 'KH-VPCP' },
    promulgation: { place: 'Hà Nội', date: '2026-12-03' },
    documentType: { type: 5, typeName: 'Kế hoạch' },
    subject: `Kế hoạch bảo vệ mục tiêu trọng yếu đợt ${n}`,
    content: `Trích yếu: bố trí lực lượng tại khu vực Tây Bắc, đợt ${n}`,
    signer: { position: 'Phó Chủ nhiệm', fullName: 'Trần Quốc Bảo' },
    attachments: [
      {
        name: `ke-hoach-bao-ve-${n}.pdf`,
        contentType: 'application/pdf',
        description: 'Phụ lục bố trí lực lượng',
        bytes: pdf,
      },
    ],
    ...extra,
  });
  const secrets = (n: number) => [
    `Kế hoạch bảo vệ mục tiêu trọng yếu đợt ${n}`,
    `bố trí lực lượng tại khu vực Tây Bắc, đợt ${n}`,
    'Trần Quốc Bảo',
    `ke-hoach-bao-ve-${n}.pdf`,
    'Phụ lục bố trí lực lượng',
  ];
  const arrived = async (id: string) =>
    until(
      async () => (await vpcp.desk.recipientStatuses(id)).find((r) => r.organId === G09)?.status === '01',
      30_000,
      '01',
    );
  const received = async (documentId: string) =>
    (await bnv.desk.inbox({ all: true })).documents.find((x) => x.documentId === documentId)!;
  // a status names the clerk who registered the document and says what was done with it
  const staff = (n: number) => ({ department: 'Phòng Cơ yếu', staff: `Lê Thị Hoa ${n}`, email: `hoa${n}@moha.gov.vn`, mobile: '0912345678' });
  const registered = async (sentId: string, documentId: string, n: number) => {
    const item = await received(documentId);
    await bnv.desk.sendStatus(item.id, '03', { description: `Đã vào sổ văn bản đến số ${n}00 của Phòng Cơ yếu`, staff: staff(n) }, 'clerk@bnv');
    await until(async () => (await vpcp.desk.recipientStatuses(sentId)).find((r) => r.organId === G09)?.status === '03', 30_000, '03');
  };
  const statusSecrets = (n: number) => [`Lê Thị Hoa ${n}`, `hoa${n}@moha.gov.vn`, `Đã vào sổ văn bản đến số ${n}00`];

  beforeAll(async () => {
    // the desks start without a cipher: what they write first is in clear, as before edoc_002
    net = await openNetwork(AGENCIES.slice(0, 2));
    [vpcp, bnv] = net.desks as [TestDesk, TestDesk];
    pdf = await signPdf(await samplePdf(false, 'Ke hoach bao ve'), vpcp.signer);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await net?.close();
  });

  it('rows written in clear before are read as they are, then sealed in place once the desk has a cipher', async () => {
    const sent = await vpcp.desk.send(doc(1), 'clerk@vpcp');
    await arrived(sent.id);
    await registered(sent.id, sent.documentId, 1);
    for (const d of [vpcp, bnv]) for (const s of [...secrets(1), ...statusSecrets(1)]) expect(await dump(d.db)).toContain(s);

    for (const d of [vpcp, bnv]) {
      d.options.cipher = cipher();
      await d.reopen();
    }
    // open() seals the rows in clear in the background
    for (const d of [vpcp, bnv])
      await until(
        async () =>
          (await d.db.query('SELECT id FROM xd_document WHERE sealed IS NULL')).length === 0 &&
          (await d.db.query('SELECT id FROM xd_status WHERE sealed IS NULL')).length === 0,
        30_000,
        'sealed',
      );
    // (the audit log is append-only: what it recorded in clear before stays — the names of attachments)
    for (const d of [vpcp, bnv]) {
      const text = await dump(d.db, 'xd');
      expect(text).toContain(sent.documentId); // the public part stays readable
      for (const s of [...secrets(1), ...statusSecrets(1)]) expect(text).not.toContain(s);
    }
    // the statuses sealed in place read as before, at both ends
    const out = (await vpcp.desk.get(sent.id)).statuses.find((x) => x.code === '03')!;
    expect(out).toMatchObject({ direction: 'in', atRest: 'encrypted', staff: staff(1), description: 'Đã vào sổ văn bản đến số 100 của Phòng Cơ yếu' });
    const item = await received(sent.documentId);
    expect(item.header.subject).toBe('Kế hoạch bảo vệ mục tiêu trọng yếu đợt 1');
    expect(item.atRest).toBe('encrypted');
    const got = await bnv.desk.get(item.id);
    expect(got.attachments[0]).toMatchObject({
      attachmentName: 'ke-hoach-bao-ve-1.pdf',
      description: 'Phụ lục bố trí lực lượng',
    });
    expect(
      (got.attachments[0]!.report as { signatures: { indication: string }[] }).signatures[0]!.indication,
    ).toBe('TOTAL-PASSED');
    expect(await bnv.desk.envelope(item.id)).toContain('Trần Quốc Bảo');
  }, 120_000);

  it('a new document: nothing of its envelope readable in either database; the desk API shows all of it', async () => {
    const sent = await vpcp.desk.send(doc(2), 'clerk@vpcp');
    await arrived(sent.id);
    await registered(sent.id, sent.documentId, 2);
    for (const d of [vpcp, bnv]) {
      const text = await dump(d.db);
      expect(text).toContain(sent.documentId);
      for (const s of [...secrets(2), ...statusSecrets(2)]) expect(text).not.toContain(s);
      // the status rows keep only what the desk looks them up by
      const sts = await d.db.query<{ description: string | null; staff: unknown; xml: string | null; sealed: Uint8Array | null }>(
        'SELECT s.description, s.staff, s.xml, s.sealed FROM xd_status s JOIN xd_document d ON d.id = s.doc_id WHERE d.document_id = $1',
        [sent.documentId],
      );
      expect(sts.length).toBeGreaterThanOrEqual(2); // 01 and 03
      for (const r of sts) expect([r.description, r.staff, r.xml, r.sealed === null]).toEqual([null, null, null, false]);
      const [row] = await d.db.query<{ envelope: string | null; header: unknown; sealed: Uint8Array | null }>(
        'SELECT envelope, header, sealed FROM xd_document WHERE document_id = $1',
        [sent.documentId],
      );
      expect(row!.envelope).toBeNull();
      expect(row!.sealed).not.toBeNull();
      expect(
        Object.keys(
          typeof row!.header === 'string' ? JSON.parse(row!.header) : (row!.header as object),
        ).sort(),
      ).toEqual(['business', 'classification', 'code', 'documentId', 'from', 'promulgation']);
    }

    app = await buildApp(net.lab.p, { docDesk: bnv.desk });
    token = (await createToken(net.lab.p.db, 'van.thu.bnv', ['doc-clerk'])).token;
    const get = (url: string) =>
      app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    const inbox = (await get('/api/v1/doc/inbox?all=true')).json();
    const item = inbox.documents.find((x: { documentId: string }) => x.documentId === sent.documentId);
    expect(item).toMatchObject({
      atRest: 'encrypted',
      classification: 'unclassified',
      header: {
        subject: 'Kế hoạch bảo vệ mục tiêu trọng yếu đợt 2',
        content: 'Trích yếu: bố trí lực lượng tại khu vực Tây Bắc, đợt 2',
      },
    });
    const view = (await get(`/api/v1/doc/documents/${item.id}`)).json();
    expect(view.document.header.signer).toMatchObject({ fullName: 'Trần Quốc Bảo' });
    expect(view.statuses.find((x: { code: string }) => x.code === '03')).toMatchObject({ direction: 'out', atRest: 'encrypted', staff: staff(2) });
    expect(view.attachments[0]).toMatchObject({ attachmentName: 'ke-hoach-bao-ve-2.pdf' });
    expect((await get(`/api/v1/doc/documents/${item.id}/envelope`)).body).toContain(
      'Kế hoạch bảo vệ mục tiêu trọng yếu đợt 2',
    );
    const att = await get(`/api/v1/doc/documents/${item.id}/attachments/att1`);
    expect(att.headers['content-disposition']).toContain(encodeURIComponent('ke-hoach-bao-ve-2.pdf'));
    expect(Buffer.from(att.rawPayload).equals(pdf)).toBe(true);
    // search still finds by words of the sealed subject
    const found = (await get(`/api/v1/doc/inbox?all=true&q=${encodeURIComponent('TRỌNG YẾU 2/KH')}`))
      .json()
      .documents.map((d: { id: string }) => d.id);
    expect(found).toEqual([item.id]);
  }, 120_000);

  it('a record does not open when a readable column was changed, nor in another row', async () => {
    const item = await received('000.00.00.G22,2026/12/03,2/KH-VPCP');
    await bnv.db.query("UPDATE xd_document SET classification = 'toi-mat' WHERE id = $1", [item.id]);
    await expect(bnv.desk.get(item.id)).rejects.toMatchObject({ code: 'decrypt_failed' });
    await bnv.db.query('UPDATE xd_document SET classification = $2 WHERE id = $1', [
      item.id,
      item.classification,
    ]);
    const other = await received('000.00.00.G22,2026/12/03,1/KH-VPCP');
    const [{ sealed }] = await bnv.db.query<{ sealed: Uint8Array }>(
      'SELECT sealed FROM xd_document WHERE id = $1',
      [item.id],
    );
    const [{ sealed: mine }] = await bnv.db.query<{ sealed: Uint8Array }>(
      'SELECT sealed FROM xd_document WHERE id = $1',
      [other.id],
    );
    await bnv.db.query('UPDATE xd_document SET sealed = $2 WHERE id = $1', [other.id, sealed]);
    await expect(bnv.desk.get(other.id)).rejects.toMatchObject({ code: 'decrypt_failed' });
    await bnv.db.query('UPDATE xd_document SET sealed = $2 WHERE id = $1', [other.id, mine]);
    expect((await bnv.desk.get(other.id)).document.header.subject).toBe(
      'Kế hoạch bảo vệ mục tiêu trọng yếu đợt 1',
    );
    // a status record likewise: its row's code changed in the database, or its record in another row
    const [st] = await bnv.db.query<{ id: string; code: string; sealed: Uint8Array }>("SELECT id, code, sealed FROM xd_status WHERE doc_id = $1 AND code = '03'", [item.id]);
    await bnv.db.query("UPDATE xd_status SET code = '06' WHERE id = $1", [st!.id]);
    await expect(bnv.desk.get(item.id)).rejects.toMatchObject({ code: 'decrypt_failed' });
    await bnv.db.query("UPDATE xd_status SET code = '03' WHERE id = $1", [st!.id]);
    const [st1] = await bnv.db.query<{ id: string }>("SELECT id FROM xd_status WHERE doc_id = $1 AND code = '01'", [item.id]);
    const [{ sealed: s1 }] = await bnv.db.query<{ sealed: Uint8Array }>('SELECT sealed FROM xd_status WHERE id = $1', [st1!.id]);
    await bnv.db.query('UPDATE xd_status SET sealed = $2 WHERE id = $1', [st1!.id, st!.sealed]);
    await expect(bnv.desk.get(item.id)).rejects.toMatchObject({ code: 'decrypt_failed' });
    await bnv.db.query('UPDATE xd_status SET sealed = $2 WHERE id = $1', [st1!.id, s1]);
    expect((await bnv.desk.get(item.id)).statuses.map((x) => x.atRest)).toEqual(['encrypted', 'encrypted']);
  }, 60_000);

  it('a send refused after sealing leaves no live key; every live record key belongs to a stored row', async () => {
    await expect(vpcp.desk.send(doc(2), 'clerk@vpcp')).rejects.toMatchObject({ code: 'conflict' });
    const live = (
      await net.lab.p.db.query<{ object_id: string }>(
        "SELECT object_id FROM xv_data_key WHERE object_id LIKE 'edoc:doc:%' AND wrapped IS NOT NULL",
      )
    ).map((r) => r.object_id.slice('edoc:doc:'.length));
    const rows = new Set<string>();
    for (const d of [vpcp, bnv])
      for (const r of await d.db.query<{ id: string }>('SELECT id FROM xd_document WHERE sealed IS NOT NULL'))
        rows.add(r.id);
    expect(live.sort()).toEqual([...rows].sort());
  }, 60_000);

  it('shredding destroys the keys of the record and the files: the public part is left; retention does it through the vault', async () => {
    const item = await received('000.00.00.G22,2026/12/03,1/KH-VPCP');
    await bnv.desk.shred(item.id, 'hết thời hạn lưu trữ / retention', 'officer@bnv');
    const v = await bnv.desk.get(item.id);
    expect(v.document).toMatchObject({
      atRest: 'shredded',
      documentId: item.documentId,
      header: { subject: '(đã huỷ khoá / shredded)', from: { organId: '000.00.00.G22' } },
    });
    await expect(bnv.desk.envelope(item.id)).rejects.toMatchObject({ code: 'shredded' });
    await expect(bnv.desk.attachment(item.id, 'att1')).rejects.toMatchObject({ code: 'shredded' });
    // its statuses went with it: the people who handled it are no longer named
    expect(v.statuses.length).toBeGreaterThanOrEqual(2);
    for (const x of v.statuses) expect(x).toMatchObject({ atRest: 'shredded', staff: null, description: null });
    // its file was written in clear before the desk had a cipher: with no key to destroy, it is removed
    expect(
      await bnv.db.query("SELECT path FROM xd_attachment WHERE doc_id = $1 AND path LIKE '%.bin'", [item.id]),
    ).toHaveLength(1);
    const [{ path }] = await bnv.db.query<{ path: string }>(
      'SELECT path FROM xd_attachment WHERE doc_id = $1',
      [item.id],
    );
    expect(existsSync(path)).toBe(false);
    const [audit] = await bnv.db.query<{ actor: string }>(
      "SELECT actor FROM audit_log WHERE action = 'doc.shred'",
    );
    expect(audit!.actor).toBe('officer@bnv');

    // retention: the desk's documents carry an expiry; the vault's shredding of expired keys reaches them
    vpcp.options.retentionDays = 30;
    await vpcp.reopen();
    const sent = await vpcp.desk.send(doc(3), 'clerk@vpcp');
    expect((await vpcp.desk.get(sent.id)).document.atRest).toBe('encrypted');
    const later = new Vault({
      db: net.lab.p.db,
      keys: net.lab.p.keys,
      clock: () => new Date(Date.now() + 31 * 86_400_000),
    });
    expect(await later.shredExpired()).toBeGreaterThanOrEqual(2); // the record and its file
    expect((await vpcp.desk.get(sent.id)).document.atRest).toBe('shredded');
  }, 90_000);
});
