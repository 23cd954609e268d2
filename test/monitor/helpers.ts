/**
 * Shared test material for the monitoring tests.
 */
/** The EICAR test file, assembled at run time so that the repository never holds it in one piece. */
export function eicar(): Buffer {
  const parts = ['X5O!P%@AP[4\\PZX54(P^)7CC)7}$', 'EICAR-STANDARD-', 'ANTIVIRUS-', 'TEST-FILE!$H+H*'];
  return Buffer.from(parts.join(''), 'ascii');
}
export const MARKER = Buffer.from('header TRUC-SCAN-SELFTEST … 8c1d6e0b-do-not-deploy trailer');


const HOUR = 3_600_000;
/**
 * The most recent instant, within the last day, at `hour`:00 in Asia/Ho_Chi_Minh (UTC+7, no DST): tests set
 * the platform's clock to it so that the guard's authentication events fall in or out of working hours.
 */
export function vietnamAt(hour: number, now = Date.now()): Date {
  let t = Math.floor(now / (24 * HOUR)) * 24 * HOUR + (hour - 7) * HOUR;
  while (t > now) t -= 24 * HOUR;
  while (t + 24 * HOUR <= now) t += 24 * HOUR;
  return new Date(t);
}

/**
 * A shift for the platform's clock that puts its authentication events inside working hours (07:00–18:00 in
 * Asia/Ho_Chi_Minh) and less than 17 hours in the past: the most recent 08:00–16:00 full hour at or before
 * now. vietnamAt(10) alone could be nearly a day back (just before 10:00), where an event crosses the edge of a
 * "last 24 hours" window between two reads of it.
 */
export function workingHoursShift(now = Date.now()): number {
  let latest = -Infinity;
  for (let h = 8; h <= 16; h++) latest = Math.max(latest, vietnamAt(h, now).getTime());
  return latest - now;
}
