/**
 * Issuance from a PKCS#10 request. A request is checked (proof of possession, key type and size against
 * the profile and the policy, subject and alternative names against the profile) before anything is
 * signed. Valid requests join a per-CA batch: the batch is signed in one pass and stored, with one audit
 * record per certificate, in one transaction, and only then does any caller get its certificate back.
 * Batching is what lets bulk issuance keep pace with the signing key; a lone request is flushed at once.
 */
import { createHash, hash } from 'node:crypto';
import { TrucError, isTrucError } from '../errors.js';
import { assertKeyAllowed, assertSchemeAllowed, SCHEMES } from '../crypto/algorithms.js';
import { AUDIT_COPY_FROM, appendChained, chainAudit, extendAudit, type AuditEntry, type AuditHead, type ChainedAudit } from '../audit/index.js';
import { CertTemplate, ext, keyIdentifier } from './certificate.js';
import { keyAlgorithmOf, parseCsr, type ParsedCsr } from './csr.js';
import { decodeName, encodeName, nameToString, parseNameString, type NameAttribute } from './name.js';
import type { Profile } from './profile.js';
import { checkAltNames, checkNamesAllowed, encodeAltNames, type AltNames } from './san.js';
import { newSerial } from './serial.js';
import { addCerts, certRows, findByRequestIds, getCa, insertCerts, listCas, type CaRow, type NewCert } from './store.js';
import { auditWithEvent, emit, emitInTx, emitted, pkiEvent, urls, type PkiContext } from './context.js';
import { transactional } from '../bus/outbox.js';
import type { CopyRows } from '../store/copy.js';

export interface IssueRequest {
  profile: string;
  csr?: Buffer | string;
  /**
   * Instead of `csr`: the SubjectPublicKeyInfo (DER) of a key whose possession was proven otherwise — a
   * key-agreement key cannot sign a PKCS#10 request (./key-agreement). Never taken from an HTTP body as is.
   */
  publicKey?: Buffer;
  /** issuing CA id; default: the only active issuing CA */
  caId?: string;
  /** vetted subject that replaces the CSR's (RA officers confirm identities; CSR subjects are claims) */
  subject?: string | NameAttribute[];
  altNames?: Partial<AltNames>;
  validityDays?: number;
  /** caller's idempotency key: the same key and request give back the same certificate */
  requestId?: string;
}

export interface Issued {
  serial: string;
  caId: string;
  profile: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  der: Buffer;
  /** true when this was an earlier issuance returned again for the same request id */
  replayed: boolean;
}

/** A request that passed every check and only waits to be signed and stored. */
interface Prepared {
  ca: CaRow;
  profile: Profile;
  subject: string;
  subjectDer: Buffer;
  spki: Buffer;
  /** derived from the request's key once: its key identifier and the SHA-256 of its SPKI */
  ski: Buffer;
  spkiSha256: Buffer;
  keyAlgorithm: string;
  altNames: AltNames;
  notBefore: Date;
  notAfter: Date;
  requestId: string | null;
  requestHash: Buffer | null;
  actor: string;
}

function pickSubject(profile: Profile, attrs: NameAttribute[]): NameAttribute[] {
  const fixed = profile.subject.fixed ?? {};
  const out = attrs.filter((a) => !(a.type in fixed));
  for (const [type, value] of Object.entries(fixed)) out.push({ type, value });
  for (const a of out)
    // control characters (NUL among them) have no place in a name, and PostgreSQL text cannot hold NUL
    if (/[\u0000-\u001f\u007f]/.test(a.value))
      throw new TrucError('subject_not_allowed', `subject attribute ${a.type} contains a control character`, { attribute: a.type });
  for (const a of out)
    if (!profile.subject.allowed.includes(a.type))
      throw new TrucError('subject_not_allowed', `profile ${profile.name} does not allow subject attribute ${a.type}`, {
        attribute: a.type,
      });
  for (const r of profile.subject.required)
    if (!out.some((a) => a.type === r))
      throw new TrucError('subject_not_allowed', `profile ${profile.name} requires subject attribute ${r}`, {
        attribute: r,
      });
  return out;
}

