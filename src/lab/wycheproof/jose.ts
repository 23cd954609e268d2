/**
 * JSON Web Signature, Encryption and Key sets (json_web_signature_schema_v1, json_web_encryption_schema_v1,
 * json_web_crypto_schema_v1, json_web_key_schema_v1): the product is a JOSE library, handed the token as
 * the file writes it (compact, or the JSON serialization as its JSON text) and the group's key — a JWK or a JWK Set, public for
 * verifying when the file gives one, private otherwise and for decrypting. A JWS is accepted when the
 * product verifies it; a JWE when it decrypts it (to the listed plaintext, for a valid test). Everything
 * JOSE can get wrong — `alg: none`, an HMAC key used as an RSA key, a key set with two keys of one id,
 * padding oracles — is for the product to refuse.
 */
import type { JoseKey } from '../product.js';
import { labCannotAsk } from '../product.js';
import { attempt } from '../outcome.js';
import { type Family, hexField, need, sameBytes } from './family.js';

interface Group {
  publicKey?: JoseKey;
  privateKey?: JoseKey;
}

const jwk = (v: unknown): JoseKey | undefined => (v && typeof v === 'object' ? (v as JoseKey) : undefined);

/** The token as text: compact as written, the JSON serialization (an object in the file) as its JSON text. */
function token(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  return v && typeof v === 'object' ? JSON.stringify(v) : undefined;
}

export const jose: Family<Group> = {
  name: 'jose',
  schemas: ['json_web_signature_schema_v1.json', 'json_web_encryption_schema_v1.json', 'json_web_crypto_schema_v1.json', 'json_web_key_schema_v1.json'],
  group: (g) => ({ publicKey: jwk(g.public), privateKey: jwk(g.private) }),
  async test(adapter, g, t) {
    const jws = token(t.jws);
    const jwe = token(t.jwe);
    if (jws !== undefined) {
      const key = g.publicKey ?? g.privateKey;
      if (!key) throw labCannotAsk('JWS test without a key');
      const r = await attempt(() => need(adapter, 'jwsVerify')({ jws, key }));
      return r.ok ? { accepted: true, note: 'signature verified' } : { accepted: false, note: r.note };
    }
    if (jwe !== undefined) {
      const key = g.privateKey;
      if (!key) throw labCannotAsk('JWE test without a private key');
      const r = await attempt(() => need(adapter, 'jweDecrypt')({ jwe, key }));
      if (!r.ok) return { accepted: false, note: r.note };
      if (t.result === 'valid' && typeof t.pt === 'string') return sameBytes(r.value, hexField(t, 'pt'), 'plaintext');
      return { accepted: true, note: 'decryption succeeded' };
    }
    throw labCannotAsk('JOSE test with neither jws nor jwe');
  },
};
