/**
 * The CA/RA API. Public: CA certificates and CRLs (relying parties fetch them without credentials, as the
 * URLs in our certificates promise). Authenticated: issue, search, show, revoke, release, generate CRLs,
 * read and verify the audit log; validate a certificate path (./validate-cert.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { toPem } from '../../asn1/der.js';
import { TrucError, isTrucError } from '../../errors.js';
import { checkAuditChain, recordAudit, searchAudit } from '../../audit/index.js';
import {
  caChain,
  describeCertificate,
  currentCrl,
  generateCrl,
  getCa,
  getCert,
  listCas,
  normalizeSerial,
  reasonName,
  release,
  revoke,
  searchCerts,
  KeyAgreementRequests,
  type CertRow,
  type Issued,
  type KaRequest,
} from '../../pki/index.js';
import type { Platform } from '../../platform.js';
import { guard } from '../auth/guard.js';
import { auditRefusals, strictValidator } from '../validation.js';
import { isBodyError } from '../json-body.js';
import { validateCertRoute } from './validate-cert.js';

const security = [{ bearer: [] }];

/** RFC 9457 problem details, as every error of these routes is answered (see app.ts). */
const problem = {
  description: 'RFC 9457 problem details; `code` is stable (e.g. malformed_der, bad_csr_signature, unknown_serial, forbidden)',
  content: {
    'application/problem+json': {
      schema: {
        type: 'object',
        additionalProperties: true,
        required: ['type', 'title', 'status', 'code'],
        properties: {
          type: { type: 'string', description: 'urn:truc:error:<code>' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
          code: { type: 'string' },
          instance: { type: 'string' },
        },
      },
    },
  },
};

/** A route schema with its error answers documented. */
function documented<T extends object>(schema: T): T & { response: Record<string, unknown> } {
  return { ...schema, response: { '4xx': problem, '5xx': problem } };
}

/** A certificate as the API answers it (and `truc ca list` reads it through a running server: src/cli/main.ts). */
export type CertificateJson = ReturnType<typeof certJson>;

function certJson(c: CertRow) {
  return {
    serial: c.serial,
    ca: c.caId,
    profile: c.profile,
    subject: c.subject,
    keyAlgorithm: c.keyAlgorithm,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    status: c.status,
    revokedAt: c.revokedAt?.toISOString() ?? null,
    reason: c.status === 'good' ? null : reasonName(c.reason),
    invalidityDate: c.invalidityDate?.toISOString() ?? null,
    requestId: c.requestId,
    requestedBy: c.requestedBy,
    issuedAt: c.issuedAt.toISOString(),
    certificate: toPem('CERTIFICATE', c.der),
  };
}

const actor = (req: FastifyRequest) => req.principal!.name;

function sendDer(reply: FastifyReply, type: string, der: Buffer, maxAge?: number) {
  reply.type(type);
  if (maxAge !== undefined) reply.header('cache-control', `public, max-age=${Math.max(0, Math.floor(maxAge))}`);
  return reply.send(der);
}

/** An issued certificate as the issuing routes answer it: who and what, the certificate and its CA chain (PEM). */
async function issuedAnswer(ctx: Platform['pki'], issued: Issued) {
  const chain = await caChain(ctx, issued.caId);
  return {
    serial: issued.serial,
    ca: issued.caId,
    profile: issued.profile,
    subject: issued.subject,
    notBefore: issued.notBefore.toISOString(),
    notAfter: issued.notAfter.toISOString(),
    certificate: toPem('CERTIFICATE', issued.der),
    chain: chain.map((c) => toPem('CERTIFICATE', c.certificate)),
  };
}

export async function caRoutes(app: FastifyInstance, p: Platform): Promise<void> {
  const ctx = p.pki;
  // unknown properties refused, not dropped — a misspelt `requestID` must not cost an RA officer the
  // idempotency they asked for, nor a misspelt filter turn a search into "every certificate" — and JSON
  // bodies not coerced (../validation.ts)
  app.setValidatorCompiler(strictValidator());

  // Callers are authenticated in onRequest, before a body is read: a stranger learns nothing from
  // validation errors and makes the server parse nothing. A request refused before it reaches the CA
  // (oversized, not JSON, failing the schema) is audited here, an anonymous caller's too; the CA audits its
  // own refusals.
  auditRefusals(app, p, { anonymous: true, audited: (err) => isTrucError(err) && !isBodyError(err) });

  validateCertRoute(app, p, documented);

  app.get('/pki/ca', { schema: documented({ tags: ['pki'], summary: 'CA certificates (public)' }) }, async () =>
    (await listCas(p.db)).map((c) => ({
      id: c.id,
      parent: c.parentId,
      subject: c.subject,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      status: c.status,
      certificate: toPem('CERTIFICATE', c.certificate),
    })),
  );

  app.get<{ Params: { file: string } }>(
    '/pki/ca/:file',
    { schema: documented({ tags: ['pki'], summary: 'A CA certificate, DER (.cer) or PEM (.pem) (public)' }) },
    async (req, reply) => {
      const m = /^([a-z0-9-]{1,63})\.(cer|pem)$/.exec(req.params.file);
      if (!m) throw new TrucError('not_found', 'expected <ca>.cer or <ca>.pem');
      const ca = await getCa(p.db, m[1]);
      if (!ca) throw new TrucError('unknown_ca', `no CA "${m[1]}"`);
      if (m[2] === 'pem') return reply.type('application/x-pem-file').send(toPem('CERTIFICATE', ca.certificate));
      return sendDer(reply, 'application/pkix-cert', ca.certificate, 3600);
    },
  );

  app.get<{ Params: { file: string } }>(
    '/pki/crl/:file',
    { schema: documented({ tags: ['pki'], summary: 'The current full (<ca>.crl) or delta (<ca>-delta.crl) CRL (public)' }) },
    async (req, reply) => {
      const m = /^([a-z0-9-]{1,63}?)(-delta)?\.crl$/.exec(req.params.file);
      if (!m) throw new TrucError('not_found', 'expected <ca>.crl or <ca>-delta.crl');
      if (!(await getCa(p.db, m[1]))) throw new TrucError('unknown_ca', `no CA "${m[1]}"`);
      const crl = await currentCrl(ctx, m[1], !!m[2]);
      reply.header('last-modified', crl.thisUpdate.toUTCString());
      reply.header('expires', crl.nextUpdate.toUTCString());
      reply.header('etag', `"${m[1]}-${crl.number}"`);
      return sendDer(reply, 'application/pkix-crl', crl.der, (crl.nextUpdate.getTime() - Date.now()) / 1000);
    },
  );

  app.post<{
    Body: {
      profile: string;
      csr: string;
      ca?: string;
      subject?: string;
      altNames?: { dns?: string[]; email?: string[]; ip?: string[]; uri?: string[] };
      validityDays?: number;
      requestId?: string;
    };
  }>(
    '/api/v1/certificates',
    {
      onRequest: guard(p, 'ca.issue'),
      config: { auditAction: 'ca.issue' },
      schema: documented({
        tags: ['pki'],
        summary: 'Issue a certificate from a PKCS#10 request (RA officer)',
        security,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['profile', 'csr'],
          properties: {
            profile: { type: 'string', maxLength: 64 },
            csr: { type: 'string', maxLength: 65536, description: 'PEM or base64 DER' },
            ca: { type: 'string', maxLength: 64 },
            subject: { type: 'string', maxLength: 4096, description: 'vetted subject replacing the CSR’s' },
            altNames: {
              type: 'object',
              additionalProperties: false,
              properties: Object.fromEntries(
                ['dns', 'email', 'ip', 'uri'].map((k) => [k, { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 255 } }]),
              ),
            },
            validityDays: { type: 'integer', minimum: 1 },
            requestId: { type: 'string', maxLength: 128 },
          },
        },
      }),
    },
    async (req, reply) => {
      const b = req.body;
      const csr = b.csr.includes('-----BEGIN') ? b.csr : Buffer.from(b.csr, 'base64');
      const issued = await p.issuer.issue(
        {
          profile: b.profile,
          csr,
          caId: b.ca,
          subject: b.subject,
          altNames: b.altNames,
          validityDays: b.validityDays,
          requestId: b.requestId,
        },
        actor(req),
      );
      reply.status(issued.replayed ? 200 : 201);
      return { ...(await issuedAnswer(ctx, issued)), replayed: issued.replayed };
    },
  );

  // certificates for keys that cannot sign (key agreement, decryption only): a request signed by the
  // agency's signing certificate, a challenge only the key's holder can answer, issuance on the answer
  const kaRequests = new KeyAgreementRequests(ctx, p.issuer);
  app.post<{ Body: KaRequest }>(
    '/api/v1/key-agreement-requests',
    {
      onRequest: guard(p, 'ca.issue'),
      config: { auditAction: 'ca.ka.request' },
      schema: documented({
        tags: ['pki'],
        summary: 'Submit a certificate request for a key that cannot sign (signed by the agency’s signing certificate); answers with a proof-of-possession challenge',
        security,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['payload', 'signatureAlgorithm', 'signature', 'signingCert'],
          properties: {
            payload: { type: 'string', maxLength: 16384 },
            signatureAlgorithm: { type: 'string', maxLength: 32 },
            signature: { type: 'string', maxLength: 16384 },
            signingCert: { type: 'string', maxLength: 16384 },
          },
        },
      }),
    },
    async (req, reply) => {
      const challenge = await kaRequests.submit(req.body, actor(req));
      reply.status(201);
      return challenge;
    },
  );

  app.post<{ Params: { id: string }; Body: { answer: string } }>(
    '/api/v1/key-agreement-requests/:id/answer',
    {
      onRequest: guard(p, 'ca.issue'),
      config: { auditAction: 'ca.ka.answer' },
      schema: documented({
        tags: ['pki'],
        summary: 'Answer a key-agreement request’s challenge; a right answer issues the certificate (RA officer)',
        security,
        params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } },
        body: { type: 'object', additionalProperties: false, required: ['answer'], properties: { answer: { type: 'string', maxLength: 128, description: 'base64' } } },
      }),
    },
    async (req, reply) => {
      const issued = await kaRequests.answer(req.params.id, Buffer.from(req.body.answer, 'base64'), actor(req));
      reply.status(201);
      return issuedAnswer(ctx, issued);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/key-agreement-requests/:id',
    { onRequest: guard(p, 'ca.read'), schema: documented({ tags: ['pki'], summary: 'A key-agreement request and what became of it', security, params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } } }) },
    async (req) => {
      const r = await kaRequests.get(req.params.id);
      if (!r) throw new TrucError('not_found', `no request ${req.params.id}`);
      return { ...r, createdAt: r.createdAt.toISOString(), expiresAt: r.expiresAt.toISOString() };
    },
  );

  app.get<{
    Querystring: {
      serial?: string;
      subject?: string;
      profile?: string;
      ca?: string;
      status?: 'good' | 'revoked' | 'hold';
      validAt?: string;
      expiresBefore?: string;
      limit?: number;
      offset?: number;
    };
  }>(
    '/api/v1/certificates',
    {
      onRequest: guard(p, 'ca.read'),
      schema: documented({
        tags: ['pki'],
        summary: 'Search certificates',
        security,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            serial: { type: 'string', maxLength: 130 },
            subject: { type: 'string', maxLength: 256 },
            profile: { type: 'string', maxLength: 64 },
            ca: { type: 'string', maxLength: 64 },
            status: { enum: ['good', 'revoked', 'hold'] },
            validAt: { type: 'string', format: 'date-time' },
            expiresBefore: { type: 'string', format: 'date-time' },
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
            offset: { type: 'integer', minimum: 0 },
          },
        },
      }),
    },
    async (req) => {
      const q = req.query;
      const rows = await searchCerts(p.db, {
        serial: q.serial ? normalizeSerial(q.serial) : undefined,
        subject: q.subject,
        profile: q.profile,
        caId: q.ca,
        status: q.status,
        validAt: q.validAt ? new Date(q.validAt) : undefined,
        expiresBefore: q.expiresBefore ? new Date(q.expiresBefore) : undefined,
        limit: q.limit,
        offset: q.offset,
      });
      return { items: rows.map(certJson) };
    },
  );

  app.get<{ Params: { serial: string }; Querystring: { decode?: boolean } }>(
    '/api/v1/certificates/:serial',
    {
      onRequest: guard(p, 'ca.read'),
      schema: documented({
        tags: ['pki'],
        summary: 'One certificate (JSON, or DER with Accept: application/pkix-cert); ?decode=true adds it decoded, extensions by name',
        security,
        querystring: { type: 'object', additionalProperties: false, properties: { decode: { type: 'boolean' } } },
      }),
    },
    async (req, reply) => {
      const c = await getCert(p.db, normalizeSerial(req.params.serial));
      if (!c) throw new TrucError('unknown_serial', `no certificate with serial ${req.params.serial}`);
      if ((req.headers.accept ?? '').includes('application/pkix-cert')) return sendDer(reply, 'application/pkix-cert', c.der);
      return req.query.decode ? { ...certJson(c), decoded: describeCertificate(c.der) } : certJson(c);
    },
  );
  app.get(
    '/api/v1/profiles',
    { onRequest: guard(p, 'ca.read'), schema: documented({ tags: ['pki'], summary: 'The certificate profiles loaded (what issuance may ask for)', security }) },
    async () =>
      [...p.pki.profiles.values()].map((f) => ({
        name: f.name,
        description: f.description,
        keyAlgorithms: f.keyAlgorithms,
        validityDays: f.validityDays,
        keyUsage: f.keyUsage,
        extendedKeyUsage: f.extendedKeyUsage,
        subject: f.subject,
        subjectAltName: f.subjectAltName,
      })),
  );

  app.post<{ Params: { serial: string }; Body: { reason?: string | number; invalidityDate?: string } | undefined }>(
    '/api/v1/certificates/:serial/revoke',
    {
      onRequest: guard(p, 'ca.revoke'),
      config: { auditAction: 'ca.revoke' },
      schema: documented({
        tags: ['pki'],
        summary: 'Revoke (reason certificateHold suspends)',
        security,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            reason: { anyOf: [{ type: 'string', maxLength: 32 }, { type: 'integer' }] },
            invalidityDate: { type: 'string', format: 'date-time' },
          },
        },
      }),
    },
    async (req) => {
      const c = await revoke(
        ctx,
        {
          serial: req.params.serial,
          reason: req.body?.reason,
          invalidityDate: req.body?.invalidityDate ? new Date(req.body.invalidityDate) : undefined,
        },
        actor(req),
      );
      return certJson(c);
    },
  );

  app.post<{ Params: { serial: string } }>(
    '/api/v1/certificates/:serial/release',
    { onRequest: guard(p, 'ca.release'), config: { auditAction: 'ca.release' }, schema: documented({ tags: ['pki'], summary: 'Release a certificate from hold', security }) },
    async (req) => certJson(await release(ctx, req.params.serial, actor(req))),
  );

  app.post<{ Params: { ca: string }; Body: { delta?: boolean } | undefined }>(
    '/api/v1/cas/:ca/crl',
    {
      onRequest: guard(p, 'ca.crl.generate'),
      config: { auditAction: 'ca.crl' },
      schema: documented({
        tags: ['pki'],
        summary: 'Generate a CRL now (full, or delta with {"delta": true})',
        security,
        body: { type: 'object', additionalProperties: false, properties: { delta: { type: 'boolean' } } },
      }),
    },
    async (req, reply) => {
      const crl = await generateCrl(ctx, req.params.ca, actor(req), { delta: !!req.body?.delta });
      reply.status(201);
      return {
        ca: crl.caId,
        number: crl.number,
        delta: crl.delta,
        baseNumber: crl.baseNumber,
        thisUpdate: crl.thisUpdate.toISOString(),
        nextUpdate: crl.nextUpdate.toISOString(),
        entries: crl.entries,
      };
    },
  );

  app.get<{ Querystring: { actor?: string; action?: string; from?: string; to?: string; afterSeq?: number; limit?: number } }>(
    '/api/v1/audit',
    {
      onRequest: guard(p, 'audit.read'),
      schema: documented({
        tags: ['audit'],
        summary: 'Read the audit log',
        security,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            actor: { type: 'string', maxLength: 128 },
            action: { type: 'string', maxLength: 64 },
            from: { type: 'string', format: 'date-time' },
            to: { type: 'string', format: 'date-time' },
            afterSeq: { type: 'integer', minimum: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
          },
        },
      }),
    },
    async (req) => {
      const q = req.query;
      const rows = await searchAudit(p.db, {
        actor: q.actor,
        action: q.action,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
        afterSeq: q.afterSeq,
        limit: q.limit,
      });
      return { items: rows.map((r) => ({ ...r, prevHash: r.prevHash.toString('hex'), hash: r.hash.toString('hex') })) };
    },
  );

  app.post(
    '/api/v1/audit/verify',
    { onRequest: guard(p, 'audit.verify'), schema: documented({ tags: ['audit'], summary: 'Verify the audit hash chain', security }) },
    async (req) => {
      const r = await checkAuditChain(p.db, p.bus, actor(req));
      // who checked, and what they found, after the records checked
      await recordAudit(p.db, {
        actor: actor(req),
        action: 'audit.verify',
        target: 'audit_log',
        outcome: r.ok ? 'success' : 'failure',
        detail: { records: r.records, headSeq: r.headSeq, ...(r.ok ? {} : { brokenAt: r.brokenAt, reason: r.reason }) },
      });
      return r;
    },
  );
}
