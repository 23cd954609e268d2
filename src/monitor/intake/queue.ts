/**
 * The intake queue: every accepted event waits here until it is stored, and nothing accepted is dropped.
 * It is bounded; producers that can wait are told so (HTTP answers 503 with Retry-After, TCP pauses the
 * socket, the bus consumer waits) and UDP, which cannot push back, counts what it had to refuse. Batches are
 * written in order by one writer; a failing write is retried with backoff, never discarded. When the
 * database refuses a batch for its data (SQLSTATE class 22, data exception), the batch is written event by
 * event and an event refused on its own goes to quarantine (kept with the reason), so that one bad event
 * cannot stop the intake; its id is then `rejected:<n>`.
 *
 * Waiting for room never spins: `room()` resolves only once a stored batch made room (or at once when
 * there is room now), and rejects (`intake_closed`) once the queue is closed or for more events than it can
 * ever hold — a producer looping `offer` / `room` after the monitor stopped would otherwise retry in
 * microtasks for ever, starving every timer and socket of its process.
 */
import { EventEmitter } from 'node:events';
import type { SecurityEvent } from '../../bus/index.js';
import type { Intake } from '../events/normalize.js';
import { isDataException } from '../../store/text.js';
import { TrucError } from '../../errors.js';

export interface QueuedEvent {
  event: SecurityEvent;
  at: Date;
  intake: Intake;
}

interface Entry extends QueuedEvent {
  done?: (id: string | Error) => void;
}

export type Sink = (batch: QueuedEvent[]) => Promise<string[]>;
export type Quarantine = (e: QueuedEvent, error: unknown) => Promise<string>;


export interface QueueStats {
  queued: number;
  capacity: number;
  accepted: number;
  stored: number;
  /** refused because the queue was full, by intake (UDP counts here; others were told to retry) */
  refused: Record<string, number>;
  writeErrors: number;
  /** events the database refused on their own, kept in quarantine */
  quarantined: number;
}

export class IntakeQueue extends EventEmitter {
  private items: Entry[] = [];
  private head = 0;
  private running = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private idle: (() => void)[] = [];
  /** the last caller of `put` still waiting for its turn */
  private waiting: Promise<void> = Promise.resolve();
  /** ids of events already written while their batch is still being retried: never written twice */
  private readonly written = new WeakMap<QueuedEvent, string>();
  readonly stats: QueueStats;

  constructor(
    private readonly sink: Sink,
    private readonly opts: { capacity: number; batchSize: number; flushMs: number; onError?: (e: unknown) => void; quarantine?: Quarantine },
  ) {
    super();
    // every producer waiting for room listens here (bus consumers, one per syslog TCP connection)
    this.setMaxListeners(0);
    this.stats = { queued: 0, capacity: opts.capacity, accepted: 0, stored: 0, refused: {}, writeErrors: 0, quarantined: 0 };
  }

  get size(): number {
    return this.items.length - this.head;
  }

  /** Room for `n` more events. */
  hasRoom(n = 1): boolean {
    return !this.closed && this.size + n <= this.opts.capacity;
  }

  refuse(intake: string, n = 1): void {
    this.stats.refused[intake] = (this.stats.refused[intake] ?? 0) + n;
  }

  /**
   * Enqueues all or none: null when there is no room (the caller pushes back), otherwise a promise of the
   * ids once stored.
   */
  offer(events: QueuedEvent[]): Promise<string[]> | null {
    if (!this.hasRoom(events.length)) {
      if (events[0]) this.refuse(events[0].intake, events.length);
      return null;
    }
    const ids: string[] = new Array(events.length);
    let left = events.length;
    const p = new Promise<string[]>((resolve, reject) => {
      if (left === 0) return resolve([]);
      events.forEach((e, i) =>
        this.items.push({
          ...e,
          done: (r) => {
            if (r instanceof Error) return reject(r);
            ids[i] = r;
            if (--left === 0) resolve(ids);
          },
        }),
      );
    });
    this.accepted(events.length);
    return p;
  }

  /** Enqueues without waiting for storage; false when full. */
  push(event: QueuedEvent): boolean {
    if (!this.hasRoom()) {
      this.refuse(event.intake);
      return false;
    }
    this.items.push(event);
    this.accepted(1);
    return true;
  }