function pickAltNames(profile: Profile, fromCsr: AltNames, given?: Partial<AltNames>): AltNames {
  const a = checkAltNames({
    dns: given?.dns ?? fromCsr.dns,
    email: given?.email ?? fromCsr.email,
    ip: given?.ip ?? fromCsr.ip,
    uri: given?.uri ?? fromCsr.uri,
  });
  for (const kind of ['dns', 'email', 'ip', 'uri'] as const) {
    const rule = profile.subjectAltName[kind];
    if (rule === 'forbidden' && a[kind].length)
      throw new TrucError('subject_not_allowed', `profile ${profile.name} does not allow ${kind} alternative names`);
    if (rule === 'required' && !a[kind].length)
      throw new TrucError('subject_not_allowed', `profile ${profile.name} requires a ${kind} alternative name`);
  }
  if (profile.names) checkNamesAllowed(profile.name, a, profile.names);
  return a;
}

/** A name compared as relying parties' eyes would: attributes in any order, case and runs of spaces ignored. */
function nameKey(attrs: readonly NameAttribute[]): string {
  return attrs
    .map((a) => `${a.type}=${a.value.normalize('NFC').toLowerCase().replace(/\s+/g, ' ').trim()}`)
    .sort()
    .join('\n');
}

/**
 * An end-entity certificate must not carry the name of one of our CAs: a leaf named like the root would
 * pass for it wherever a person, not a path builder, reads the name.
 */
function assertNotCaName(subject: readonly NameAttribute[], cas: readonly CaRow[]): void {
  const key = nameKey(subject);
  for (const ca of cas)
    if (nameKey(decodeName(ca.subjectDer)) === key)
      throw new TrucError(
        'subject_not_allowed',
        `chủ thể trùng tên của CA ${ca.id}: không cấp chứng thư thuê bao mang tên CA (the subject is CA ${ca.id}'s name; an end-entity certificate cannot carry it)`,
        { ca: ca.id },
      );
}

/**
 * The CA that issues when a request names none: the first active issuing CA made (normally the one
 * `truc ca init` made). A CA added later — a ministry's, under name constraints — issues only when
 * named, so adding one never turns requests that worked into refusals.
 */
export async function defaultIssuingCa(ctx: PkiContext): Promise<CaRow> {
  const issuing = (await listCas(ctx.db)).filter((c) => c.parentId !== null && c.status === 'active');
  if (issuing.length === 0)
    throw new TrucError('unknown_ca', 'chưa có CA cấp phát: chạy `truc ca init` trước / no issuing CA: run `truc ca init` first');
  return issuing[0]!;
}

/** A public key without a request around it: no subject or names of its own, no signature to check. */
function bareKey(spki: Buffer): Pick<ParsedCsr, 'der' | 'spki' | 'keyAlgorithm' | 'subject' | 'altNames'> & { signatureScheme?: undefined } {
  return { der: spki, spki, keyAlgorithm: keyAlgorithmOf(spki), subject: [], altNames: { dns: [], email: [], ip: [], uri: [] } };
}

/** How `prepare` finds the issuing CA: by id, or the default one when `caId` is undefined. */
export type CaLookup = (caId: string | undefined) => Promise<CaRow | null>;

