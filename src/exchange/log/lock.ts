/**
 * One writer per message log. The log's directory holds a `LOCK` file naming the process that writes it
 * (its pid, its start time as the kernel counts it, the host); a second writer is refused while that process
 * lives — opening a log does things only its one writer may do (it clears the spool of bodies in flight, cuts
 * a torn tail, catches the index up), so a command run beside a serving security server (`truc ss diagnose`,
 * `truc ss register`) must not open it for writing: it reads it (`readOnly`). A lock left by a process that is
 * gone (killed, crashed, the machine restarted) is taken over: the pid alone could have been given to another
 * process since, so its start time is compared too, as PostgreSQL does with its postmaster.pid.
 */
import { readFileSync } from 'node:fs';
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { TrucError } from '../../errors.js';

export const LOCK = 'LOCK';

interface Holder {
  pid: number;
  /** the process's start time in clock ticks since boot (/proc/PID/stat, field 22); null where there is no /proc */
  start: string | null;
  host: string;
  since: string;
}

/** A process's start time in clock ticks since boot, or null (no /proc, or no such process). */
function startOf(pid: number): string | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // the command name (field 2) may hold spaces and parentheses: fields are counted after its closing one
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function alive(h: Holder): boolean {
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    // EPERM: a process of another user holds that pid — it lives
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (h.start === null) return true;
  const now = startOf(h.pid);
  return now === null || now === h.start;
}

function parse(text: string): Holder | null {
  try {
    const h = JSON.parse(text) as Partial<Holder>;
    if (typeof h.pid !== 'number' || typeof h.host !== 'string') return null;
    return {
      pid: h.pid,
      start: typeof h.start === 'string' ? h.start : null,
      host: h.host,
      since: String(h.since ?? ''),
    };
  } catch {
    return null;
  }
}

/** directories whose log this process holds (a second MessageLog in the same process is refused too) */
const held = new Set<string>();

export class LogLock {
  private constructor(
    private readonly path: string,
    private readonly text: string,
  ) {}

  /**
   * Takes the writer's lock of the log in `dir`, or throws `conflict` naming the process that holds it.
   * A lock whose process is gone is taken over.
   */
  static async acquire(dir: string): Promise<LogLock> {
    const path = join(dir, LOCK);
    if (held.has(path))
      throw busy(dir, { pid: process.pid, start: startOf(process.pid), host: hostname(), since: '' }, true);
    const me: Holder = {
      pid: process.pid,
      start: startOf(process.pid),
      host: hostname(),
      since: new Date().toISOString(),
    };
    const text = `${JSON.stringify(me)}\n`;
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const other = parse(await readFile(path, 'utf8').catch(() => ''));
      if (other) {
        if (other.host !== me.host) throw busy(dir, other, false);
        if (other.pid === me.pid && other.start === me.start) throw busy(dir, other, true);
        if (alive(other)) throw busy(dir, other, false);
      }
      // gone (or unreadable: a crash while it was written): taken over by a whole replacement
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, text);
      await rename(tmp, path);
      // two processes taking over at once: the last rename wins, the other sees it is not its own
      if ((await readFile(path, 'utf8')) !== text) {
        const winner = parse(await readFile(path, 'utf8').catch(() => ''));
        throw busy(dir, winner ?? other ?? me, false);
      }
    }
    held.add(path);
    return new LogLock(path, text);
  }

  /** Gives the lock up (the file goes if it is still this process's). */
  async release(): Promise<void> {
    if (!held.delete(this.path)) return;
    const now = await readFile(this.path, 'utf8').catch(() => null);
    if (now === this.text) await rm(this.path, { force: true });
  }
}

function busy(dir: string, h: Holder, self: boolean): TrucError {
  const who = self
    ? 'this process'
    : h.host !== hostname()
      ? `process ${h.pid} on ${h.host}`
      : `process ${h.pid}`;
  const whoVi = self
    ? 'chính tiến trình này'
    : h.host !== hostname()
      ? `tiến trình ${h.pid} trên máy ${h.host}`
      : `tiến trình ${h.pid}`;
  return new TrucError(
    'conflict',
    `nhật ký thông điệp ${dir} đang được ${whoVi} ghi${h.since ? ` (từ ${h.since})` : ''} / the message log ${dir} is being written by ${who}${h.since ? ` (since ${h.since})` : ''}: one writer at a time — stop it first, or read the log (truc log verify, evidence); a lock whose process is surely gone (another host) may be removed by hand: ${join(dir, LOCK)}`,
    { holder: h },
  );
}
