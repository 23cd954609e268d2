/**
 * `POST /api/v1/certificates/validate`: certificate path validation for relying parties, the HTTP face of
 * `truc verify-cert` (validatePath, src/pki/path). Trust anchors default to this platform's root CAs and
 * intermediates to its other CAs; a caller may give its own. The peer name, the profile and the maximum
 * depth are the caller's; revocation is checked against the CRLs given (hard-fail by default when some are
 * given, off otherwise). Nothing is fetched from the network on a caller's behalf.
 */
import type { FastifyInstance } from 'fastify';
import { pemBodies, toPem } from '../../asn1/der.js';
import { TrucError } from '../../errors.js';
import { listCas } from '../../pki/index.js';
import { PROFILES, parseCertificate, peerNameOf, validatePath, type PathResult, type ProfileName, type RevocationOptions } from '../../pki/path/index.js';
import { describeName } from '../../pki/path/name.js';
import { limits } from '../../pki/path/index.js';
import type { Platform } from '../../platform.js';
import { guard } from '../auth/guard.js';

const BODY_LIMIT = 8 * 1024 * 1024;

interface Body {
  certificate: string;
  intermediates?: string[];
  trustAnchors?: string[];
  crls?: string[];
  time?: string;
  purpose?: string;
  name?: string;
  profile?: ProfileName;
  maxDepth?: number;
  revocation?: 'hard' | 'soft' | 'off';
}

const blob = { type: 'string', minLength: 1, maxLength: 2 * 1024 * 1024, description: 'PEM or base64 DER' };

/** A certificate or CRL as PEM (the first block) or base64 DER. */
function decode(text: string, label: 'CERTIFICATE' | 'X509 CRL', what: string): Buffer {
  const [pem] = pemBodies(text, label, 1);
  const b64 = pem ?? text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new TrucError('bad_request', `${what}: neither PEM nor base64 DER`);
  return Buffer.from(b64, 'base64');
}

function subjectOf(der: Buffer): string {
  try {
    return describeName(parseCertificate(der).subject);
  } catch {
    return '(unreadable certificate)';
  }
}

function answer(r: PathResult, profile: ProfileName, name: string | undefined) {
  const path = r.path.map((der) => ({ subject: subjectOf(der), certificate: toPem('CERTIFICATE', der) }));
  const common = { profile, ...(name ? { name: peerNameOf(name) } : {}), work: r.work };
  if (r.valid)
    return {
      valid: true,
      ...common,
      path,
      revocation: r.revocationEvidence.map((e) => ({ subject: e.subject, serial: e.serial, kind: e.kind, status: e.status, thisUpdate: e.thisUpdate, nextUpdate: e.nextUpdate })),
      warnings: r.warnings,
    };
  return { valid: false, ...common, reason: r.reason, message: r.message, index: r.index, subject: r.subject, path, pathsTried: r.pathsTried };
}

export function validateCertRoute(app: FastifyInstance, p: Platform, documented: <T extends object>(s: T) => T): void {
  app.post<{ Body: Body }>(
    '/api/v1/certificates/validate',
    {
      bodyLimit: BODY_LIMIT,
      onRequest: guard(p, 'sign.validate'),
      schema: documented({
        tags: ['pki'],
        summary:
          'Validate a certificate path (RFC 5280): for a peer name (DNS name, IP address or e-mail, RFC 6125), under a profile (rfc5280 or strict), within a maximum number of intermediates; anchors default to our root CAs',
        security: [{ bearer: [] }],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['certificate'],
          properties: {
            certificate: blob,
            intermediates: { type: 'array', maxItems: limits.MAX_INTERMEDIATES, items: blob },
            trustAnchors: { type: 'array', maxItems: 100, items: blob },
            crls: { type: 'array', maxItems: limits.MAX_CRLS, items: blob },
            time: { type: 'string', format: 'date-time' },
            purpose: { type: 'string', maxLength: 64, description: 'serverAuth clientAuth codeSigning emailProtection timeStamping OCSPSigning or an OID' },
            name: { type: 'string', minLength: 1, maxLength: 320, description: 'an IP address, an e-mail address (with @), or else a DNS name' },
            profile: { type: 'string', enum: [...PROFILES] },
            maxDepth: { type: 'integer', minimum: 0, maximum: limits.MAX_PATH_DEPTH - 1 },
            revocation: { type: 'string', enum: ['hard', 'soft', 'off'], description: 'default: hard when CRLs are given, off otherwise' },
          },
        },
      }),
    },
    async (req) => {
      const b = req.body;
      const cas = !b.trustAnchors || !b.intermediates ? await listCas(p.db) : [];
      const trustAnchors = b.trustAnchors?.map((t, i) => decode(t, 'CERTIFICATE', `trustAnchors[${i}]`)) ?? cas.filter((c) => !c.parentId).map((c) => Buffer.from(c.certificate));
      const intermediates = b.intermediates?.map((t, i) => decode(t, 'CERTIFICATE', `intermediates[${i}]`)) ?? cas.filter((c) => c.parentId).map((c) => Buffer.from(c.certificate));
      const crls = (b.crls ?? []).map((t, i) => decode(t, 'X509 CRL', `crls[${i}]`));
      const mode = b.revocation ?? (crls.length ? 'hard' : 'off');
      const revocation: RevocationOptions = { mode: mode === 'hard' ? 'hard-fail' : mode === 'soft' ? 'soft-fail' : 'off', crls };
      const profile = b.profile ?? 'rfc5280';
      const r = await validatePath({
        target: decode(b.certificate, 'CERTIFICATE', 'certificate'),
        intermediates,
        trustAnchors,
        revocation,
        profile,
        ...(b.time ? { time: new Date(b.time) } : {}),
        ...(b.purpose ? { purpose: { extendedKeyUsage: [b.purpose] } } : {}),
        ...(b.maxDepth !== undefined ? { maxDepth: b.maxDepth } : {}),
        ...(b.name ? { peerName: peerNameOf(b.name) } : {}),
      });
      return answer(r, profile, b.name);
    },
  );
}
