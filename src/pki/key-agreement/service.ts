/**
 * The CA's side of requests for keys that cannot sign (./request.ts): `submit` checks a signed request and
 * answers with a challenge; `answer` checks the key holder's answer and, an RA officer having submitted it
 * (the officer's act is the authorisation), issues the certificate from the public key. Every step, taken
 * or refused, is an audit record (`ca.ka.request`, `ca.ka.answer`; the issuance its own `ca.issue`) and an
 * event.
 *
 * Only profiles whose keys do not sign are served (key usage within keyAgreement, keyEncipherment,
 * dataEncipherment): a key that can sign proves possession with a PKCS#10 request, as before.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { TrucError, isTrucError } from '../../errors.js';
import { assertSchemeAllowed, parseScheme, schemeFitsKey } from '../../crypto/algorithms.js';
import { verifyWith } from '../../crypto/sign.js';
import { keyAlgorithmOf } from '../csr.js';
import { decodeName, parseNameString } from '../name.js';
import { parseCertificate } from '../path/index.js';
import { getCert } from '../store.js';
import { auditWithEvent, pkiEvent, type PkiContext } from '../context.js';
import { prepare, type Issued, type Issuer } from '../issue.js';
import { makeChallenge, readKaRequest, type KaChallenge } from './request.js';

/** the profile of the certificate that may sign such a request: the member's own signing certificate */
const SIGNING_PROFILES = ['agency-signing'];
const ENCRYPTION_ONLY = new Set(['keyAgreement', 'keyEncipherment', 'dataEncipherment', 'encipherOnly', 'decipherOnly']);
/** how long a challenge may be answered */
const CHALLENGE_DAYS = 7;
/** how old a request may be when submitted (it may travel by mail to the RA), and how far ahead of the clock */
const MAX_AGE_DAYS = 7;
const MAX_SKEW_MS = 5 * 60_000;
/** an `issuing` claim older than this was left by a process that stopped mid-way */
const STALE_CLAIM_MS = 5 * 60_000;

export interface KaRequestRow {
  id: string;
  member: string;
  profile: string;
  subject: string;
  state: 'challenged' | 'issuing' | 'issued' | 'refused';
  serial: string | null;
  requestedBy: string;
  createdAt: Date;
  expiresAt: Date;
  decidedBy: string | null;
  reason: string | null;
}

const rowOf = (r: any): KaRequestRow => ({
  id: r.id,
  member: r.member,
  profile: r.profile,
  subject: r.subject,
  state: r.state,
  serial: r.serial,
  requestedBy: r.requested_by,
  createdAt: new Date(r.created_at),
  expiresAt: new Date(r.expires_at),
  decidedBy: r.decided_by,
  reason: r.reason,
});

/** The member a certificate's subject names: its serialNumber (`INSTANCE/CLASS/CODE`, the exchange's convention). */
function memberOf(attrs: { type: string; value: string }[]): string | null {
  const s = attrs.filter((a) => a.type === 'serialNumber');
  return s.length === 1 ? s[0]!.value : null;
}

export class KeyAgreementRequests {
  constructor(
    private readonly ctx: PkiContext,
    private readonly issuer: Issuer,
  ) {}

