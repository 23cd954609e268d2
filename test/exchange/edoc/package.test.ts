import { describe, it, expect } from 'vitest';
import { parseEnvelope, writeEnvelope } from '../../../src/exchange/edoc/xml.js';
import { checkPackage, EDXML_NS, parseDocumentId, type EdocPackage } from '../../../src/exchange/edoc/package.js';
import { advance, advanceReported, allowedNext, INITIAL_STATE, parseStatus, STATUS_CODES, writeStatus, type StatusCode, type StatusPacket, type StatusState } from '../../../src/exchange/edoc/status.js';
import { FrameReader, writeFrames } from '../../../src/exchange/edoc/frame.js';
import { samplePackage } from './samples.js';

const expectBad = (f: () => unknown, field: string | RegExp) => {
  try {
    f();
  } catch (e) {
    expect((e as { code: string }).code).toBe('bad_package');
    const got = (e as { detail: { field: string } }).detail.field;
    if (typeof field === 'string') expect(got).toBe(field);
    else expect(got).toMatch(field);
    return;
  }
  throw new Error(`no bad_package for ${String(field)}`);
};

describe('edXML packages', () => {
  it('round-trips field for field, Vietnamese text, escapes and optional fields included', () => {
    const p = samplePackage();
    const xml = writeEnvelope(p);
    expect(xml).toContain(`xmlns="${EDXML_NS}"`);
    expect(xml).toContain('&lt;giai đoạn 2&gt;');
    expect(parseEnvelope(xml)).toEqual(p);
    // a recall, an update and a replacement too
    for (const business of [
      { docType: 1 as const, docReason: 'Ban hành nhầm đối tượng' },
      { docType: 2 as const, docReason: 'Sửa lỗi chính tả', updateInfo: ['Subject', 'Phụ lục II'], staffInfo: { department: 'Phòng Hành chính', staff: 'Trần Thị Bình', email: 'binh@chinhphu.vn', mobile: '0912345678' } },
      { docType: 3 as const, docReason: 'Thay thế văn bản cũ', replaces: [{ organId: '000.00.00.G22', code: '7000/VPCP-TTĐT', promulgationDate: '2026-11-01', documentId: '000.00.00.G22,2026/11/01,7000/VPCP-TTĐT' }] },
    ]) {
      const q = { ...p, header: { ...p.header, business } };
      expect(parseEnvelope(writeEnvelope(q))).toEqual(q);
    }
    // the minimum
    const min: EdocPackage = {
      header: { ...p.header, content: undefined, dueDate: undefined, steeringType: undefined, toPlaces: [], responseFor: [], traces: [], otherInfo: { priority: 0, appendixes: [] }, business: { docType: 0 } },
      attachments: [],
    };
    for (const k of ['content', 'dueDate', 'steeringType'] as const) delete min.header[k];
    expect(parseEnvelope(writeEnvelope(min))).toEqual(min);
  });

  it('parses hand-written samples in the structure of QCVN 102:2016', () => {
    const hand = `<?xml version="1.0" encoding="UTF-8"?>
<edXMLEnvelope xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">
  <edXMLHeader>
    <MessageHeader>
      <From><OrganId>000.00.31.H29</OrganId><OrganName>Ủy ban nhân dân Thành phố Hồ Chí Minh</OrganName><OrganAdd>86 Lê Thánh Tôn, phường Bến Nghé, Quận 1</OrganAdd><Email>vpub@tphcm.gov.vn</Email><Telephone>028 3829 6052</Telephone></From>
      <To><OrganId>000.00.00.G22</OrganId><OrganName>Văn phòng Chính phủ</OrganName></To>
      <DocumentId>000.00.31.H29,2026/12/01,4521/UBND-KT</DocumentId>
      <Code><CodeNumber>4521</CodeNumber><CodeNotation>UBND-KT</CodeNotation></Code>
      <PromulgationInfo><Place>Thành phố Hồ Chí Minh</Place><PromulgationDate>2026-12-01</PromulgationDate></PromulgationInfo>
      <DocumentType><Type>2</Type><TypeName>Báo cáo</TypeName></DocumentType>
      <Subject>Báo cáo tình hình kinh tế – xã hội tháng 11 năm 2026</Subject>
      <SignerInfo><Competence>TM. ỦY BAN NHÂN DÂN</Competence><Position>Chủ tịch</Position><FullName>Phan Văn Mãi</FullName></SignerInfo>
      <ToPlaces><Place>Văn phòng Chính phủ</Place><Place>Lưu: VT, KT</Place></ToPlaces>
      <OtherInfo><Priority>0</Priority><SphereOfPromulgation>Văn bản liên thông</SphereOfPromulgation><PageAmount>12</PageAmount><Appendixes/></OtherInfo>
      <SteeringType>2</SteeringType>
      <SomethingNewer>ignored</SomethingNewer>
    </MessageHeader>
    <TraceHeaderList><TraceHeader><OrganId>000.00.31.H29</OrganId><Timestamp>2026-12-01T10:15:00+07:00</Timestamp></TraceHeader></TraceHeaderList>
    <Bussiness><BussinessDocType>0</BussinessDocType></Bussiness>
  </edXMLHeader>
  <edXMLBody>
    <edXMLManifest>
      <Reference><ContentId>baocao</ContentId><ContentType>application/pdf</ContentType><Description>Báo cáo đã ký số</Description><AttachmentName>4521-UBND-KT.pdf</AttachmentName><Size>204800</Size><Hash Algorithm="SHA-256">${'0F'.repeat(32)}</Hash></Reference>
    </edXMLManifest>
  </edXMLBody>
</edXMLEnvelope>`;
    const p = parseEnvelope(hand);
    expect(p.header.from.organName).toBe('Ủy ban nhân dân Thành phố Hồ Chí Minh');
    expect(p.header.subject).toBe('Báo cáo tình hình kinh tế – xã hội tháng 11 năm 2026');
    expect(p.header.signer).toEqual({ competence: 'TM. ỦY BAN NHÂN DÂN', position: 'Chủ tịch', fullName: 'Phan Văn Mãi' });
    expect(p.header.otherInfo).toEqual({ priority: 0, sphereOfPromulgation: 'Văn bản liên thông', pageAmount: 12, appendixes: [] });
    expect(p.header.steeringType).toBe(2);
    expect(p.attachments[0]).toEqual({ contentId: 'baocao', contentType: 'application/pdf', description: 'Báo cáo đã ký số', attachmentName: '4521-UBND-KT.pdf', size: 204800, sha256: '0f'.repeat(32) });
    // written back and read again: the same values
    expect(parseEnvelope(writeEnvelope(p))).toEqual(p);

    const status = `<Status xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"><Header>
      <ResponseFor><OrganId>000.00.00.G22</OrganId><Code>7816/VPCP-TTĐT</Code><PromulgationDate>2026-12-02</PromulgationDate><DocumentId>000.00.00.G22,2026/12/02,7816/VPCP-TTĐT</DocumentId></ResponseFor>
      <From><OrganId>000.00.00.G09</OrganId><OrganName>Bộ Nội vụ</OrganName></From>
      <StaffInfo><Department>Văn phòng Bộ</Department><Staff>Lê Thị Hoa</Staff><Mobile>0987654321</Mobile></StaffInfo>
      <StatusCode>03</StatusCode><Description>Đã vào sổ văn bản đến số 1234</Description><Timestamp>2026-12-02T09:00:00+07:00</Timestamp>
    </Header></Status>`;
    const s = parseStatus(status);
    expect(s).toEqual({
      responseFor: { organId: '000.00.00.G22', code: '7816/VPCP-TTĐT', promulgationDate: '2026-12-02', documentId: '000.00.00.G22,2026/12/02,7816/VPCP-TTĐT' },
      from: { organId: '000.00.00.G09', organName: 'Bộ Nội vụ' },
      staff: { department: 'Văn phòng Bộ', staff: 'Lê Thị Hoa', mobile: '0987654321' },
      code: '03',
      description: 'Đã vào sổ văn bản đến số 1234',
      timestamp: '2026-12-02T09:00:00+07:00',
    });
    expect(parseStatus(writeStatus(s))).toEqual(s);
  });

  it('refuses each schema violation with bad_package naming the field', () => {
    const p = samplePackage();
    const xml = writeEnvelope(p);
    const cases: [string, string | RegExp][] = [
      [xml.replace(/<OrganId>000\.00\.00\.G22<\/OrganId>/, ''), 'From.OrganId'],
      [xml.replace('<OrganId>000.00.00.G09</OrganId>', '<OrganId>G09</OrganId>'), 'To[0].OrganId'],
      [xml.replace(/<To>[\s\S]*?<\/To>\s*<To>[\s\S]*?<\/To>/, ''), 'To'],
      [xml.replace('<DocumentId>000.00.00.G22,2026/12/02,7816/VPCP-TTĐT</DocumentId>', '<DocumentId>7816/VPCP-TTĐT</DocumentId>'), 'DocumentId'],
      [xml.replace('<DocumentId>000.00.00.G22,2026/12/02,', '<DocumentId>000.00.00.G22,2026/12/03,'), 'DocumentId'],
      [xml.replace('<DocumentId>000.00.00.G22,', '<DocumentId>000.00.00.G09,'), 'DocumentId'],
      [xml.replace('<CodeNumber>7816</CodeNumber>', ''), 'Code.CodeNumber'],
      [xml.replace('<PromulgationDate>2026-12-02</PromulgationDate>', '<PromulgationDate>2026-02-30</PromulgationDate>'), 'PromulgationInfo.PromulgationDate'],
      [xml.replace(/<Subject>[^<]*<\/Subject>/, ''), 'MessageHeader.Subject'],
      [xml.replace('<FullName>Nguyễn Sỹ Hiệp</FullName>', ''), 'SignerInfo.FullName'],
      [xml.replace('<Priority>2</Priority>', '<Priority>5</Priority>'), 'OtherInfo.Priority'],
      [xml.replace('<Priority>2</Priority>', '<Priority>khẩn</Priority>'), 'OtherInfo.Priority'],
      [xml.replace('<BussinessDocType>0</BussinessDocType>', '<BussinessDocType>4</BussinessDocType>'), 'Bussiness.BussinessDocType'],
      [xml.replace('<BussinessDocType>0</BussinessDocType>', '<BussinessDocType>1</BussinessDocType>'), 'Bussiness.BussinessDocReason'],
      [xml.replace('<BussinessDocType>0</BussinessDocType>', '<BussinessDocType>3</BussinessDocType><BussinessDocReason>x</BussinessDocReason>'), 'Bussiness.ReplacementInfoList'],
      [xml.replace('<ContentId>att2</ContentId>', '<ContentId>att1</ContentId>'), 'edXMLManifest.Reference[1].ContentId'],
      [xml.replace('<Hash Algorithm="SHA-256">aaaa', '<Hash Algorithm="SHA-1">aaaa'), 'edXMLManifest.Reference[0].Hash'],
      [xml.replace('a'.repeat(64), 'a'.repeat(63)), 'edXMLManifest.Reference[0].Hash'],
      [xml.replace('<AttachmentName>Phụ lục I.docx</AttachmentName>', '<AttachmentName>../../etc/passwd</AttachmentName>'), 'edXMLManifest.Reference[1].AttachmentName'],
      [xml.replace('<Size>12345</Size>', '<Size>-1</Size>'), 'edXMLManifest.Reference[0].Size'],
      [xml.replace('<Subject>', '<Subject><b>x</b>'), 'MessageHeader.Subject'],
      [xml.replace(/<Subject>/, '<Subject>a</Subject><Subject>'), 'MessageHeader.Subject'],
      [xml.replace(EDXML_NS, 'urn:other'), 'edXMLEnvelope'],
      [xml.replace('</edXMLHeader>', ''), 'edXMLEnvelope'],
      [xml.replace('<?xml version="1.0" encoding="UTF-8"?>', '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'), 'edXMLEnvelope'],
      [xml.replace('<Email>vanthu@chinhphu.vn</Email>', '<Email>không phải thư</Email>'), 'From.Email'],
      [xml.replace('<Timestamp>2026-12-02T08:30:00.000Z</Timestamp>', '<Timestamp>hôm qua</Timestamp>'), 'TraceHeaderList.TraceHeader[0].Timestamp'],
    ];
    for (const [bad, field] of cases) expectBad(() => parseEnvelope(bad), field);
    // writing refuses what reading would
    expectBad(() => writeEnvelope({ ...p, header: { ...p.header, to: [p.header.to[0]!, p.header.to[0]!] } }), 'To[1].OrganId');
    expectBad(() => writeEnvelope({ ...p, header: { ...p.header, subject: 'a\u0001b' } }), 'Subject');
    // hostile sizes are refused before a tree is built
    expect(() => parseEnvelope(`<edXMLEnvelope xmlns="${EDXML_NS}">${'<a>'.repeat(1000)}${'</a>'.repeat(1000)}</edXMLEnvelope>`)).toThrow(expect.objectContaining({ code: 'too_large' }));
    expect(() => parseEnvelope(`<edXMLEnvelope>${' '.repeat(5 * 1024 * 1024)}</edXMLEnvelope>`)).toThrow(expect.objectContaining({ code: 'too_large' }));
  });

  it('reads DocumentId as agencies write it', () => {
    expect(parseDocumentId('000.00.00.G22,2026/12/02,7816/VPCP-TTĐT')).toEqual({ organId: '000.00.00.G22', date: '2026-12-02', number: '7816', notation: 'VPCP-TTĐT' });
    expect(parseDocumentId('000.00.31.H29,2026/01/05,12/QĐ-UBND')).toEqual({ organId: '000.00.31.H29', date: '2026-01-05', number: '12', notation: 'QĐ-UBND' });
    for (const bad of ['000.00.00.G22,2026/12/02,7816', '000.00.00.G22,2026-12-02,7816/VPCP', '00.00.00.G22,2026/12/02,1/A', '000.00.00.G22,2026/13/02,1/A', '000.00.00.G22,2026/12/02,/A'])
      expectBad(() => parseDocumentId(bad), 'DocumentId');
    expect(() => checkPackage(samplePackage())).not.toThrow();
  });
});