export async function prepare(
  ctx: PkiContext,
  req: IssueRequest,
  actor: string,
  lookup: CaLookup = (id) => (id ? getCa(ctx.db, id) : defaultIssuingCa(ctx)),
  allCas: () => Promise<CaRow[]> = () => listCas(ctx.db),
): Promise<Prepared> {
  const profile = ctx.profiles.get(req.profile);
  if (!profile) throw new TrucError('unknown_profile', `no certificate profile "${req.profile}"`, { known: [...ctx.profiles.keys()] });
  const ca = await lookup(req.caId);
  if (!ca) throw new TrucError('unknown_ca', `no CA "${req.caId}"`);
  if (ca.parentId === null) throw new TrucError('bad_request', 'the root CA issues only CA certificates');
  if (ca.status !== 'active') throw new TrucError('bad_request', `CA "${ca.id}" is not active`);
  // a bare public key only from callers that established possession of it otherwise (./key-agreement)
  const csr = req.csr === undefined && req.publicKey ? bareKey(req.publicKey) : parseCsr(req.csr ?? Buffer.alloc(0));
  if (!profile.keyAlgorithms.includes(csr.keyAlgorithm))
    throw new TrucError('key_not_allowed', `profile ${profile.name} does not allow ${csr.keyAlgorithm} keys`, {
      allowed: profile.keyAlgorithms,
    });
  assertKeyAllowed(ctx.policy, csr.keyAlgorithm);
  if (csr.signatureScheme) assertSchemeAllowed(ctx.policy, csr.signatureScheme);
  const given = typeof req.subject === 'string' ? parseNameString(req.subject) : req.subject;
  const subjectAttrs = pickSubject(profile, given ?? csr.subject);
  assertNotCaName(subjectAttrs, await allCas());
  const subjectDer = encodeName(subjectAttrs);
  const altNames = pickAltNames(profile, csr.altNames, req.altNames);
  const days = req.validityDays ?? profile.validityDays;
  if (!Number.isInteger(days) || days < 1 || days > profile.validityDays)
    throw new TrucError('bad_request', `validity must be 1 to ${profile.validityDays} days for ${profile.name}`);
  const now = ctx.clock();
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - profile.backdateSeconds * 1000);
  let notAfter = new Date(notBefore.getTime() + days * 86_400_000);
  if (notAfter > ca.notAfter) notAfter = ca.notAfter; // never outlive the issuer
  if (req.requestId !== undefined && !/^[\x21-\x7e]{1,128}$/.test(req.requestId))
    throw new TrucError('bad_request', 'requestId must be 1 to 128 printable ASCII characters');
  const requestHash = req.requestId
    ? createHash('sha256')
        .update(csr.der)
        .update(`\n${profile.name}\n${ca.id}\n${nameToString(subjectAttrs)}\n${JSON.stringify(altNames)}\n${days}`)
        .digest()
    : null;
  return {
    ca,
    profile,
    subject: nameToString(subjectAttrs),
    subjectDer,
    spki: csr.spki,
    ski: keyIdentifier(csr.spki),
    spkiSha256: hash('sha256', csr.spki, 'buffer'),
    keyAlgorithm: csr.keyAlgorithm,
    altNames,
    notBefore,
    notAfter,
    requestId: req.requestId ?? null,
    requestHash,
    actor,
  };
}

/** Constant extensions of one (CA, profile) pair, built once. */
function templateFor(ctx: PkiContext, ca: CaRow, p: Profile): CertTemplate {
  const head = [ext.basicConstraints(false), ext.keyUsage(p.keyUsage)];
  if (p.extendedKeyUsage.length) head.push(ext.extKeyUsage(p.extendedKeyUsage, p.extendedKeyUsageCritical));
  const tail = [ext.authorityKeyIdentifier(ca.ski)];
  if (p.certificatePolicies.length) tail.push(ext.certificatePolicies(p.certificatePolicies));
  if (p.crlDistributionPoint) tail.push(ext.crlDistributionPoints([urls.crl(ctx, ca.id)]));
  if (p.authorityInfoAccess.ocsp || p.authorityInfoAccess.caIssuers)
    tail.push(
      ext.authorityInfoAccess(
        p.authorityInfoAccess.ocsp ? urls.ocsp(ctx) : null,
        p.authorityInfoAccess.caIssuers ? urls.caCert(ctx, ca.id) : null,
      ),
    );
  if (p.ocspNoCheck) tail.push(ext.ocspNoCheck());
  return new CertTemplate(SCHEMES[ca.scheme].algorithmIdentifier, ca.subjectDer, head, tail);
}

interface Pending {
  item: Prepared;
  resolve: (v: Issued) => void;
  reject: (e: unknown) => void;
}

