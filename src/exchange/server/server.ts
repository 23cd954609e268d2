/**
 * A security server: two listeners — plain HTTP toward the agency's own information systems (X-Road REST,
 * normally bound to an internal address) and TLS 1.3 with client certificates toward other security
 * servers — over one context (identity, configuration, trust, signer, message log). It keeps its own
 * certificates' OCSP responses fresh, feeds the message log's time-stamping with the TSAs the
 * configuration approves, refuses traffic while its configuration is missing or expired, and reports
 * its state for `truc ss diagnose` and the console.
 */
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { TrucError } from '../../errors.js';
import { makeEvent, type Bus } from '../../bus/index.js';
import { createHash, constants as cryptoConstants } from 'node:crypto';
import type { KeyStores } from '../../crypto/keystore.js';
import type { Db } from '../../store/index.js';
import { defaultScheme, type SignatureScheme } from '../../crypto/algorithms.js';
import type { SoftwareKeyStore } from '../../crypto/software-keystore.js';
import { httpTimeStamper } from '../../sign/timestamp/http.js';
import type { ExternalSigner, TimeStamper } from '../../sign/signer.js';
import type { GlobalConf } from '../conf/global.js';
import type { PrivateParameters } from '../conf/model.js';
import { buildRegistrationRequest, submitRegistration, type BuildRegistration, type RegistrationRequest, type RegistrationType, type SubmitResult } from '../conf/registration-request.js';
import type { MessageLogApi } from '../log/types.js';
import { serverText, type ServerId } from '../ids.js';
import { ServerStore } from './store.js';
import { PeerTrust } from './trust.js';
import { OwnStatus, fetchOcspOnce, httpOcspFetcher, type OcspFetcher } from './own-status.js';
import { BatchSigner } from './batch-sign.js';
import { Peers, certChainPem, keyPem, splitAddress } from './peers.js';
import { DEFAULT_LIMITS, ReplayGuard, RootCache, publishRefusal, type ServerContext, type ServerLimits } from './context.js';
import { BodyMemory } from './body.js';
import { handleConsumer } from './consumer.js';
import { handleProvider, serveFramed } from './provider.js';
import { ALPN_FRAMED, ALPN_FRAMED_CONFIRMED } from './channel.js';
import { OpRecorder } from './oprecords.js';
import { answerClientError, answerOnSocket, sendXroadError } from './xroad-error.js';
import { wholeMessageLimit } from './message.js';

/** Where the server's configuration comes from: a configuration client, or a fixed one in tests. */
export interface ConfSource {
  current(): GlobalConf | undefined;
  status?(): unknown;
  privateParameters?(): PrivateParameters | undefined;
}

/** `auth`: another authentication certificate than the server's own — a new one to register (with its key, for the proof of possession), or an old one to delete */
export type RegistrationExtra = Pick<BuildRegistration, 'address' | 'client' | 'maintenance' | 'maintenanceMessage' | 'auth'>;

export interface SecurityServerOptions {
  id: ServerId;
  db: Db;
  keys: KeyStores;
  conf: ConfSource;
  log: MessageLogApi & { startTimestamping?: (o: any) => unknown; stopTimestamping?: () => unknown };
  bus: Bus;
  logger: Logger;
  clock?: () => Date;
  listen: { host?: string; isHost?: string; isPort: number; peerPort: number; isTlsPort?: number };
  limits?: Partial<ServerLimits>;
  ocspFetcher?: OcspFetcher;
  /**
   * between servers: `framed` (default) accepts the framed channel with confirmations (ALPN truc/2), without
   * (truc/1) and HTTP/1.1; `framed1` the framed channel without confirmations and HTTP/1.1, `http` only
   * HTTP/1.1 — as servers of earlier releases (`./channel.ts`)
   */
  peerChannel?: 'framed' | 'framed1' | 'http';
  /**
   * the information systems' side over TLS (X-Road's HTTPS connection types): this server's internal TLS key
   * and certificate (PEM), served on `listen.isTlsPort` beside the plain port, and presented as the client
   * certificate when this server calls an https service URL
   */
  isTls?: { key: string; cert: string };
  /** time-stamping: interval and grace (defaults 60 s and 4 h); TSAs come from the configuration */
  timestamping?: { intervalMs?: number; graceMs?: number; stampers?: () => TimeStamper[] };
}

