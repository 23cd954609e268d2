/**
 * The document desks of the demonstration axis (`truc start` on the embedded default): one per agency, on
 * its security server's database with a folder beside it, providing the service `edoc` on the agency's
 * subsystem (granted to the other agencies) and sending through its own security server. Packages are
 * signed with the agency's signing key (the member's agency-signing certificate its server holds); files
 * and each document's envelope and header are kept encrypted under the platform's vault, and packages are
 * checked against the platform's release policy (classification, stamps, channel) both ways. Each agency
 * has an encryption key in the platform's software key store and an agency-encryption certificate from the
 * platform's CA (made on the first start, kept in its desk folder, renewed 30 days before it expires),
 * registered with the central server by a request its security server signs with the member's signing key
 * (approved by the bootstrap operator, a renewed one replacing the old) and so published in the global
 * configuration, from which the desks take it: a policy that lets classified documents travel over
 * `axis-e2e` sees them encrypted end to end. On the
 * first start the first agency sends a sample signed decision to the others, so that a newcomer sees a
 * document and its receipts (01 arrived, then 03 registered) flow within a minute.
 */
import http from 'node:http';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import type { Platform } from '../../platform.js';
import { listCas } from '../../pki/index.js';
import { signPdf } from '../../sign/index.js';
import { registerEncryptionCertificate, type Axis, type AxisMember } from '../axis.js';
import { makeCsr } from '../server/provision.js';
import { parseCertificate } from '../../pki/path/index.js';
import { keyStoreRecipient, type RecipientKey } from '../../vault/cms/recipient-key.js';
import { clientHeader, serviceId, subsystemText } from '../ids.js';
import { Vault } from '../../vault/envelope/vault.js';
import { bodyCipher } from '../../vault/envelope/body-cipher.js';
import { PolicyStore } from '../../vault/release/policy.js';
import { DocumentDesk } from './desk.js';
import { deskHandler } from './http.js';

export interface DemoDesk {
  organId: string;
  name: string;
  desk: DocumentDesk;
  /** where its security server forwards `edoc` calls */
  url: string;
}

export interface DemoDesks {
  desks: DemoDesk[];
  /** the sample decision sent on this start (first start only) */
  sample?: { id: string; documentId: string };
  close(): Promise<void>;
}

/** A one-page decision to send (plain PDF; the desk's agency signs it in PAdES before it goes). */
async function sampleDecision(from: string, number: string): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const page = doc.addPage([595, 842]);
  // pdf-lib's standard fonts have no Vietnamese marks: the text is written without them
  const lines: [string, number, boolean][] = [
    ['CONG HOA XA HOI CHU NGHIA VIET NAM', 13, true],
    ['Doc lap - Tu do - Hanh phuc', 12, false],
    ['', 12, false],
    [from.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/đ/g, 'd').replace(/Đ/g, 'D'), 12, true],
    [`So: ${number}`, 12, false],
    ['', 12, false],
    ['QUYET DINH', 16, true],
    ['Ve viec thi diem trao doi van ban dien tu qua truc lien thong', 12, false],
    ['(van ban mau cua truc lien thong trinh dien / a sample document of the demonstration axis)', 10, false],
  ];
  let y = 780;
  for (const [text, size, b] of lines) {
    if (text) page.drawText(text, { x: 60, y, size, font: b ? bold : font });
    y -= size + 10;
  }
  return Buffer.from(await doc.save({ useObjectStreams: false }));
}

/**
 * An agency's encryption key (software key store: the ECDH runs there) and its agency-encryption
 * certificate, kept in the desk folder; made when missing, for another key, or within 30 days of expiry.
 */
