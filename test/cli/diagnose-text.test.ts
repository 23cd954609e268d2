/**
 * `truc ss diagnose` as an operator reads it: one line per check, Vietnamese first, problems marked LỖI and
 * counted at the end (--json keeps the object for scripts).
 */
import { describe, expect, it } from 'vitest';
import { diagnoseText } from '../../src/cli/diagnose-text.js';

const healthy = {
  server: 'SERVER:VN/GOV/000.00.00.G22/ss1',
  configuration: { version: 7, generatedAt: '2026-12-07T10:00:00.000Z', ageSeconds: 35, expiresAt: '2026-12-07T10:10:00.000Z', usable: true },
  source: { source: 'http://127.0.0.1:8080/conf/VN', lastSuccessAt: '2026-12-07T10:00:30.000Z', consecutiveFailures: 0, nextAttemptInMs: 30_000, lastError: null },
  registration: { address: '127.0.0.1:5501', clients: 1, maintenance: false },
  certificates: {
    auth: { status: 'good', ocspThisUpdate: '2026-12-07T09:59:00.000Z', notAfter: '2027-12-07T00:00:00.000Z' },
    sign: { status: 'good', ocspThisUpdate: '2026-12-07T09:59:00.000Z', notAfter: '2027-12-07T00:00:00.000Z' },
  },
  timestampAuthorities: [{ name: 'Trục TSA', url: 'http://127.0.0.1:8080/tsa', reachable: true, ms: 12 }],
  messageLog: { lastTimestampAt: new Date('2026-12-07T10:00:00.000Z'), oldestUnstampedAt: null, unstamped: 3, refusing: false },
  operationalRecords: { waiting: 0, dropped: 0 },
  peer: { server: 'SERVER:VN/GOV/000.00.00.G09/ss1', reachable: true, pinned: true, handshakeMs: 9, channel: 'truc/2' },
};

describe('truc ss diagnose, as text', () => {
  it('says every check passed, one line per check, each in both languages', () => {
    const text = diagnoseText(healthy);
    const lines = text.split('\n');
    expect(lines[0]).toBe('Máy chủ an ninh / security server: SERVER:VN/GOV/000.00.00.G22/ss1');
    expect(lines.filter((l) => l.startsWith('LỖI'))).toEqual([]);
    expect(lines.at(-1)).toBe('Mọi kiểm tra đều đạt / every check passed');
    for (const want of ['phiên bản / version 7', 'Chứng thư xác thực / authentication certificate: hợp lệ / good', 'TSA Trục TSA', '3 bản ghi chưa có dấu thời gian', 'kênh / channel truc/2', '2026-12-07T10:00:00.000Z'])
      expect(text).toContain(want);
  });

  it('marks what is wrong and says why, counting the problems', () => {
    const text = diagnoseText({
      ...healthy,
      configuration: { ...healthy.configuration, usable: false },
      source: { ...healthy.source, consecutiveFailures: 4, lastError: { code: 'peer_unreachable', message: 'cannot download the directory', reason_vi: 'không tải được danh mục cấu hình', at: '2026-12-07T10:20:00.000Z' } },
      registration: { address: '127.0.0.1:5501', clients: 1, maintenance: true, maintenanceMessage: 'nâng cấp' },
      certificates: { ...healthy.certificates, sign: { status: 'problem', code: 'cert_revoked', message: 'the signing certificate is revoked' } },
      timestampAuthorities: [{ name: 'Trục TSA', url: 'http://127.0.0.1:8080/tsa', reachable: false, error: 'ECONNREFUSED' }],
      messageLog: { lastTimestampAt: null, oldestUnstampedAt: new Date(), unstamped: 900, refusing: true },
      operationalRecords: { waiting: 5, dropped: 2 },
      peer: { server: 'SERVER:VN/GOV/000.00.00.G09/ss1', reachable: true, pinned: false, handshakeMs: 9, channel: 'truc/2' },
    });
    const bad = text.split('\n').filter((l) => l.startsWith('LỖI'));
    expect(bad).toHaveLength(8);
    expect(text).toContain('ĐÃ HẾT HẠN');
    expect(text).toContain('lỗi 4 lần liền / 4 failures in a row: không tải được danh mục cấu hình / cannot download the directory (peer_unreachable)');
    expect(text).toContain('ĐANG BẢO TRÌ / IN MAINTENANCE MODE: nâng cấp');
    expect(text).toContain('the signing certificate is revoked (cert_revoked)');
    expect(text).toContain('không trả lời / unreachable: ECONNREFUSED');
    expect(text).toContain('ĐANG TỪ CHỐI');
    expect(text).toContain('CHỨNG THƯ KHÔNG KHỚP');
    expect(text.split('\n').at(-1)).toBe('8 vấn đề cần xử lý / 8 problems to look at');
  });

  it('a server without a configuration or a registration says what to do next', () => {
    const none = diagnoseText({ server: 'SERVER:VN/GOV/x/ss1', configuration: null });
    expect(none).toContain('chưa có / global configuration: none held');
    expect(none).toContain('truc ss conf');
    const unregistered = diagnoseText({ ...healthy, registration: null, peer: { server: 'SERVER:VN/GOV/y/ss1', reachable: false, pinned: false, handshakeMs: 10_000, error: 'timeout' } });
    expect(unregistered).toContain('truc ss register');
    expect(unregistered).toContain('không được / failed after 10000 ms: timeout');
  });
});