  /** Checks a signed request and stores it with its challenge; returns the challenge for the key holder. */
  async submit(raw: unknown, actor: string): Promise<KaChallenge> {
    let id: string | null = null;
    try {
      const r = readKaRequest(raw);
      id = r.payload.id;
      const { payload } = r;
      const now = this.ctx.clock();
      const created = new Date(payload.createdAt);
      if (created.getTime() > now.getTime() + MAX_SKEW_MS || created.getTime() < now.getTime() - MAX_AGE_DAYS * 86_400_000)
        throw new TrucError('bad_request', `Yêu cầu lập quá ${MAX_AGE_DAYS} ngày hoặc ở tương lai / the request was made more than ${MAX_AGE_DAYS} days ago or in the future`, { createdAt: payload.createdAt });

      // who asks: a signing certificate we issued to the member, in force, over these bytes
      let signing;
      try {
        signing = parseCertificate(r.signingCert);
      } catch {
        throw new TrucError('cert_invalid', 'Chứng thư ký không đọc được / the signing certificate cannot be parsed');
      }
      const row = await getCert(this.ctx.db, signing.serialHex);
      if (!row || !row.der.equals(r.signingCert))
        throw new TrucError('cert_invalid', 'Chứng thư ký không do CA này cấp / the signing certificate was not issued by this CA', { serial: signing.serialHex });
      if (row.status !== 'good') throw new TrucError('cert_revoked', `Chứng thư ký đã bị thu hồi hoặc tạm dừng / the signing certificate is ${row.status === 'hold' ? 'on hold' : 'revoked'}`, { serial: row.serial });
      if (row.notBefore > now || row.notAfter < now) throw new TrucError('cert_invalid', 'Chứng thư ký hết hiệu lực / the signing certificate is not valid now', { serial: row.serial });
      if (!SIGNING_PROFILES.includes(row.profile))
        throw new TrucError('cert_invalid', `Chứng thư hồ sơ ${row.profile} không ký được yêu cầu này / a ${row.profile} certificate cannot sign such a request (${SIGNING_PROFILES.join(', ')})`, { serial: row.serial });
      const scheme = parseScheme(r.scheme);
      if (!schemeFitsKey(scheme, keyAlgorithmOf(signing.spki))) throw new TrucError('invalid_signature', `${scheme} does not fit the signing certificate's key`);
      assertSchemeAllowed(this.ctx.policy, scheme);
      if (!verifyWith(signing.spki, scheme, r.bytes, r.signature))
        throw new TrucError('invalid_signature', 'Chữ ký của yêu cầu không hợp lệ / the request\'s signature does not verify with the signing certificate');

      // what for: an encryption-only profile, for the member that signed
      const profile = this.ctx.profiles.get(payload.profile);
      if (!profile) throw new TrucError('unknown_profile', `no certificate profile "${payload.profile}"`);
      if (!profile.keyUsage.every((u) => ENCRYPTION_ONLY.has(u)))
        throw new TrucError('key_not_allowed', `Hồ sơ ${profile.name} dành cho khoá ký được: dùng yêu cầu PKCS#10 / profile ${profile.name} is for keys that sign: use a PKCS#10 request`, { profile: profile.name });
      const signer = memberOf(decodeName(signing.subject.der));
      const asked = memberOf(parseNameString(payload.subject));
      if (!signer || asked !== signer)
        throw new TrucError('subject_not_allowed', `Chứng thư ký của ${signer ?? '?'} không xin được chứng thư cho ${asked ?? '?'} / the signing certificate names ${signer ?? 'no member'}; the subject asked for names ${asked ?? 'no member'}`, { signer, asked });
      // everything issuance itself will check (key type and size, subject), now rather than after the challenge
      const item = await prepare(this.ctx, { profile: profile.name, publicKey: r.publicKey, subject: payload.subject }, actor);

      const c = makeChallenge(payload.id, item.spki);
      const expiresAt = new Date(now.getTime() + CHALLENGE_DAYS * 86_400_000);
      await this.ctx.db.tx(async (sql) => {
        const [dup] = await sql.query('SELECT 1 FROM pki_ka_request WHERE id = $1', [payload.id]);
        if (dup) throw new TrucError('duplicate_request', `Yêu cầu ${payload.id} đã được nộp / request ${payload.id} was submitted before`, { id: payload.id });
        await sql.query(
          `INSERT INTO pki_ka_request (id, member, profile, subject, spki, signing_serial, request, expected_hash, state, requested_by, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'challenged', $9, $10, $11)`,
          [payload.id, signer, profile.name, item.subject, item.spki, row.serial, JSON.stringify(raw), c.expectedHash, actor, now, expiresAt],
        );
      });
      await auditWithEvent(
        this.ctx,
        [{ actor, action: 'ca.ka.request', target: payload.id, outcome: 'success', detail: { member: signer, profile: profile.name, subject: item.subject, signingCert: row.serial, spkiSha256: item.spkiSha256.toString('hex'), challenge: c.kind } }],
        pkiEvent(this.ctx, 'key-agreement.requested', 'success', actor, { id: payload.id, member: signer, profile: profile.name }),
      );
      return { id: payload.id, kind: c.kind, challenge: c.challenge.toString('base64'), expiresAt: expiresAt.toISOString() };
    } catch (e) {
      if (isTrucError(e)) await this.refused('ca.ka.request', id, actor, e);
      throw e;
    }
  }

