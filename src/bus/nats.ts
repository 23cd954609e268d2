/**
 * The event bus over NATS JetStream, for platforms spread over several machines. Events go into one
 * durable stream (file storage, subjects `truc.>`); publishing waits for the server's acknowledgement, so
 * an event the publisher saw accepted is on disk. Subscribers with a durable name resume where they left
 * off after a restart; a handler's failure leaves the message unacknowledged, to be redelivered.
 */
import {
  AckPolicy,
  DeliverPolicy,
  JSONCodec,
  RetentionPolicy,
  StorageType,
  connect,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
} from 'nats';
import { TrucError } from '../errors.js';
import type { Bus, EventHandler } from './index.js';
import type { SecurityEvent } from './event.js';

export interface NatsBusOptions {
  servers: string | string[];
  /** stream name; one per platform (tests use their own) */
  stream?: string;
  /** subjects the stream keeps; default `truc.>` */
  subjects?: string[];
  /** how long events are kept, in seconds (default 7 days) */
  maxAgeSeconds?: number;
  onError?: (e: unknown) => void;
}

export interface SubscribeOptions {
  /** durable consumer name: survives restarts and resumes from the last acknowledged event */
  durable?: string;
}

const codec = JSONCodec<SecurityEvent>();

export class NatsBus implements Bus {
  private readonly consumers = new Set<ConsumerMessages>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly stream: string,
    private readonly onError: (e: unknown) => void,
  ) {}

  static async connect(opts: NatsBusOptions): Promise<NatsBus> {
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: opts.servers, name: 'truc', maxReconnectAttempts: -1 });
    } catch (e) {
      throw new TrucError('invalid_config', `cannot connect to NATS at ${opts.servers}: ${(e as Error).message}`);
    }
    const jsm = await nc.jetstreamManager();
    const stream = opts.stream ?? 'TRUC_EVENTS';
    const config = {
      name: stream,
      subjects: opts.subjects ?? ['truc.>'],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: (opts.maxAgeSeconds ?? 7 * 86400) * 1e9,
    };
    let exists = true;
    try {
      await jsm.streams.info(stream);
    } catch {
      exists = false;
    }
    // a subscriber that names only the stream joins it as it is; whoever names subjects sets them
    if (!exists) await jsm.streams.add(config);
    else if (opts.subjects) await jsm.streams.update(stream, config);
    return new NatsBus(nc, nc.jetstream(), jsm, stream, opts.onError ?? (() => {}));
  }

  async publish(subject: string, event: SecurityEvent): Promise<void> {
    await this.js.publish(subject, codec.encode(event));
  }

  /** The stream keeps what is published for consumers that may attach later: always worth publishing. */
  listening(): boolean {
    return true;
  }

  subscribe(pattern: string, handler: EventHandler, opts: SubscribeOptions = {}): () => void {
    let stopped = false;
    let messages: ConsumerMessages | undefined;
    const run = async () => {
      const name = opts.durable;
      if (name) {
        try {
          await this.jsm.consumers.info(this.stream, name);
        } catch {
          await this.jsm.consumers.add(this.stream, {
            durable_name: name,
            ack_policy: AckPolicy.Explicit,
            deliver_policy: DeliverPolicy.All,
            filter_subject: pattern,
            max_deliver: 10,
          });
        }
      }
      const consumer = name
        ? await this.js.consumers.get(this.stream, name)
        : await this.js.consumers.get(this.stream, { filterSubjects: [pattern], deliver_policy: DeliverPolicy.New });
      if (stopped) return;
      messages = await consumer.consume({ max_messages: 256 });
      this.consumers.add(messages);
      for await (const m of messages) {
        try {
          await handler(m.subject, codec.decode(m.data));
          m.ack();
        } catch (e) {
          this.onError(e);
          m.nak(1000);
        }
      }
    };
    run().catch((e) => {
      if (!stopped) this.onError(e);
    });
    return () => {
      stopped = true;
      if (messages) {
        this.consumers.delete(messages);
        void messages.close();
      }
    };
  }

  /** Deletes the stream (tests; an operator's decision otherwise). */
  async destroy(): Promise<void> {
    await this.jsm.streams.delete(this.stream).catch(() => {});
  }

  async close(): Promise<void> {
    for (const m of this.consumers) await m.close();
    this.consumers.clear();
    await this.nc.drain().catch(() => {});
  }
}
