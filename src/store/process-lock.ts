/**
 * A folder one process at a time may hold: the embedded database's data folder (PGlite is one engine inside
 * one process: a second opening the same folder would corrupt it) and a security server's message log (its
 * opening clears the spool of bodies in flight, cuts a torn tail and catches the index up — the one writer's
 * work). The lock is a file naming its holder: pid, the process's start time as the kernel counts it, the
 * host and the pid namespace. A second process is refused (`conflict`, naming the holder) while the holder
 * lives; a lock left by a process that is gone (killed, crashed, the machine restarted) is taken over.
 *
 * The pid alone could have been given to another process since (after a reboot, or to the restarted
 * container's own pid 1), so its start time is compared too, as PostgreSQL does with its postmaster.pid. And a
 * pid means something only in its own pid namespace on its own host: a lock written by another container (a
 * recreated one has another hostname; containers on the host's network share the hostname but not the pid
 * namespace) or another host sharing the storage is judged by its heartbeat instead — the holder touches the
 * file every ten seconds, and one untouched for a minute is taken over. The holder checks on each beat that the
 * file is still its own (writing it again if it was deleted), and is told if it is not (`onLost`). A lock of an
 * earlier version (the pid alone) is judged by its pid.
 */
import { readFileSync, readlinkSync, rmSync } from 'node:fs';
import { link, mkdir, open, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { TrucError } from '../errors.js';

/** how often a holder touches its lock, and how long untouched a lock from elsewhere counts as held */
export const HEARTBEAT_MS = 10_000;
export const STALE_MS = 60_000;

export interface LockHolder {
  pid: number;
  /** the process's start time in clock ticks since boot (/proc/PID/stat, field 22); null where unknown */
  start: string | null;
  /** null: a lock of an earlier version, written on this host */
  host: string | null;
  /** the pid namespace (/proc/self/ns/pid); null where unknown */
  ns: string | null;
  since: string;
}

/** Whether process `pid` exists (EPERM: it does, under another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
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

function parse(text: string): LockHolder | null {
  const t = text.trim();
  // an earlier version's lock: the pid alone
  if (/^\d{1,10}$/.test(t)) return { pid: Number(t), start: null, host: null, ns: null, since: '' };
  try {
    const h = JSON.parse(t) as Partial<LockHolder>;
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

/** Whether a holder on this host, in this pid namespace, is the living process it names. */
function lives(h: LockHolder): boolean {
  if (!alive(h.pid)) return false;
  if (h.start === null) return true;
  const now = startOf(h.pid);
  return now === null || now === h.start;
}

async function writeDurably(path: string, flags: 'w' | 'wx', text: string): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Makes a new file at `path` holding `text`, durably; EEXIST when the file is there already. Written beside
 * it and linked into place, so that it appears whole: a reader never finds it empty (which reads as a lock
 * left by a crash, to be taken over). On a file system without hard links it is created in place.
 */
async function createExclusive(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.new`;
  await writeDurably(tmp, 'w', text);
  try {
    await link(tmp, path);
    return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw e;
  } finally {
    await rm(tmp, { force: true });
  }
  await writeDurably(path, 'wx', text);
}

/** lock files this process holds (a second holder in the same process is refused too) */
const held = new Set<string>();

export interface LockOptions {
  /** what the lock guards, for the refusal: `nhật ký thông điệp …` / `the message log …` */
  what: { vi: string; en: string };
  /** what to do instead, for the refusal, Vietnamese and English in one text */
  hint?: string;
  heartbeatMs?: number;
  /** the lock was found to be another's at a heartbeat (taken over while this process stalled, or replaced by hand) */
  onLost?: (holder: LockHolder | null) => void;
}

export class ProcessLock {
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    readonly path: string,
    private readonly text: string,
    private readonly onLost: (holder: LockHolder | null) => void,
  ) {}

  /** Takes the lock file at `path`, or throws `conflict` naming the process that holds it. */
  static async acquire(path: string, o: LockOptions): Promise<ProcessLock> {
    const me: LockHolder = { pid: process.pid, start: startOf(process.pid), host: hostname(), ns: pidNamespace(), since: new Date().toISOString() };
    if (held.has(path)) throw refusal(path, o, me, true);
    await mkdir(dirname(path), { recursive: true });
    const text = `${JSON.stringify(me)}\n`;
    try {
      await createExclusive(path, text);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const other = parse(await readFile(path, 'utf8').catch(() => ''));
      if (other) {
        // a pid is judged only in its own namespace on its own host (an earlier version's lock: here); elsewhere
        // the heartbeat tells
        const local = other.host === null || (other.host === me.host && other.ns !== null && other.ns === me.ns);
        if (local && other.pid === me.pid) {
          // this pid here: this very process (another holder in it) — or, started at another time or written
          // by an earlier version without a start time, the process that had the pid before it (taken over)
          if (other.start !== null && other.start === me.start) throw refusal(path, o, other, true);
        } else if (local ? lives(other) : Date.now() - ((await stat(path).catch(() => null))?.mtimeMs ?? 0) < STALE_MS) throw refusal(path, o, other, false);
      }
      // gone (or unreadable: a crash while it was written): taken over by a whole replacement
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, text);
      await rename(tmp, path);
      // two processes taking over at once: the last rename wins, the other sees it is not its own
      if ((await readFile(path, 'utf8')) !== text) {
        const winner = parse(await readFile(path, 'utf8').catch(() => ''));
        throw refusal(path, o, winner ?? other ?? me, false);
      }
    }
    held.add(path);
    const lock = new ProcessLock(path, text, o.onLost ?? (() => {}));
    lock.timer = setInterval(() => void lock.beat(), o.heartbeatMs ?? HEARTBEAT_MS);
    lock.timer.unref();
    return lock;
  }

  /**
   * One heartbeat: the file touched if it is still this process's; written again if it is gone (deleted by
   * hand: nobody else holds it, or the file would be theirs) unless another process creates it first; else
   * `onLost` (once) and no more beats.
   */
  async beat(): Promise<boolean> {
    if (!this.timer) return false;
    let now = await readFile(this.path, 'utf8').catch(() => null);
    if (now === null) {
      try {
        await createExclusive(this.path, this.text);
        return true;
      } catch {
        now = await readFile(this.path, 'utf8').catch(() => null);
      }
    }
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

  /** The same, done before it returns (a holder whose close is not awaited, or that exits right after). */
  releaseSync(): void {
    this.stop();
    if (!held.delete(this.path)) return;
    try {
      if (readFileSync(this.path, 'utf8') === this.text) rmSync(this.path, { force: true });
    } catch {
      // already gone
    }
  }
}

function refusal(path: string, o: LockOptions, h: LockHolder, self: boolean): TrucError {
  const elsewhere = h.host !== null && h.host !== hostname();
  const who = `process ${h.pid}${self ? ' (this one)' : elsewhere ? ` on ${h.host}` : ''}`;
  const whoVi = `tiến trình ${h.pid}${self ? ' (chính tiến trình này)' : elsewhere ? ` trên máy ${h.host}` : ''}`;
  const since = h.since ? ` (từ / since ${h.since})` : '';
  return new TrucError(
    'conflict',
    `${o.what.vi} đang được ${whoVi} dùng / ${o.what.en} is in use by ${who}${since}: ${o.hint ?? 'dừng tiến trình đó trước / stop that process first'}; ` +
      `một khoá từ nơi khác được tiếp quản khi không được làm mới trong ${STALE_MS / 1000} s / a lock from elsewhere is taken over once untouched for ${STALE_MS / 1000} s (${path})`,
    { pid: h.pid, holder: h, lock: path },
  );
}
