/**
 * Typed configuration: defaults, then a YAML/JSON file (`--config` or TRUC_CONFIG), then environment
 * variables; validated once at start, and an invalid value stops the start with the path and the reason.
 * The embedded default needs nothing: PGlite in ./data, software keys sealed under a generated
 * key-encryption key, every role on 127.0.0.1:8080.
 */
import { readFileSync, existsSync } from 'node:fs';
import { resolve, join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type { Ajv as AjvClass, ValidateFunction } from 'ajv';
import { TrucError } from './errors.js';
import { KEY_ALGORITHMS, SCHEMES, type AlgorithmPolicy } from './crypto/algorithms.js';
import { monitorConfigSchema, type MonitorSettings } from './monitor/config.js';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface Config {
  dataDir: string;
  /** `production` refuses to start with the key-encryption key beside the data (src/vault/guard.ts) */
  mode?: 'development' | 'production';
  /** thread: serving processes run the embedded database (PGlite) on a thread of its own (src/store/db-thread.ts); default true, false keeps it on the main thread */
  database: { url: string; poolSize: number; thread: boolean };
  publicUrl: string;
  http: {
    host: string;
    port: number;
    bodyLimit: number;
    /** per-source limits before authentication and denial aggregation (src/http/auth/limit.ts; defaults there) */
    rateLimit?: { burst?: number; perSecond?: number; failureCost?: number; maxSources?: number; denialWindowMs?: number };
    tls?: { cert: string; key: string; ca?: string; requestClientCert: boolean };
    /**
     * plain HTTP (no http.tls) on an address other than loopback: refused at start unless the operator says
     * so here or with `truc start --insecure-http` (issue 13, in transit)
     */
    allowPlainHttp?: boolean;
    /**
     * HTTPS on a certificate the platform issues itself from its own CA and renews before it expires
     * (`truc start --tls`; src/http/listener-tls.ts) — instead of `tls`, which names files
     */
    autoTls?: { names?: string[]; ca?: string; requestClientCert?: boolean };
    /**
     * path prefixes of API routes on which only a client certificate authenticates (a bearer token is
     * refused); needs the listener to ask for client certificates (tls/autoTls requestClientCert)
     */
    clientCertRoutes?: string[];
  };
  keys: {
    default: 'software' | 'pkcs11';
    /** signWorkers: threads that sign batches in bulk issuance (0 signs on the main thread) */
    software: { dir: string; passphrase?: string; kekFile?: string; signWorkers: number };
    pkcs11?: { module: string; tokenLabel: string; pin: string };
  };
  crypto: AlgorithmPolicy;
  profilesDir: string;
  /** publishOnRevocation: a full CRL generated right after each revocation, before it is acknowledged */
  crl: { validityHours: number; deltaValidityHours: number; intervalMinutes: number; deltas: boolean; publishOnRevocation?: boolean };
  /**
   * the event bus: in-process, or NATS JetStream at `url` with its stream name and subject prefix (one
   * pair per deployment sharing a NATS); with NATS, events go through the outbox (src/bus/outbox.ts)
   */
  bus: { kind: 'in-process' | 'nats'; url?: string; stream?: string; subjectPrefix?: string; duplicateWindowSeconds?: number };
  /** this deployment's identity, in every event (default: generated once and stored in the database) */
  instance?: string;
  /** OCSP responder: response validity, re-signing margin, who signs, polling for other processes' changes */
  ocsp: { validityMinutes: number; refreshBeforeMinutes: number; signWith: 'delegated' | 'ca'; pollSeconds: number };
  /** time-stamping authority: policy OID, accuracy, the issuing CA of its certificate (default: the only one) */
  tsa: { policy: string; accuracyMs: number; ca?: string };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  /** monitoring: rule folders, retention, intake listeners, notifications, scanners (src/monitor/config.ts) */
  monitor?: MonitorSettings;
  /** the web console: where officials' `truc agent` listens (a loopback address; default http://127.0.0.1:8477) */
  console?: { signingAgent?: string };
  /** the exchange: the demonstration axis of `truc start`, and this process's security server (`truc ss …`) */
  exchange?: ExchangeSettings;
}

export interface ExchangeSettings {
  /** run the demonstration axis (central server and three agencies' security servers) in `truc start` */
  demo?: boolean;
  /** first port of the demonstration servers' information-system listeners (8181) and peer listeners (5501) */
  demoIsPort?: number;
  demoPeerPort?: number;
  /** this process's security server */
  server?: {
    /** SERVER:INSTANCE/CLASS/MEMBER/CODE */
    id: string;
    /** the owner member's name, written into certificate requests */
    memberName?: string;
    /** folder of the message log and configuration cache (default <dataDir>/exchange) */
    dir?: string;
    host?: string;
    /** where information systems connect (default 127.0.0.1) */
    isHost?: string;
    isPort?: number;
    /**
     * information systems over TLS: this server's internal TLS key and certificate (PEM files) and the port
     * it serves them on beside isPort (default 8443); clients' connection types say who must use it
     */
    isTlsPort?: number;
    isTlsCertFile?: string;
    isTlsKeyFile?: string;
    peerPort?: number;
    /** host:port other servers reach this one at (registered with the central server) */
    publicAddress?: string;
    logMode?: 'full' | 'metadata';
    timestampIntervalSeconds?: number;
    timestampGraceSeconds?: number;
    maxBodyBytes?: number;
    /**
     * how long this server waits for a provider's answer once its request is sent (default 900 s): the
     * provider's server ends it first with the service's own time-out; raise it for services allowed longer
     */
    answerTimeoutSeconds?: number;
    /** message bodies in the log encrypted under the vault's keys (default true) */
    encryptLog?: boolean;
  };
}

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    dataDir: { type: 'string' },
    mode: { enum: ['development', 'production'] },
    database: {
      type: 'object',
      additionalProperties: false,
      properties: { url: { type: 'string' }, poolSize: { type: 'integer', minimum: 1, maximum: 200 }, thread: { type: 'boolean' } },
    },
    publicUrl: { type: 'string', pattern: '^https?://' },
    http: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host: { type: 'string' },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        bodyLimit: { type: 'integer', minimum: 1024, maximum: 1073741824 },
        allowPlainHttp: { type: 'boolean' },
        rateLimit: {
          type: 'object',
          additionalProperties: false,
          properties: {
            burst: { type: 'number', minimum: 1 },
            perSecond: { type: 'number', exclusiveMinimum: 0 },
            failureCost: { type: 'number', minimum: 0 },
            maxSources: { type: 'integer', minimum: 1 },
            denialWindowMs: { type: 'integer', minimum: 1000 },
          },
        },
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['cert', 'key'],
          properties: {
            cert: { type: 'string' },
            key: { type: 'string' },
            ca: { type: 'string' },
            requestClientCert: { type: 'boolean' },
          },
        },
        clientCertRoutes: { type: 'array', maxItems: 100, items: { type: 'string', pattern: '^/' } },
        autoTls: {
          type: 'object',
          additionalProperties: false,
          properties: {
            names: { type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 253 } },
            ca: { type: 'string' },
            requestClientCert: { type: 'boolean' },
          },
        },
      },
    },
    keys: {
      type: 'object',
      additionalProperties: false,
      properties: {
        default: { enum: ['software', 'pkcs11'] },
        software: {
          type: 'object',
          additionalProperties: false,
          properties: {
            dir: { type: 'string' },
            passphrase: { type: 'string' },
            kekFile: { type: 'string' },
            signWorkers: { type: 'integer', minimum: 0, maximum: 64 },
          },
        },
        pkcs11: {
          type: 'object',
          additionalProperties: false,
          required: ['module', 'tokenLabel', 'pin'],
          properties: { module: { type: 'string' }, tokenLabel: { type: 'string' }, pin: { type: 'string' } },
        },
      },
    },
    crypto: {
      type: 'object',
      additionalProperties: false,
      properties: {
        keyAlgorithms: { type: 'array', items: { enum: [...KEY_ALGORITHMS] } },
        signatureSchemes: { type: 'array', items: { enum: Object.keys(SCHEMES) } },
      },
    },
    profilesDir: { type: 'string' },
    crl: {
      type: 'object',
      additionalProperties: false,
      properties: {
        validityHours: { type: 'number', exclusiveMinimum: 0 },
        deltaValidityHours: { type: 'number', exclusiveMinimum: 0 },
        intervalMinutes: { type: 'number', exclusiveMinimum: 0 },
        deltas: { type: 'boolean' },
        publishOnRevocation: { type: 'boolean' },
      },
    },
    instance: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' },
    bus: {
      type: 'object',
      additionalProperties: false,
      properties: {
        kind: { enum: ['in-process', 'nats'] },
        url: { type: 'string' },
        stream: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
        subjectPrefix: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
        duplicateWindowSeconds: { type: 'number', minimum: 1 },
      },
    },
    ocsp: {
      type: 'object',
      additionalProperties: false,
      properties: {
        validityMinutes: { type: 'number', minimum: 1 },
        refreshBeforeMinutes: { type: 'number', exclusiveMinimum: 0 },
        signWith: { enum: ['delegated', 'ca'] },
        pollSeconds: { type: 'number', minimum: 0.1 },
      },
    },
    tsa: {
      type: 'object',
      additionalProperties: false,
      properties: {
        policy: { type: 'string', pattern: '^[0-2](\\.(0|[1-9][0-9]*))+$' },
        accuracyMs: { type: 'integer', minimum: 1, maximum: 3600000 },
        ca: { type: 'string' },
      },
    },
    monitor: monitorConfigSchema,
    console: {
      type: 'object',
      additionalProperties: false,
      properties: { signingAgent: { type: 'string', pattern: '^https?://(127\\.0\\.0\\.1|localhost|\\[::1\\])(:[0-9]+)?/?$' } },
    },
    exchange: {
      type: 'object',
      additionalProperties: false,
      properties: {
        demo: { type: 'boolean' },
        demoIsPort: { type: 'integer', minimum: 0, maximum: 65535 },
        demoPeerPort: { type: 'integer', minimum: 0, maximum: 65535 },
        server: {
          type: 'object',
          additionalProperties: false,
          required: ['id'],
          properties: {
            id: { type: 'string', pattern: '^SERVER:' },
            memberName: { type: 'string' },
            dir: { type: 'string' },
            host: { type: 'string' },
            isHost: { type: 'string' },
            isPort: { type: 'integer', minimum: 0, maximum: 65535 },
            isTlsPort: { type: 'integer', minimum: 0, maximum: 65535 },
            isTlsCertFile: { type: 'string' },
            isTlsKeyFile: { type: 'string' },
            peerPort: { type: 'integer', minimum: 0, maximum: 65535 },
            publicAddress: { type: 'string' },
            logMode: { enum: ['full', 'metadata'] },
            timestampIntervalSeconds: { type: 'number', exclusiveMinimum: 0 },
            timestampGraceSeconds: { type: 'number', exclusiveMinimum: 0 },
            maxBodyBytes: { type: 'integer', minimum: 1024 },
            answerTimeoutSeconds: { type: 'number', exclusiveMinimum: 0 },
            encryptLog: { type: 'boolean' },
          },
        },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: { level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] } },
    },
  },
} as const;

