/**
 * The monitoring part's settings (`monitor:` in the configuration file): which rule folders to load, how
 * long events are kept, the intake's queue and listeners, notification channels and the malware scanners.
 * The schema is embedded in the platform's configuration schema, so a wrong key stops the start.
 */
import { join } from 'node:path';

export interface ListenerConfig {
  host: string;
  port: number;
}

export interface MonitorConfig {
  enabled: boolean;
  /** Load the built-in rule pack (src/monitor/rules). */
  builtinRules: boolean;
  /** Further Sigma rule folders or files, e.g. a SigmaHQ checkout. */
  ruleDirs: string[];
  /** Processing pipeline files (pySigma's YAML shape) applied to every rule, in priority order. */
  pipelines: string[];
  /** Values of `%name%` placeholders for rules using the `expand` modifier (e.g. SigmaHQ's rules-placeholder). */
  placeholders: Record<string, string[]>;
  /** Days of events kept; older day partitions are dropped. */
  retentionDays: number;
  /** IANA zone of the working hours that `truc.local_hour` is computed in. */
  timezone: string;
  queue: { capacity: number; batchSize: number; flushMs: number };
  http: { maxEvents: number };
  syslog: {
    udp?: ListenerConfig;
    tcp?: ListenerConfig;
    tls?: ListenerConfig & { cert: string; key: string; ca?: string };
    maxMessageBytes: number;
    /** TCP and TLS connections held at once, each listener (further ones are refused as they come) */
    maxConnections: number;
  };
  /** the platform bus: whether to take events from it, the durable consumer's name, the subjects taken (`truc.>`) */
  bus: {
    subscribe: boolean;
    durable: string;
    subject: string;
    /** deployments (`truc.instance`) whose events are stored; `*` any; default this platform's own */
    instances?: string[];
    /** an event waiting this long in the outbox raises an alert (default 60 s) */
    stalledSeconds?: number;
  };
  snapshotSeconds: number;
  alerts: { dedupSeconds: number };
  notify: {
    perMinute: number;
    webhooks: {
      url: string;
      minLevel?: string;
      /** headers sent as written: nothing secret here, the configuration file is clear text */
      headers?: Record<string, string>;
      /** header → name of a secret sealed under the vault (`truc monitor notify-secret set <name>`) */
      secretHeaders?: Record<string, string>;
    }[];
    email?: {
      host: string;
      port: number;
      /** implicit TLS (port 465) */
      secure?: boolean;
      /** upgrade with STARTTLS when offered (default true); `require` refuses a server without it */
      starttls?: boolean | 'require';
      user?: string;
      /** clear text in the configuration file: kept for old files, prefer `passwordSecret` */
      password?: string;
      /** name of the SMTP password sealed under the vault (`truc monitor notify-secret set <name>`) */
      passwordSecret?: string;
      from: string;
      to: string[];
      minLevel?: string;
      rejectUnauthorized?: boolean;
    };
  };
  scan: {
    /** YARA rule files or folders in addition to the built-in ones */
    yaraRules: string[];
    yara: boolean;
    maxBytes: number;
    timeoutMs: number;
    /** ClamAV daemon: a UNIX socket path or host:port */
    clamd?: { socket?: string; host?: string; port?: number };
    /** reject: an infected upload is refused (422); report: accepted and reported */
    policy: 'reject' | 'report';
  };
}

const listener = {
  type: 'object',
  additionalProperties: false,
  required: ['port'],
  properties: { host: { type: 'string' }, port: { type: 'integer', minimum: 0, maximum: 65535 } },
} as const;

