/**
 * The key-encryption key of a KeyAgreeRecipientInfo (RFC 5753 §7.2, RFC 8418): ANSI X9.63 KDF over the
 * ECDH shared secret Z with the DER ECC-CMS-SharedInfo (wrap algorithm, optional ukm, key length in bits).
 */
import { createHash } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { EccCmsSharedInfo } from './schema.js';

export function x963Kdf(hash: string, z: Uint8Array, sharedInfo: Uint8Array, length: number): Buffer {
  const out: Buffer[] = [];
  let have = 0;
  for (let counter = 1; have < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(z).update(c).update(sharedInfo).digest();
    out.push(block);
    have += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

export function sharedInfo(wrapOid: string, wrapBits: number, ukm?: Uint8Array): Buffer {
  const supp = Buffer.alloc(4);
  supp.writeUInt32BE(wrapBits);
  return Buffer.from(
    AsnConvert.serialize(
      new EccCmsSharedInfo({
        keyInfo: new AlgorithmIdentifier({ algorithm: wrapOid }),
        entityUInfo: ukm ? new OctetString(ukm) : undefined,
        suppPubInfo: new OctetString(supp),
      }),
    ),
  );
}
