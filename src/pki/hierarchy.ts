/**
 * The CA hierarchy: a self-signed root and issuing CAs under it, each with its own key in a key store of
 * the operator's choice. Issuing CAs carry a path length (0 by default: they issue only end entities) and
 * optional name constraints that bind what they may certify.
 */
import { createHash } from 'node:crypto';
import { TrucError } from '../errors.js';
import {
  type KeyAlgorithm,
  assertKeyAllowed,
  assertSchemeAllowed,
  defaultScheme,
  SCHEMES,
} from '../crypto/algorithms.js';
import { appendAudit } from '../audit/index.js';
import { encodeCertificate, encodeTbs, ext, keyIdentifier, OID, type NameConstraints } from './certificate.js';
import { encodeName, nameToString, parseNameString } from './name.js';
import { newSerial } from './serial.js';
import { getCa, insertCa, listCas, type CaRow } from './store.js';
import { auditWithEvent, emit, emitInTx, emitted, pkiEvent, urls, type PkiContext } from './context.js';

export interface CaSpec {
  id: string;
  subject: string;
  keyAlgorithm: KeyAlgorithm;
  keyStore?: string;
  validityDays: number;
  pathLen?: number | null;
  rsaPadding?: 'pkcs1' | 'pss';
  nameConstraints?: {
    permitted?: Partial<{ dns: string[]; email: string[]; directoryName: string[]; ip: string[] }>;
    excluded?: Partial<{ dns: string[]; email: string[]; directoryName: string[]; ip: string[] }>;
  };
}

const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

function constraints(nc: CaSpec['nameConstraints']): NameConstraints | null {
  if (!nc) return null;
  const sub = (s?: Partial<{ dns: string[]; email: string[]; directoryName: string[]; ip: string[] }>) =>
    s && {
      dns: s.dns ?? [],
      email: s.email ?? [],
      directoryName: (s.directoryName ?? []).map((n) => encodeName(parseNameString(n))),
      ip: s.ip ?? [],
    };
  return { permitted: sub(nc.permitted), excluded: sub(nc.excluded) };
}

/**
 * Everything about a CA that can be checked before a key is made: a refused spec leaves no key behind, and
 * a hierarchy is checked whole before its root is created.
 */
async function checkSpec(ctx: PkiContext, spec: CaSpec) {
  if (!ID.test(spec.id)) throw new TrucError('bad_request', `CA id "${spec.id}" must be lowercase letters, digits, -`);
  if (!Number.isInteger(spec.validityDays) || spec.validityDays < 1 || spec.validityDays > 36500)
    throw new TrucError('bad_request', `CA "${spec.id}": validity must be 1 to 36500 days`);
  if (spec.pathLen !== undefined && spec.pathLen !== null && (!Number.isInteger(spec.pathLen) || spec.pathLen < 0 || spec.pathLen > 16))
    throw new TrucError('bad_request', `CA "${spec.id}": path length must be 0 to 16`);
  if (await getCa(ctx.db, spec.id)) throw new TrucError('ca_exists', `CA "${spec.id}" already exists`);
  assertKeyAllowed(ctx.policy, spec.keyAlgorithm);
  const scheme = defaultScheme(spec.keyAlgorithm, spec.rsaPadding);
  assertSchemeAllowed(ctx.policy, scheme);
  const store = spec.keyStore ? ctx.keys.get(spec.keyStore) : ctx.keys.default;
  const subjectAttrs = parseNameString(spec.subject);
  const subjectDer = encodeName(subjectAttrs);
  const nc = constraints(spec.nameConstraints);
  return { scheme, store, subjectAttrs, subjectDer, nc };
}

/** Audits a refused CA creation, then lets the error go on. */
async function refusedCa(ctx: PkiContext, id: string, actor: string, e: unknown): Promise<never> {
  if (e instanceof TrucError) {
    await auditWithEvent(
      ctx,
      [{ actor, action: 'ca.create', target: String(id).slice(0, 200), outcome: 'failure', detail: { code: e.code, reason: e.message } }],
      pkiEvent(ctx, 'ca.refused', 'failure', actor, { ca: String(id).slice(0, 200), code: e.code }, e.message),
    );
  }
  throw e;
}

