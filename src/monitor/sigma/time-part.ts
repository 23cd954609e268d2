/**
 * The time modifiers (minute, hour, day, week, month, year): the numeric part of a date as written in the event.
 * As the specification warns, no time zone conversion: `2025-11-27 07:40:10` gives hour 7 whatever the zone.
 */
export type TimeUnit = 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year';
export const TIME_UNITS: readonly TimeUnit[] = ['minute', 'hour', 'day', 'week', 'month', 'year'];

const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?/;

/** ISO 8601 week number of a calendar date. */
function isoWeek(y: number, m: number, d: number): number {
  const t = new Date(Date.UTC(y, m - 1, d));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  return Math.ceil(((t.getTime() - yearStart) / 86400000 + 1) / 7);
}

export function timePart(value: unknown, unit: TimeUnit): number | undefined {
  let y: number, mo: number, d: number, h: number | undefined, mi: number | undefined;
  if (typeof value === 'string') {
    const m = DATE.exec(value.trim());
    if (!m) return undefined;
    [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    h = m[4] === undefined ? undefined : Number(m[4]);
    mi = m[5] === undefined ? undefined : Number(m[5]);
  } else if (typeof value === 'number' || value instanceof Date) {
    const t = new Date(value);
    if (Number.isNaN(t.getTime())) return undefined;
    [y, mo, d, h, mi] = [
      t.getUTCFullYear(),
      t.getUTCMonth() + 1,
      t.getUTCDate(),
      t.getUTCHours(),
      t.getUTCMinutes(),
    ];
  } else {
    return undefined;
  }
  switch (unit) {
    case 'year':
      return y;
    case 'month':
      return mo;
    case 'day':
      return d;
    case 'week':
      return isoWeek(y, mo, d);
    case 'hour':
      return h;
    case 'minute':
      return mi;
  }
}
