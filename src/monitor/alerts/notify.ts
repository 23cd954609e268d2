/**
 * Telling people about new alerts: webhooks (a JSON POST, retried with exponential backoff) and e-mail
 * (our SMTP client). Each channel has a minimum level and a rate limit per minute; what exceeds it is not
 * sent one by one but summarised in one message when the minute is over, so a storm of alerts gives the
 * on-call analyst one mail instead of hundreds. Delivery never blocks detection: it runs beside it.
 */
import type { Logger } from 'pino';
import { TrucError } from '../../errors.js';
import type { MonitorConfig } from '../config.js';
import { sendMail, type SmtpOptions } from './smtp.js';
import { severityOf, type Alert } from './store.js';
import type { SecretSource } from './secrets.js';

/** Values named in a channel's settings, opened from the vault only while a notification is sent. */
function needSecrets(secrets: SecretSource | undefined, what: string): SecretSource {
  if (!secrets) throw new TrucError('invalid_config', `${what} dùng bí mật trong kho khóa nhưng không có kho (${what} names a sealed secret but no vault is available)`);
  return secrets;
}

export interface Channel {
  name: string;
  minLevel?: string;
  send(subject: string, payload: unknown, text: string): Promise<void>;
}

export function webhookChannel(
  url: string,
  opts: {
    headers?: Record<string, string>;
    /** header name → name of a sealed secret (`truc monitor notify-secret set`), opened at each send */
    secretHeaders?: Record<string, string>;
    secrets?: SecretSource;
    minLevel?: string;
    retries?: number;
    backoffMs?: number;
    timeoutMs?: number;
  } = {},
): Channel {
  const retries = opts.retries ?? 4;
  const backoff = opts.backoffMs ?? 500;
  const name = `webhook ${new URL(url).host}`;
  return {
    name,
    ...(opts.minLevel ? { minLevel: opts.minLevel } : {}),
    async send(_subject, payload) {
      // a secret that cannot be opened fails this notification at once (no retry: the vault said why)
      const headers: Record<string, string> = { ...opts.headers };
      for (const [h, secret] of Object.entries(opts.secretHeaders ?? {})) headers[h] = await needSecrets(opts.secrets, name).reveal(secret);
      let last: unknown;
      for (let attempt = 0; attempt <= retries; attempt++) {
        if (attempt) await new Promise((r) => setTimeout(r, backoff * 2 ** (attempt - 1)));
        try {
          const r = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...headers },
            body: JSON.stringify(payload),
            signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
          });
          if (r.ok) return;
          last = new Error(`webhook answered ${r.status}`);
          if (r.status >= 400 && r.status < 500 && r.status !== 429 && r.status !== 408) break;
        } catch (e) {
          last = e;
        }
      }
      throw last;
    },
  };
}

export function emailChannel(
  o: SmtpOptions & { from: string; to: string[]; minLevel?: string; /** name of the sealed SMTP password */ passwordSecret?: string; secrets?: SecretSource },
): Channel {
  const name = `email ${o.to.join(',')}`;
  return {
    name,
    ...(o.minLevel ? { minLevel: o.minLevel } : {}),
    async send(subject, _payload, text) {
      const password = o.passwordSecret ? await needSecrets(o.secrets, name).reveal(o.passwordSecret) : o.password;
      await sendMail({ ...o, ...(password !== undefined ? { password } : {}) }, { from: o.from, to: o.to, subject, text });
    },
  };
}

export function alertText(a: Alert): string {
  return [
    `${a.title}`,
    `level: ${a.level}   rule: ${a.ruleId}   author: ${a.author ?? '-'}`,
    `ATT&CK: ${a.attack.join(', ') || '-'}`,
    `group: ${JSON.stringify(a.group)}`,
    `first: ${a.firstAt.toISOString()}   last: ${a.lastAt.toISOString()}   count: ${a.count}`,
    `events: ${a.eventIds.slice(0, 20).join(', ')}${a.eventIds.length > 20 ? ' …' : ''}`,
    `alert id: ${a.id}`,
  ].join('\n');
}