  /**
   * Checks the answer to a request's challenge and issues. A wrong answer refuses the request for good (a
   * new request gets a new challenge): nothing can be guessed one try at a time.
   */
  async answer(id: string, answer: Buffer, actor: string): Promise<Issued> {
    try {
      const now = this.ctx.clock();
      // claimed in one statement: two answers at once cannot both go on. A claim left by a process that died
      // while issuing may be taken again after a while: issuance under the request id `ka:<id>` is idempotent
      const [r] = await this.ctx.db.query<any>(
        `UPDATE pki_ka_request SET state = 'issuing', decided_at = $2 WHERE id = $1 AND (state = 'challenged' OR (state = 'issuing' AND decided_at < $3)) RETURNING *`,
        [id, now, new Date(now.getTime() - STALE_CLAIM_MS)],
      );
      if (!r) {
        const [seen] = await this.ctx.db.query<{ state: string }>('SELECT state FROM pki_ka_request WHERE id = $1', [id]);
        if (!seen) throw new TrucError('not_found', `Không có yêu cầu ${id} / no request ${id}`, { id });
        throw new TrucError('conflict', `Yêu cầu ${id} đã ${seen.state} / request ${id} is ${seen.state}`, { id, state: seen.state });
      }
      const settle = (state: 'issued' | 'refused' | 'challenged', serial: string | null, reason: string | null) =>
        this.ctx.db.query('UPDATE pki_ka_request SET state = $2, serial = $3, reason = $4, decided_by = $5, decided_at = $6 WHERE id = $1', [id, state, serial, reason, actor, now]);
      if (new Date(r.expires_at) < now) {
        await settle('refused', null, 'expired');
        throw new TrucError('conflict', `Thử thách của yêu cầu ${id} đã hết hạn / the request's challenge expired`, { id });
      }
      const got = createHash('sha256').update(answer).digest();
      const expected = Buffer.from(r.expected_hash);
      if (answer.length !== 32 || !timingSafeEqual(got, expected)) {
        await settle('refused', null, 'wrong answer');
        throw new TrucError('pop_failed', 'Trả lời thử thách sai: không chứng minh được nắm giữ khoá / the answer to the challenge is wrong: possession of the private key is not proven', { id });
      }
      // the signing certificate may have been revoked since the request
      const signing = await getCert(this.ctx.db, r.signing_serial);
      if (!signing || signing.status !== 'good') {
        await settle('refused', null, 'signing certificate revoked');
        throw new TrucError('cert_revoked', 'Chứng thư ký của yêu cầu đã bị thu hồi / the request\'s signing certificate was revoked since', { id, serial: r.signing_serial });
      }
      let issued: Issued;
      try {
        issued = await this.issuer.issue({ profile: r.profile, publicKey: Buffer.from(r.spki), subject: r.subject, requestId: `ka:${id}` }, actor);
      } catch (e) {
        await settle('challenged', null, null); // nothing issued: the answer may be given again
        throw e;
      }
      await settle('issued', issued.serial, null);
      await auditWithEvent(
        this.ctx,
        [{ actor, action: 'ca.ka.answer', target: id, outcome: 'success', detail: { member: r.member, serial: issued.serial, requestedBy: r.requested_by } }],
        pkiEvent(this.ctx, 'key-agreement.issued', 'success', actor, { id, member: r.member, serial: issued.serial }),
      );
      return issued;
    } catch (e) {
      if (isTrucError(e)) await this.refused('ca.ka.answer', id, actor, e);
      throw e;
    }
  }

  async get(id: string): Promise<KaRequestRow | null> {
    const [r] = await this.ctx.db.query('SELECT * FROM pki_ka_request WHERE id = $1', [id]);
    return r ? rowOf(r) : null;
  }

  async list(limit = 100): Promise<KaRequestRow[]> {
    return (await this.ctx.db.query('SELECT * FROM pki_ka_request ORDER BY created_at DESC LIMIT $1', [limit])).map(rowOf);
  }

  private async refused(action: string, id: string | null, actor: string, e: TrucError): Promise<void> {
    await auditWithEvent(
      this.ctx,
      [{ actor, action, target: id, outcome: 'failure', detail: { code: e.code, reason: e.message } }],
      pkiEvent(this.ctx, 'key-agreement.refused', 'failure', actor, { id, code: e.code }, e.message),
    );
  }
}
