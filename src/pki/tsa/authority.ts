/**
 * The time-stamping authority. At start it makes sure it has a time-stamping certificate (profile
 * `time-stamping`, critical timeStamping EKU) from an issuing CA, renewing it when two thirds of its life
 * is gone. `stamp` answers any input with a TimeStampResp: a token for a good request, a rejection with
 * the right failure info otherwise — never an exception.
 *
 * Every token is logged (tsa_token) before it is returned. Requests arriving together share one insert,
 * so the log keeps pace with signing; tokens are not written to the hash-chained audit log one by one
 * (its appends serialize), the TSA's certificate issuance is audited as every issuance is.
 */
import type { Logger } from 'pino';
import { isTrucError } from '../../errors.js';
import { makeEvent } from '../../bus/index.js';
import { newSerial } from '../serial.js';
import { defaultIssuingCa, type Issuer } from '../issue.js';
import { getCa } from '../store.js';
import type { PkiContext } from '../context.js';
import { ensureServiceCert, serviceSigner, type ServiceCertRow } from '../service-cert.js';
import { parseTimeStampRequest, type FailureInfo } from './request.js';
import { encodeTstInfo, prepareSigner, signToken, type PreparedSigner } from './token.js';
import { grantedResponse, rejectionResponse } from './respond.js';
import { insertTokens, type TokenRow } from './store.js';

export interface TsaOptions {
  policy: string;
  accuracyMs: number;
  /** issuing CA of the TSA certificate; default the only issuing CA */
  ca?: string;
}

const SIGNER_SLOT = 'default';

export class TimeStampAuthority {
  private prepared: PreparedSigner | null = null;
  private row: ServiceCertRow | null = null;
  private queue: { row: TokenRow; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;

  constructor(
    private readonly pki: PkiContext,
    private readonly issuer: Issuer,
    private readonly opts: TsaOptions,
    private readonly log?: Logger,
  ) {}

  async start(): Promise<void> {
    const { row, issued } = await ensureServiceCert(this.pki, this.issuer, 'tsa', SIGNER_SLOT, async () => {
      const ca = this.opts.ca ? await getCa(this.pki.db, this.opts.ca) : await defaultIssuingCa(this.pki);
      if (!ca) throw new Error(`no CA "${this.opts.ca}" for the TSA certificate`);
      return { ca, profile: 'time-stamping', commonName: `Time-Stamping Authority ${ca.id}`.slice(0, 64), actor: 'tsa' };
    });
    if (issued) this.log?.info({ serial: row.serial, ca: row.caId }, 'TSA certificate issued');
    const { sign } = await serviceSigner(this.pki, row);
    this.prepared = prepareSigner({ scheme: row.scheme, certificate: row.certificate, sign });
    this.row = row;
  }

  /** The TSA's certificate (DER). */
  certificate(): Buffer {
    if (!this.row) throw new Error('TSA not started');
    return this.row.certificate;
  }

  async stamp(der: Buffer, meta: { ip?: string } = {}): Promise<Buffer> {
    let req;
    try {
      req = parseTimeStampRequest(der, [this.opts.policy]);
    } catch (e) {
      const failInfo = (isTrucError(e) && (e.detail?.failInfo as FailureInfo)) || 'badDataFormat';
      this.event('request.rejected', 'failure', meta.ip, { failInfo }, (e as Error).message);
      return rejectionResponse(failInfo, (e as Error).message);
    }
    try {
      const p = this.prepared;
      const row = this.row;
      if (!p || !row) throw new Error('TSA not started');
      const at = this.pki.clock();
      const serial = newSerial();
      const tst = encodeTstInfo({
        policy: this.opts.policy,
        messageImprint: req.messageImprint,
        serial,
        genTime: at,
        accuracyMs: this.opts.accuracyMs,
        nonce: req.nonce,
      });
      const token = await signToken(p, tst, at, req.certReq);
      await this.log_({
        serial: serial.toString('hex'),
        genTime: at,
        policy: this.opts.policy,
        hashAlgorithm: req.hashAlgorithm,
        messageImprint: req.hashedMessage,
        nonce: req.nonce ? req.nonce.subarray(2).toString('hex') : null,
        requesterIp: meta.ip ?? null,
        signerSerial: row.serial,
      });
      return grantedResponse(token);
    } catch (e) {
      this.log?.error({ err: e }, 'time-stamp failed');
      this.event('request.failed', 'failure', meta.ip, {}, (e as Error).message);
      return rejectionResponse('systemFailure', 'internal error');
    }
  }

  /** Queues a token for the log; one insert per batch of tokens signed while the last one ran. */
  private log_(row: TokenRow): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, 1000);
      try {
        await insertTokens(this.pki.db, batch.map((b) => b.row));
        for (const b of batch) b.resolve();
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
    this.flushing = false;
  }

  private event(action: string, outcome: 'success' | 'failure', ip: string | undefined, truc: Record<string, unknown>, reason?: string) {
    const e = makeEvent('tsa', action, outcome, { category: ['network'], ...(ip ? { source: { ip } } : {}), truc, reason });
    this.pki.bus.publish(`truc.tsa.${action}`, e).catch(() => {});
  }
}