/*
 * The validator is compiled per top-level section, for the sections a configuration has, at the first
 * loadConfig that meets them: compiling the whole schema (the monitor's is large) cost a one-shot command
 * 0.2 to 0.7 s, while the embedded default without a file has three small sections (dataDir, keys, log).
 * YAML and Ajv themselves load on first use (a command given its inputs, `truc verify --anchor`, needs no
 * configuration at all). Errors read as a validation of the whole document would: `/http/port must be <= 65535`.
 */
const require = createRequire(import.meta.url);
let ajv: AjvClass | undefined;
const validators = new Map<string, ValidateFunction>();

function configErrors(partial: Record<string, unknown>): string[] {
  const errors: string[] = [];
  const sections = schema.properties as Record<string, object>;
  for (const [key, value] of Object.entries(partial)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(sections, key)) {
      errors.push('/ must NOT have additional properties');
      continue;
    }
    let validate = validators.get(key);
    if (!validate) {
      // validateSchema off: checking our own constant schema against the JSON Schema meta-schema compiled
      // the meta-schema at every start (0.1–0.2 s); the schema is proven by the tests that load configurations
      ajv ??= new (require('ajv') as typeof import('ajv')).Ajv({ allErrors: true, validateSchema: false });
      validate = ajv.compile(sections[key]);
      validators.set(key, validate);
    }
    if (!validate(value)) for (const e of validate.errors ?? []) errors.push(`/${key}${e.instancePath} ${e.message}`);
  }
  return errors;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