function alertPayload(a: Alert) {
  return {
    type: 'alert',
    id: a.id,
    rule: { id: a.ruleId, title: a.title, author: a.author },
    level: a.level,
    severity: a.severity,
    attack: a.attack,
    tags: a.tags,
    group: a.group,
    count: a.count,
    firstAt: a.firstAt.toISOString(),
    lastAt: a.lastAt.toISOString(),
    eventIds: a.eventIds,
  };
}

interface ChannelState {
  channel: Channel;
  windowStart: number;
  sent: number;
  suppressed: Alert[];
  suppressedCount: number;
  chain: Promise<void>;
}

export class Notifier {
  private readonly states: ChannelState[];
  private timer: NodeJS.Timeout | undefined;
  readonly stats = { sent: 0, summarized: 0, failed: 0 };
  /** the last delivery failure (a refused webhook, an unopenable secret …) */
  lastError: Error | undefined;

  constructor(
    channels: Channel[],
    private readonly perMinute: number,
    private readonly log?: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.states = channels.map((channel) => ({ channel, windowStart: 0, sent: 0, suppressed: [], suppressedCount: 0, chain: Promise.resolve() }));
    if (channels.length) {
      this.timer = setInterval(() => this.tick(), 5_000);
      this.timer.unref();
    }
  }

  static fromConfig(cfg: MonitorConfig['notify'], log?: Logger, secrets?: SecretSource): Notifier {
    const channels: Channel[] = cfg.webhooks.map((w) =>
      webhookChannel(w.url, {
        ...(w.headers ? { headers: w.headers } : {}),
        ...(w.secretHeaders ? { secretHeaders: w.secretHeaders } : {}),
        ...(secrets ? { secrets } : {}),
        ...(w.minLevel ? { minLevel: w.minLevel } : {}),
      }),
    );
    if (cfg.email) channels.push(emailChannel({ ...cfg.email, ...(secrets ? { secrets } : {}) }));
    return new Notifier(channels, cfg.perMinute, log);
  }

  private deliver(s: ChannelState, subject: string, payload: unknown, text: string): void {
    s.chain = s.chain
      .then(() => s.channel.send(subject, payload, text))
      .then(
        () => void this.stats.sent++,
        (err) => {
          this.stats.failed++;
          this.lastError = err instanceof Error ? err : new Error(String(err));
          this.log?.error({ err, channel: s.channel.name }, 'alert notification failed');
        },
      );
  }

  /** A new alert: sent now, or counted for the summary when the channel's minute is used up. */
  notify(a: Alert): void {
    const t = this.now();
    for (const s of this.states) {
      if (s.channel.minLevel && a.severity < severityOf(s.channel.minLevel)) continue;
      this.roll(s, t);
      if (s.sent < this.perMinute) {
        s.sent++;
        this.deliver(s, `[Trục ${a.level}] ${a.title}`, alertPayload(a), alertText(a));
      } else {
        s.suppressedCount++;
        if (s.suppressed.length < 50) s.suppressed.push(a);
      }
    }
  }

  private roll(s: ChannelState, t: number): void {
    if (t - s.windowStart < 60_000) return;
    if (s.suppressedCount > 0) {
      const n = s.suppressedCount;
      const byRule = new Map<string, number>();
      for (const a of s.suppressed) byRule.set(a.title, (byRule.get(a.title) ?? 0) + 1);
      const text = [`${n} more alert(s) in the last minute were not sent one by one:`, ...[...byRule].map(([k, v]) => `  ${v} × ${k}`), n > s.suppressed.length ? `  … and ${n - s.suppressed.length} more` : ''].join('\n');
      this.deliver(s, `[Trục] ${n} more alerts (rate limit)`, { type: 'summary', suppressed: n, alerts: s.suppressed.map(alertPayload) }, text);
      this.stats.summarized += n;
      s.suppressed = [];
      s.suppressedCount = 0;
      s.windowStart = t;
      s.sent = 1;
      return;
    }
    s.windowStart = t;
    s.sent = 0;
  }

  /** Sends due summaries (called on a timer). */
  tick(): void {
    const t = this.now();
    for (const s of this.states) if (s.suppressedCount > 0) this.roll(s, t);
  }

  /** Waits for deliveries in progress. */
  async idle(): Promise<void> {
    await Promise.all(this.states.map((s) => s.chain));
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.idle();
  }
}
