/**
 * Whether a peer's certificate may be relied on now: its path to a CA the global configuration approves,
 * the purpose (TLS authentication or message signing), and its status proven by the OCSP response the peer
 * carried, which must be good and no older than the configuration's freshness limit. Path validation is
 * the PKI part's (`validatePath`); its verdict for a (certificate, OCSP response, configuration version) is
 * cached, and only the freshness is re-checked per message.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { validatePath, parseCertificate, type Purpose } from '../../pki/path/index.js';
import { attributeValues } from '../../pki/path/name.js';
import type { GlobalConf } from '../conf/global.js';
import { publicKeyOf } from './batch-sign.js';
import { memberId, type MemberId } from '../ids.js';

export type CertRole = 'auth-client' | 'auth-server' | 'sign';

/** The role's certificate, as Vietnamese refusals name it. */
const ROLE_VI: Record<CertRole, string> = {
  'auth-client': 'chứng thư xác thực của máy chủ an ninh bên gọi',
  'auth-server': 'chứng thư xác thực của máy chủ an ninh bên cung cấp',
  sign: 'chứng thư ký số của thành viên',
};

const PURPOSES: Record<CertRole, Purpose> = {
  'auth-client': { extendedKeyUsage: ['clientAuth'] },
  'auth-server': { extendedKeyUsage: ['serverAuth'] },
  sign: { keyUsage: ['digitalSignature'] },
};

export interface TrustedCert {
  hash: string;
  key: KeyObject;
  /** the member a signing certificate belongs to (subject serialNumber `INSTANCE/CLASS/CODE`) */
  member?: MemberId;
  ocspThisUpdate: Date;
  notAfter: Date;
}

interface Entry {
  value: TrustedCert | TrucError;
  until: number;
}

const CACHE_MS = 5 * 60_000;
const MAX_ENTRIES = 10_000;

const sha256hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The member a signing certificate names: its subject serialNumber reads `INSTANCE/CLASS/CODE`. */
export function memberFromCert(certDer: Buffer): MemberId | undefined {
  const cert = parseCertificate(certDer);
  const sn = attributeValues(cert.subject, '2.5.4.5')[0];
  if (!sn) return undefined;
  const p = sn.split('/');
  if (p.length !== 3) return undefined;
  try {
    return memberId(p[0]!, p[1]!, p[2]!);
  } catch {
    return undefined;
  }
}

const same = (a: Buffer | string, b: Buffer | string) => (typeof a === 'string' || typeof b === 'string' ? a === b : a === b || a.equals(b));

export class PeerTrust {
  private readonly cache = new Map<string, Entry>();
  /**
   * the last verdict per role, compared by content: a peer sends the same certificate and OCSP response
   * (several KB of base64) with every message, and building their cache key was a few KB of string work
   */
  private readonly last = new Map<CertRole, { version: number; cert: Buffer | string; ocsp: Buffer | string; e: Entry }>();

  constructor(private readonly clock: () => Date = () => new Date()) {}