/** A batch signed and waiting for its transaction. */
interface Signed {
  /** every request of the batch, replays and followers included: a failed store rejects them all */
  batch: Pending[];
  fresh: Pending[];
  rows: NewCert[];
  issued: Issued[];
  /** requests whose id a fresh request of this batch, or of an earlier batch not yet committed, carries */
  followers: { p: Pending; leader: Pending }[];
  /** what the transaction writes, made ready while the batch before it was being stored */
  ready: Ready | null;
}

/** A batch's rows in the binary copy format and its audit records, chained when the issuer knew from where. */
interface Ready {
  certs: CopyRows;
  audit: ChainedAudit;
}

function auditEntry(r: NewCert): AuditEntry {
  return {
    actor: r.requestedBy,
    action: 'ca.issue',
    target: r.serial,
    outcome: 'success',
    detail: { ca: r.caId, profile: r.profile, requestId: r.requestId, subject: r.subject },
  };
}

/** Certificates signed between two turns of the event loop while a batch commits (a few milliseconds). */
const SIGN_SLICE = 64;
/** Certificates handed to the signing workers at a time, while the rest of the batch is being built. */
const SIGN_CHUNK = 128;
/**
 * Batches being signed and finished at once: one whose signatures are being turned into certificates, rows
 * and audit records while the next one's wait at the workers.
 */
const SIGNING_AHEAD = 2;
/** Certificates assembled, encoded and chained between two turns of the event loop. */
const FINISH_SLICE = 128;

interface Signer {
  one: (data: Uint8Array) => Buffer | Promise<Buffer>;
  many: ((data: Uint8Array[]) => Promise<Buffer[]>) | null;
  /** indexes (into the batch) built and not yet handed to `many` */
  chunk: number[];
}

const yieldToIo = () => new Promise<void>((r) => setImmediate(r));

/**
 * Turns taken in the order they were asked for: `take()` returns a promise for the turn of the one who asked
 * before, and the function that ends one's own turn (call it whatever happens, or the next one waits for ever).
 */
class Turns {
  private last: Promise<void> = Promise.resolve();

  take(): { before: Promise<void>; done: () => void } {
    const before = this.last;
    let done!: () => void;
    this.last = new Promise<void>((r) => (done = r));
    return { before, done };
  }
}

/** The database refused a row because its request id is already stored (unique index on request_id). */
function isRequestIdConflict(e: unknown): boolean {
  const x = e as { code?: unknown; constraint?: unknown } | null;
  return x?.code === '23505' && x.constraint === 'pki_certificate_request_id';
}

/**
 * The per-CA batcher. Requests queue while a batch is being signed and stored; the next batch takes all of
 * them (up to `maxBatch`). One request alone goes out on the next turn of the event loop.
 *
 * Signing and storing overlap: while batch N's transaction runs, batch N+1 is being finished (certificates
 * assembled, rows encoded, audit records chained) and batch N+2's to-be-signed parts already wait at the
 * signing workers, so the workers never sit idle between batches. Transactions run one at a time in batch
 * order: audit records are appended in that order, and every promise still resolves only after its
 * certificate and audit record are committed. Signing on this thread yields to the event loop every few
 * dozen certificates so that the transaction's round trips are not held behind it.
 */
export class Issuer {
  private queue: Pending[] = [];
  private running = false;
  private readonly templates = new Map<string, CertTemplate>();
  /** request ids of fresh requests between admission and commit: not yet visible to a lookup */
  private readonly pendingIds = new Map<string, Pending>();
  /** batches are admitted (replay and duplicate checks) in the order they were started … */
  private readonly admission = new Turns();
  /** … and chained in that order */
  private readonly chaining = new Turns();
  /** CA lookups in flight: concurrent requests share one query instead of one each */
  private readonly caLookups = new Map<string, Promise<CaRow | null>>();
  /**
   * Where the audit chain will end once the batches handed to `store` are committed, when known: the next
   * batch's records are chained from it before its transaction starts. A wrong guess (another writer
   * appended meanwhile) costs a re-chain inside the transaction, never a fork.
   */
  private auditTip: AuditHead | null = null;

  constructor(
    private readonly ctx: PkiContext,
    /**
     * Requests per batch at most. Each transaction costs a few milliseconds of round trips and its commit's
     * WAL flush whatever its size; 2,000 measured faster than 1,000 on the benchmark (docs/PERFORMANCE.md).
     */
    private readonly maxBatch = 2000,
  ) {}

