/**
 * The CA's token goes away under a running platform and comes back. SoftHSM2 keeps its tokens as folders
 * under `directories.tokendir` (SOFTHSM2_CONF): moving the token's folder away makes its objects vanish
 * (handles answer CKR_OBJECT_HANDLE_INVALID, searches find nothing, a re-initialised module shows no token
 * with that label); moving it back and re-initialising the module shows it again — which is what the key
 * store does by itself. Meanwhile issuance answers 503 `key_store_unavailable` (never 404), each failed
 * request is audited, the monitor is told (keystore.unavailable, certificate.failed, keystore.restored),
 * and OCSP goes on answering from its pre-signed responses although its signing key (the CA's) is away.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { getCa, initHierarchy } from '../../src/pki/index.js';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { buildOcspRequest } from '../../src/pki/path/index.js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicOCSPResponse, OCSPResponse } from '@peculiar/asn1-ocsp';
import { searchAudit, verifyAuditChain } from '../../src/audit/index.js';
import { softHsmMissing, softHsmToken, type SoftHsmToken } from '../helpers/softhsm.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { pino } from 'pino';
import { MonitorService, monitorConfig } from '../../src/monitor/index.js';

const missing = softHsmMissing();
if (missing && process.env.CI !== 'true') console.warn(`SKIP token fault test: ${missing}`);

describe.skipIf(!!missing && process.env.CI !== 'true')('a lost token is regained without a restart', () => {
  let token: SoftHsmToken;
  let p: TestPlatform;
  let m: MonitorService | undefined;
  let ocsp: OcspResponder | undefined;
  const dir = tmp();
  /** the response status and the first certificate's status ('good', 'revoked', 'unknown') */
  const ocspStatus = async (req: Buffer) => {
    const r = AsnConvert.parse((await ocsp!.respond(req)).der, OCSPResponse);
    if (r.responseStatus !== 0) return `error:${r.responseStatus}`;
    const s = AsnConvert.parse(r.responseBytes!.response.buffer, BasicOCSPResponse).tbsResponseData.responses[0]!.certStatus;
    return s.good !== undefined ? 'good' : s.revoked ? 'revoked' : 'unknown';
  };

  beforeAll(async () => {
    token = softHsmToken();
    p = await testPlatform('memory://', { init: false, pkcs11: { module: token.modulePath, tokenLabel: token.tokenLabel, pin: token.pin } });
    await initHierarchy(
      p.pki,
      {
        root: { id: 'root', subject: 'C=VN, O=Trục, CN=Token Root', keyAlgorithm: 'EC-P256', validityDays: 3650, keyStore: 'pkcs11' },
        issuing: [{ id: 'issuing', subject: 'C=VN, O=Trục, CN=Token Issuing', keyAlgorithm: 'EC-P256', validityDays: 1000, pathLen: 0, keyStore: 'pkcs11' }],
      } as any,
      'test',
    );
  }, 60_000);
  afterAll(async () => {
    await ocsp?.stop();
    await m?.stop();
    await p?.close();
    token?.cleanup();
  });

  it('503 key_store_unavailable while away, audited and told, OCSP answering; issuance works again once it is back', async () => {
    const { csr } = opensslCsr(dir, '/C=VN/O=Bộ Nội vụ/CN=Token');
    const issue = (requestId: string) => p.issuer.issue({ profile: 'agency-signing', csr, requestId }, 'ra');
    const before = await issue('before');
    // OCSP signed by the CA itself, whose key is on the token: only pre-signed answers can flow without it
    ocsp = new OcspResponder(p.pki, p.issuer, { validityMinutes: 60, refreshBeforeMinutes: 10, signWith: 'ca', pollSeconds: 3600 });
    await ocsp.start();
    const ocspReq = buildOcspRequest(before.der, (await getCa(p.db, 'issuing'))!.certificate);
    expect(await ocspStatus(ocspReq)).toBe('good');
    // the monitor of this process, with its built-in rules
    m = await MonitorService.start({ db: p.db, bus: p.bus, log: pino({ level: 'silent' }), config: monitorConfig({ queue: { flushMs: 0 } }), listen: false, scanner: null });

    const tokens = join(dirname(process.env.SOFTHSM2_CONF!), 'tokens');
    const [folder] = readdirSync(tokens);
    const away = join(dirname(tokens), 'away');
    renameSync(join(tokens, folder!), away);

    for (const id of ['away-1', 'away-2']) {
      const e = await issue(id).then(
        () => null,
        (err) => err,
      );
      expect(e).toMatchObject({ code: 'key_store_unavailable', status: 503 });
    }
    // pre-signed OCSP answers keep flowing while the token is away
    for (let i = 0; i < 3; i++) expect(await ocspStatus(ocspReq)).toBe('good');
    const failures = (await searchAudit(p.db, { action: 'ca.issue', limit: 100 })).filter((r) => r.outcome === 'failure');
    expect(failures.map((r) => r.target)).toEqual(expect.arrayContaining(['away-1', 'away-2']));
    expect(failures.find((r) => r.target === 'away-1')!.detail).toMatchObject({ code: 'key_store_unavailable', ca: 'issuing' });
    const actions = () => p.events.map((e) => e.event.event.action);
    expect(actions()).toContain('keystore.unavailable');
    expect(actions()).toContain('certificate.failed');

    // the token returns: no restart, the store re-opens it by itself (in the background, or on a request)
    renameSync(away, join(tokens, folder!));
    let back: string | null = null;
    const end = Date.now() + 20_000;
    for (let i = 0; !back && Date.now() < end; i++) {
      back = await issue(`after-${i}`).then(
        (c) => c.serial,
        (err) => {
          expect(err.code).toBe('key_store_unavailable'); // never not_found
          return null;
        },
      );
      if (!back) await new Promise((r) => setTimeout(r, 250));
    }
    expect(back).toBeTruthy();
    expect(actions()).toContain('keystore.restored');
    // the operator is told: alerts raised by the built-in rules
    const end2 = Date.now() + 10_000;
    const titles = async () => (await m!.alerts.list({ limit: 50 })).map((a) => a.title);
    while (!(await titles()).includes('Key store unavailable') && Date.now() < end2) await new Promise((r) => setTimeout(r, 100));
    expect(await titles()).toEqual(expect.arrayContaining(['Key store unavailable', 'Certificate issuance failed inside the CA']));
    expect((await verifyAuditChain(p.db)).ok).toBe(true);
  }, 60_000);
});
