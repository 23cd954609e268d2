/**
 * One writer per message log. The log's directory holds a `LOCK` file naming the process that writes it
 * (its pid, its start time as the kernel counts it, the host); a second writer is refused while that process
 * lives — opening a log does things only its one writer may do (it clears the spool of bodies in flight, cuts
 * a torn tail, catches the index up), so a command run beside a serving security server (`truc ss diagnose`,
 * `truc ss register`) must not open it for writing: it reads it (`readOnly`). A lock left by a process that is
 * gone (killed, crashed, the machine restarted) is taken over: the pid alone could have been given to another
 * process since, so its start time is compared too, as PostgreSQL does with its postmaster.pid.
 *
 * A pid means something only in its own pid namespace on its own host: a lock written by another container
 * (another hostname after the container was recreated, or another pid namespace under the same hostname)
 * or another host sharing the storage is judged by its heartbeat instead — the writer touches the file every
 * ten seconds, and one untouched for a minute is taken over. The writer checks on each beat that the file is
 * still its own, and stops writing if it is not (`onLost`).
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { open, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { TrucError } from '../../errors.js';

export const LOCK = 'LOCK';
/** how often the writer touches its lock, and how long untouched a lock from elsewhere counts as held */
export const HEARTBEAT_MS = 10_000;
export const STALE_MS = 60_000;

interface Holder {
  pid: number;
  /** the process's start time in clock ticks since boot (/proc/PID/stat, field 22); null where there is no /proc */
  start: string | null;
  host: string;
  /** the pid namespace (/proc/self/ns/pid); null where there is none to read */
  ns: string | null;
  since: string;
}

function pidNamespace(): string | null {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
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
      ns: typeof h.ns === 'string' ? h.ns : null,
      since: String(h.since ?? ''),
    };
  } catch {
    return null;
  }
}

/** directories whose log this process holds (a second MessageLog in the same process is refused too) */
const held = new Set<string>();

export class LogLock {
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly path: string,
    private readonly text: string,
    private readonly onLost: (holder: Holder | null) => void,
  ) {}

  /**
   * Takes the writer's lock of the log in `dir`, or throws `conflict` naming the process that holds it.
   * A lock whose process is gone is taken over. `onLost`: the lock is found to be another's at a heartbeat
   * (taken over while this process stalled for a minute, or the file replaced by hand).
   */
  static async acquire(
    dir: string,
    o: { heartbeatMs?: number; onLost?: (holder: Holder | null) => void } = {},
  ): Promise<LogLock> {
    const path = join(dir, LOCK);
    const me: Holder = {
      pid: process.pid,
      start: startOf(process.pid),
      host: hostname(),
      ns: pidNamespace(),
      since: new Date().toISOString(),
    };
    if (held.has(path)) throw busy(dir, { ...me, since: '' }, true);
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
        // a pid is judged only in its own namespace on its own host; elsewhere the heartbeat tells
        const local = other.host === me.host && other.ns !== null && other.ns === me.ns;
        if (local && other.pid === me.pid && other.start === me.start) throw busy(dir, other, true);
        if (local ? alive(other) : Date.now() - (await stat(path)).mtimeMs < STALE_MS)
          throw busy(dir, other, false);
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
    const lock = new LogLock(path, text, o.onLost ?? (() => {}));
    lock.timer = setInterval(() => void lock.beat(), o.heartbeatMs ?? HEARTBEAT_MS);
    lock.timer.unref();
    return lock;
  }

  /** One heartbeat: the file touched if it is still this process's, else `onLost` (once) and no more beats. */
  async beat(): Promise<boolean> {
    if (!this.timer) return false;
    const now = await readFile(this.path, 'utf8').catch(() => null);
    if (now === this.text) {
      const t = new Date();
      await utimes(this.path, t, t).catch(() => {});
      return true;
    }
    this.stop();
    held.delete(this.path);
    this.onLost(now === null ? null : parse(now));
    return false;
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Gives the lock up (the file goes if it is still this process's). */
  async release(): Promise<void> {
    this.stop();
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
    `nhật ký thông điệp ${dir} đang được ${whoVi} ghi${h.since ? ` (từ ${h.since})` : ''} / the message log ${dir} is being written by ${who}${h.since ? ` (since ${h.since})` : ''}: one writer at a time — stop it first, or read the log (truc log verify, evidence); a lock from elsewhere is taken over once untouched for ${STALE_MS / 1000} s (${join(dir, LOCK)})`,
    { holder: h },
  );
}
