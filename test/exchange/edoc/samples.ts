/** A package as a ministry would send it, every field filled, in Vietnamese. */
import type { EdocPackage } from '../../../src/exchange/edoc/package.js';

export function samplePackage(): EdocPackage {
  return {
    header: {
      from: {
        organId: '000.00.00.G22',
        organName: 'Văn phòng Chính phủ',
        organInCharge: 'Thủ tướng Chính phủ',
        organAdd: '1 Hoàng Hoa Thám, Ba Đình, Hà Nội',
        email: 'vanthu@chinhphu.vn',
        telephone: '080 43162',
        fax: '080 44130',
        website: 'https://vpcp.chinhphu.vn',
      },
      to: [
        { organId: '000.00.00.G09', organName: 'Bộ Nội vụ', email: 'vanthu@moha.gov.vn' },
        { organId: '000.00.31.H29', organName: 'UBND Thành phố Hồ Chí Minh', organAdd: '86 Lê Thánh Tôn, Quận 1' },
      ],
      documentId: '000.00.00.G22,2026/12/02,7816/VPCP-TTĐT',
      code: { number: '7816', notation: 'VPCP-TTĐT' },
      promulgation: { place: 'Hà Nội', date: '2026-12-02' },
      documentType: { type: 1, typeName: 'Công văn' },
      subject: 'Về việc triển khai trục liên thông văn bản quốc gia & chữ ký số <giai đoạn 2>',
      content: 'Văn phòng Chính phủ đề nghị các cơ quan "khẩn trương" triển khai…\nDòng thứ hai.',
      signer: { competence: 'KT. BỘ TRƯỞNG, CHỦ NHIỆM', position: 'Phó Chủ nhiệm', fullName: 'Nguyễn Sỹ Hiệp' },
      dueDate: '2026-12-31',
      toPlaces: ['Bộ Nội vụ', 'UBND Thành phố Hồ Chí Minh', 'Lưu: VT, TTĐT'],
      otherInfo: { priority: 2, sphereOfPromulgation: 'Văn bản liên thông', typerNotation: 'NVA', promulgationAmount: 5, pageAmount: 3, appendixes: ['Phụ lục I: Danh sách cơ quan', 'Phụ lục II: Lộ trình'] },
      steeringType: 1,
      responseFor: [{ organId: '000.00.00.G09', code: '120/BNV-VP', promulgationDate: '2026-11-20', documentId: '000.00.00.G09,2026/11/20,120/BNV-VP' }],
      traces: [{ organId: '000.00.00.G22', timestamp: '2026-12-02T08:30:00.000Z' }],
      business: { docType: 0, paper: 0 },
    },
    attachments: [
      { contentId: 'att1', contentType: 'application/pdf', attachmentName: '7816-VPCP-TTĐT.pdf', description: 'Văn bản chính', size: 12345, sha256: 'a'.repeat(64) },
      { contentId: 'att2', contentType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', attachmentName: 'Phụ lục I.docx', size: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
    ],
  };
}

