/**
 * The vault API. `POST /api/v1/vault/encrypt` (role `vault.use`) encrypts to recipients' certificates
 * (CMS AuthEnvelopedData, or EnvelopedData with `mode: "enveloped"`); with a `release` object the release
 * check runs first — label, the stamps in a PDF's text, sender, recipient, channel — under the stored
 * policy, and a refusal is a 403 problem document and a `truc.vault.release.denied` event.
 * `POST /api/v1/vault/decrypt` (role `vault.use`) decrypts with a key of the platform's key stores.
 * `GET /api/v1/vault/policy` (`vault.read`) and `PUT /api/v1/vault/policy` (`vault.policy`) read and
 * replace the release policy (versioned, audited). Bodies are JSON with base64 bytes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TrucError } from '../../errors.js';
import { recordAudit } from '../../audit/index.js';
import type { Platform } from '../../platform.js';
import { guard } from '../auth/guard.js';
import { PolicyStore, decryptCms, encryptCms, enforceRelease, highestMarking, keyStoreRecipient, parseLevel, pdfText } from '../../vault/index.js';
import { pemBlocks } from '../../asn1/der.js';

const MAX = 25 * 1024 * 1024;
const BODY_LIMIT = Math.ceil((MAX * 4) / 3) + 1024 * 1024;

function b64(v: unknown, what: string): Buffer {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/=\s_-]*$/.test(v)) throw new TrucError('bad_request', `${what} must be base64`);
  const b = Buffer.from(v, 'base64');
  if (b.length > MAX) throw new TrucError('too_large', `${what} is larger than ${MAX} bytes`);
  return b;
}

function cert(v: unknown): Buffer {
  if (typeof v !== 'string') throw new TrucError('bad_request', 'a recipient certificate is a PEM or base64 DER string');
  const [pem] = pemBlocks(v, 'CERTIFICATE', 1);
  return pem ?? b64(v, 'certificate');
}

const actorOf = (req: FastifyRequest) => req.principal?.name ?? 'anonymous';

async function markingsOf(content: Buffer): Promise<ReturnType<typeof highestMarking>> {
  if (content.subarray(0, 5).toString('latin1') !== '%PDF-') return null;
  const dir = mkdtempSync(join(tmpdir(), 'truc-vault-pdf-'));
  try {
    const f = join(dir, 'in.pdf');
    writeFileSync(f, content, { mode: 0o600 });
    return highestMarking(await pdfText(f));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function vaultRoutes(app: FastifyInstance, p: Platform): Promise<void> {
  const policies = new PolicyStore({ db: p.db, bus: p.bus });

  app.post('/api/v1/vault/encrypt', { onRequest: guard(p, 'vault.use'), bodyLimit: BODY_LIMIT }, async (req) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const content = b64(body.content, 'content');
    if (!Array.isArray(body.recipients) || body.recipients.length === 0 || body.recipients.length > 100)
      throw new TrucError('bad_request', 'recipients: 1..100 certificates');
    const certs = body.recipients.map(cert);
    const mode = body.mode === 'enveloped' ? 'enveloped' : 'auth-enveloped';
    const rel = body.release as Record<string, unknown> | undefined;
    let level: string | undefined;
    if (rel) {
      const stored = await policies.current();
      const label = rel.label == null ? null : parseLevel(rel.label);
      try {
        const d = await enforceRelease(
          {
            documentId: String(rel.documentId ?? 'unnamed').slice(0, 256),
            label,
            markings: await markingsOf(content),
            sender: actorOf(req),
            recipient: String(rel.recipient ?? '').slice(0, 256),
            channel: String(rel.channel ?? 'axis-e2e').slice(0, 64),
            encrypted: true,
          },
          { ...stored.policy, version: stored.version },
          { bus: p.bus },
        );
        level = d.level;
      } catch (e) {
        await recordAudit(p.db, { actor: actorOf(req), action: 'vault.release', target: String(rel.documentId ?? ''), outcome: 'denied', detail: (e as TrucError).detail as Record<string, unknown> }).catch(() => {});
        throw e;
      }
    }
    const cms = encryptCms(content, certs, { mode });
    await recordAudit(p.db, { actor: actorOf(req), action: 'vault.encrypt', target: rel ? String(rel.documentId ?? '') : null, outcome: 'success', detail: { recipients: certs.length, bytes: content.length, mode, ...(level ? { level } : {}) } });
    return { cms: cms.toString('base64'), mode, ...(level ? { level } : {}) };
  });

  app.post('/api/v1/vault/decrypt', { onRequest: guard(p, 'vault.use'), bodyLimit: BODY_LIMIT }, async (req) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const cms = b64(body.cms, 'cms');
    const ref = typeof body.keyRef === 'string' ? body.keyRef : '';
    const m = /^(software|pkcs11):([0-9a-f]{2,128})$/.exec(ref);
    if (!m) throw new TrucError('bad_request', 'keyRef is "software:ID" or "pkcs11:ID"');
    try {
      const key = await keyStoreRecipient(p.keys.get(m[1]), m[2]);
      const r = await decryptCms(cms, key, { certificate: body.certificate ? cert(body.certificate) : undefined });
      await recordAudit(p.db, { actor: actorOf(req), action: 'vault.decrypt', target: ref, outcome: 'success', detail: { bytes: r.content.length, structure: r.structure } });
      return { content: r.content.toString('base64'), structure: r.structure };
    } catch (e) {
      await recordAudit(p.db, { actor: actorOf(req), action: 'vault.decrypt', target: ref, outcome: 'failure', detail: { code: (e as TrucError).code ?? 'internal' } }).catch(() => {});
      throw e;
    }
  });

  app.get('/api/v1/vault/policy', { onRequest: guard(p, 'vault.read') }, async () => policies.current());

  app.put('/api/v1/vault/policy', { onRequest: guard(p, 'vault.policy'), bodyLimit: 1024 * 1024 }, async (req) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const expect = body.expectVersion === undefined ? undefined : Number(body.expectVersion);
    return policies.put(body.policy, actorOf(req), expect);
  });
}
