/**
 * Wall-clock times of a time zone to instants: RFC 3164 syslog stamps carry neither year nor zone, and are
 * read as the configured zone's local time of the most recent matching date not more than a day ahead.
 */
const formats = new Map<string, Intl.DateTimeFormat>();

/** Offset of `tz` from UTC in minutes at instant `ms`. */
export function zoneOffset(tz: string, ms: number): number {
  let f = formats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formats.set(tz, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  const local = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
  return Math.round((local - Math.floor(ms / 1000) * 1000) / 60_000);
}

/** The instant of a local wall time in `tz`. */
export function fromLocal(tz: string, y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const guess = Date.UTC(y, mo, d, h, mi, s);
  const first = guess - zoneOffset(tz, guess) * 60_000;
  return guess - zoneOffset(tz, first) * 60_000;
}
