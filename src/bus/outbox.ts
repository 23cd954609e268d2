/**
 * The outbox: security events written to the database, in the transaction of the operation they record,
 * and relayed from there to the bus — in order, with retries, until the bus has acknowledged them. Nothing
 * in the platform's security record depends on the bus being up at the instant of the operation: a NATS
 * outage or a deleted stream delays events, it does not lose them.
 *
 * Every event gets a unique `event.id` when it is written; the NATS bus publishes it as `Nats-Msg-Id`, so a
 * relay that dies between the server's acknowledgement and the row's deletion repeats an event JetStream
 * drops as a duplicate, and the monitor, which keys its intake by the same id, stores it once even outside
 * JetStream's duplicate window. Every event also carries the deployment's identity (`truc.instance`) and
 * the process's (`truc.node`), so that a restored copy's events can be told from the original's.
 *
 * With the in-process bus (the one-process default) the outbox is off (`durable: false`): events go
 * straight to the subscribers of this process, as cheap as a function call, and `transactional()` says
 * callers should publish after their commit as before.
 *
 * Several processes on one PostgreSQL each write their own events; one of them at a time relays (a lease
 * row renewed while relaying), so order is kept across processes as the ids were given.
 */
import { hostname } from 'node:os';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Db, Migration, Sql } from '../store/index.js';
import { storableJson } from '../store/text.js';
import type { Bus, EventHandler } from './index.js';
import type { SecurityEvent } from './event.js';
import type { BusLog } from './nats.js';

export const busMigrations: Migration[] = [
  {
    id: 'bus/001_outbox',
    sql: `
      CREATE TABLE bus_outbox (
        id bigserial PRIMARY KEY,
        subject text NOT NULL,
        event jsonb NOT NULL,
        created timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE bus_relay (
        id int PRIMARY KEY CHECK (id = 1),
        holder text,
        until timestamptz
      );
      INSERT INTO bus_relay (id) VALUES (1);
      CREATE TABLE bus_instance (
        id int PRIMARY KEY CHECK (id = 1),
        instance text NOT NULL,
        created timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];

/** The deployment's identity stored in its database: generated once, the same for every process on it. */
export async function storedInstanceId(db: Sql): Promise<string> {
  await db.query(`INSERT INTO bus_instance (id, instance) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, [`truc-${randomBytes(6).toString('hex')}`]);
  const rows = await db.query<{ instance: string }>(`SELECT instance FROM bus_instance WHERE id = 1`);
  return rows[0]!.instance;
}

export interface OutgoingEvent {
  subject: string;
  event: SecurityEvent;
}

/** A bus whose events can be written inside a caller's transaction (see `transactional`). */
export interface TransactionalBus extends Bus {
  /** Writes events into the outbox inside the caller's transaction; they are relayed once it commits. */
  enqueue(sql: Sql, items: readonly OutgoingEvent[]): Promise<void>;
  /** Tells the relay that a transaction with events committed (it also polls, for other processes). */
  kick(): void;
}

export interface OutboxOptions {
  /** the deployment's identity, in every event (`truc.instance`) */
  instance: string;
  /** this process, in every event (`truc.node`; default host name and pid) */
  node?: string;
  /** write events to the outbox and relay them (true for buses between processes) */
  durable: boolean;
  log?: BusLog;
  /** events per relay round (default 1000) */
  batchSize?: number;
  /** how often the relay looks for events other processes wrote, in ms (default 500) */
  pollMs?: number;
  /** longest wait between retries while the bus refuses events, in ms (default 5000) */
  maxBackoffMs?: number;
  /** how long a relay's lease lasts without renewal, in seconds (default 10): another process takes over after it */
  leaseSeconds?: number;
  /** relay from this process (default true); false: only write (another process relays) */
  relay?: boolean;
  /** publish a round's events without waiting for each acknowledgement in turn (default: when the bus is remote) */
  pipeline?: boolean;
}