export const monitorConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean' },
    builtinRules: { type: 'boolean' },
    ruleDirs: { type: 'array', items: { type: 'string' } },
    pipelines: { type: 'array', items: { type: 'string' } },
    placeholders: {
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z0-9_.-]+$' },
      additionalProperties: { type: 'array', minItems: 1, maxItems: 10000, items: { type: 'string' } },
    },
    retentionDays: { type: 'integer', minimum: 1, maximum: 3650 },
    timezone: { type: 'string' },
    queue: {
      type: 'object',
      additionalProperties: false,
      properties: {
        capacity: { type: 'integer', minimum: 1 },
        batchSize: { type: 'integer', minimum: 1, maximum: 10000 },
        flushMs: { type: 'integer', minimum: 0 },
      },
    },
    http: { type: 'object', additionalProperties: false, properties: { maxEvents: { type: 'integer', minimum: 1, maximum: 100000 } } },
    syslog: {
      type: 'object',
      additionalProperties: false,
      properties: {
        udp: listener,
        tcp: listener,
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['port', 'cert', 'key'],
          properties: { ...listener.properties, cert: { type: 'string' }, key: { type: 'string' }, ca: { type: 'string' } },
        },
        maxMessageBytes: { type: 'integer', minimum: 480, maximum: 1048576 },
        maxConnections: { type: 'integer', minimum: 1, maximum: 100000 },
      },
    },
    bus: {
      type: 'object',
      additionalProperties: false,
      properties: {
        subscribe: { type: 'boolean' },
        durable: { type: 'string' },
        subject: { type: 'string', minLength: 1 },
        instances: { type: 'array', maxItems: 100, items: { type: 'string', pattern: '^(\\*|[A-Za-z0-9_.:-]{1,64})$' } },
        stalledSeconds: { type: 'number', minimum: 1, maximum: 86400 },
      },
    },
    snapshotSeconds: { type: 'number', exclusiveMinimum: 0 },
    alerts: { type: 'object', additionalProperties: false, properties: { dedupSeconds: { type: 'number', minimum: 0 } } },
    notify: {
      type: 'object',
      additionalProperties: false,
      properties: {
        perMinute: { type: 'integer', minimum: 1 },
        webhooks: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['url'],
            properties: {
              url: { type: 'string', pattern: '^https?://' },
              minLevel: { enum: ['informational', 'low', 'medium', 'high', 'critical'] },
              headers: { type: 'object', additionalProperties: { type: 'string' } },
              secretHeaders: { type: 'object', additionalProperties: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } },
            },
          },
        },
        email: {
          type: 'object',
          additionalProperties: false,
          required: ['host', 'port', 'from', 'to'],
          properties: {
            host: { type: 'string' },
            port: { type: 'integer', minimum: 1, maximum: 65535 },
            secure: { type: 'boolean' },
            starttls: { enum: [true, false, 'require'] },
            user: { type: 'string' },
            password: { type: 'string' },
            passwordSecret: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
            from: { type: 'string' },
            to: { type: 'array', minItems: 1, items: { type: 'string' } },
            minLevel: { enum: ['informational', 'low', 'medium', 'high', 'critical'] },
            rejectUnauthorized: { type: 'boolean' },
          },
        },
      },
    },
    scan: {
      type: 'object',
      additionalProperties: false,
      properties: {
        yaraRules: { type: 'array', items: { type: 'string' } },
        yara: { type: 'boolean' },
        maxBytes: { type: 'integer', minimum: 1 },
        timeoutMs: { type: 'integer', minimum: 100 },
        clamd: {
          type: 'object',
          additionalProperties: false,
          properties: { socket: { type: 'string' }, host: { type: 'string' }, port: { type: 'integer', minimum: 1, maximum: 65535 } },
        },
        policy: { enum: ['reject', 'report'] },
      },
    },
  },
} as const;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends (infer U)[] ? U[] : T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type MonitorSettings = DeepPartial<MonitorConfig>;

/** The settings with defaults filled in. */
export function monitorConfig(s: MonitorSettings | undefined = {}): MonitorConfig {
  const l = (x: Partial<ListenerConfig> | undefined) => (x ? { host: x.host ?? '127.0.0.1', port: x.port ?? 0 } : undefined);
  const tls = s.syslog?.tls;
  return {
    enabled: s.enabled ?? true,
    builtinRules: s.builtinRules ?? true,
    ruleDirs: s.ruleDirs ?? [],
    pipelines: s.pipelines ?? [],
    placeholders: (s.placeholders ?? {}) as Record<string, string[]>,
    retentionDays: s.retentionDays ?? 30,
    timezone: s.timezone ?? 'Asia/Ho_Chi_Minh',
    queue: { capacity: 20_000, batchSize: 500, flushMs: 20, ...s.queue },
    http: { maxEvents: 1000, ...s.http },
    syslog: {
      ...(s.syslog?.udp ? { udp: l(s.syslog.udp)! } : {}),
      ...(s.syslog?.tcp ? { tcp: l(s.syslog.tcp)! } : {}),
      ...(tls ? { tls: { ...l(tls)!, cert: tls.cert!, key: tls.key!, ...(tls.ca ? { ca: tls.ca } : {}) } } : {}),
      maxMessageBytes: s.syslog?.maxMessageBytes ?? 64 * 1024,
      maxConnections: s.syslog?.maxConnections ?? 1000,
    },
    bus: { subscribe: true, durable: 'monitor', subject: 'truc.>', ...s.bus },
    snapshotSeconds: s.snapshotSeconds ?? 30,
    alerts: { dedupSeconds: 600, ...s.alerts },
    notify: {
      perMinute: s.notify?.perMinute ?? 10,
      webhooks: (s.notify?.webhooks ?? []) as MonitorConfig['notify']['webhooks'],
      ...(s.notify?.email ? { email: s.notify.email as NonNullable<MonitorConfig['notify']['email']> } : {}),
    },
    scan: {
      yaraRules: s.scan?.yaraRules ?? [],
      yara: s.scan?.yara ?? true,
      maxBytes: s.scan?.maxBytes ?? 64 * 1024 * 1024,
      timeoutMs: s.scan?.timeoutMs ?? 30_000,
      ...(s.scan?.clamd ? { clamd: s.scan.clamd } : {}),
      policy: s.scan?.policy ?? 'reject',
    },
  };
}

export const BUILTIN_RULES_DIR = join(import.meta.dirname, 'rules');
export const BUILTIN_YARA_DIR = join(import.meta.dirname, 'scan', 'rules');
