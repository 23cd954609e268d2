/**
 * The event bus over NATS JetStream, for platforms spread over several machines. Events go into one
 * durable stream (file storage; name and subject prefix configurable, so that two deployments can share a
 * NATS without mixing their events); publishing waits for the server's acknowledgement, so an event the
 * publisher saw accepted is on disk. An event carrying `event.id` is published with that id as its
 * `Nats-Msg-Id`, so that a relay repeating itself after a crash is stored once (within the stream's
 * duplicate window). Subscribers with a durable name resume where they left off after a restart; a
 * handler's failure leaves the message unacknowledged, to be redelivered. When the stream or the consumer
 * disappears (deleted by an operator, NATS restarted without its store) a subscriber re-creates what is
 * missing and reattaches by itself, with back-off, and says so in the log; `health()` tells how it fares.
 *
 * Inside the platform subjects are written `truc.<part>.<action>`; on the wire the first token is the
 * configured prefix (`bus.subjectPrefix`), and subscribers see the platform's form again.
 */
import {
  AckPolicy,
  ConsumerEvents,
  DeliverPolicy,
  JSONCodec,
  RetentionPolicy,
  StorageType,
  connect,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import { TrucError } from '../errors.js';
import type { Bus, EventHandler } from './index.js';
import type { SecurityEvent } from './event.js';

export interface BusLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface NatsBusOptions {
  servers: string | string[];
  /** stream name; one per deployment (default `TRUC_EVENTS`) */
  stream?: string;
  /** first token of subjects on the wire (default `truc`); the stream keeps `<prefix>.>` */
  subjectPrefix?: string;
  /** subjects the stream keeps, on the wire; default `<prefix>.>` */
  subjects?: string[];
  /** how long events are kept, in seconds (default 7 days) */
  maxAgeSeconds?: number;
  /** how long JetStream remembers message ids to drop repeats, in seconds (default 10 minutes) */
  duplicateWindowSeconds?: number;
  /** how long a publish waits for the server's acknowledgement (default 5 s) */
  publishTimeoutMs?: number;
  onError?: (e: unknown) => void;
  log?: BusLog;
}

export interface SubscribeOptions {
  /** durable consumer name: survives restarts and resumes from the last acknowledged event */
  durable?: string;
  /**
   * Events handed to the handler before earlier ones have settled (default 1: one at a time). Handlers are
   * called in the stream's order; each event is acknowledged when its handler resolves. A handler that
   * needs the order kept must take its event before its first `await`.
   */
  inflight?: number;
}

/** How one subscription fares: what `GET /api/v1/monitor/status` shows for the bus consumer. */
export interface ConsumerHealth {
  pattern: string;
  durable: string | null;
  state: 'attaching' | 'consuming' | 'reattaching' | 'stopped';
  /** times attached; more than one means it reattached */
  attaches: number;
  delivered: number;
  /** when the last event was handled */
  lastEventAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
}

export interface BusHealth {
  kind: 'nats';
  connected: boolean;
  stream: string;
  subjectPrefix: string;
  /** whether the stream exists, as last seen */
  streamPresent: boolean;
  publishErrors: number;
  lastPublishError: string | null;
  consumers: (ConsumerHealth & { pending: number | null; ackPending: number | null })[];
}

const codec = JSONCodec<SecurityEvent>();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());

/** Subject names are tokens of letters, digits, `_` and `-`: anything else would change the routing. */
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