export interface OutboxStats {
  durable: boolean;
  instance: string;
  node: string;
  /** events written to the outbox by this process */
  written: number;
  /** events this process relayed to the bus */
  relayed: number;
  /** relay rounds that failed (bus refused or unreachable, database error) */
  failures: number;
  relaying: boolean;
  lastError: string | null;
  lastErrorAt: string | null;
  lastRelayAt: string | null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class OutboxBus implements TransactionalBus {
  readonly stats: OutboxStats;
  private readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private closed = false;
  private wake: (() => void) | null = null;
  private kicked = false;
  private loop: Promise<void> | null = null;
  private buffered: { item: OutgoingEvent; done: (e?: unknown) => void }[] = [];
  private flushing = false;
  private failing = false;

  constructor(
    private readonly db: Db,
    readonly inner: Bus,
    private readonly opts: OutboxOptions,
  ) {
    this.stats = {
      durable: opts.durable,
      instance: opts.instance,
      node: opts.node ?? `${hostname()}:${process.pid}`,
      written: 0,
      relayed: 0,
      failures: 0,
      relaying: false,
      lastError: null,
      lastErrorAt: null,
      lastRelayAt: null,
    };
    if (opts.durable && opts.relay !== false) this.loop = this.relayLoop();
  }

  private get log(): BusLog {
    return this.opts.log ?? { info() {}, warn() {}, error() {} };
  }

  /** Gives the event its id and the deployment's identity (in place; events are built per publication). */
  stamp(event: SecurityEvent): SecurityEvent {
    const e = event as SecurityEvent & { event: { id?: string } };
    if (e.event && typeof e.event.id !== 'string') e.event.id = randomUUID();
    e.truc = { ...(e.truc ?? {}), instance: this.stats.instance, node: this.stats.node };
    return e;
  }

  async enqueue(sql: Sql, items: readonly OutgoingEvent[]): Promise<void> {
    if (!items.length) return;
    if (!this.opts.durable) throw new Error('enqueue on a bus without an outbox: use transactional()');
    const rows = items.map((i) => ({ subject: i.subject, event: this.stamp(i.event) }));
    await sql.query(
      `INSERT INTO bus_outbox (subject, event) SELECT subject, event FROM jsonb_to_recordset($1::jsonb) AS r(subject text, event jsonb)`,
      [storableJson(JSON.stringify(rows))],
    );
    this.stats.written += rows.length;
  }

  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /**
   * Publishes one event. Durable: written to the outbox (events published in the same turn of the event
   * loop share one statement) and relayed; resolves once written, rejects only when the database refused.
   * Otherwise delivered directly.
   */
  publish(subject: string, event: SecurityEvent): Promise<void> {
    if (!this.opts.durable) return this.inner.publish(subject, this.stamp(event));
    if (this.closed) return Promise.reject(new Error('bus closed'));
    return new Promise<void>((resolve, reject) => {
      this.buffered.push({ item: { subject, event }, done: (e) => (e ? reject(e) : resolve()) });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.buffered.length) {
      const batch = this.buffered.splice(0, 1000);
      try {
        await this.enqueue(this.db, batch.map((b) => b.item));
        for (const b of batch) b.done();
        this.kick();
      } catch (e) {
        this.log.error({ err: (e as Error).message, events: batch.length }, 'security events could not be written to the outbox');
        for (const b of batch) b.done(e);
      }
    }
    this.flushing = false;
  }

  subscribe(pattern: string, handler: EventHandler): () => void {
    return this.inner.subscribe(pattern, handler);
  }

  listening(subject: string): boolean {
    return this.opts.durable || this.inner.listening(subject);
  }

  /** Events waiting in the outbox (all processes'). */
  async pending(): Promise<number> {
    if (!this.opts.durable) return 0;
    const r = await this.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM bus_outbox`);
    return Number(r[0]!.n);
  }

  /** Waits until the outbox is empty (tests, orderly shutdown); false when `ms` passed first. */
  async drained(ms = 10_000): Promise<boolean> {
    const end = Date.now() + ms;
    for (;;) {
      if (!this.buffered.length && (await this.pending()) === 0) return true;
      if (!this.loop) return false;
      if (Date.now() > end) return false;
      this.kick();
      await sleep(50);
    }
  }

  /** Takes or renews the relay lease; false when another process holds it. */
  private async lease(): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE bus_relay SET holder = $1, until = now() + make_interval(secs => $2)
       WHERE id = 1 AND (holder IS NULL OR holder = $1 OR until < now()) RETURNING id`,
      [this.holder, this.opts.leaseSeconds ?? 10],
    );
    return r.length > 0;
  }

  /** One round: up to a batch of the oldest events published, then removed. Returns how many. */
  private async relayOnce(): Promise<number> {
    if (!(await this.lease())) return 0;
    const n = this.opts.batchSize ?? 1000;
    const rows = await this.db.query<{ id: string; subject: string; event: SecurityEvent }>(
      // ordered by the column, not the output alias: `ORDER BY id` would sort the text ("10" before "9")
      `SELECT id::text AS id, subject, event FROM bus_outbox ORDER BY bus_outbox.id LIMIT $1`,
      [n],
    );
    if (!rows.length) return 0;
    this.stats.relaying = true;
    let ok = 0;
    let failure: unknown = null;
    if (this.opts.pipeline) {
      // in order on one connection; stop at the first refusal so that no later event overtakes it for long
      const results = await Promise.allSettled(rows.map((r) => this.inner.publish(r.subject, r.event)));
      while (ok < rows.length && results[ok]!.status === 'fulfilled') ok++;
      if (ok < rows.length) failure = (results[ok] as PromiseRejectedResult).reason;
    } else {
      for (const r of rows) {
        try {
          await this.inner.publish(r.subject, r.event);
          ok++;
        } catch (e) {
          failure = e;
          break;
        }
      }
    }
    if (ok) {
      await this.db.query(`DELETE FROM bus_outbox WHERE id = ANY($1::bigint[])`, [`{${rows.slice(0, ok).map((r) => r.id).join(',')}}`]);
      this.stats.relayed += ok;
      this.stats.lastRelayAt = new Date().toISOString();
    }
    if (failure) throw failure;
    return ok;
  }

  private async relayLoop(): Promise<void> {
    let backoff = 100;
    while (!this.closed) {
      try {
        this.kicked = false;
        const n = await this.relayOnce();
        if (this.failing) {
          this.failing = false;
          this.log.info({ relayed: n }, 'bus relay recovered: security events flow again');
        }
        backoff = 100;
        // a full round goes at once to the next, but through the event loop: timers and sockets get their
        // turn between rounds whatever the database and the bus answer with
        if (n > 0) {
          await new Promise<void>((r) => setImmediate(r));
          continue;
        }
        this.stats.relaying = false;
        if (!this.kicked) await this.idle(this.opts.pollMs ?? 500);
        else await new Promise<void>((r) => setImmediate(r));
      } catch (e) {
        this.stats.failures++;
        this.stats.lastError = (e as Error).message;
        this.stats.lastErrorAt = new Date().toISOString();
        if (!this.failing) {
          this.failing = true;
          this.log.warn({ err: this.stats.lastError }, 'bus relay failed: security events stay in the outbox and are retried');
        }
        await this.idle(backoff, false);
        backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? 5000);
      }
    }
  }

