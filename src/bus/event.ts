/**
 * The platform's security event: ECS-style dotted fields, nested as objects. Every part emits these on the
 * bus; the monitoring part stores and matches them. `truc.*` carries what is specific to our own parts.
 */
export interface SecurityEvent {
  '@timestamp': string;
  event: {
    /** unique id (a UUID) given when the event is written to the outbox: the key of exactly-once intake */
    id?: string;
    kind?: 'event' | 'alert';
    category: string[];
    type?: string[];
    action: string;
    outcome: 'success' | 'failure' | 'unknown';
    reason?: string;
    module?: string;
    dataset?: string;
    severity?: number;
  };
  message?: string;
  host?: { name?: string; ip?: string[] };
  user?: { name?: string; id?: string; roles?: string[] };
  source?: { ip?: string; port?: number };
  url?: { path?: string; original?: string };
  http?: { request?: { method?: string }; response?: { status_code?: number } };
  process?: Record<string, unknown>;
  file?: Record<string, unknown>;
  truc?: Record<string, unknown> & { part?: string };
  [field: string]: unknown;
}

export function makeEvent(
  part: string,
  action: string,
  outcome: SecurityEvent['event']['outcome'],
  fields: Partial<Omit<SecurityEvent, 'event' | '@timestamp'>> & {
    category?: string[];
    reason?: string;
    at?: Date;
  } = {},
): SecurityEvent {
  const { category, reason, at, truc, ...rest } = fields;
  return {
    '@timestamp': (at ?? new Date()).toISOString(),
    event: {
      kind: 'event',
      category: category ?? ['configuration'],
      action,
      outcome,
      module: 'truc',
      dataset: `truc.${part}`,
      ...(reason ? { reason } : {}),
    },
    ...rest,
    truc: { ...(truc ?? {}), part },
  };
}
