/**
 * What a security server trusts: the configuration anchor (where the global configuration comes from and
 * who may sign it), the client that downloads, verifies and caches the configuration, the `GlobalConf`
 * lookups over a verified configuration, the model of its parts, and the client side of registration
 * (building a signed request and sending it to the central server over pinned HTTPS).
 */
export * from './model.js';
export { GlobalConf, certHash, type ConfServerView } from './global.js';
export { buildAnchor, parseAnchor, anchorBytes, MAX_ANCHOR_BYTES } from './anchor.js';
export { ConfClient, type ConfClientOptions, type ConfStatus, type Fetch } from './client.js';
export { verifySignedDirectory, parseDirectory, canonicalBytes, sha256Hex, sha512Hex, type SignedDirectory } from './signed.js';
export {
  buildRegistrationRequest,
  submitRegistration,
  encryptionCertRequest,
  REQUEST_TYPES,
  type RegistrationType,
  type RegistrationPayload,
  type RegistrationRequest,
  type KeySigner,
  type BuildRegistration,
  type SubmitResult,
  type RequestingServer,
} from './registration-request.js';
