/**
 * An official's token as the agent tests use it: a SoftHSM2 token with an EC P-256 key made on it, the
 * key's certificate issued by the test platform's CA (profile official-signing) and put beside the key.
 */
import { keyStores } from '../../src/crypto/keystore.js';
import { Pkcs11KeyStore } from '../../src/crypto/pkcs11-keystore.js';
import { makeCsr } from '../../src/exchange/server/provision.js';
import { importCertificate, type TokenRef } from '../../src/agent/token.js';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import type { Lab } from '../sign/fixtures.js';
import type { SoftHsmToken } from '../helpers/softhsm.js';

export interface OfficialToken {
  token: TokenRef;
  /** CKA_ID of the key and its certificate, hex */
  certId: string;
  certDer: Buffer;
}

export async function officialToken(lab: Lab, hsm: SoftHsmToken, name = 'Nguyễn Văn An', agency = 'Bộ Tư pháp'): Promise<OfficialToken> {
  const token: TokenRef = { module: hsm.modulePath, slot: { tokenLabel: hsm.tokenLabel } };
  const store = await Pkcs11KeyStore.open({ module: hsm.modulePath, slot: { tokenLabel: hsm.tokenLabel }, pin: hsm.pin, sessions: 1 });
  let certId: string;
  let certDer: Buffer;
  try {
    const key = await store.generate('EC-P256', name);
    const csr = await makeCsr(keyStores([store]), key, [
      { type: 'C', value: 'VN' },
      { type: 'O', value: agency },
      { type: 'CN', value: name },
    ]);
    certDer = Buffer.from((await lab.p.issuer.issue({ profile: 'official-signing', csr }, 'ra1')).der);
    certId = key.ref.id;
  } finally {
    await store.close();
  }
  importCertificate(token, hsm.pin, certId, certDer, name);
  return { token, certId, certDer };
}

/**
 * The platform the agent signs against: a TSA and a delegated OCSP responder started on the lab's CA, the
 * HTTP app carrying both, and a signer's API token for nguyen.van.an. The caller closes app and responder.
 */
export async function signingServer(lab: Lab): Promise<{ app: FastifyInstance; responder: OcspResponder; apiToken: string }> {
  const { tsa, responder } = await signingServices(lab);
  const app = await buildApp(lab.p, { tsa, ocsp: responder });
  const apiToken = (await createToken(lab.p.db, 'nguyen.van.an', ['signer'])).token;
  return { app, responder, apiToken };
}

/** A TSA and a delegated OCSP responder started on the lab's CA, for an app that carries them. The caller stops the responder. */
export async function signingServices(lab: Lab): Promise<{ tsa: TimeStampAuthority; responder: OcspResponder }> {
  const tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
  await tsa.start();
  const responder = new OcspResponder(lab.p.pki, lab.p.issuer, { validityMinutes: 60, refreshBeforeMinutes: 10, signWith: 'delegated', pollSeconds: 60 });
  await responder.start();
  return { tsa, responder };
}
