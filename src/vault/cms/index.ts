export { encryptCms, type CmsEncryptOptions } from './encrypt.js';
export { decryptCms, type CmsDecryptOptions, type CmsDecrypted } from './decrypt.js';
export { keyObjectRecipient, keyStoreRecipient, type RecipientKey } from './recipient-key.js';
export { x963Kdf } from './kdf.js';
export { cmsEncryptStream, cmsDecryptStream, type CmsStreamWriter, type CmsStreamKey } from './stream.js';