export interface ServerStatus {
  server: string;
  configuration: { version: number; expiresAt: string; usable: boolean } | null;
  confSource?: unknown;
  ocsp: ReturnType<OwnStatus['status']>;
  log: ReturnType<MessageLogApi['health']>;
  signer: { batches: number; signed: number };
  /** the replay guard: `seeding` from the log's index after a start, `unavailable` (requests refused) when it could not be read */
  replayGuard: { state: 'ready' | 'seeding' | 'unavailable'; error?: string };
  services: ServerContext['health'] extends Map<string, infer H> ? H[] : never;
  listeners: { informationSystems: string; informationSystemsTls?: string; peers: string };
}

export class SecurityServer {
  private isServer?: http.Server;
  private isTlsServer?: https.Server;
  private peerServer?: tls.Server;
  private peerHttp?: http.Server;
  private readonly peerSockets = new Set<tls.TLSSocket>();
  private timer?: NodeJS.Timeout;
  /** the next attempt to seed the replay guard, after one failed */
  private replayRetry?: NodeJS.Timeout;
  private stopped = false;
  private readonly tsaKey = { v: '' };

  private constructor(
    readonly ctx: ServerContext,
    private readonly opts: SecurityServerOptions,
    private readonly tlsKeyPem: string,
    private readonly signAuth: (data: Buffer) => Buffer,
    private readonly authScheme: SignatureScheme,
  ) {}

  /**
   * The owner member's signing key and certificate (profile agency-signing, naming the member) as a
   * document signer: the agency's document desk signs its edXML packages with it. `chain`: the CA
   * certificates above it, carried in the signatures.
   */
  /**
   * Seals a message's evidence container (ASiC-E with CAdES): a detached CAdES B-B signature by the member's
   * signing key over the container's ASiCManifest, the configuration's CA certificates beside it.
   */
  async evidenceSeal(): Promise<(manifest: Buffer) => Promise<Buffer>> {
    let chain: Buffer[] = [];
    try {
      chain = this.ctx.conf().approvedCAs().flatMap((c) => c.intermediates.map((i) => Buffer.from(i, 'base64')));
    } catch {
      // an expired configuration does not stop an export: the signature then carries the certificate alone
    }
    const signer = await this.memberSigner(chain);
    const { signCades } = await import('../../sign/cades/sign.js');
    return (manifest) => signCades(manifest, signer);
  }

  async memberSigner(chain: Uint8Array[] = []): Promise<ExternalSigner> {
    const sign = await this.ctx.store.identity('sign');
    if (!sign) throw new TrucError('invalid_config', `security server ${this.ctx.idText} has no signing certificate`);
    const store = this.opts.keys.get(sign.keyStore);
    const scheme = this.ctx.signer.scheme;
    return { certificate: this.ctx.signCert, chain, scheme, sign: (d) => store.sign(sign.keyId, scheme, d) };
  }