  async issue(req: IssueRequest, actor: string): Promise<Issued> {
    let item: Prepared;
    try {
      item = await prepare(this.ctx, req, actor, this.lookupCa, this.lookupAllCas);
    } catch (e) {
      if (isTrucError(e)) await this.refused(req, actor, e);
      throw e;
    }
    return this.enqueue(item);
  }

  /**
   * Joins a lookup already in flight for the same CA, or starts one. Only concurrent requests share a
   * result, and the query they share started after the first of them arrived: nothing is cached, so a
   * CA's change of status is seen by the next request as before.
   */
  private readonly lookupCa: CaLookup = (caId) => {
    const key = caId ?? '';
    let p = this.caLookups.get(key);
    if (!p) {
      p = (caId ? getCa(this.ctx.db, caId) : defaultIssuingCa(this.ctx)).finally(() => this.caLookups.delete(key));
      this.caLookups.set(key, p);
    }
    return p;
  };

  /** every CA's name, for the same-name check: shared by concurrent requests like `lookupCa`, never cached */
  private allCasInFlight: Promise<CaRow[]> | null = null;
  private readonly lookupAllCas = (): Promise<CaRow[]> =>
    (this.allCasInFlight ??= listCas(this.ctx.db).finally(() => (this.allCasInFlight = null)));

  private async signerFor(ca: CaRow): Promise<Signer> {
    const store = this.ctx.keys.get(ca.keyStore);
    const many = store.batchSigner ? await store.batchSigner(ca.keyId, ca.scheme) : null;
    const sync = store.syncSigner ? await store.syncSigner(ca.keyId, ca.scheme) : null;
    return { one: sync ?? ((data: Uint8Array) => store.sign(ca.keyId, ca.scheme, data)), many, chunk: [] };
  }

