/**
 * The configuration-signing key: in the software store by default (self-signed), or a key an operator
 * names — here on a PKCS#11 token (SoftHSM2) — with a self-signed certificate or one from our CA. A
 * security server's client verifies what each signs; a key set by one central process is the one the
 * others sign with from their next round.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { X509Certificate } from 'node:crypto';
import { buildApp } from '../../../src/http/app.js';
import { CentralServer } from '../../../src/exchange/central/index.js';
import { ConfClient, verifySignedDirectory, type Fetch } from '../../../src/exchange/conf/index.js';
import { softHsmMissing, softHsmToken, type SoftHsmToken } from '../../helpers/softhsm.js';
import { testPlatform, type TestPlatform } from '../../helpers/platform.js';
import { tmp } from '../../helpers/openssl.js';
import { bitString, ctx as explicit, int, seq } from '../../../src/asn1/der.js';
import { SCHEMES } from '../../../src/crypto/algorithms.js';
import { encodeName, type NameAttribute } from '../../../src/pki/index.js';
import { INSTANCE } from './fixture.js';

const missing = softHsmMissing();
if (missing) console.warn(`skipping PKCS#11 configuration-signing tests: ${missing}`);

/** a fetch that goes to the app in process, so no port is needed */
const injecting =
  (app: FastifyInstance): Fetch =>
  async (u) => {
    const r = await app.inject({ method: 'GET', url: new URL(u).pathname });
    return new Response(new Uint8Array(r.rawPayload), { status: r.statusCode, headers: { 'content-type': String(r.headers['content-type'] ?? '') } });
  };

describe.skipIf(!!missing)('configuration signing with a PKCS#11 key', () => {
  let token: SoftHsmToken;
  let p: TestPlatform;
  let app: FastifyInstance;

  beforeAll(async () => {
    token = softHsmToken();
    p = await testPlatform('memory://', { pkcs11: { module: token.modulePath, tokenLabel: token.tokenLabel, pin: token.pin } });
  });
  afterAll(async () => {
    await app?.close();
    await p?.close();
    token?.cleanup();
  });

  it('signs with a key on the token, self-signed; a second process follows the stored key; a client verifies', async () => {
    const key = await p.keys.get('pkcs11').generate('EC-P256', 'central-conf-signing');
    const central = await CentralServer.open({ db: p.db, keys: p.keys, bus: p.bus, instance: INSTANCE, signingKey: { ref: key.ref } });
    const cert = new X509Certificate(central.signingCertificate());
    expect(cert.subject).toContain(`Configuration signing ${INSTANCE}`);
    expect(Buffer.from(cert.publicKey.export({ type: 'spki', format: 'der' }))).toEqual(key.spki);
    const v = (await central.generator.generate())!;
    expect(verifySignedDirectory(await central.generator.signedDirectory(), [central.signingCertificate()]).directory.version).toBe(v.version);
    // opened again without naming a key: the one stored
    const again = await CentralServer.open({ db: p.db, keys: p.keys, bus: p.bus, instance: INSTANCE });
    expect(again.signingCertificate()).toEqual(central.signingCertificate());
    app = await buildApp(p, { central: again });
    const c = new ConfClient({ anchor: await again.exportAnchor('http://central.test'), dir: tmp('truc-conf-'), fetch: injecting(app) });
    expect(await c.refresh()).toBe(true);

    // a certificate from our CA for another token key, set by the second process
    const key2 = await p.keys.get('pkcs11').generate('EC-P256', 'central-conf-signing-2');
    const subject: NameAttribute[] = [
      { type: 'C', value: 'VN' },
      { type: 'O', value: 'Trục' },
      { type: 'CN', value: 'Ký cấu hình (configuration signing)' },
    ];
    const cri = seq(int(0), encodeName(subject), key2.spki, explicit(0));
    const csr = seq(cri, Buffer.from(SCHEMES['ecdsa-sha256'].algorithmIdentifier), bitString(await p.keys.get('pkcs11').sign(key2.ref.id, 'ecdsa-sha256', cri)));
    const issued = await p.issuer.issue({ profile: 'agency-signing', csr, subject }, 'test');
    await again.setSigningKey({ ref: key2.ref, certificate: issued.der }, 'test');
    // the first process signs its next round with the key the second stored
    const next = (await central.generator.generate())!;
    expect(next.version).toBe(v.version + 1);
    expect(central.signingCertificate()).toEqual(issued.der);
    // the old anchor refuses the new key; the new anchor takes it
    expect(await c.refresh().catch((e) => e.code)).toBe('conf_invalid');
    const c2 = new ConfClient({ anchor: await central.exportAnchor('http://central.test'), dir: tmp('truc-conf-'), fetch: injecting(app) });
    expect(await c2.refresh()).toBe(true);
    // a certificate for another key is refused
    await expect(again.setSigningKey({ ref: key.ref, certificate: issued.der }, 'test')).rejects.toMatchObject({ code: 'bad_request' });
  });
});