  /**
   * A registration request for the central server, signed with the owner's signing key and, for requests
   * about the authentication certificate, with a proof of possession by the authentication key. OCSP
   * responses are fetched first when none is held.
   */
  async registrationRequest(type: RegistrationType, extra: RegistrationExtra = {}): Promise<RegistrationRequest> {
    const conf = this.opts.conf.current();
    if (!conf) throw new TrucError('conf_expired', 'no global configuration yet: install the anchor and let the server download one first');
    if (!this.ctx.own.response('sign').length || !this.ctx.own.response('auth').length) await this.ctx.own.refresh(conf, true);
    const signStore = this.opts.keys.get((await this.ctx.store.identity('sign'))!.keyStore);
    const sign = await this.ctx.store.identity('sign');
    const withAuth = type === 'auth-cert' || type === 'auth-cert-deletion';
    return buildRegistrationRequest({
      type,
      instance: this.ctx.id.instance,
      server: { memberClass: this.ctx.id.memberClass, memberCode: this.ctx.id.memberCode, serverCode: this.ctx.id.serverCode },
      ...extra,
      signing: { sign: (d) => signStore.sign(sign!.keyId, this.ctx.signer.scheme, d), scheme: this.ctx.signer.scheme, certificate: this.ctx.signCert, ocsp: this.ctx.own.response('sign') },
      ...(extra.auth
        ? { auth: extra.auth }
        : withAuth
          ? { auth: { sign: async (d: Buffer) => this.signAuth(d), scheme: this.authScheme, certificate: this.ctx.authCert, ocsp: this.ctx.own.response('auth') } }
          : { auth: { certificate: this.ctx.authCert } }),
      now: this.ctx.clock(),
    });
  }

  /**
   * An `auth-cert` request for a new authentication certificate (the first step of a rotation): the new key
   * proves possession, and a fresh OCSP response for the certificate is fetched from the approved CA's
   * responder; the server goes on with its current certificate until the new one is imported.
   */
  async newAuthCertRequest(cert: Buffer, key: { sign: (data: Buffer) => Promise<Buffer>; scheme: SignatureScheme }, address: string): Promise<RegistrationRequest> {
    const conf = this.opts.conf.current();
    if (!conf) throw new TrucError('conf_expired', 'no global configuration yet: install the anchor and let the server download one first');
    const ocsp = await fetchOcspOnce(conf, cert, this.opts.logger, this.ctx.clock, { vi: 'chứng thư xác thực mới', en: 'the new authentication certificate' });
    return this.registrationRequest('auth-cert', { address, auth: { ...key, certificate: cert, ocsp } });
  }

  /** Sends a registration request to the central server named in the private parameters (pinned HTTPS). */
  async register(type: RegistrationType, extra: RegistrationExtra = {}): Promise<SubmitResult> {
    return this.submit(await this.registrationRequest(type, extra));
  }

  async submit(req: RegistrationRequest): Promise<SubmitResult> {
    const priv = this.opts.conf.privateParameters?.();
    if (!priv) throw new TrucError('conf_expired', 'the configuration carries no private parameters: the registration service is unknown');
    return submitRegistration(priv.registrationUrl, priv.centralTlsCertHash, req);
  }

