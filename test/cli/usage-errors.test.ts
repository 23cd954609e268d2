/**
 * Commander's own refusals reach the clerk in Vietnamese first, the English kept whole after it.
 */
import { describe, expect, it } from 'vitest';
import { bilingualUsageError } from '../../src/cli/usage-errors.js';
import { trucAsync } from '../helpers/truc-cli.js';

describe('usage errors in both languages', () => {
  it('puts the Vietnamese before each of commander’s messages and keeps the English whole', () => {
    const cases: [string, string][] = [
      ["error: unknown option '--limt'\n", "Lỗi / error: không có tuỳ chọn '--limt' / unknown option '--limt'\n"],
      ["error: unknown option '--limt'\n(Did you mean --limit?)\n", "Lỗi / error: không có tuỳ chọn '--limt' / unknown option '--limt'\n(Did you mean --limit?)\n"],
      ["error: unknown command 'sned'\n", "Lỗi / error: không có lệnh 'sned' / unknown command 'sned'\n"],
      ["error: missing required argument 'id'\n", "Lỗi / error: thiếu đối số bắt buộc 'id' / missing required argument 'id'\n"],
      ["error: required option '--to <codes>' not specified\n", "Lỗi / error: thiếu tuỳ chọn bắt buộc '--to <codes>' / required option '--to <codes>' not specified\n"],
      ["error: option '--to <codes>' argument missing\n", "Lỗi / error: tuỳ chọn '--to <codes>' thiếu giá trị / option '--to <codes>' argument missing\n"],
      [
        "error: option '--priority <0-4>' argument 'khẩn' is invalid. --priority phải là số nguyên từ 0 đến 4 / --priority must be a whole number from 0 to 4\n",
        "Lỗi / error: giá trị 'khẩn' của tuỳ chọn '--priority <0-4>' không hợp lệ / option '--priority <0-4>' argument 'khẩn' is invalid. — --priority phải là số nguyên từ 0 đến 4 / --priority must be a whole number from 0 to 4\n",
      ],
      ["error: too many arguments for 'ack'. Expected 1 argument but got 2.\n", "Lỗi / error: thừa đối số / too many arguments for 'ack'. Expected 1 argument but got 2.\n"],
    ];
    for (const [given, want] of cases) expect(bilingualUsageError(given)).toBe(want);
    // what it does not know passes as it was
    expect(bilingualUsageError('error: something new\n')).toBe('error: something new\n');
    expect(bilingualUsageError('Usage: truc doc [options]\n')).toBe('Usage: truc doc [options]\n');
  });

  it('truc prints them so, with exit 2, for a command several levels down', async () => {
    const r = await trucAsync(process.env, ['ss', 'client', 'add', '--khong-co', 'x']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Lỗi / error: không có tuỳ chọn '--khong-co' / unknown option '--khong-co'");
  });
});