async function createCa(ctx: PkiContext, spec: CaSpec, parent: CaRow | null, actor: string): Promise<CaRow> {
  const { scheme, store, subjectAttrs, subjectDer, nc } = await checkSpec(ctx, spec);
  const key = await store.generate(spec.keyAlgorithm, `ca:${spec.id}`);
  const ski = keyIdentifier(key.spki);
  const now = ctx.clock();
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 60_000);
  let notAfter = new Date(notBefore.getTime() + spec.validityDays * 86_400_000);
  if (parent && notAfter > parent.notAfter) notAfter = parent.notAfter;
  const extensions = [
    ext.basicConstraints(true, spec.pathLen ?? (parent ? 0 : null)),
    ext.keyUsage(parent ? ['digitalSignature', 'keyCertSign', 'cRLSign'] : ['keyCertSign', 'cRLSign']),
    ext.subjectKeyIdentifier(ski),
  ];
  if (parent) {
    extensions.push(
      ext.authorityKeyIdentifier(parent.ski),
      ext.certificatePolicies([OID.anyPolicy]),
      ext.crlDistributionPoints([urls.crl(ctx, parent.id)]),
      ext.authorityInfoAccess(null, urls.caCert(ctx, parent.id)),
    );
    if (nc) extensions.push(ext.nameConstraints(nc));
  }
  // the issuer signs: the parent's key, or for a root its own new key
  const signer = parent ?? { keyStore: store.kind, keyId: key.ref.id, scheme, subjectDer };
  const sigAlg = SCHEMES[signer.scheme].algorithmIdentifier;
  const tbs = encodeTbs(sigAlg, signer.subjectDer, {
    serial: newSerial(),
    notBefore,
    notAfter,
    subject: subjectDer,
    spki: key.spki,
    extensions,
  });
  const signature = await ctx.keys.get(signer.keyStore).sign(signer.keyId, signer.scheme, tbs);
  const certificate = encodeCertificate(tbs, sigAlg, signature);
  const row: CaRow = {
    id: spec.id,
    parentId: parent?.id ?? null,
    subject: nameToString(subjectAttrs),
    subjectDer,
    certificate,
    keyStore: store.kind,
    keyId: key.ref.id,
    keyAlgorithm: spec.keyAlgorithm,
    scheme,
    ski,
    notBefore,
    notAfter,
    pathLen: spec.pathLen ?? (parent ? 0 : null),
    status: 'active',
  };
  let inOutbox = false;
  await ctx.db.tx(async (sql) => {
    await insertCa(sql, row);
    await appendAudit(
      sql,
      [
        {
          actor,
          action: 'ca.create',
          target: spec.id,
          outcome: 'success',
          detail: {
            subject: row.subject,
            parent: row.parentId,
            keyStore: row.keyStore,
            keyAlgorithm: row.keyAlgorithm,
            sha256: createHash('sha256').update(certificate).digest('hex'),
          },
        },
      ],
      now,
    );
    // with an outbox, the event is written with the CA and its audit record: all three or none
    inOutbox = await emitInTx(ctx, sql, () => [pkiEvent(ctx, 'ca.created', 'success', actor, { ca: spec.id, parent: row.parentId })]);
  });
  if (inOutbox) emitted(ctx);
  else emit(ctx, 'ca.created', 'success', actor, { ca: spec.id, parent: row.parentId });
  return row;
}

export async function initHierarchy(
  ctx: PkiContext,
  spec: { root: CaSpec; issuing: CaSpec[] },
  actor: string,
): Promise<CaRow[]> {
  try {
    const existing = await listCas(ctx.db);
    if (existing.length)
      throw new TrucError(
        'ca_exists',
        `đã có cây CA (${existing.map((c) => c.id).join(', ')}); thêm CA bằng \`truc ca add\` / ` +
          `a CA hierarchy exists already (${existing.map((c) => c.id).join(', ')}); add CAs with \`truc ca add\``,
      );
    const ids = [spec.root.id, ...spec.issuing.map((s) => s.id)];
    if (new Set(ids).size !== ids.length) throw new TrucError('bad_request', `CA ids must be distinct: ${ids.join(', ')}`);
    // every CA checked before the first key is made: a bad issuing CA must not leave a root behind
    for (const s of [spec.root, ...spec.issuing]) await checkSpec(ctx, s);
  } catch (e) {
    return refusedCa(ctx, spec.root.id, actor, e);
  }
  const root = await createCa(ctx, spec.root, null, actor);
  const out = [root];
  for (const s of spec.issuing) out.push(await createCa(ctx, s, root, actor));
  return out;
}

/** Adds one CA under an existing parent (another issuing CA, or a second one under the root). */
export async function addCa(ctx: PkiContext, parentId: string, spec: CaSpec, actor: string): Promise<CaRow> {
  let parent: CaRow | null;
  try {
    parent = await getCa(ctx.db, parentId);
    if (!parent) throw new TrucError('unknown_ca', `no CA "${parentId}"`);
    if (parent.pathLen !== null && parent.pathLen < 1)
      throw new TrucError('bad_request', `CA "${parentId}" has path length 0 and cannot certify other CAs`);
    await checkSpec(ctx, spec);
  } catch (e) {
    return refusedCa(ctx, spec.id, actor, e);
  }
  return createCa(ctx, spec, parent, actor);
}

export async function caChain(ctx: PkiContext, caId: string): Promise<CaRow[]> {
  const chain: CaRow[] = [];
  let id: string | null = caId;
  while (id && chain.length < 10) {
    const ca = await getCa(ctx.db, id);
    if (!ca) throw new TrucError('unknown_ca', `no CA "${id}"`);
    chain.push(ca);
    id = ca.parentId;
  }
  return chain;
}