  /** Issues a request already prepared (bulk paths that parse and check requests elsewhere). */
  enqueue(item: Prepared): Promise<Issued> {
    return new Promise<Issued>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  /** A request refused after it was checked (its id was used for another request): audited like any refusal. */
  private async duplicate(p: Pending): Promise<void> {
    const e = new TrucError('duplicate_request', `request id "${p.item.requestId}" was used for a different request`);
    // recorded before the caller hears of it (a CLI exits on the answer)
    await this.refused({ profile: p.item.profile.name, requestId: p.item.requestId ?? undefined }, p.item.actor, e);
    p.reject(e);
  }

  private async refused(req: Pick<IssueRequest, 'profile' | 'requestId'>, actor: string, e: TrucError): Promise<void> {
    await auditWithEvent(
      this.ctx,
      [{ actor, action: 'ca.issue', target: req.requestId ?? null, outcome: 'failure', detail: { profile: req.profile, code: e.code, reason: e.message } }],
      pkiEvent(this.ctx, 'certificate.refused', 'failure', actor, { profile: req.profile, code: e.code }, e.message),
    );
  }

  /**
   * A batch that could not be signed (the key store failed: token removed, session lost, worker died): one
   * audit record per request and one event, raised as an alert by the monitor.
   */
  private async failed(batch: Pending[], e: unknown): Promise<void> {
    const code = e instanceof TrucError ? e.code : 'internal';
    const reason = String((e as Error)?.message ?? e).slice(0, 300);
    const entries = batch.map((p) => ({
      actor: p.item.actor,
      action: 'ca.issue',
      target: p.item.requestId ?? null,
      outcome: 'failure' as const,
      detail: { profile: p.item.profile.name, ca: p.item.ca.id, code, reason },
    }));
    const cas = [...new Set(batch.map((p) => p.item.ca.id))];
    // the records and the event together (the database may be what failed: then the event still tells the monitor)
    await auditWithEvent(this.ctx, entries, pkiEvent(this.ctx, 'certificate.failed', 'failure', batch[0]?.item.actor ?? 'system', { cas, requests: batch.length, code }, reason));
  }

  private async drain(): Promise<void> {
    /** batches started and not yet signed and finished, at most SIGNING_AHEAD */
    const signing = new Set<Promise<void>>();
    /** the store of the batch started last; each batch's store waits for the one before it */
    let stored: Promise<void> = Promise.resolve();
    for (;;) {
      if (!this.queue.length) {
        // requests that arrive meanwhile make the queue non-empty again
        if (signing.size) await Promise.race(signing);
        else {
          await stored;
          if (!this.queue.length) break;
        }
        continue;
      }
      if (signing.size >= SIGNING_AHEAD) {
        await Promise.race(signing);
        continue;
      }
      const batch = this.queue.splice(0, this.maxBatch);
      const signed = this.sign(batch);
      const settled: Promise<void> = signed.then(
        () => void signing.delete(settled),
        () => void signing.delete(settled),
      );
      signing.add(settled);
      const before = stored;
      stored = signed.then(
        async (s) => {
          await before;
          await this.store(s);
        },
        async (e) => {
          this.release(batch);
          // recorded (and an event emitted) before any caller hears of it, like every other outcome
          await this.failed(batch, e);
          for (const p of batch) p.reject(e);
          await before;
        },
      );
    }
    this.running = false;
  }

  /** Forgets the request ids a batch holds (it was committed, or it failed). */
  private release(batch: Pending[]): void {
    for (const p of batch) {
      const id = p.item.requestId;
      if (id && this.pendingIds.get(id) === p) this.pendingIds.delete(id);
    }
  }

  /**
   * Sorts a batch into replays (answered from the store), duplicates (refused), followers (a request whose id
   * an earlier request not yet committed carries: answered after it) and fresh requests. Batches are admitted
   * one at a time, in the order they were started, so a leader is always in the same batch as its follower
   * or in an earlier one, which commits first.
   */
  private async admit(batch: Pending[]): Promise<{ fresh: Pending[]; followers: { p: Pending; leader: Pending }[] }> {
    const ids = batch.map((p) => p.item.requestId).filter((x): x is string => !!x);
    const known = findByRequestIds(this.ctx.db, ids);
    known.catch(() => {}); // awaited below, after the batch before this one is admitted
    const turn = this.admission.take();
    try {
      await turn.before;
      const found = await known;
      const fresh: Pending[] = [];
      const followers: { p: Pending; leader: Pending }[] = [];
      for (const p of batch) {
        const id = p.item.requestId;
        // the first request with this id may be in this batch, or in one admitted before and not yet committed
        const leader = id ? this.pendingIds.get(id) : undefined;
        if (leader) {
          followers.push({ p, leader });
          continue;
        }
        // a replay: the same request gives back its certificate, another request under its id a conflict
        if (id && found.has(id)) {
          const k = found.get(id)!;
          if (k.requestHash && p.item.requestHash && k.requestHash.equals(p.item.requestHash))
            p.resolve(this.replayed(p.item, k.serial, k.der));
          else await this.duplicate(p);
          continue;
        }
        if (id) this.pendingIds.set(id, p);
        fresh.push(p);
      }
      return { fresh, followers };
    } finally {
      turn.done();
    }
  }

  private async sign(batch: Pending[]): Promise<Signed> {
    // batches are chained in the order they were started (with several workers they may be signed out of it)
    const turn = this.chaining.take();
    try {
      return await this.signInOrder(batch, turn.before);
    } finally {
      turn.done();
    }
  }

  private async signInOrder(batch: Pending[], previous: Promise<void>): Promise<Signed> {
    const { fresh, followers } = await this.admit(batch);

    // all items of a batch may come from different CAs; one signer per CA. With signing workers, the
    // to-be-signed parts go to them in chunks as they are built, so the workers sign one chunk while this
    // thread builds the next.
    const signers = new Map<string, Signer>();
    const built: { t: CertTemplate; tbs: Buffer; serial: Buffer; item: Prepared }[] = [];
    const signatures: Buffer[] = new Array(fresh.length);
    const inFlight: Promise<void>[] = [];
    const flush = (s: Signer) => {
      const idx = s.chunk;
      s.chunk = [];
      const many = s.many!;
      inFlight.push(
        many(idx.map((i) => built[i].tbs)).then((sigs) => {
          for (let k = 0; k < idx.length; k++) signatures[idx[k]] = sigs[k];
        }),
      );
    };
    let failure: unknown = null;
    try {
      for (let i = 0; i < fresh.length; i++) {
        const item = fresh[i].item;
        const ca = item.ca;
        let signer = signers.get(ca.id);
        if (!signer) signers.set(ca.id, (signer = await this.signerFor(ca)));
        const tkey = `${ca.id}/${item.profile.name}`;
        let t = this.templates.get(tkey);
        if (!t) this.templates.set(tkey, (t = templateFor(this.ctx, ca, item.profile)));
        const a = item.altNames;
        const serial = newSerial();
        const tbs = t.tbs({
          serial,
          notBefore: item.notBefore,
          notAfter: item.notAfter,
          subject: item.subjectDer,
          spki: item.spki,
          ski: item.ski,
          subjectAltName:
            a.dns.length + a.email.length + a.ip.length + a.uri.length
              ? // RFC 5280: critical when the subject is empty
                ext.subjectAltName(encodeAltNames(a), item.subject === '')
              : null,
        });
        built.push({ t, tbs, serial, item });
        if (signer.many) {
          signer.chunk.push(i);
          if (signer.chunk.length >= SIGN_CHUNK) flush(signer);
        }
      }
      for (const s of signers.values()) if (s.many && s.chunk.length) flush(s);
    } catch (e) {
      failure = e;
    }
    // every chunk handed to a worker is waited for, even when building a later one failed
    const settled = await Promise.allSettled(inFlight);
    if (failure) throw failure;
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
    for (const [caId, signer] of signers) {
      if (signer.many) continue;
      let k = 0;
      for (let i = 0; i < built.length; i++) {
        if (built[i].item.ca.id !== caId) continue;
        if (k > 0 && k % SIGN_SLICE === 0) await yieldToIo();
        signatures[i] = await signer.one(built[i].tbs);
        k++;
      }
    }
    // Certificates assembled, rows encoded and audit records chained here, while the batch before this one
    // is being stored, not in the transaction; a slice at a time, so that the event loop keeps feeding that
    // transaction's COPY to the database.
    await previous;
    const rows: NewCert[] = [];
    const issued: Issued[] = [];
    let ready: Ready | null = null;
    if (built.length) {
      ready = {
        certs: certRows(),
        audit: chainAudit([], this.auditTip, this.ctx.clock(), built.length >= AUDIT_COPY_FROM),
      };
      for (let from = 0; from < built.length; from += FINISH_SLICE) {
        if (from > 0) await yieldToIo();
        const slice: NewCert[] = [];
        for (let i = from; i < Math.min(from + FINISH_SLICE, built.length); i++) {
          const { t, tbs, serial, item } = built[i];
          const ca = item.ca;
          const der = t.certificate(tbs, signatures[i]);
          const hex = serial.toString('hex');
          slice.push({
            serial: hex,
            caId: ca.id,
            profile: item.profile.name,
            subject: item.subject,
            keyAlgorithm: item.keyAlgorithm,
            spkiSha256: item.spkiSha256,
            notBefore: item.notBefore,
            notAfter: item.notAfter,
            requestId: item.requestId,
            requestHash: item.requestHash,
            requestedBy: item.actor,
            der,
          });
          issued.push({
            serial: hex,
            caId: ca.id,
            profile: item.profile.name,
            subject: item.subject,
            notBefore: item.notBefore,
            notAfter: item.notAfter,
            der,
            replayed: false,
          });
        }
        for (const r of slice) rows.push(r);
        addCerts(ready.certs, slice);
        extendAudit(ready.audit, slice.map(auditEntry));
      }
      if (ready.audit.to) this.auditTip = ready.audit.to;
    }
    return { batch, fresh, rows, issued, followers, ready };
  }

  /** Commits a signed batch, then answers its callers; never throws (a failure rejects the batch). */
  private async store(s: Signed): Promise<void> {
    let errors: unknown[];
    try {
      errors = await this.commitBatch(s.rows, s.ready);
    } catch (e) {
      errors = s.rows.map(() => e);
    } finally {
      this.release(s.fresh);
    }
    const failedLeaders = new Map<Pending, unknown>();
    const durable = transactional(this.ctx.bus) !== null;
    s.fresh.forEach((p, i) => {
      const e = errors[i];
      if (e !== undefined) {
        // another process committed the same request id first: answered as a replay or a conflict
        if (isRequestIdConflict(e)) return void this.fromStore(p, e);
        failedLeaders.set(p, e);
        return p.reject(e);
      }
      const c = s.issued[i];
      p.resolve(c);
      // with an outbox the event was written in the certificate's own transaction
      if (!durable)
        emit(this.ctx, 'certificate.issued', 'success', p.item.actor, {
          ca: c.caId,
          serial: c.serial,
          profile: c.profile,
          subject: c.subject,
        });
    });
    if (durable) emitted(this.ctx);
    for (const { p, leader } of s.followers) {
      const same = !!leader.item.requestHash && !!p.item.requestHash && leader.item.requestHash.equals(p.item.requestHash);
      if (!same) await this.duplicate(p);
      else if (failedLeaders.has(leader)) p.reject(failedLeaders.get(leader));
      else void this.fromStore(p, new TrucError('internal', 'the first request with this id failed'));
    }
  }

  /**
   * Commits a batch in one transaction; when that fails, each certificate in a transaction of its own, in
   * the batch's order, so that one row the database refuses does not sink the others. Returns per row
   * undefined (stored) or the error.
   */
  private async commitBatch(rows: NewCert[], ready: Ready | null): Promise<unknown[]> {
    if (!rows.length) return [];
    try {
      await this.commit(rows, ready);
      return rows.map(() => undefined);
    } catch (e) {
      if (rows.length === 1) return [e];
      const errors: unknown[] = [];
      for (const row of rows)
        try {
          await this.commit([row]);
          errors.push(undefined);
        } catch (e1) {
          errors.push(e1);
        }
      return errors;
    }
  }

  /** Stores certificates and their audit records in one transaction. */
  private async commit(rows: NewCert[], ready: Ready | null = null): Promise<void> {
    const audit = ready?.audit ?? chainAudit(rows.map(auditEntry), null, this.ctx.clock());
    // a re-chained batch ends elsewhere than guessed: the next batch chains from the real end
    const settled = (to: AuditHead) => {
      if (!audit.to || audit.to.seq !== to.seq || !audit.to.hash.equals(to.hash)) this.auditTip = to;
    };
    try {
      await this.ctx.db.tx(async (sql) => {
        await appendChained(sql, audit, settled);
        await insertCerts(sql, ready?.certs ?? rows);
        await emitInTx(this.ctx, sql, () =>
          rows.map((r) =>
            pkiEvent(this.ctx, 'certificate.issued', 'success', r.requestedBy, { ca: r.caId, serial: r.serial, profile: r.profile, subject: r.subject }),
          ),
        );
      });
    } catch (e) {
      this.auditTip = null;
      throw e;
    }
  }

  /**
   * Answers a request whose id was committed by another request (a leader in this process, or another
   * process): a replay when it is the same request, a conflict when not, `otherwise` when nothing is stored.
   */
  private async fromStore(p: Pending, otherwise: unknown): Promise<void> {
    try {
      const found = await findByRequestIds(this.ctx.db, [p.item.requestId!]);
      const k = found.get(p.item.requestId!);
      if (!k) p.reject(otherwise);
      else if (k.requestHash && p.item.requestHash && k.requestHash.equals(p.item.requestHash))
        p.resolve(this.replayed(p.item, k.serial, k.der));
      else await this.duplicate(p);
    } catch (e) {
      p.reject(e);
    }
  }

  private replayed(item: Prepared, serial: string, der: Buffer): Issued {
    return {
      serial,
      caId: item.ca.id,
      profile: item.profile.name,
      subject: item.subject,
      notBefore: item.notBefore,
      notAfter: item.notAfter,
      der,
      replayed: true,
    };
  }
}