export class NatsBus implements Bus {
  private readonly consumers = new Set<ConsumerMessages>();
  private readonly subs = new Set<ConsumerHealth>();
  private readonly stops = new Set<() => void>();
  private connected = true;
  private streamPresent = true;
  private publishErrors = 0;
  private lastPublishError: string | null = null;
  private ensuring: Promise<void> | null = null;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly stream: string,
    readonly subjectPrefix: string,
    private readonly streamConfig: Record<string, unknown> | null,
    private readonly opts: NatsBusOptions,
  ) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') {
          this.connected = false;
          this.log.warn({ server: s.data }, 'NATS disconnected; reconnecting');
        } else if (s.type === 'reconnect') {
          this.connected = true;
          this.log.info({ server: s.data }, 'NATS reconnected');
        }
      }
    })().catch(() => {});
  }

  private get log(): BusLog {
    return this.opts.log ?? { info() {}, warn() {}, error() {} };
  }

  private onError(e: unknown): void {
    this.opts.onError?.(e);
  }

  static async connect(opts: NatsBusOptions): Promise<NatsBus> {
    const prefix = opts.subjectPrefix ?? 'truc';
    if (!TOKEN.test(prefix)) throw new TrucError('invalid_config', `bus.subjectPrefix "${prefix}" must be one subject token (letters, digits, _ or -)`);
    const stream = opts.stream ?? 'TRUC_EVENTS';
    if (!TOKEN.test(stream)) throw new TrucError('invalid_config', `bus.stream "${stream}" must be letters, digits, _ or -`);
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: opts.servers, name: 'truc', maxReconnectAttempts: -1, reconnectTimeWait: 500 });
    } catch (e) {
      throw new TrucError('bus_unavailable', `cannot connect to NATS at ${opts.servers}: ${(e as Error).message}`, {}, { cause: e });
    }
    try {
      const jsm = await nc.jetstreamManager();
      // a process that names only the stream joins it as it is; whoever names subjects (or a prefix) sets them
      const config =
        opts.subjects || opts.subjectPrefix || opts.maxAgeSeconds || opts.duplicateWindowSeconds || !opts.stream
          ? {
              name: stream,
              subjects: opts.subjects ?? [`${prefix}.>`],
              storage: StorageType.File,
              retention: RetentionPolicy.Limits,
              max_age: (opts.maxAgeSeconds ?? 7 * 86400) * 1e9,
              duplicate_window: (opts.duplicateWindowSeconds ?? 600) * 1e9,
            }
          : null;
      const bus = new NatsBus(nc, nc.jetstream(), jsm, stream, prefix, config, opts);
      await bus.ensureStream(opts.subjects !== undefined || opts.subjectPrefix !== undefined);
      return bus;
    } catch (e) {
      await nc.close().catch(() => {});
      if (e instanceof TrucError) throw e;
      throw new TrucError('bus_unavailable', `NATS at ${opts.servers} has no usable JetStream: ${(e as Error).message}`, {}, { cause: e });
    }
  }

  /**
   * Makes sure the stream exists: created with this bus's settings when missing (also when it was deleted
   * under a running platform). One check at a time.
   */
  private ensureStream(update = false): Promise<void> {
    this.ensuring ??= (async () => {
      try {
        let existing: Record<string, unknown> | null = null;
        try {
          existing = (await this.jsm.streams.info(this.stream)).config as unknown as Record<string, unknown>;
        } catch (e) {
          if (!/not found/i.test((e as Error).message)) throw e;
        }
        const exists = existing !== null;
        const config = this.streamConfig ?? {
          name: this.stream,
          subjects: [`${this.subjectPrefix}.>`],
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          max_age: 7 * 86400 * 1e9,
          duplicate_window: 600 * 1e9,
        };
        if (!exists) {
          await this.jsm.streams.add(config);
          this.log.warn({ stream: this.stream }, 'event stream was missing: created');
        } else if (update && this.streamConfig && existing) {
          // only what this process was told changes; the rest stays as whoever made the stream set it
          const o = this.opts;
          const want: Record<string, unknown> = {
            subjects: config.subjects,
            ...(o.maxAgeSeconds ? { max_age: config.max_age } : {}),
            ...(o.duplicateWindowSeconds ? { duplicate_window: config.duplicate_window } : {}),
          };
          const differs = Object.entries(want).some(([k, v]) => JSON.stringify(existing![k]) !== JSON.stringify(v));
          if (differs) await this.jsm.streams.update(this.stream, { ...existing, ...want } as never);
        }
        this.streamPresent = true;
      } finally {
        this.ensuring = null;
      }
    })();
    return this.ensuring;
  }

  /** The platform's `truc.x.y` as sent on the wire. */
  wire(subject: string): string {
    if (this.subjectPrefix === 'truc') return subject;
    if (subject === 'truc' || subject.startsWith('truc.')) return this.subjectPrefix + subject.slice(4);
    if (subject === '>' ) return `${this.subjectPrefix}.>`;
    return subject;
  }

  /** A subject from the wire in the platform's form. */
  local(subject: string): string {
    if (this.subjectPrefix === 'truc') return subject;
    if (subject.startsWith(`${this.subjectPrefix}.`)) return `truc${subject.slice(this.subjectPrefix.length)}`;
    return subject;
  }

  async publish(subject: string, event: SecurityEvent): Promise<void> {
    const id = (event.event as { id?: unknown } | undefined)?.id;
    const msgID = typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : undefined;
    try {
      await this.js.publish(this.wire(subject), codec.encode(event), {
        ...(msgID ? { msgID } : {}),
        timeout: this.opts.publishTimeoutMs ?? 5000,
      });
    } catch (e) {
      this.publishErrors++;
      const why = (e as Error).message;
      this.lastPublishError = why;
      // 503 "no responders": nobody stores this subject — the stream is gone; put it back for the retry
      if ((e as { code?: string }).code === '503' || /no responders|stream not found/i.test(why)) {
        this.streamPresent = false;
        await this.ensureStream().catch(() => {});
      }
      throw new TrucError('bus_unavailable', `event not accepted by NATS: ${why}`, { subject }, { cause: e });
    }
  }

  /** The stream keeps what is published for consumers that may attach later: always worth publishing. */
  listening(): boolean {
    return true;
  }

  subscribe(pattern: string, handler: EventHandler, opts: SubscribeOptions = {}): () => void {
    let stopped = false;
    let messages: ConsumerMessages | undefined;
    const name = opts.durable ?? null;
    const h: ConsumerHealth = {
      pattern,
      durable: name,
      state: 'attaching',
      attaches: 0,
      delivered: 0,
      lastEventAt: null,
      lastError: null,
      lastErrorAt: null,
    };
    this.subs.add(h);
    let wake: (() => void) | null = null;
    const window = Math.max(1, Math.floor(opts.inflight ?? 1));
    const giveBack = (m: JsMsg, delayMs?: number) => {
      try {
        m.nak(delayMs);
      } catch {
        // the connection is gone: the server redelivers after ack_wait anyway
      }
    };
    const attach = async () => {
      await this.ensureStream();
      if (name) {
        try {
          await this.jsm.consumers.info(this.stream, name);
        } catch (e) {
          if (!/not found/i.test((e as Error).message)) throw e;
          await this.jsm.consumers.add(this.stream, {
            durable_name: name,
            ack_policy: AckPolicy.Explicit,
            deliver_policy: DeliverPolicy.All,
            filter_subject: this.wire(pattern),
            max_deliver: -1,
            ack_wait: 30e9,
          });
        }
      }
      const consumer = name
        ? await this.js.consumers.get(this.stream, name)
        : // one subject as a string: an array becomes `filter_subjects`, which servers before 2.10 ignore —
          // the ordered consumer then waits for ever and the subscriber never attaches
          await this.js.consumers.get(this.stream, { filterSubjects: this.wire(pattern), deliver_policy: DeliverPolicy.New });
      return consumer.consume({ max_messages: 256, abort_on_missing_resource: true });
    };
    const run = async () => {
      let delay = 200;
      while (!stopped) {
        try {
          h.state = h.attaches ? 'reattaching' : 'attaching';
          messages = await attach();
          if (stopped) {
            await messages.close();
            break;
          }
          this.consumers.add(messages);
          const current = messages;
          void (async () => {
            for await (const s of await current.status()) {
              if (s.type === ConsumerEvents.ConsumerDeleted || s.type === ConsumerEvents.StreamNotFound || s.type === ConsumerEvents.ConsumerNotFound) {
                h.lastError = `${s.type}: ${String(s.data)}`;
                h.lastErrorAt = new Date().toISOString();
                current.stop();
              }
            }
          })().catch(() => {});
          h.attaches++;
          h.state = 'consuming';
          if (h.attaches > 1) this.log.info({ stream: this.stream, consumer: name, pattern }, 'bus consumer reattached');
          delay = 200;
          const inflight = new Set<Promise<void>>();
          const handle = async (m: JsMsg) => {
            let event: SecurityEvent;
            try {
              event = codec.decode(m.data);
            } catch (e) {
              // not JSON: no redelivery will make it so — dropped for good, not retried every second for ever
              h.lastError = `undecodable event on ${m.subject.slice(0, 200)}: ${(e as Error).message}`;
              h.lastErrorAt = new Date().toISOString();
              this.log.warn({ stream: this.stream, consumer: name, subject: m.subject.slice(0, 200), bytes: m.data.length }, 'sự kiện trên bus không đọc được (không phải JSON): bỏ / bus event not JSON: dropped');
              try {
                m.term();
              } catch {
                // the connection is gone
              }
              return;
            }
            try {
              await handler(this.local(m.subject), event);
              m.ack();
              h.delivered++;
              h.lastEventAt = new Date().toISOString();
            } catch (e) {
              // a subscriber that stops refuses what it still held: handed back at once to the next one
              if (!stopped) this.onError(e);
              giveBack(m, stopped ? undefined : 1000);
            }
          };
          for await (const m of messages) {
            // stopped: what the client had buffered is handed back, not to the handler
            if (stopped) {
              giveBack(m);
              continue;
            }
            const p = handle(m);
            inflight.add(p);
            void p.then(() => inflight.delete(p));
            if (inflight.size >= window) await Promise.race(inflight);
          }
          await Promise.all(inflight);
          this.consumers.delete(current);
          if (stopped) break;
          const ended = await current.closed().catch((e: unknown) => e);
          throw ended instanceof Error ? ended : new Error(h.lastError ?? 'consumer ended');
        } catch (e) {
          if (stopped) break;
          h.state = 'reattaching';
          h.lastError = (e as Error).message;
          h.lastErrorAt = new Date().toISOString();
          this.log.warn({ stream: this.stream, consumer: name, pattern, err: h.lastError, retryMs: delay }, 'bus consumer lost its stream or consumer; reattaching');
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, delay).unref?.();
          });
          wake = null;
          delay = Math.min(delay * 2, 5000);
        }
      }
      h.state = 'stopped';
    };
    run().catch((e) => {
      if (!stopped) this.onError(e);
    });
    const stop = () => {
      stopped = true;
      this.subs.delete(h);
      this.stops.delete(stop);
      (wake as (() => void) | null)?.();
      if (messages) {
        this.consumers.delete(messages);
        void messages.close().catch(() => {});
      }
    };
    this.stops.add(stop);
    return stop;
  }

  /** Connection, stream and consumers as they are now; pending counts asked of the server (bounded wait). */
  async health(): Promise<BusHealth> {
    const consumers = await Promise.all(
      [...this.subs].map(async (h) => {
        let pending: number | null = null;
        let ackPending: number | null = null;
        if (h.durable && this.connected) {
          try {
            const info = await Promise.race([
              this.jsm.consumers.info(this.stream, h.durable),
              sleep(1000).then(() => {
                throw new Error('timeout');
              }),
            ]);
            pending = info.num_pending;
            ackPending = info.num_ack_pending;
          } catch {
            // unknown now: the consumer is being re-created, or the server is away
          }
        }
        return { ...h, pending, ackPending };
      }),
    );
    return {
      kind: 'nats',
      connected: this.connected && !this.nc.isClosed(),
      stream: this.stream,
      subjectPrefix: this.subjectPrefix,
      streamPresent: this.streamPresent,
      publishErrors: this.publishErrors,
      lastPublishError: this.lastPublishError,
      consumers,
    };
  }

  /** Deletes the stream (tests; an operator's decision otherwise). */
  async destroy(): Promise<void> {
    await this.jsm.streams.delete(this.stream).catch(() => {});
  }

  async close(): Promise<void> {
    for (const s of [...this.stops]) s();
    for (const m of this.consumers) await m.close().catch(() => {});
    this.consumers.clear();
    await this.nc.drain().catch(() => {});
  }
}
