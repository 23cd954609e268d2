/**
 * Key agreement families: ECDH over NIST curves (public key as SPKI, raw point, PEM or JWK, per the schema)
 * and X25519/X448. The product must produce exactly the shared secret, or refuse an invalid public key.
 */
import type { KeyAgreeInput, PrivateKeyMaterial, PublicKeyMaterial } from '../product.js';
import { attempt } from '../outcome.js';
import { type Family, hexField, need, sameBytes } from './family.js';
import type { WycheproofTest } from './file.js';
import { ecCurve, xCurve } from './curves.js';
import { spkiFromPem } from './pem.js';

type Encoding = 'asn' | 'ecpoint' | 'pem' | 'jwk' | 'raw';

function publicOf(t: WycheproofTest, enc: Encoding): PublicKeyMaterial {
  switch (enc) {
    case 'asn':
      return { spki: hexField(t, 'public') };
    case 'pem':
      return { spki: spkiFromPem(String(t.public)) };
    case 'jwk':
      return { jwk: t.public as Record<string, unknown> };
    default:
      return { raw: hexField(t, 'public') };
  }
}

function privateOf(t: WycheproofTest, enc: Encoding): PrivateKeyMaterial {
  if (enc === 'jwk') return { jwk: t.private as Record<string, unknown> };
  if (enc === 'pem') return { pkcs8: spkiFromPem(String(t.private)) };
  return { raw: hexField(t, 'private') };
}

async function agree(adapter: Parameters<Family['test']>[0], input: KeyAgreeInput, t: WycheproofTest) {
  const r = await attempt(() => need(adapter, 'keyAgree')(input));
  if (!r.ok) return { accepted: false, note: r.note };
  if (t.result !== 'valid' && t.shared === '') return { accepted: true, note: 'produced a shared secret' };
  return sameBytes(r.value, hexField(t, 'shared'), 'shared secret');
}

function ecdhFamily(name: string, schema: string, enc: Encoding): Family<{ curve: ReturnType<typeof ecCurve> }> {
  return {
    name,
    schemas: [schema],
    group: (g) => ({ curve: ecCurve(g.curve) }),
    test: (adapter, g, t) => agree(adapter, { alg: 'ECDH', curve: g.curve, publicKey: publicOf(t, enc), privateKey: privateOf(t, enc) }, t),
  };
}

export const ecdhAsn = ecdhFamily('ecdh', 'ecdh_test_schema_v1.json', 'asn');
export const ecdhPoint = ecdhFamily('ecdh-ecpoint', 'ecdh_ecpoint_test_schema_v1.json', 'ecpoint');
export const ecdhPem = ecdhFamily('ecdh-pem', 'ecdh_pem_test_schema_v1.json', 'pem');
export const ecdhJwk = ecdhFamily('ecdh-webcrypto', 'ecdh_webcrypto_test_schema_v1.json', 'jwk');

function xdhFamily(name: string, schema: string, enc: Encoding): Family<{ curve: ReturnType<typeof xCurve> }> {
  return {
    name,
    schemas: [schema],
    group: (g) => ({ curve: xCurve(g.curve) }),
    test(adapter, g, t) {
      const privateKey: PrivateKeyMaterial = enc === 'asn' ? { pkcs8: hexField(t, 'private') } : privateOf(t, enc);
      return agree(adapter, { alg: 'XDH', curve: g.curve, publicKey: publicOf(t, enc), privateKey }, t);
    },
  };
}

export const xdhRaw = xdhFamily('xdh', 'xdh_comp_schema_v1.json', 'raw');
export const xdhAsn = xdhFamily('xdh-asn', 'xdh_asn_comp_schema_v1.json', 'asn');
export const xdhJwk = xdhFamily('xdh-jwk', 'xdh_jwk_comp_schema_v1.json', 'jwk');
export const xdhPem = xdhFamily('xdh-pem', 'xdh_pem_comp_schema_v1.json', 'pem');
