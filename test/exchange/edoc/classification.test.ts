/**
 * The confidentiality field of edXML packages: the document's classification travels in our extension
 * element `OtherInfo/truc:Classification`, inside what the agency signs. Before a package leaves, the desk
 * runs the vault's release check against it for each recipient (the clerk's right, the recipient's
 * clearance, the channel, the stamps in its PDFs); on arrival, a package declaring — or stamped with — a
 * level above what the receiving channel may carry is refused. Both directions, through desks over the
 * relay, each with its own policy.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { signXades } from '../../../src/sign/index.js';
import type { ReleasePolicy } from '../../../src/vault/index.js';
import type { SendInput } from '../../../src/exchange/edoc/desk.js';
import { writeEnvelope, parseEnvelope } from '../../../src/exchange/edoc/xml.js';
import { verifySigned } from '../../../src/exchange/edoc/verify.js';
import { samplePackage } from './samples.js';
import { AGENCIES, openNetwork, until, type Network, type TestDesk } from './fixture.js';

const G09 = '000.00.00.G09';
const H29 = '000.00.31.H29';
const HAS_PDFTOTEXT = spawnSync('pdftotext', ['-v']).error === undefined;

/** A one-page PDF with each line drawn on its own (a stamp stands alone on its line). */
async function stampedPdf(lines: string[]): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const page = doc.addPage([595, 842]);
  lines.forEach((l, i) => page.drawText(l, { x: 50, y: 780 - i * 30, size: 14, font }));
  return Buffer.from(await doc.save());
}

describe('the classification field of a package', () => {
  it('is written in our namespace inside OtherInfo, read back, and checked', () => {
    const p = samplePackage();
    const xml = writeEnvelope({ ...p, header: { ...p.header, classification: 'toi-mat' } });
    expect(xml).toContain('<truc:Classification xmlns:truc="urn:truc:edxml:1">toi-mat</truc:Classification>');
    expect(parseEnvelope(xml).header.classification).toBe('toi-mat');
    expect(parseEnvelope(writeEnvelope(p)).header.classification).toBeUndefined();
    expect(() => parseEnvelope(xml.replace('>toi-mat<', '>secret<'))).toThrow(
      expect.objectContaining({ code: 'bad_package', detail: { field: 'OtherInfo.Classification' } }),
    );
    const twice = xml.replace(
      '</OtherInfo>',
      '<truc:Classification xmlns:truc="urn:truc:edxml:1">mat</truc:Classification></OtherInfo>',
    );
    expect(() => parseEnvelope(twice)).toThrow(expect.objectContaining({ code: 'bad_package' }));
    // an element of that name in another namespace is not ours: ignored
    expect(
      parseEnvelope(xml.replace('urn:truc:edxml:1', 'urn:example:other')).header.classification,
    ).toBeUndefined();
  });
});