function merge<T>(base: T, over: DeepPartial<T> | undefined): T {
  if (!over) return base;
  const out: any = Array.isArray(base) ? [...(base as any)] : { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' ? merge(out[k], v) : v;
  }
  return out;
}

function fromEnv(env: NodeJS.ProcessEnv): DeepPartial<Config> {
  const c: any = {};
  const set = (path: string[], v: unknown) => {
    let o = c;
    for (const p of path.slice(0, -1)) o = o[p] ??= {};
    o[path[path.length - 1]] = v;
  };
  if (env.TRUC_DATA_DIR) set(['dataDir'], env.TRUC_DATA_DIR);
  if (env.TRUC_MODE) set(['mode'], env.TRUC_MODE);
  if (env.TRUC_DATABASE_URL) set(['database', 'url'], env.TRUC_DATABASE_URL);
  if (env.TRUC_PUBLIC_URL) set(['publicUrl'], env.TRUC_PUBLIC_URL);
  if (env.TRUC_HTTP_HOST) set(['http', 'host'], env.TRUC_HTTP_HOST);
  if (env.TRUC_HTTP_PORT) set(['http', 'port'], Number(env.TRUC_HTTP_PORT));
  if (env.TRUC_KEY_PASSPHRASE) set(['keys', 'software', 'passphrase'], env.TRUC_KEY_PASSPHRASE);
  if (env.TRUC_PKCS11_PIN) set(['keys', 'pkcs11', 'pin'], env.TRUC_PKCS11_PIN);
  if (env.TRUC_LOG_LEVEL) set(['log', 'level'], env.TRUC_LOG_LEVEL);
  if (env.TRUC_BUS_URL) set(['bus'], { kind: 'nats', url: env.TRUC_BUS_URL });
  if (env.TRUC_INSTANCE) set(['instance'], env.TRUC_INSTANCE);
  return c;
}