async function encryptionIdentity(p: Platform, m: AxisMember, dir: string): Promise<{ der: Buffer; key: RecipientKey }> {
  const store = p.keys.get('software');
  const label = `edoc:encryption:${m.agency.memberCode}`;
  const certPath = join(dir, 'encryption.cer');
  let info = (await store.list()).find((k) => k.label === label);
  if (info && existsSync(certPath)) {
    const der = readFileSync(certPath);
    const c = parseCertificate(der);
    if (c.spki.equals(info.spki) && c.notAfter.getTime() > Date.now() + 30 * 86_400_000) return { der, key: await keyStoreRecipient(store, info.ref.id) };
  }
  info ??= await store.generate('EC-P256', label);
  const name = m.agency.name.slice(0, 50);
  const subject = [
    { type: 'C', value: 'VN' },
    { type: 'O', value: name },
    { type: 'CN', value: `${name} (mã hoá)` },
    { type: 'serialNumber', value: `${m.subsystem.instance}/${m.agency.memberClass}/${m.agency.memberCode}` },
  ];
  const csr = await makeCsr(p.keys, info, subject);
  const der = Buffer.from((await p.issuer.issue({ profile: 'agency-encryption', csr }, 'axis-bootstrap')).der);
  mkdirSync(dir, { recursive: true });
  writeFileSync(certPath, der);
  return { der, key: await keyStoreRecipient(store, info.ref.id) };
}

