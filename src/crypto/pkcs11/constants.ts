/**
 * PKCS#11 3.0 identifiers that pkcs11js (a 2.40 binding) does not export. Values from the OASIS PKCS#11
 * 3.0 base specification, section on EdDSA.
 */
export const CKK_EC_EDWARDS = 0x40;
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;
