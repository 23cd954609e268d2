/**
 * The event bus. Parts publish typed security events on subjects (`truc.<part>.<action>`); the monitoring
 * part subscribes. In-process by default; a NATS JetStream implementation of the same interface carries
 * events between machines. Publishing never throws into the caller's business path: a failing subscriber
 * is reported through `onError`, not to the publisher.
 */
import type { SecurityEvent } from './event.js';

export type { SecurityEvent } from './event.js';
export { makeEvent } from './event.js';

export type EventHandler = (subject: string, event: SecurityEvent) => void | Promise<void>;

export interface Bus {
  publish(subject: string, event: SecurityEvent): Promise<void>;
  /** `pattern` uses NATS wildcards: `*` one token, `>` the rest. Returns an unsubscribe function. */
  subscribe(pattern: string, handler: EventHandler): () => void;
  /**
   * Whether an event on `subject` would reach anyone. A publisher with an event that is costly to build per
   * item (one per issued certificate) may skip building it when not. A bus that carries events to other
   * processes always says yes.
   */
  listening(subject: string): boolean;
  close(): Promise<void>;
}

export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

export class InProcessBus implements Bus {
  private readonly subs = new Set<{ pattern: string; handler: EventHandler }>();
  constructor(private readonly onError: (e: unknown) => void = () => {}) {}

  async publish(subject: string, event: SecurityEvent): Promise<void> {
    for (const sub of this.subs) {
      if (!subjectMatches(sub.pattern, subject)) continue;
      try {
        await sub.handler(subject, event);
      } catch (e) {
        this.onError(e);
      }
    }
  }

  listening(subject: string): boolean {
    for (const sub of this.subs) if (subjectMatches(sub.pattern, subject)) return true;
    return false;
  }

  subscribe(pattern: string, handler: EventHandler): () => void {
    const sub = { pattern, handler };
    this.subs.add(sub);
    return () => this.subs.delete(sub);
  }

  async close(): Promise<void> {
    this.subs.clear();
  }
}
