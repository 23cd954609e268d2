/**
 * The titles of our own detection rules (src/monitor/rules, author Trục) in Vietnamese, by rule id: the
 * rules are Sigma files, whose title is one English line, and the console shows an alert's or a rule's
 * title in the chosen language (issue 18). A rule of another author keeps its title as written.
 * `test/web/rule-titles.test.ts` fails when one of our rules has no entry, or its English title changed
 * without this table.
 */
export const RULE_TITLES: Record<string, { vi: string; en: string }> = {
  'd17c1b08-dd35-4824-af9e-5e8d908e3d52': { vi: 'Xác thực SSH thất bại', en: 'SSH authentication failure' },
  'e433007c-267a-4b6e-87ec-67e4b37e4133': {
    vi: 'Dò mật khẩu SSH từ một địa chỉ',
    en: 'SSH brute force from one address',
  },
  '0faf136e-df07-426a-a4a2-6a6b34d59e86': {
    vi: 'Truy cập ngoài giờ cho phép',
    en: 'Access outside permitted hours',
  },
  '50b70f02-df47-40f2-853c-f23077157d44': {
    vi: 'Thao tác ngoài giờ cho phép',
    en: 'Operation outside permitted hours',
  },
  '278456d9-51c1-4b54-876d-b66f152378e4': {
    vi: 'Xác thực thất bại với API của nền tảng',
    en: 'Failed authentication against the platform APIs',
  },
  'e98e269f-eb10-4081-9a84-3ea62787ae3c': { vi: 'Dò mã truy cập API', en: 'API token guessing' },
  '50be45d8-27ab-49fd-93c5-32426bd5770a': {
    vi: 'Chuỗi nhật ký kiểm toán bị sửa',
    en: 'Audit chain tampering',
  },
  '9d4b1e57-3c2a-4f8e-b6d0-5a7c21e8f934': {
    vi: 'Sự kiện an ninh bị giữ trong hàng đợi gửi',
    en: 'Security events held in the outbox',
  },
  'df621fd2-ec6c-44b5-97f3-32a5c5ca2487': {
    vi: 'Văn bản mật gửi tới người nhận không đủ thẩm quyền',
    en: 'Classified document sent to a recipient not cleared for it',
  },
  '3f8b6e52-9c1d-4a7e-b2f0-5d4c8a1e7b93': {
    vi: 'Gói văn bản mật cơ quan nhận không giải mã được',
    en: 'Classified package that the receiving agency could not decrypt',
  },
  '8b5d7e12-4a0f-4f6b-b3c1-6d2e9f0a7c45': {
    vi: 'Cấp chứng thư thất bại trong CA',
    en: 'Certificate issuance failed inside the CA',
  },
  '3f0c2a6e-8d1b-4c5e-9a77-0b6e2f41d9c3': { vi: 'Kho khoá không sẵn sàng', en: 'Key store unavailable' },
  '195c41b0-751a-4f4f-bd9d-e201905c52e0': {
    vi: 'Mã độc trong tệp nền tảng nhận được',
    en: 'Malware in a file received by the platform',
  },
  '701dbf5a-940a-4165-80f7-bc011c86c32e': { vi: 'Văn bản được tải xuống', en: 'Document downloaded' },
  'af630f4d-d52c-48fe-9acf-4b3f4a08f2cb': {
    vi: 'Một người dùng tải xuống hàng loạt văn bản',
    en: 'Mass download of documents by one user',
  },
  'b6aa9744-96a1-4053-b3bf-1a6dc6b923ef': {
    vi: 'Thao tác bị từ chối theo vai trò',
    en: 'Operation denied by role',
  },
  '81f66726-cdb8-4522-8f08-add3dbcfc57e': {
    vi: 'Một người dùng liên tiếp bị từ chối thao tác',
    en: 'Repeated denied operations by one user',
  },
  'db2b1807-6468-413a-8738-4f81b8eea5ad': {
    vi: 'Chứng thư đã thu hồi được xuất trình',
    en: 'Revoked certificate presented',
  },
  '6eb140a9-8d8e-4c82-a5a4-bd5bf10fdc45': {
    vi: 'Xác thực bằng chứng thư đã thu hồi',
    en: 'Authentication with a revoked certificate',
  },
  '8f1e2d3c-4b5a-4c6d-8e7f-0a1b2c3d4e5f': {
    vi: 'Cố gửi văn bản mật trái quy định',
    en: 'Attempt to send a classified document outside the rules',
  },
  '6d2a9c41-7e3b-4f08-a5c2-1b9e8d7f3a60': {
    vi: 'Văn bản mật nhận qua kênh không được phép',
    en: 'Classified document received over a channel not allowed for it',
  },
  '3b0c6a52-5b7e-4f51-9d1c-9a4e0f1d2c71': {
    vi: 'Chính sách bảo vệ từ chối phát hành văn bản',
    en: 'Release of a document refused by the protection policy',
  },
  '573cc746-3b92-4cd3-ac9f-f513824ed15a': {
    vi: 'Thông điệp liên thông bị sửa hoặc giả mạo',
    en: 'Exchange message altered or forged',
  },
  'd05d6e65-4335-4697-a8db-599f5a8c20a8': { vi: 'Thông điệp liên thông bị gửi lại', en: 'Exchange message replayed' },
  '0c601c4d-a8a4-479d-8dd0-41f667364560': {
    vi: 'Máy chủ an ninh từ chối chứng thư đã thu hồi hoặc không tin cậy',
    en: 'Security server refused a revoked or untrusted certificate',
  },
  '4fbee2ee-1116-464e-80f8-da3f2e8ce832': {
    vi: 'Máy chủ an ninh từ chối trao đổi (cấu hình, OCSP hoặc dấu thời gian)',
    en: 'Security server refusing traffic (configuration, OCSP or time-stamps)',
  },
  'aaf05ced-6169-4222-ae2c-c051f3055bf9': { vi: 'Từ chối truy cập dịch vụ liên thông', en: 'Exchange access denied' },
  '7c5bf491-584d-4674-a174-2c745bdfeac3': {
    vi: 'Một hệ thống khách liên tục bị từ chối truy cập dịch vụ liên thông',
    en: 'Repeated exchange access denied for one client',
  },
};

/** A rule's title in the console's language: ours from the table (when its English is still the rule's), others as written. */
export function ruleTitle(ruleId: string, title: string): { vi: string; en: string } | undefined {
  const t = RULE_TITLES[ruleId];
  return t && t.en === title ? t : undefined;
}