describe('status packets', () => {
  const base: StatusPacket = {
    responseFor: { organId: '000.00.00.G22', code: '7816/VPCP-TTĐT', promulgationDate: '2026-12-02', documentId: '000.00.00.G22,2026/12/02,7816/VPCP-TTĐT' },
    from: { organId: '000.00.00.G09', organName: 'Bộ Nội vụ', email: 'vanthu@moha.gov.vn' },
    staff: { department: 'Văn phòng', staff: 'Phạm Văn Đức', email: 'duc@moha.gov.vn', mobile: '0901234567' },
    code: '01',
    description: 'Đã nhận',
    timestamp: '2026-12-02T08:31:00.000Z',
  };

  it('round-trips every code; unknown codes and missing fields are named', () => {
    for (const code of Object.keys(STATUS_CODES) as StatusCode[]) {
      const s = { ...base, code };
      expect(parseStatus(writeStatus(s))).toEqual(s);
    }
    const xml = writeStatus(base);
    expectBad(() => parseStatus(xml.replace('<StatusCode>01</StatusCode>', '<StatusCode>07</StatusCode>')), 'StatusCode');
    expectBad(() => parseStatus(xml.replace(/<StatusCode>01<\/StatusCode>/, '')), 'Header.StatusCode');
    expectBad(() => parseStatus(xml.replace(/<Timestamp>[^<]*<\/Timestamp>/, '<Timestamp>không</Timestamp>')), 'Timestamp');
    expectBad(() => parseStatus(xml.replace(/<ResponseFor>[\s\S]*<\/ResponseFor>/, '')), 'ResponseFor');
    expectBad(() => parseStatus(xml.replace('<DocumentId>000.00.00.G22,2026/12/02,', '<DocumentId>xx,')), 'ResponseFor.DocumentId');
    expectBad(() => parseStatus(xml.replace(/<OrganName>Bộ Nội vụ<\/OrganName>/, '')), 'From.OrganName');
  });

  const run = (codes: StatusCode[], kinds: Partial<Record<number, 'recall' | 'update' | 'replace'>> = {}): StatusState => codes.reduce((s, c, i) => advance(s, c, kinds[i]), INITIAL_STATE);
  const refuses = (codes: StatusCode[], next: StatusCode, kind?: 'recall' | 'update' | 'replace') => expect(() => advance(run(codes), next, kind)).toThrow(expect.objectContaining({ code: 'conflict' }));

  it('the machine: every code in its place, and what may not follow', () => {
    expect(run(['01', '03', '04', '05', '06'])).toEqual({ code: '06' });
    expect(run(['01', '02'])).toEqual({ code: '02' });
    expect(run(['01', '03', '06'])).toEqual({ code: '06' });
    expect(run(['01', '03', '04', '04', '05', '05', '06'])).toEqual({ code: '06' });
    expect(allowedNext(INITIAL_STATE)).toEqual(['01']);
    refuses([], '03');
    refuses(['01'], '01');
    refuses(['01'], '04');
    refuses(['01', '02'], '03');
    refuses(['01', '03', '06'], '05');
    refuses(['01', '03'], '15');
    refuses(['01', '03'], '16');
    // recall: requested (13), accepted (15) ends everything
    const recalled = run(['01', '03', '13', '15']);
    expect(recalled).toEqual({ code: '15', recalled: true });
    expect(() => advance(recalled, '05')).toThrow(/recalled/);
    // refused (16): back where it was
    expect(run(['01', '03', '04', '13', '16'])).toEqual({ code: '04' });
    expect(run(['01', '03', '04', '13', '16', '05', '06'])).toEqual({ code: '06' });
    // a recall of a document already done: only 16
    const done = advance(run(['01', '03', '06']), '13', 'recall');
    expect(allowedNext(done)).toEqual(['16']);
    expect(() => advance(done, '15')).toThrow(/already done/);
    expect(advance(done, '16')).toEqual({ code: '06' });
    // an update of a document done may be accepted: it starts again
    const upd = advance(run(['01', '03', '06']), '13', 'update');
    expect(advance(upd, '15')).toEqual({ code: null });
    expect(advance(advance(upd, '15'), '01')).toEqual({ code: '01' });
    // a replacement accepted ends the old document
    expect(advance(advance(run(['01']), '13', 'replace'), '15')).toEqual({ code: '15', recalled: true });
    // one request at a time
    refuses(['01', '13'], '13');
    // the sender's view: a 05 and a 06 sent before the recall reached the recipient arrive after 13
    const crossing = advanceReported(advanceReported(advance(run(['01', '03']), '13', 'recall'), '05'), '06');
    expect(crossing).toEqual({ code: '13', before: '06', pending: 'recall' });
    expect(() => advanceReported(crossing, '15')).toThrow(/already done/);
    expect(advanceReported(crossing, '16')).toEqual({ code: '06' });
    expect(() => advanceReported(advance(run(['01', '03']), '13', 'recall'), '01')).toThrow(expect.objectContaining({ code: 'conflict' }));
  });
});