  private idle(ms: number, wakeOnKick = true): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        if (wakeOnKick || this.closed) done();
      };
    }).finally(() => {
      this.wake = null;
    });
  }

  /** What the status endpoints show: the outbox and, when it can tell, the bus beneath. */
  async health(): Promise<Record<string, unknown>> {
    const inner = (this.inner as { health?: () => Promise<unknown> }).health;
    return {
      outbox: { ...this.stats, pending: await this.pending().catch(() => null) },
      ...(inner ? { bus: await inner.call(this.inner) } : { bus: { kind: 'in-process', connected: true } }),
    };
  }

  /**
   * Stops relaying (events still in the outbox stay there for the next start or another process) and
   * closes the bus beneath. Gives the relay up to `graceMs` to empty the outbox first.
   */
  async close(graceMs = 2000): Promise<void> {
    if (this.opts.durable && !this.closed) {
      while (this.flushing) await sleep(5);
      await this.drained(graceMs).catch(() => false);
    }
    this.closed = true;
    this.wake?.();
    await this.loop;
    if (this.opts.durable) {
      await this.db.query(`UPDATE bus_relay SET holder = NULL, until = NULL WHERE id = 1 AND holder = $1`, [this.holder]).catch(() => {});
    }
    await this.inner.close();
  }
}

/** The bus as a transactional one, when it writes an outbox; null when callers publish after commit. */
export function transactional(bus: Bus): TransactionalBus | null {
  return bus instanceof OutboxBus && bus.stats.durable ? bus : null;
}