  static async open(opts: SecurityServerOptions): Promise<SecurityServer> {
    const store = new ServerStore(opts.db);
    const auth = await store.identity('auth');
    const sign = await store.identity('sign');
    if (!auth || !sign) throw new TrucError('invalid_config', `security server ${serverText(opts.id)} has no authentication or signing certificate yet; run \`truc ss init\` and import the certificates`);
    const authStore = opts.keys.get(auth.keyStore) as Partial<SoftwareKeyStore>;
    if (typeof authStore.tlsPrivateKey !== 'function')
      throw new TrucError('invalid_config', 'the authentication key must be a software key: the TLS stack signs handshakes in process');
    const tlsKey = await authStore.tlsPrivateKey(auth.keyId);
    const signStore = opts.keys.get(sign.keyStore);
    const info = await signStore.info(sign.keyId);
    const scheme: SignatureScheme = defaultScheme(info.algorithm);
    const sync = signStore.syncSigner ? await signStore.syncSigner(sign.keyId, scheme) : null;
    const signFn = sync ?? ((d: Uint8Array) => signStore.sign(sign.keyId, scheme, d));
    const clock = opts.clock ?? (() => new Date());
    const limits = { ...DEFAULT_LIMITS, ...opts.limits };
    // the responses of the last run first (kept in the server's database): a restart while the responder is
    // away does not leave the server without them
    const own = new OwnStatus(opts.ocspFetcher ?? httpOcspFetcher, opts.logger, clock, { load: (n, c) => store.ownOcsp(n, c), save: (n, c, r, t) => store.saveOwnOcsp(n, c, r, t) });
    own.set('auth', auth.cert);
    own.set('sign', sign.cert);
    await own.restore();
    const idText = serverText(opts.id);
    const ctx: ServerContext = {
      id: opts.id,
      idText,
      conf: () => {
        const c = opts.conf.current();
        if (!c)
          throw new TrucError('conf_expired', 'this security server holds no global configuration yet; traffic is refused until one is downloaded and verified', {
            reason_vi: 'máy chủ an ninh này chưa có cấu hình toàn cục; từ chối trao đổi cho tới khi tải và kiểm tra được một cấu hình',
          });
        c.assertUsable(clock());
        return c;
      },
      store,
      log: opts.log,
      trust: new PeerTrust(clock),
      own,
      signer: new BatchSigner(signFn, scheme),
      signCert: sign.cert,
      signCertB64: sign.cert.toString('base64'),
      authCert: auth.cert,
      peers: new Peers({ key: tlsKey, cert: auth.cert, chain: [] }, { timeoutMs: limits.timeoutMs, maxSockets: 256, maxWholeBytes: wholeMessageLimit(limits.inlineBodyBytes), framed: opts.peerChannel !== 'http', confirmations: opts.peerChannel !== 'framed1' }),
      limits,
      clock,
      logger: opts.logger.child({ server: idText }),
      bus: opts.bus,
      replay: new ReplayGuard(limits.clockSkewMs),
      roots: new RootCache(),
      bodyMemory: new BodyMemory(limits.heldBodyBytes),
      carrying: { count: 0 },
      health: new Map(),
      ops: new OpRecorder(opts.db, opts.logger),
      ...(opts.isTls ? { isTls: opts.isTls } : {}),
    };
    const authInfo = await opts.keys.get(auth.keyStore).info(auth.keyId);
    const authScheme = defaultScheme(authInfo.algorithm);
    const authSync = await (opts.keys.get(auth.keyStore).syncSigner?.(auth.keyId, authScheme) ?? null);
    if (!authSync) throw new TrucError('invalid_config', 'the authentication key cannot sign in process');
    return new SecurityServer(ctx, opts, keyPem(tlsKey), authSync, authScheme);
  }

  get store(): ServerStore {
    return this.ctx.store;
  }

