/**
 * A real platform with its CA hierarchy and OCSP responder, a central server on the same database that
 * approves the platform's CAs, and agencies whose signing and authentication keys live in the platform's
 * key store with certificates issued by our CA from their own PKCS#10 requests.
 */
import { bitString, ctx as explicit, int, seq } from '../../../src/asn1/der.js';
import { SCHEMES } from '../../../src/crypto/algorithms.js';
import type { KeyRef } from '../../../src/crypto/keystore.js';
import { encodeName, getCa, type CaRow, type NameAttribute } from '../../../src/pki/index.js';
import { OcspResponder, type OcspOptions } from '../../../src/pki/ocsp/index.js';
import { buildOcspRequest } from '../../../src/pki/path/index.js';
import { CentralServer, type CentralSettings } from '../../../src/exchange/central/index.js';
import { buildRegistrationRequest, type BuildRegistration, type KeySigner } from '../../../src/exchange/conf/index.js';
import { testPlatform, type TestPlatform } from '../../helpers/platform.js';

export const INSTANCE = 'VN';
export const OCSP_OPTS: OcspOptions = { validityMinutes: 60, refreshBeforeMinutes: 10, signWith: 'delegated', pollSeconds: 0.2, presign: false };

export interface IssuedKey {
  sign: (data: Buffer) => Promise<Buffer>;
  scheme: 'ecdsa-sha256';
  certificate: Buffer;
  serial: string;
  ref: KeyRef;
}

export interface Agency {
  memberClass: string;
  memberCode: string;
  name: string;
  signing: IssuedKey;
  auth: IssuedKey;
}

export interface World {
  p: TestPlatform;
  central: CentralServer;
  ocsp: OcspResponder;
  issuing: CaRow;
  /** a fresh OCSP response (DER) for a certificate of the issuing CA */
  ocspFor(cert: Buffer, responder?: OcspResponder): Promise<Buffer>;
  signer(k: IssuedKey, responder?: OcspResponder): Promise<KeySigner>;
  agency(memberClass: string, memberCode: string, name: string, opts?: { serialNumber?: string | null; register?: boolean }): Promise<Agency>;
  request(a: Agency, b: Partial<BuildRegistration> & Pick<BuildRegistration, 'type'>, serverCode?: string): ReturnType<typeof buildRegistrationRequest>;
  close(): Promise<void>;
}

/** A key generated in the platform's key store and a certificate for it from our CA. */
export async function issueKey(p: TestPlatform, profile: string, subject: NameAttribute[]): Promise<IssuedKey> {
  const store = p.keys.default;
  const info = await store.generate('EC-P256', `test:${profile}`);
  const cri = seq(int(0), encodeName(subject), info.spki, explicit(0));
  const sig = await store.sign(info.ref.id, 'ecdsa-sha256', cri);
  const csr = seq(cri, Buffer.from(SCHEMES['ecdsa-sha256'].algorithmIdentifier), bitString(sig));
  const issued = await p.issuer.issue({ profile, csr, subject }, 'test');
  return { sign: (d) => store.sign(info.ref.id, 'ecdsa-sha256', d), scheme: 'ecdsa-sha256', certificate: issued.der, serial: issued.serial, ref: info.ref };
}

export async function world(dbUrl: string, settings: Partial<CentralSettings> = {}): Promise<World> {
  const p = await testPlatform(dbUrl);
  const ocsp = new OcspResponder(p.pki, p.issuer, OCSP_OPTS);
  await ocsp.start();
  const issuing = (await getCa(p.db, 'issuing'))!;
  const central = await CentralServer.open({ db: p.db, keys: p.keys, bus: p.bus, instance: INSTANCE, settings });
  await central.registry.approvePlatformCas(p.pki, 'test');
  const ocspFor = async (cert: Buffer, responder = ocsp) => (await responder.respond(buildOcspRequest(cert, issuing.certificate))).der;
  const signer = async (k: IssuedKey, responder = ocsp): Promise<KeySigner> => ({ sign: k.sign, scheme: k.scheme, certificate: k.certificate, ocsp: await ocspFor(k.certificate, responder) });
  let n = 0;
  const w: World = {
    p,
    central,
    ocsp,
    issuing,
    ocspFor,
    signer,
    async agency(memberClass, memberCode, name, opts = {}) {
      const serialNumber = opts.serialNumber === undefined ? `${INSTANCE}/${memberClass}/${memberCode}` : opts.serialNumber;
      const subject: NameAttribute[] = [{ type: 'C', value: 'VN' }, { type: 'O', value: name }, { type: 'CN', value: `${name} ${++n}` }];
      const signing = await issueKey(p, 'agency-signing', serialNumber === null ? subject : [...subject, { type: 'serialNumber', value: serialNumber }]);
      const auth = await issueKey(p, 'agency-auth', [...subject.slice(0, 2), { type: 'CN', value: `ss.${memberCode}.example` }]);
      if (opts.register !== false) await central.registry.addMember({ memberClass, memberCode, name }, 'test');
      return { memberClass, memberCode, name, signing, auth };
    },
    async request(a, b, serverCode = 'ss1') {
      return buildRegistrationRequest({
        instance: INSTANCE,
        server: { memberClass: a.memberClass, memberCode: a.memberCode, serverCode },
        signing: await signer(a.signing),
        ...(b.type === 'auth-cert' ? { auth: await signer(a.auth), address: `ss1.${a.memberCode.toLowerCase()}.example:5500` } : {}),
        ...(b.type === 'auth-cert-deletion' ? { auth: { certificate: a.auth.certificate } } : {}),
        ...b,
      } as BuildRegistration);
    },
    async close() {
      await central.stop();
      await ocsp.stop();
      await p.close();
    },
  };
  return w;
}