export async function startDemoDesks(p: Platform, axis: Axis, o: { dir: string; host?: string; sample?: boolean }): Promise<DemoDesks> {
  const host = o.host ?? '127.0.0.1';
  const cas = await listCas(p.db);
  const roots = cas.filter((c) => !c.parentId).map((c) => Buffer.from(c.certificate));
  const intermediates = cas.filter((c) => c.parentId).map((c) => Buffer.from(c.certificate));
  const identities = new Map<string, { der: Buffer; key: RecipientKey }>();
  try {
    for (const m of axis.members) identities.set(m.agency.memberCode, await encryptionIdentity(p, m, join(o.dir, m.agency.memberCode, 'desk')));
  } catch (err) {
    // the demonstration still runs; classified documents then cannot leave (encryption_certificate_missing)
    identities.clear();
    p.log.warn({ err }, 'bàn văn thư trục mẫu: không tạo được khoá mã hoá / demo desks: no encryption keys');
  }
  // each agency's encryption certificate goes into the global configuration through a signed registration
  // request; the desks read it there (the directory carries none)
  try {
    let changed = false;
    for (const m of axis.members) {
      const id = identities.get(m.agency.memberCode);
      if (!id) continue;
      const r = await registerEncryptionCertificate(axis.central, m, id.der, { actor: 'axis-bootstrap', log: p.log, replace: true });
      changed ||= r.registered || r.deleted > 0;
    }
    if (changed) {
      await axis.central.generator.generate({ force: true, actor: 'axis-bootstrap' });
      await axis.refreshAll();
    }
  } catch (err) {
    p.log.warn({ err }, 'bàn văn thư trục mẫu: không đăng ký được chứng thư mã hoá vào cấu hình toàn cục / demo desks: encryption certificates not registered in the global configuration');
  }
  const directory = axis.members.map((m) => ({ id: m.agency.memberCode, name: m.agency.name, client: clientHeader(m.subsystem) }));
  const desks: DemoDesk[] = [];
  const servers: http.Server[] = [];
  const policies = new PolicyStore({ db: p.db, bus: p.bus });
  const policy = async () => {
    const c = await policies.current();
    return { ...c.policy, version: c.version };
  };
  // stamps are read with poppler's pdftotext; without it the demonstration still runs, checking declared levels only
  const markings = spawnSync('pdftotext', ['-v']).error === undefined;
  if (!markings) p.log.warn('pdftotext (poppler-utils) không có: bàn văn thư không đọc dấu độ mật trong PDF / is missing: the desks do not read secrecy stamps in PDFs');
  const close = async () => {
    for (const d of desks) await d.desk.close().catch(() => {});
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  };
  try {
    for (const m of axis.members) {
      const desk = await DocumentDesk.open({
        db: m.db,
        bus: p.bus,
        log: p.log.child({ desk: m.agency.memberCode }),
        dir: join(o.dir, m.agency.memberCode, 'desk'),
        organ: { organId: m.agency.memberCode, organName: m.agency.name },
        client: m.subsystem,
        ssUrl: m.isUrl,
        signer: await m.server.memberSigner(intermediates),
        validation: { trustAnchors: roots, intermediates },
        recipients: () => directory,
        conf: () => m.conf.current(),
        // attachments and uploads encrypted at rest, their keys in the platform's vault
        cipher: bodyCipher(new Vault({ db: p.db, keys: p.keys, bus: p.bus }), `edoc:${m.agency.memberCode}`),
        release: { policy, markings },
        ...(identities.has(m.agency.memberCode) ? { decryption: [{ certificate: identities.get(m.agency.memberCode)!.der, key: identities.get(m.agency.memberCode)!.key }] } : {}),
      });
      const server = http.createServer(deskHandler(desk));
      servers.push(server);
      desks.push({ organId: m.agency.memberCode, name: m.agency.name, desk, url: '' });
      await new Promise<void>((r, j) => {
        server.once('error', j);
        server.listen(0, host, () => r());
      });
      const url = `http://${host}:${(server.address() as AddressInfo).port}/edoc`;
      desks[desks.length - 1]!.url = url;
      // the desk provides `edoc` on its subsystem (a new port each start: the URL is updated); every other agency may call it
      await m.server.store.putService(serviceId(m.subsystem, 'edoc'), url);
      for (const other of axis.members)
        if (other !== m) await m.server.store.grant({ service: `SERVICE:${clientHeader(m.subsystem)}/edoc`, subject: subsystemText(other.subsystem), method: 'POST', path: '*' });
    }
  } catch (e) {
    await close();
    throw e;
  }
  const out: DemoDesks = { desks, close };
  const [first, ...others] = desks;
  if (o.sample !== false && first && others.length) {
    const sent = await first.desk.db.query('SELECT 1 FROM xd_document LIMIT 1');
    if (!sent.length) {
      const signer = await axis.members[0]!.server.memberSigner(intermediates);
      const pdf = await signPdf(await sampleDecision(first.name, '1/QD-MAU'), signer, { reason: 'Phê duyệt / approved', location: 'Hà Nội' });
      const r = await first.desk.send(
        {
          to: others.map((d) => d.organId),
          code: { number: '1', notation: 'QĐ-MẪU' },
          promulgation: { place: 'Hà Nội' },
          documentType: { type: 2, typeName: 'Quyết định' },
          subject: 'Quyết định thí điểm trao đổi văn bản điện tử qua trục liên thông (văn bản mẫu)',
          signer: { fullName: 'Văn thư trục mẫu', position: 'Văn thư' },
          attachments: [{ name: 'quyet-dinh-mau.pdf', contentType: 'application/pdf', bytes: pdf }],
        },
        'system:demo',
      );
      out.sample = { id: r.id, documentId: r.documentId };
      // each recipient registers it once it has arrived (03), so the sender sees a business status too
      void registerWhenArrived(others, r.documentId, p).catch(() => {});
    }
  }
  return out;
}

async function registerWhenArrived(desks: DemoDesk[], documentId: string, p: Platform): Promise<void> {
  const pending = new Set(desks);
  for (let i = 0; i < 120 && pending.size; i++) {
    await new Promise((r) => setTimeout(r, 1000).unref());
    for (const d of [...pending]) {
      // registered (03) only after the desk's own 01: the document is in the inbox a moment before its 01 is stored
      const item = (await d.desk.inbox()).documents.find((x) => x.documentId === documentId);
      if (!item || item.state.code !== '01') continue;
      pending.delete(d);
      await d.desk.sendStatus(item.id, '03', { description: 'Đã vào sổ văn bản đến (trục mẫu) / registered' }, 'system:demo').catch((err) => p.log.warn({ err, desk: d.organId }, 'demo: status 03 not sent'));
    }
  }
}