describe('classification checks at the desks, both ways', () => {
  let net: Network;
  let vpcp: TestDesk, bnv: TestDesk, hcm: TestDesk;
  // the sender's policy: its clerk may release up to Tối mật, Bộ Nội vụ is cleared for it, Hồ Chí Minh
  // for nothing classified; the axis may carry it in clear (encryptFrom above what these tests send; the
  // end-to-end encryption from encryptFrom on is e2e.test.ts)
  const sending: ReleasePolicy = {
    senders: { 'clerk@vpcp': 'toi-mat', '*': 'unclassified' },
    recipients: { [G09]: 'toi-mat', '*': 'unclassified' },
    channels: { axis: 'tuyet-mat' },
    encryptFrom: 'tuyet-mat',
  };
  // the receivers' policy: their axis channel carries up to Mật
  const receiving: ReleasePolicy = {
    senders: { '*': 'unclassified' },
    recipients: { '*': 'unclassified' },
    channels: { axis: 'mat' },
    encryptFrom: 'tuyet-mat',
  };

  const decision = (n: number, extra: Partial<SendInput>): SendInput => ({
    to: [G09],
    code: { number: String(n), notation: 'CV-MAT' },
    promulgation: { place: 'Hà Nội', date: '2026-12-03' },
    documentType: { type: 1, typeName: 'Công văn' },
    subject: `Công văn ${n}`,
    signer: { fullName: 'Lê Văn Cường' },
    ...extra,
  });
  const events = (d: TestDesk, action: string) =>
    d.events
      .filter((e) => e.event.event.action === action)
      .map((e) => e.event.truc as Record<string, Record<string, unknown>>);

  beforeAll(async () => {
    net = await openNetwork(AGENCIES);
    [vpcp, bnv, hcm] = net.desks as [TestDesk, TestDesk, TestDesk];
    vpcp.options.release = { policy: async () => ({ ...sending, version: 7 }) };
    for (const d of [bnv, hcm]) d.options.release = { policy: async () => receiving };
    for (const d of net.desks) await d.reopen();
  }, 90_000);
  afterAll(async () => net?.close());

  it('a Mật document to a cleared agency leaves, signed with its level, and arrives labelled', async () => {
    const sent = await vpcp.desk.send(decision(1, { classification: 'mat' }), 'clerk@vpcp');
    const out = await vpcp.desk.get(sent.id);
    expect(out.document).toMatchObject({ classification: 'mat', header: { classification: 'mat' } });
    expect(events(vpcp, 'vault.release.allowed')).toContainEqual(
      expect.objectContaining({
        release: expect.objectContaining({
          document: sent.documentId,
          level: 'mat',
          recipient: G09,
          policy_version: 7,
        }),
      }),
    );
    await until(async () => (await vpcp.desk.recipientStatuses(sent.id))[0]?.status === '01', 30_000, '01');
    const item = (await bnv.desk.inbox()).documents.find((d) => d.documentId === sent.documentId)!;
    expect(item).toMatchObject({ classification: 'mat', header: { classification: 'mat' } });
    expect(await bnv.desk.envelope(item.id)).toContain(
      '<truc:Classification xmlns:truc="urn:truc:edxml:1">mat</truc:Classification>',
    );
  }, 60_000);

  it('the level is covered by the signature: lowered in a signed envelope, the signature fails', async () => {
    const p = samplePackage();
    const signed = await signXades(
      writeEnvelope({ ...p, header: { ...p.header, classification: 'toi-mat' } }),
      vpcp.signer,
    );
    expect((await verifySigned(Buffer.from(signed), vpcp.options.validation)).indication).toBe(
      'TOTAL-PASSED',
    );
    await expect(
      verifySigned(Buffer.from(signed.replace('>toi-mat<', '>unclassified<')), vpcp.options.validation),
    ).rejects.toMatchObject({ code: 'invalid_signature' });
  }, 30_000);

  it('before it leaves: the clerk without the right, an uncleared recipient, the built-in policy — refused, nothing stored or queued', async () => {
    const rows = async () => (await vpcp.db.query('SELECT id FROM xd_document')).length;
    const before = await rows();
    await expect(vpcp.desk.send(decision(2, { classification: 'mat' }), 'intern@vpcp')).rejects.toMatchObject(
      { code: 'release_denied', detail: { reasons: ['sender_not_allowed'] } },
    );
    await expect(
      vpcp.desk.send(decision(3, { classification: 'mat', to: [G09, H29] }), 'clerk@vpcp'),
    ).rejects.toMatchObject({ code: 'release_denied', detail: { reasons: ['recipient_not_cleared'] } });
    expect(events(vpcp, 'vault.release.denied')).toContainEqual(
      expect.objectContaining({
        release: expect.objectContaining({
          recipient: H29,
          leak_attempt: true,
          reasons: ['recipient_not_cleared'],
        }),
      }),
    );
    // a desk without a release policy lets nothing classified leave
    await expect(hcm.desk.send(decision(4, { classification: 'mat' }), 'clerk@hcm')).rejects.toMatchObject({
      code: 'release_denied',
    });
    const plain = net.desks.find((d) => d === hcm)!;
    plain.options.release = undefined;
    await plain.reopen();
    await expect(
      plain.desk.send(decision(5, { classification: 'toi-mat' }), 'clerk@hcm'),
    ).rejects.toMatchObject({
      code: 'release_denied',
      detail: { reasons: expect.arrayContaining(['sender_not_allowed', 'recipient_not_cleared']) },
    });
    expect(await rows()).toBe(before);
    expect(await vpcp.db.query(`SELECT 1 FROM xd_delivery WHERE state = 'pending'`)).toEqual([]);
  }, 60_000);

  it.skipIf(!HAS_PDFTOTEXT)(
    'before it leaves: a PDF stamped above the declared level is held back',
    async () => {
      const pdf = await stampedPdf(['CONG HOA XA HOI CHU NGHIA VIET NAM', 'TOI MAT', 'Ke hoach phong thu']);
      await expect(
        vpcp.desk.send(
          decision(6, {
            classification: 'mat',
            attachments: [{ name: 'kh.pdf', contentType: 'application/pdf', bytes: pdf }],
          }),
          'clerk@vpcp',
        ),
      ).rejects.toMatchObject({
        code: 'release_denied',
        detail: { level: 'toi-mat', reasons: ['marking_exceeds_label'] },
      });
      expect(events(vpcp, 'vault.release.denied')).toContainEqual(
        expect.objectContaining({
          release: expect.objectContaining({ marking: 'toi-mat', label: 'mat', leak_attempt: true }),
        }),
      );
    },
    60_000,
  );

  it('on arrival: a package declaring more than the receiving channel carries is refused, the delivery fails for good', async () => {
    const sent = await vpcp.desk.send(decision(7, { classification: 'toi-mat' }), 'clerk@vpcp');
    const [d] = await until(
      async () => {
        const ds = await vpcp.desk.deliveries(sent.id);
        return ds[0]?.state === 'failed' ? ds : null;
      },
      30_000,
      'failed delivery',
    );
    expect(d!.lastError).toMatch(/403 classification_refused/);
    expect(
      (await bnv.desk.inbox({ all: true })).documents.find((x) => x.documentId === sent.documentId),
    ).toBeUndefined();
    expect(events(bnv, 'vault.receipt.denied')).toContainEqual(
      expect.objectContaining({
        receipt: expect.objectContaining({
          document: sent.documentId,
          level: 'toi-mat',
          channel: 'axis',
          reasons: ['channel_not_allowed'],
        }),
      }),
    );
    expect(events(bnv, 'doc.receive.refused').map((t) => t.code)).toContain('classification_refused');
  }, 60_000);

  it.skipIf(!HAS_PDFTOTEXT)(
    'on arrival: stamps are read too — above the channel refused, above the label flagged',
    async () => {
      // a sender that does not read stamps (an older system, say) lets a stamped document out
      vpcp.options.release = { policy: async () => sending, markings: false };
      await vpcp.reopen();
      const stamped = (stamp: string) =>
        stampedPdf(['CONG HOA XA HOI CHU NGHIA VIET NAM', stamp, 'Bao cao tinh hinh']);
      const high = await vpcp.desk.send(
        decision(8, {
          classification: 'mat',
          attachments: [{ name: 'bc.pdf', contentType: 'application/pdf', bytes: await stamped('TOI MAT') }],
        }),
        'clerk@vpcp',
      );
      await until(
        async () => (await vpcp.desk.deliveries(high.id))[0]?.state === 'failed',
        30_000,
        'refused',
      );
      expect(events(bnv, 'vault.receipt.denied')).toContainEqual(
        expect.objectContaining({
          receipt: expect.objectContaining({
            document: high.documentId,
            label: 'mat',
            marking: 'toi-mat',
            reasons: ['channel_not_allowed', 'marking_exceeds_label'],
          }),
        }),
      );
      const flagged = await vpcp.desk.send(
        decision(9, {
          classification: 'unclassified',
          attachments: [{ name: 'bc.pdf', contentType: 'application/pdf', bytes: await stamped('MAT') }],
        }),
        'clerk@vpcp',
      );
      await until(
        async () => (await vpcp.desk.recipientStatuses(flagged.id))[0]?.status === '01',
        30_000,
        'taken',
      );
      expect(events(bnv, 'vault.receipt.flagged')).toContainEqual(
        expect.objectContaining({
          receipt: expect.objectContaining({
            document: flagged.documentId,
            level: 'mat',
            reasons: ['marking_exceeds_label'],
          }),
        }),
      );
    },
    90_000,
  );
});
