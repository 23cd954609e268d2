/**
 * The registry of families by schema name. A Wycheproof file of any schema listed here runs as is; a file
 * naming another schema is reported UNSUPPORTED as a whole, never silently dropped.
 */
import { aead } from './aead.js';
import { blsAggregateVerify, blsHashToG2, blsVerify } from './bls.js';
import { chunked } from './chunked.js';
import { daead } from './daead.js';
import { ecCurveParams } from './ec-curve.js';
import { fpe } from './fpe.js';
import { jose } from './jose.js';
import { pbe } from './pbe.js';
import { ecdhAsn, ecdhJwk, ecdhPem, ecdhPoint, xdhAsn, xdhJwk, xdhPem, xdhRaw } from './agreement.js';
import type { Family } from './family.js';
import { indCpa } from './ind-cpa.js';
import { hkdf, pbkdf2 } from './kdf.js';
import { keywrap } from './keywrap.js';
import { mac, macWithIv } from './mac.js';
import { mldsaSign } from './mldsa-sign.js';
import { mlkem, mlkemEncaps, mlkemKeygen, mlkemSemiExpanded } from './mlkem.js';
import { primality } from './primality.js';
import { rsaOaepDecrypt, rsaPkcs1Decrypt, rsaPkcs1Generate } from './rsa.js';
import { dsaDer, dsaP1363, ecdsaBitcoin, ecdsaDer, ecdsaP1363, eddsa, mldsaVerify, rsaPkcs1Verify, rsaPssParamsVerify, rsaPssVerify } from './signature.js';

export const FAMILIES: readonly Family<any>[] = [
  aead,
  indCpa,
  mac,
  macWithIv,
  hkdf,
  pbkdf2,
  keywrap,
  ecdsaDer,
  ecdsaP1363,
  dsaDer,
  dsaP1363,
  eddsa,
  rsaPkcs1Verify,
  rsaPssVerify,
  rsaPssParamsVerify,
  mldsaVerify,
  mldsaSign,
  ecdhAsn,
  ecdhPoint,
  ecdhPem,
  ecdhJwk,
  xdhRaw,
  xdhAsn,
  xdhJwk,
  xdhPem,
  rsaOaepDecrypt,
  rsaPkcs1Decrypt,
  rsaPkcs1Generate,
  mlkem,
  mlkemEncaps,
  mlkemKeygen,
  mlkemSemiExpanded,
  primality,
  daead,
  pbe,
  fpe,
  ecdsaBitcoin,
  ecCurveParams,
  blsVerify,
  blsAggregateVerify,
  blsHashToG2,
  jose,
  chunked,
];

const BY_SCHEMA = new Map<string, Family<any>>(FAMILIES.flatMap((f) => f.schemas.map((s) => [s, f] as const)));

export function familyFor(schema: string): Family<any> | undefined {
  return BY_SCHEMA.get(schema);
}

export function supportedSchemas(): string[] {
  return [...BY_SCHEMA.keys()].sort();
}
