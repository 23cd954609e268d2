/**
 * Commander's own refusals (an unknown option or command, a missing argument, an option's bad value) are
 * English; a clerk or operator reads them first. Each known one gets its Vietnamese before the English, as
 * every other message of the CLI (`Lỗi / error: <vi> / <en>`); the English stays whole, for scripts and
 * searches. What is not recognised is passed on as commander wrote it.
 */

/** a pattern of commander's message, and its Vietnamese; a third group, when there, is the value parser's own (bilingual) reason */
const PATTERNS: [RegExp, (m: RegExpExecArray) => string][] = [
  [/^(unknown option '([^']*)'[\s\S]*)$/, (m) => `không có tuỳ chọn '${m[2]}'`],
  [/^(unknown command '([^']*)'[\s\S]*)$/, (m) => `không có lệnh '${m[2]}'`],
  [/^(missing required argument '([^']*)')$/, (m) => `thiếu đối số bắt buộc '${m[2]}'`],
  [/^(required option '([^']*)' not specified)$/, (m) => `thiếu tuỳ chọn bắt buộc '${m[2]}'`],
  [/^(option '([^']*)' argument missing)$/, (m) => `tuỳ chọn '${m[2]}' thiếu giá trị`],
  [/^(option '([^']*)' argument '([^']*)' is invalid\.)\s*([\s\S]*)$/, (m) => `giá trị '${m[3]}' của tuỳ chọn '${m[2]}' không hợp lệ`],
  [/^(command-argument value '([^']*)' is invalid for argument '([^']*)'\.)\s*([\s\S]*)$/, (m) => `giá trị '${m[2]}' của đối số '${m[3]}' không hợp lệ`],
  [/^(too many arguments[\s\S]*)$/, () => 'thừa đối số'],
  [/^(option '([^']*)' cannot be used with option '([^']*)')$/, (m) => `không dùng được tuỳ chọn '${m[2]}' cùng '${m[3]}'`],
];

/** Commander's error line (`error: …`) with the Vietnamese before it; other text unchanged. */
export function bilingualUsageError(text: string): string {
  const m = /^error: ([\s\S]*?)(\n*)$/.exec(text);
  if (!m) return text;
  for (const [re, vi] of PATTERNS) {
    const hit = re.exec(m[1]!);
    if (!hit) continue;
    // the value parser's reason (ours: already Vietnamese then English) comes after both, once
    const reason = re.source.includes('is invalid') ? hit[4] : undefined;
    return `Lỗi / error: ${vi(hit)} / ${hit[1]}${reason ? ` — ${reason}` : ''}${m[2]}`;
  }
  return text;
}
