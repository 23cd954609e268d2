/**
 * The lab's report-signing identity: a key generated in the platform's default key store and a
 * certificate from our CA under the `lab-report-signing` profile, provisioned at first use and renewed
 * when a third of its validity is left or the CA no longer vouches for it. A report is signed as a
 * detached CMS over its canonical bytes, with the CA chain inside the signature.
 */
import { bitString, ctx as explicit, int, seq } from '../../asn1/der.js';
import { defaultScheme, SCHEMES, type SignatureScheme } from '../../crypto/algorithms.js';
import { caChain, decodeName, defaultIssuingCa, encodeName, getCert, type NameAttribute } from '../../pki/index.js';
import { signDetached } from '../../sign/index.js';
import { canonicalReportBytes } from '../report/canonical.js';
import type { LabReport } from '../report/model.js';
import { commit, type LabContext } from './context.js';
import { currentSigner, insertSigner, type SignerRow } from './store.js';

export const SIGNING_PROFILE = 'lab-report-signing';
export const SIGNER_CN = 'Trục Crypto Lab — Report Signing';

const inflight = new WeakMap<object, Promise<SignerRow>>();

function fresh(s: SignerRow, now: Date): boolean {
  const life = s.notAfter.getTime() - s.notBefore.getTime();
  return s.notAfter.getTime() - now.getTime() > life / 3;
}

/** The current signer, provisioned or renewed when needed; concurrent callers share one provisioning. */
export async function labSigner(ctx: LabContext, actor: string): Promise<SignerRow> {
  const s = await currentSigner(ctx.db);
  if (s && fresh(s, ctx.pki.clock()) && (await getCert(ctx.db, s.serial))?.status === 'good') return s;
  let p = inflight.get(ctx.db);
  if (!p) {
    p = provision(ctx, actor).finally(() => inflight.delete(ctx.db));
    inflight.set(ctx.db, p);
  }
  return p;
}

async function provision(ctx: LabContext, actor: string): Promise<SignerRow> {
  const ca = await defaultIssuingCa(ctx.pki);
  const caName = decodeName(ca.subjectDer);
  const subject: NameAttribute[] = [
    { type: 'C', value: caName.find((a) => a.type === 'C')?.value ?? 'VN' },
    { type: 'O', value: caName.find((a) => a.type === 'O')?.value ?? 'Trục' },
    { type: 'CN', value: SIGNER_CN },
  ];
  const store = ctx.keys.default;
  const key = await store.generate('EC-P256', `${SIGNING_PROFILE}:${ca.id}`);
  const scheme = defaultScheme('EC-P256');
  // PKCS#10 signed by the new key, so issuance runs the same checks and audit as any request.
  const cri = seq(int(0), encodeName(subject), key.spki, explicit(0));
  const csr = seq(cri, Buffer.from(SCHEMES[scheme].algorithmIdentifier), bitString(await store.sign(key.ref.id, scheme, cri)));
  const issued = await ctx.issuer.issue({ profile: SIGNING_PROFILE, csr, caId: ca.id, subject }, actor);
  const row: SignerRow = {
    serial: issued.serial,
    caId: ca.id,
    keyStore: store.kind,
    keyId: key.ref.id,
    scheme,
    subject: issued.subject,
    certificate: issued.der,
    notBefore: issued.notBefore,
    notAfter: issued.notAfter,
  };
  return commit(ctx, actor, async (sql, now) => {
    await insertSigner(sql, { ...row, createdAt: now });
    return { result: row, change: { action: 'signer.provision', target: row.serial, detail: { ca: ca.id, keyStore: row.keyStore, notAfter: row.notAfter.toISOString() } } };
  });
}

export interface SignedReport {
  /** the canonical bytes of the report: what is signed, stored and served */
  bytes: Uint8Array;
  /** detached CMS SignedData, DER */
  signature: Buffer;
  signer: SignerRow;
}

export async function signReport(ctx: LabContext, report: LabReport, actor: string): Promise<SignedReport> {
  return signBytes(ctx, canonicalReportBytes(report), actor);
}

/**
 * Any rendering of a report (the PDF) signed the same way, as a detached `.p7s` beside it. PAdES, with
 * the signature inside the PDF, comes with the signatures part.
 */
export async function signBytes(ctx: LabContext, bytes: Uint8Array, actor: string): Promise<SignedReport> {
  const signer = await labSigner(ctx, actor);
  const chain = (await caChain(ctx.pki, signer.caId)).map((c) => c.certificate);
  const store = ctx.keys.get(signer.keyStore);
  const signature = await signDetached(
    bytes,
    { certificate: signer.certificate, chain, scheme: signer.scheme as SignatureScheme, sign: (data) => store.sign(signer.keyId, signer.scheme as SignatureScheme, data) },
    { signingTime: ctx.pki.clock() },
  );
  return { bytes, signature, signer };
}