describe('frames', () => {
  it('streams an envelope and attachments through base64 frames, any piece sizes', async () => {
    const env = writeEnvelope(samplePackage());
    const a = Buffer.from(Array.from({ length: 200_001 }, (_, i) => i % 251));
    const b = Buffer.alloc(0);
    const pieces: Buffer[] = [];
    for await (const p of writeFrames(env, [{ contentId: 'att1', bytes: a, size: a.length }, { contentId: 'att2', bytes: b, size: 0 }])) pieces.push(p);
    const all = Buffer.concat(pieces);
    // re-cut into odd sizes: the reader must not care where pieces end
    async function* odd(): AsyncGenerator<Buffer> {
      for (let i = 0, k = 1; i < all.length; i += k, k = (k * 7 + 3) % 9000 + 1) yield all.subarray(i, i + k);
    }
    const r = new FrameReader(odd());
    expect((await r.envelope()).toString('utf8')).toBe(env);
    const got: Record<string, Buffer> = {};
    for (;;) {
      const f = await r.next();
      if (f.type === 'Z') break;
      const parts: Buffer[] = [];
      for await (const p of r.body()) parts.push(p);
      got[String(f.header.contentId)] = Buffer.concat(parts);
    }
    expect(got.att1!.equals(a)).toBe(true);
    expect(got.att2!.length).toBe(0);
  });

  it('refuses bodies that are not frames, cut short or with hostile lengths', async () => {
    const one = async (b: Buffer) => {
      const r = new FrameReader([b]);
      await r.envelope();
      for (;;) {
        const f = await r.next();
        if (f.type === 'Z') return;
        for await (const _ of r.body());
      }
    };
    await expect(one(Buffer.from('<edXMLEnvelope/>'))).rejects.toMatchObject({ code: 'bad_package' });
    const ok: Buffer[] = [];
    for await (const p of writeFrames('<x/>', [{ contentId: 'a', bytes: Buffer.from('xin chào'), size: Buffer.byteLength('xin chào') }])) ok.push(p);
    const whole = Buffer.concat(ok);
    await expect(one(whole)).resolves.toBeUndefined();
    await expect(one(whole.subarray(0, whole.length - 12))).rejects.toMatchObject({ code: 'bad_package' });
    const huge = Buffer.from(whole);
    huge.writeBigUInt64BE(BigInt(2 ** 40), 7 + 1 + 2 + 2); // the envelope frame claims a terabyte
    await expect(one(huge)).rejects.toMatchObject({ code: 'too_large' });
  });
});