export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; overrides?: DeepPartial<Config> } = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.TRUC_CONFIG;
  let fileCfg: unknown = {};
  if (file) {
    if (!existsSync(file)) throw new TrucError('invalid_config', `configuration file ${file} does not exist`);
    try {
      fileCfg = (require('yaml') as typeof import('yaml')).parse(readFileSync(file, 'utf8')) ?? {};
    } catch (e) {
      throw new TrucError('invalid_config', `configuration file ${file}: ${(e as Error).message}`);
    }
  }
  const partial = merge(merge(fileCfg as DeepPartial<Config>, fromEnv(env)), opts.overrides);
  // the document itself must be an object (a YAML file holding a list or a word is refused here)
  const errors = partial && typeof partial === 'object' && !Array.isArray(partial) ? configErrors(partial as Record<string, unknown>) : ['/ must be object'];
  if (errors.length) throw new TrucError('invalid_config', `invalid configuration: ${errors.join('; ')}`);
  const dataDir = resolve((partial as DeepPartial<Config>).dataDir ?? 'data');
  const port = partial.http?.port ?? 8080;
  const defaults: Config = {
    dataDir,
    database: { url: join(dataDir, 'db'), poolSize: 10, thread: true },
    publicUrl: `${partial.http?.autoTls || partial.http?.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    http: { host: '127.0.0.1', port, bodyLimit: 1024 * 1024 },
    keys: { default: 'software', software: { dir: join(dataDir, 'keys'), signWorkers: 1 } },
    crypto: { keyAlgorithms: [...KEY_ALGORITHMS], signatureSchemes: Object.keys(SCHEMES) as any },
    profilesDir: join(PROJECT_ROOT, 'profiles'),
    crl: { validityHours: 24, deltaValidityHours: 2, intervalMinutes: 60, deltas: true },
    bus: { kind: 'in-process' },
    ocsp: { validityMinutes: 240, refreshBeforeMinutes: 60, signWith: 'delegated', pollSeconds: 2 },
    // placeholder arc under Viet Nam's country OID; deployments set their registered policy
    tsa: { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 },
    log: { level: 'info' },
  };
  const cfg = merge(defaults, partial as DeepPartial<Config>);
  if (cfg.keys.default === 'pkcs11' && !cfg.keys.pkcs11)
    throw new TrucError('invalid_config', 'keys.default is pkcs11 but keys.pkcs11 is not configured');
  if (cfg.ocsp.refreshBeforeMinutes >= cfg.ocsp.validityMinutes)
    throw new TrucError('invalid_config', 'ocsp.refreshBeforeMinutes must be less than ocsp.validityMinutes');
  if (cfg.bus.kind === 'nats' && !cfg.bus.url) throw new TrucError('invalid_config', 'bus.kind nats needs bus.url');
  return cfg;
}