  /** Whether `close()` was called: nothing more is taken. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Resolves when there is room for `n` events (at once if there is now, otherwise once a stored batch made
   * it); rejects with `intake_closed` once the queue is closed, and at once for more than its capacity.
   */
  room(n = 1): Promise<void> {
    const refusal = () =>
      this.closed
        ? new TrucError('intake_closed', 'hàng đợi sự kiện đã đóng: bộ giám sát đang dừng / the event intake is closed: the monitor is stopping')
        : n > this.opts.capacity
          ? new TrucError('too_large', `${n} events can never fit an intake queue of ${this.opts.capacity}`, { events: n, capacity: this.opts.capacity })
          : null;
    const now = refusal();
    if (now) return Promise.reject(now);
    if (this.hasRoom(n)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        const no = refusal();
        if (!no && !this.hasRoom(n)) return;
        this.off('drained', check);
        if (no) reject(no);
        else resolve();
      };
      this.on('drained', check);
    });
  }

  /**
   * Waits for room, then enqueues all of `events` in the order callers asked (one waiting caller is never
   * overtaken by a later one); resolves with their ids once stored. Rejects with `intake_closed` when the
   * queue closes first.
   */
  put(events: QueuedEvent[]): Promise<string[]> {
    const turn = this.waiting.then(async () => {
      while (!this.hasRoom(events.length)) await this.room(events.length);
      return { stored: this.offer(events)! };
    });
    this.waiting = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn.then((t) => t.stored);
  }

  private accepted(n: number): void {
    this.stats.accepted += n;
    this.stats.queued = this.size;
    if (this.size >= this.opts.batchSize || this.opts.flushMs === 0) this.kick();
    else if (!this.timer) this.timer = setTimeout(() => this.kick(), this.opts.flushMs);
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    let backoff = 100;
    try {
      while (this.size > 0) {
        const batch = this.items.slice(this.head, this.head + this.opts.batchSize);
        let ids: string[];
        try {
          const todo = batch.filter((b) => !this.written.has(b));
          if (todo.length) (await this.sink(todo)).forEach((id, i) => this.written.set(todo[i]!, id));
          ids = batch.map((b) => this.written.get(b)!);
        } catch (e) {
          this.stats.writeErrors++;
          this.opts.onError?.(e);
          if (this.opts.quarantine && isDataException(e) && (await this.isolate(batch))) continue;
          await new Promise((r) => setTimeout(r, backoff));
          backoff = Math.min(backoff * 2, 5000);
          continue;
        }
        backoff = 100;
        this.head += batch.length;
        if (this.head > 4096 && this.head * 2 > this.items.length) {
          this.items = this.items.slice(this.head);
          this.head = 0;
        }
        this.stats.stored += batch.length;
        this.stats.queued = this.size;
        batch.forEach((b, i) => b.done?.(ids[i]!));
        this.emit('drained');
      }
    } finally {
      this.running = false;
      for (const f of this.idle.splice(0)) f();
    }
  }

  /**
   * Writes the batch's events one by one; one refused for its data goes to quarantine. True when every
   * event is written or quarantined (the batch then completes on the next turn); false on any other error,
   * which the caller retries as usual (what was written stays written).
   */
  private async isolate(batch: QueuedEvent[]): Promise<boolean> {
    for (const b of batch) {
      if (this.written.has(b)) continue;
      try {
        const [id] = await this.sink([b]);
        this.written.set(b, id!);
      } catch (e) {
        if (!isDataException(e)) return false;
        try {
          this.written.set(b, `rejected:${await this.opts.quarantine!(b, e)}`);
          this.stats.quarantined++;
        } catch (e2) {
          this.opts.onError?.(e2);
          return false;
        }
      }
    }
    return true;
  }

  /** Resolves once everything accepted so far is stored. */
  flush(): Promise<void> {
    if (this.size === 0 && !this.running) return Promise.resolve();
    this.kick();
    return new Promise((r) => this.idle.push(r));
  }

  /**
   * Takes nothing more (producers waiting for room are released with `intake_closed`) and resolves once
   * what was taken is stored. Closing first keeps the stop bounded: a producer that kept offering while the
   * last batches were written would otherwise hold it open.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.emit('drained');
    await this.flush();
  }
}
