/** Dates and levels as operators read them: day-month order, 24-hour clock, local time, in the console's language. */
import { lang, tr } from './i18n';

const formats = {
  vi: {
    dt: new Intl.DateTimeFormat('vi-VN', {
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hour12: false,
    }),
    d: new Intl.DateTimeFormat('vi-VN', { year: 'numeric', month: '2-digit', day: '2-digit' }),
  },
  en: {
    dt: new Intl.DateTimeFormat('en-GB', {
      year: 'numeric',
      month: 'short',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hour12: false,
    }),
    d: new Intl.DateTimeFormat('en-GB', { year: 'numeric', month: 'short', day: '2-digit' }),
  },
};

export function dateTime(v: string | null | undefined): string {
  if (!v) return '—';
  const t = new Date(v);
  return Number.isNaN(t.getTime()) ? v : formats[lang()].dt.format(t);
}

export function date(v: string | null | undefined): string {
  if (!v) return '—';
  const t = new Date(v);
  return Number.isNaN(t.getTime()) ? v : formats[lang()].d.format(t);
}

/** "còn 120 ngày (120 days left)" or "hết hạn 3 ngày trước (expired 3 days ago)" */
export function validity(until: string, now = Date.now()): { text: string; expired: boolean; soon: boolean } {
  const days = Math.floor((new Date(until).getTime() - now) / 86_400_000);
  if (days < 0)
    return {
      text: tr(`hết hạn ${-days} ngày trước`, `expired ${-days} days ago`),
      expired: true,
      soon: false,
    };
  return { text: tr(`còn ${days} ngày`, `${days} days left`), expired: false, soon: days < 30 };
}

export const LEVELS = ['informational', 'low', 'medium', 'high', 'critical'] as const;

export const LEVEL_VI: Record<string, string> = {
  informational: 'Thông tin',
  low: 'Thấp',
  medium: 'Trung bình',
  high: 'Cao',
  critical: 'Nghiêm trọng',
};

export const ALERT_STATUS_VI: Record<string, string> = {
  new: 'Mới',
  acknowledged: 'Đã tiếp nhận',
  closed: 'Đã đóng',
};

export const CERT_STATUS_VI: Record<string, string> = {
  good: 'Hợp lệ',
  revoked: 'Đã thu hồi',
  hold: 'Tạm dừng',
  issued: 'Đã cấp',
  suspended: 'Tạm đình chỉ',
};

/** datetime-local input value (local time, minutes) from a Date, and back to ISO */
export function toLocalInput(t: Date): string {
  const z = new Date(t.getTime() - t.getTimezoneOffset() * 60_000);
  return z.toISOString().slice(0, 16);
}
export function fromLocalInput(v: string): string | undefined {
  if (!v) return undefined;
  const t = new Date(v);
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString();
}

export function groupText(group: Record<string, unknown> | null | undefined): string {
  if (!group) return '';
  return Object.entries(group)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}