  /**
   * Throws `cert_invalid`, `cert_revoked` or `ocsp_stale` (with what was wrong) unless the certificate
   * chains to an approved CA for the role and the OCSP response proves it good and fresh.
   */
  async check(conf: GlobalConf, cert: Buffer | string, ocsp: Buffer | string, role: CertRole): Promise<TrustedCert> {
    const now = this.clock();
    const l = this.last.get(role);
    let e = l && l.version === conf.version && same(l.cert, cert) && same(l.ocsp, ocsp) && l.e.until >= now.getTime() ? l.e : undefined;
    if (!e) {
      // keyed by what travelled (base64 from message headers, or DER): no decoding or hashing on a hit
      const key = `${role}:${conf.version}:${typeof cert === 'string' ? cert : cert.toString('base64')}:${typeof ocsp === 'string' ? ocsp : ocsp.toString('base64')}`;
      e = this.cache.get(key);
      if (!e || e.until < now.getTime()) {
        const certDer = typeof cert === 'string' ? Buffer.from(cert, 'base64') : cert;
        const ocspDer = typeof ocsp === 'string' ? Buffer.from(ocsp, 'base64') : ocsp;
        e = { value: await this.validate(conf, certDer, ocspDer, role, now), until: now.getTime() + CACHE_MS };
        if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(key, e);
      }
      this.last.set(role, { version: conf.version, cert, ocsp, e });
    }
    if (e.value instanceof TrucError) throw e.value;
    const t = e.value;
    if (now > t.notAfter)
      throw new TrucError('cert_invalid', `the certificate expired at ${t.notAfter.toISOString()}`, { role, reason_vi: `${ROLE_VI[role]} đã hết hạn lúc ${t.notAfter.toISOString()}` });
    const age = (now.getTime() - t.ocspThisUpdate.getTime()) / 1000;
    if (age > conf.settings.ocspFreshnessSeconds)
      throw new TrucError('ocsp_stale', `the OCSP response for the ${role} certificate is ${Math.round(age)} s old, over the limit of ${conf.settings.ocspFreshnessSeconds} s`, {
        role,
        thisUpdate: t.ocspThisUpdate.toISOString(),
        reason_vi: `phản hồi OCSP cho ${ROLE_VI[role]} đã ${Math.round(age)} giây, quá giới hạn ${conf.settings.ocspFreshnessSeconds} giây`,
      });
    return t;
  }

  private async validate(conf: GlobalConf, certDer: Buffer, ocspDer: Buffer, role: CertRole, now: Date): Promise<TrustedCert | TrucError> {
    const anchors = conf.approvedCAs().map((c) => Buffer.from(c.certificate, 'base64'));
    const intermediates = conf.approvedCAs().flatMap((c) => c.intermediates.map((i) => Buffer.from(i, 'base64')));
    let r;
    try {
      r = await validatePath({
        target: certDer,
        intermediates,
        trustAnchors: anchors,
        time: now,
        purpose: PURPOSES[role],
        revocation: { mode: 'hard-fail', ocspResponses: ocspDer.length ? [ocspDer] : [], targetOnly: true },
      });
    } catch (e) {
      return new TrucError('cert_invalid', `the ${role} certificate cannot be checked: ${(e as Error).message}`, { role, reason_vi: `không kiểm tra được ${ROLE_VI[role]}` });
    }
    if (!r.valid) {
      if (r.reason === 'revoked') return new TrucError('cert_revoked', `the ${role} certificate is revoked: ${r.message}`, { role, reason_vi: `${ROLE_VI[role]} đã bị thu hồi` });
      if (r.reason === 'revocation_unknown')
        return new TrucError('ocsp_stale', `the ${role} certificate's status is not proven by a valid OCSP response: ${r.message}`, {
          role,
          reason_vi: `trạng thái của ${ROLE_VI[role]} không được chứng minh bằng phản hồi OCSP hợp lệ`,
        });
      return new TrucError('cert_invalid', `the ${role} certificate is not trusted (${r.reason}): ${r.message}`, {
        role,
        reason: r.reason,
        reason_vi: `${ROLE_VI[role]} không được tin cậy (${r.reason}): không nối được tới CA được phê duyệt trong cấu hình toàn cục, hoặc không đúng mục đích sử dụng`,
      });
    }
    const ev = r.revocationEvidence.find((x) => x.kind === 'ocsp' && x.status === 'good');
    if (!ev) return new TrucError('ocsp_stale', `the ${role} certificate carries no good OCSP response`, { role, reason_vi: `${ROLE_VI[role]} không kèm phản hồi OCSP xác nhận còn hiệu lực` });
    const cert = parseCertificate(certDer);
    const member = role === 'sign' ? memberFromCert(certDer) : undefined;
    return { hash: sha256hex(certDer), key: publicKeyOf(certDer), ...(member ? { member } : {}), ocspThisUpdate: ev.thisUpdate, notAfter: cert.notAfter };
  }
}
