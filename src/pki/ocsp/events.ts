/**
 * What the responder tells the monitor: malformed requests (with the client's address), internal errors,
 * and queries about revoked or held certificates — a hint that someone still presents one. Events are
 * throttled per key (address, or serial and address) so that a flood of queries cannot flood the bus.
 */
import { makeEvent, type Bus } from '../../bus/index.js';

class Throttle {
  private readonly last = new Map<string, number>();
  constructor(
    private readonly intervalMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  allow(key: string, nowMs: number): boolean {
    const t = this.last.get(key);
    if (t !== undefined && nowMs - t < this.intervalMs) return false;
    if (this.last.size >= this.maxKeys) this.last.clear();
    this.last.set(key, nowMs);
    return true;
  }
}

export class OcspEvents {
  private readonly malformedThrottle = new Throttle(1000);
  private readonly revokedThrottle = new Throttle(60_000);

  constructor(private readonly bus: Bus) {}

  malformed(ip: string | undefined, reason: string): void {
    if (!this.malformedThrottle.allow(ip ?? '', Date.now())) return;
    const event = makeEvent('ocsp', 'request.malformed', 'failure', {
      category: ['network'],
      ...(ip ? { source: { ip } } : {}),
      reason,
    });
    this.bus.publish('truc.ocsp.request.malformed', event).catch(() => {});
  }

  failed(ip: string | undefined, reason: string): void {
    const event = makeEvent('ocsp', 'request.failed', 'failure', {
      category: ['network'],
      ...(ip ? { source: { ip } } : {}),
      reason,
    });
    this.bus.publish('truc.ocsp.request.failed', event).catch(() => {});
  }

  revokedQueried(ip: string | undefined, serial: string, ca: string, status: string, reason: number | null): void {
    if (!this.revokedThrottle.allow(`${serial}|${ip ?? ''}`, Date.now())) return;
    const event = makeEvent('ocsp', 'revoked.queried', 'unknown', {
      category: ['iam'],
      ...(ip ? { source: { ip } } : {}),
      truc: { serial, ca, status, reason },
    });
    this.bus.publish('truc.ocsp.revoked.queried', event).catch(() => {});
  }
}
