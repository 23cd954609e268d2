/**
 * Signature verification families: ECDSA (DER, IEEE P1363, Bitcoin's low-S rule) and DSA (DER and IEEE P1363), EdDSA, RSASSA-PKCS1-v1_5, RSASSA-PSS (with or
 * without parameters in the key) and
 * ML-DSA. Every one reduces to "did the product accept this signature over this message with this key".
 */
import type { HashName, MlDsaAlg, PublicKeyMaterial, SigVerifyInput } from '../product.js';
import { unsupported } from '../product.js';
import { attempt } from '../outcome.js';
import { type Family, hashName, hexField, need, optionalHex } from './family.js';
import type { WycheproofGroup, WycheproofTest } from './file.js';
import { ecCurve, edCurve } from './curves.js';
import type { Observation } from '../outcome.js';
import type { ProductAdapter } from '../product.js';

type Template = Omit<SigVerifyInput, 'msg' | 'sig' | 'context'> & { alg: SigVerifyInput['alg'] };

async function verify(adapter: ProductAdapter, tpl: Template, t: WycheproofTest): Promise<Observation> {
  const input = { ...tpl, msg: hexField(t, 'msg'), sig: hexField(t, 'sig'), context: hexField(t, 'ctx') } as SigVerifyInput;
  const r = await attempt(() => need(adapter, 'sigVerify')(input));
  if (!r.ok) return { accepted: false, note: r.note };
  return r.value ? { accepted: true, note: 'signature verified' } : { accepted: false, note: 'signature rejected' };
}

function rsaPublic(g: WycheproofGroup): PublicKeyMaterial {
  const pk = g.publicKey as { modulus?: string; publicExponent?: string } | undefined;
  return {
    spki: optionalHex(g, 'publicKeyDer'),
    rsa: pk?.modulus && pk.publicExponent ? { n: hexField(pk, 'modulus'), e: hexField(pk, 'publicExponent') } : undefined,
  };
}

function ecdsaFamily(name: string, schema: string, encoding: 'der' | 'p1363', lowS = false): Family<Template> {
  return {
    name,
    schemas: [schema],
    group(g) {
      const pk = g.publicKey as { curve: string; uncompressed?: string };
      return {
        alg: 'ECDSA',
        curve: ecCurve(pk.curve),
        hash: hashName(g.sha),
        encoding,
        publicKey: { spki: optionalHex(g, 'publicKeyDer'), raw: optionalHex(pk, 'uncompressed'), jwk: g.publicKeyJwk as Record<string, unknown> | undefined },
        ...(lowS ? { lowS } : {}),
      } as Template;
    },
    test: verify,
  };
}

export const ecdsaDer = ecdsaFamily('ecdsa', 'ecdsa_verify_schema_v1.json', 'der');
export const ecdsaP1363 = ecdsaFamily('ecdsa-p1363', 'ecdsa_p1363_verify_schema_v1.json', 'p1363');
/**
 * Bitcoin's ECDSA (ecdsa_bitcoin_verify_schema): DER signatures over secp256k1 where, beyond ECDSA, a
 * signature whose s is above n/2 is invalid (BIP 62/146 non-malleability). The rule is asked of the
 * product (`lowS`), never applied by the lab: a verifier without it is UNSUPPORTED, not passed.
 */
export const ecdsaBitcoin = ecdsaFamily('ecdsa-bitcoin', 'ecdsa_bitcoin_verify_schema.json', 'der', true);

function dsaFamily(name: string, schema: string, encoding: 'der' | 'p1363'): Family<Template> {
  return {
    name,
    schemas: [schema],
    // The key goes over as the file gives it (SubjectPublicKeyInfo with p, q, g); the product parses it.
    group: (g) => ({ alg: 'DSA', hash: hashName(g.sha), encoding, publicKey: { spki: hexField(g, 'publicKeyDer') } }) as Template,
    test: verify,
  };
}

export const dsaDer = dsaFamily('dsa', 'dsa_verify_schema_v1.json', 'der');
export const dsaP1363 = dsaFamily('dsa-p1363', 'dsa_p1363_verify_schema_v1.json', 'p1363');

export const eddsa: Family<Template> = {
  name: 'eddsa',
  schemas: ['eddsa_verify_schema_v1.json'],
  group(g) {
    const pk = g.publicKey as { curve: string; pk: string };
    return { alg: 'EdDSA', curve: edCurve(pk.curve), publicKey: { spki: optionalHex(g, 'publicKeyDer'), raw: hexField(pk, 'pk') } } as Template;
  },
  test: verify,
};

export const rsaPkcs1Verify: Family<Template> = {
  name: 'rsa-pkcs1-verify',
  schemas: ['rsassa_pkcs1_verify_schema_v1.json'],
  group: (g) => ({ alg: 'RSASSA-PKCS1-v1_5', hash: hashName(g.sha), publicKey: rsaPublic(g) }) as Template,
  test: verify,
};

export const rsaPssVerify: Family<Template> = {
  name: 'rsa-pss-verify',
  schemas: ['rsassa_pss_verify_schema_v1.json'],
  group(g) {
    if (g.mgf !== 'MGF1') throw unsupported(`PSS mask generation ${String(g.mgf)}`);
    const hash: HashName = hashName(g.sha);
    return { alg: 'RSASSA-PSS', hash, mgfHash: hashName(g.mgfSha), saltLength: Number(g.sLen), publicKey: rsaPublic(g) } as Template;
  },
  test: verify,
};

/** The same questions with a key whose SPKI is id-RSASSA-PSS and names its parameters: the product reads them. */
export const rsaPssParamsVerify: Family<Template> = {
  ...rsaPssVerify,
  name: 'rsa-pss-params-verify',
  schemas: ['rsassa_pss_with_parameters_verify_schema.json'],
};

export const mldsaVerify: Family<Template> = {
  name: 'mldsa-verify',
  schemas: ['mldsa_verify_schema.json'],
  group(g, file) {
    const alg = file.doc.algorithm as MlDsaAlg;
    if (!['ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87'].includes(alg)) throw unsupported(file.doc.algorithm);
    return { alg, publicKey: { raw: hexField(g, 'publicKey'), spki: optionalHex(g, 'publicKeyDer') } } as Template;
  },
  test: verify,
};