  /**
   * What Node's HTTP parser refuses on the information-system side (oversized or malformed headers, headers too
   * slow) is answered in X-Road's form and published as a refusal; a connection the client dropped is only closed.
   */
  private clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
      socket.destroy();
      return;
    }
    // a pipelined request before the bad one is answered first (RFC 9112 §9.3.2): its service may have acted.
    // (A request whose own body is still being read — the client gone mid-body — is cut off at once, as before)
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (inFlight && !inFlight.writableFinished && inFlight.req?.complete && !socket.destroyed) {
      let waited = false;
      const later = () => {
        if (waited) return;
        waited = true;
        setImmediate(() => this.clientError(err, socket));
      };
      inFlight.once('finish', later);
      inFlight.once('close', later);
      return;
    }
    const e = answerClientError(err, socket);
    if (e) publishRefusal(this.ctx, 'consumer', e, { parser: err.code ?? 'unknown', remote: (socket as Socket).remoteAddress ?? '' });
  }

  private connectRefused(req: IncomingMessage, socket: Duplex): void {
    const e = new TrucError('bad_request', `CONNECT ${req.url ?? ''} is not a request of X-Road's message protocol: the security server is not a proxy`.slice(0, 600), {
      reason_vi: 'CONNECT không phải là yêu cầu của giao thức thông điệp X-Road: máy chủ an ninh không phải là proxy',
    });
    if (answerOnSocket(socket, 400, e)) publishRefusal(this.ctx, 'consumer', e, { method: 'CONNECT', remote: (socket as Socket).remoteAddress ?? '' });
  }

  private expectationRefused(req: IncomingMessage, res: ServerResponse): void {
    const expect = String(req.headers.expect).slice(0, 200);
    const e = new TrucError('bad_request', `the request expects "${expect}"; the security server meets only "100-continue"`, {
      reason_vi: `yêu cầu đòi "Expect: ${expect}"; máy chủ an ninh chỉ đáp ứng "100-continue"`,
    });
    publishRefusal(this.ctx, 'consumer', e, { expect, remote: req.socket.remoteAddress ?? '' });
    res.setHeader('connection', 'close');
    sendXroadError(res, e, 'ClientProxy', {}, req.headers.accept);
  }

  async start(): Promise<{ isUrl: string; isTlsUrl?: string; peerAddress: string }> {
    const o = this.opts;
    // the server listens at once; a message that comes before the seeding ends waits for it at its replay check
    this.seedReplayUntilDone();
    // a request's headers within 20 s (slow clients); its body may stream as long as it flows (requestTimeout 0)
    // (a missing Host is answered by handleConsumer, in X-Road's form, not by Node with a bare 400)
    this.isServer = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 20_000, noDelay: true, requireHostHeader: false }, (req, res) => void handleConsumer(this.ctx, req, res));
    this.isServer.on('clientError', (err, socket) => this.clientError(err, socket));
    if (o.isTls)
      // a client certificate is asked for, not required: which clients must present one, and which, is each
      // client's connection type (`ServerStore.setConnection`), checked per request
      this.isTlsServer = https.createServer(
        { key: o.isTls.key, cert: o.isTls.cert, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2', handshakeTimeout: 10_000, keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 20_000, noDelay: true, requireHostHeader: false },
        (req, res) => void handleConsumer(this.ctx, req, res),
      );
    this.isTlsServer?.on('clientError', (err, socket) => this.clientError(err, socket));
    // a CONNECT (Node hands it to this event, not to the request handler): the server is not a proxy
    for (const srv of [this.isServer, this.isTlsServer]) {
      srv?.on('connect', (req: IncomingMessage, socket: Duplex) => this.connectRefused(req, socket));
      // an Expect other than 100-continue: in X-Road's form (Node's own answer is a bare 417)
      srv?.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => this.expectationRefused(req, res));
    }
    // toward other servers: TLS 1.3 with client certificates; the framed channel when the peer offers it
    // (ALPN truc/2, with confirmations; truc/1 without), HTTP/1.1 for servers of an earlier version (`./channel.ts`)
    this.peerHttp = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 30_000, noDelay: true }, (req, res) => void handleProvider(this.ctx, req, res));
    this.peerServer = tls.createServer(
      {
        key: this.tlsKeyPem,
        cert: certChainPem({ key: null as never, cert: this.ctx.authCert, chain: [] }),
        requestCert: true,
        rejectUnauthorized: false, // the peer's certificate is checked against the configuration, per message
        minVersion: 'TLSv1.3',
        // a handshake not finished within 10 s is dropped (Node's default leaves 120 s to anyone who connects)
        handshakeTimeout: 10_000,
        // no resumption: every connection presents the certificate the configuration pins
        secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
        ALPNProtocols: o.peerChannel === 'http' ? ['http/1.1'] : o.peerChannel === 'framed1' ? [ALPN_FRAMED, 'http/1.1'] : [ALPN_FRAMED_CONFIRMED, ALPN_FRAMED, 'http/1.1'],
      },
      (socket) => {
        this.peerSockets.add(socket);
        socket.once('close', () => this.peerSockets.delete(socket));
        if (socket.alpnProtocol === ALPN_FRAMED || socket.alpnProtocol === ALPN_FRAMED_CONFIRMED) void serveFramed(this.ctx, socket);
        else this.peerHttp!.emit('connection', socket);
      },
    );
    this.peerServer.on('tlsClientError', (err) => this.ctx.logger.debug({ err }, 'TLS handshake failed'));
    const listen = (s: http.Server | tls.Server, host: string, port: number) =>
      new Promise<AddressInfo>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, host, () => resolve(s.address() as AddressInfo));
      });
    const host = o.listen.host ?? '127.0.0.1';
    const isAddr = await listen(this.isServer, o.listen.isHost ?? host, o.listen.isPort);
    this.ctx.isHost = isAddr.address;
    const isTlsAddr = this.isTlsServer ? await listen(this.isTlsServer, o.listen.isHost ?? host, o.listen.isTlsPort ?? 0) : undefined;
    const peerAddr = await listen(this.peerServer, host, o.listen.peerPort);
    await this.tick(true);
    this.ctx.ops.start();
    // cheap when nothing is due: OCSP responses are fetched again only past half the freshness limit
    this.timer = setInterval(() => this.tick(false).catch((err) => this.ctx.logger.error({ err }, 'security server upkeep failed')), 5_000);
    this.timer.unref();
    this.ctx.logger.info({ is: isAddr.port, peer: peerAddr.port }, 'security server started');
    const hostOf = (a: AddressInfo) => (a.address.includes(':') ? `[${a.address}]` : a.address);
    return {
      isUrl: `http://${hostOf(isAddr)}:${isAddr.port}`,
      ...(isTlsAddr ? { isTlsUrl: `https://${hostOf(isTlsAddr)}:${isTlsAddr.port}` } : {}),
      peerAddress: `${peerAddr.address}:${peerAddr.port}`,
    };
  }

  /** Keeps OCSP responses fresh and the log's time-stamping pointed at the approved TSAs. */
  async tick(force: boolean): Promise<void> {
    const conf = this.opts.conf.current();
    if (!conf) return;
    await this.ctx.own.refresh(conf, force);
    const tsas = conf.approvedTSAs().map((t) => t.url);
    const key = `${conf.version}:${tsas.join(' ')}`;
    if (key !== this.tsaKey.v && this.opts.log.startTimestamping) {
      this.tsaKey.v = key;
      const stampers = this.opts.timestamping?.stampers?.() ?? tsas.map((u) => httpTimeStamper(u));
      this.opts.log.stopTimestamping?.();
      this.opts.log.startTimestamping({
        stampers,
        ...(this.opts.timestamping?.intervalMs ? { intervalMs: this.opts.timestamping.intervalMs } : {}),
        ...(this.opts.timestamping?.graceMs ? { graceMs: this.opts.timestamping.graceMs } : {}),
        onEvent: (e: { type?: string; action?: string; [k: string]: unknown }) => this.onLogEvent(e),
      });
    }
  }

  private onLogEvent(e: Record<string, unknown>): void {
    const action = String(e.type ?? e.action ?? 'log');
    const failed = /fail|refus|error/i.test(action);
    void this.ctx.bus
      .publish(`truc.exchange.log.${action.replace(/[^a-z0-9_-]/gi, '_')}`, makeEvent('exchange', `messagelog.${action}`, failed ? 'failure' : 'success', { category: ['database'], at: this.ctx.clock(), truc: { server: this.ctx.idText, ...e } }))
      .catch(() => {});
  }

  status(): ServerStatus {
    const c = this.opts.conf.current();
    const now = this.ctx.clock();
    return {
      server: this.ctx.idText,
      configuration: c ? { version: c.version, expiresAt: c.expiresAt.toISOString(), usable: c.usable(now) } : null,
      ...(this.opts.conf.status ? { confSource: this.opts.conf.status() } : {}),
      ocsp: this.ctx.own.status(),
      log: this.ctx.log.health(now),
      signer: { batches: this.ctx.signer.batches, signed: this.ctx.signer.signed },
      replayGuard: this.ctx.replayUnseeded ? { state: 'unavailable', error: this.ctx.replayUnseeded.message } : { state: this.ctx.replaySeeding ? 'seeding' : 'ready' },
      // the provider-side window is X-Road's health data (getSecurityServerHealthData), not part of the status
      services: [...this.ctx.health.values()].map(({ served: _served, ...h }) => h),
      listeners: {
        informationSystems: addr(this.isServer),
        ...(this.isTlsServer ? { informationSystemsTls: addr(this.isTlsServer) } : {}),
        peers: addr(this.peerServer),
      },
    };
  }

  /**
   * A connection test to a peer server: TCP + TLS handshake, whether its certificate is the registered one,
   * and the channel it speaks (`truc/2`; `truc/1` or `http/1.1` for a server of an earlier release).
   */
  async testPeer(serverId: ServerId): Promise<{ reachable: boolean; pinned: boolean; handshakeMs: number; channel?: string; error?: string }> {
    const conf = this.ctx.conf();
    const s = conf.server(serverId);
    if (!s) throw new TrucError('unknown_member', `${serverText(serverId)} is not in the global configuration`);
    const { host, port } = splitAddress(s.address);
    const t0 = Date.now();
    return new Promise((resolve) => {
      const sock = tls.connect({ host, port, key: this.tlsKeyPem, cert: certChainPem({ key: null as never, cert: this.ctx.authCert, chain: [] }), rejectUnauthorized: false, minVersion: 'TLSv1.3', timeout: 10_000, ALPNProtocols: this.opts.peerChannel === 'framed1' ? [ALPN_FRAMED, 'http/1.1'] : [ALPN_FRAMED_CONFIRMED, ALPN_FRAMED, 'http/1.1'] });
      sock.once('secureConnect', () => {
        const der = sock.getPeerCertificate(false)?.raw;
        const hash = der ? createHash('sha256').update(der).digest('hex') : '';
        const channel = sock.alpnProtocol || 'http/1.1';
        sock.destroy();
        resolve({ reachable: true, pinned: s.authCertHashes.map((h) => h.toLowerCase()).includes(hash), handshakeMs: Date.now() - t0, channel });
      });
      sock.once('timeout', () => {
        sock.destroy();
        resolve({ reachable: false, pinned: false, handshakeMs: Date.now() - t0, error: 'timeout' });
      });
      sock.once('error', (e) => resolve({ reachable: false, pinned: false, handshakeMs: Date.now() - t0, error: e.message }));
    });
  }

  /**
   * `truc ss diagnose`: the configuration's age and source, this server's registration in it (address,
   * clients, maintenance mode with its message), the status of this server's own certificates
   * as its OCSP responses prove it, whether each approved TSA answers, and optionally a connection test.
   */
  async diagnose(peer?: ServerId): Promise<Record<string, unknown>> {
    const now = this.ctx.clock();
    const conf = this.opts.conf.current();
    const out: Record<string, unknown> = {
      server: this.ctx.idText,
      configuration: conf
        ? { version: conf.version, generatedAt: conf.generatedAt.toISOString(), ageSeconds: Math.round((now.getTime() - conf.generatedAt.getTime()) / 1000), expiresAt: conf.expiresAt.toISOString(), usable: conf.usable(now) }
        : null,
      ...(this.opts.conf.status ? { source: this.opts.conf.status() } : {}),
    };
    if (!conf) return out;
    // what the configuration says of this server: registered where, in maintenance mode (and what clients are told)
    const self = conf.server(this.ctx.id);
    out.registration = self
      ? { address: self.address, clients: self.clients.length, maintenance: self.maintenance === true, ...(self.maintenance && self.maintenanceMessage ? { maintenanceMessage: self.maintenanceMessage } : {}) }
      : null;
    await this.ctx.own.refresh(conf, true);
    const certs: Record<string, unknown> = {};
    for (const [name, der, role] of [
      ['auth', this.ctx.authCert, 'auth-client'],
      ['sign', this.ctx.signCert, 'sign'],
    ] as const) {
      try {
        const t = await this.ctx.trust.check(conf, der, this.ctx.own.response(name), role);
        certs[name] = { status: 'good', ocspThisUpdate: t.ocspThisUpdate.toISOString(), notAfter: t.notAfter.toISOString() };
      } catch (e) {
        certs[name] = { status: 'problem', code: (e as TrucError).code ?? 'internal', message: (e as Error).message };
      }
    }
    out.certificates = certs;
    out.timestampAuthorities = await Promise.all(
      conf.approvedTSAs().map(async (t) => {
        const t0 = Date.now();
        try {
          await httpTimeStamper(t.url, { timeoutMs: 10_000 }).stamp(createHash('sha256').update('diagnose').digest(), 'sha256');
          return { name: t.name, url: t.url, reachable: true, ms: Date.now() - t0 };
        } catch (e) {
          return { name: t.name, url: t.url, reachable: false, error: (e as Error).message };
        }
      }),
    );
    out.messageLog = this.ctx.log.health(now);
    out.operationalRecords = this.ctx.ops.status();
    if (peer) out.peer = { server: serverText(peer), ...(await this.testPeer(peer)) };
    return out;
  }

  /**
   * The replay guard lives in memory: without this, a message received within the clock-skew window before a
   * restart would be taken again after it. The requests this server logged as a provider over twice the
   * window (a message's time may be ahead of its arrival by the window) are remembered again from the log's
   * index; messages that arrive meanwhile wait for it at their replay check.
   */
  private async seedReplay(since: Date): Promise<void> {
    const log = this.opts.log;
    if (!log.receivedSince) return;
    const t0 = Date.now();
    const n = await log.receivedSince(since, (client, id) => void this.ctx.replay.add(`${client}|${id}`));
    if (n) this.ctx.logger.info({ ids: n, since: since.toISOString(), ms: Date.now() - t0 }, 'replay guard seeded from the message log');
  }

  /**
   * Seeds the replay guard, and when the log's index cannot be read (the database away), fails closed: the
   * provider refuses requests (`database_unavailable`) rather than take one it may have taken before the
   * restart, and tries again (1 s, doubling to 30 s) until it succeeds — or until twice the clock-skew window
   * has passed since the start, after which no message received before the restart passes the time check.
   */
  private seedReplayUntilDone(): void {
    const started = this.ctx.clock().getTime();
    const since = new Date(started - 2 * this.ctx.limits.clockSkewMs);
    const needlessAfter = started + 2 * this.ctx.limits.clockSkewMs;
    const attempt = (delay: number) => {
      const seeding: Promise<void> = this.seedReplay(since).then(
        () => {
          delete this.ctx.replayUnseeded;
        },
        (err: unknown) => {
          if (this.stopped) return;
          if (this.ctx.clock().getTime() >= needlessAfter) {
            delete this.ctx.replayUnseeded;
            this.ctx.logger.warn({ err }, 'the replay guard could not be seeded from the message log; the clock-skew window since the restart has passed, so it no longer needs to be');
            return;
          }
          this.ctx.replayUnseeded = err instanceof Error ? err : new Error(String(err));
          this.ctx.logger.error({ err, retryInMs: delay }, 'the replay guard could not be seeded from the message log: requests are refused until it is');
          this.replayRetry = setTimeout(() => attempt(Math.min(delay * 2, 30_000)), delay);
          this.replayRetry.unref();
        },
      );
      this.ctx.replaySeeding = seeding;
      void seeding.finally(() => {
        if (this.ctx.replaySeeding === seeding) delete this.ctx.replaySeeding;
      });
    };
    attempt(1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.replayRetry) clearTimeout(this.replayRetry);
    this.opts.log.stopTimestamping?.();
    this.ctx.peers.close();
    const close = (s?: http.Server) =>
      new Promise<void>((r) => {
        if (!s) return r();
        s.close(() => r());
        s.closeAllConnections?.();
      });
    const closeTls = (s?: tls.Server) => new Promise<void>((r) => (s ? s.close(() => r()) : r()));
    const closing = Promise.all([close(this.isServer), close(this.isTlsServer), closeTls(this.peerServer)]);
    for (const sock of this.peerSockets) sock.destroy();
    this.peerHttp?.closeAllConnections();
    await closing;
    await this.ctx.ops.stop();
  }
}

function addr(s?: http.Server | tls.Server): string {
  const a = s?.address();
  return a && typeof a === 'object' ? `${a.address}:${a.port}` : '';
}

