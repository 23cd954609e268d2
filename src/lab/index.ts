/**
 * The crypto lab: conformance testing of cryptographic products against published test vectors. It loads
 * Wycheproof vector files (validated against the JSON schema each names) and ACVP-shaped known-answer
 * sets, asks a product under test through one adapter interface — in process (node:crypto, @noble), a
 * PKCS#11 token, a process speaking the length-prefixed stdio protocol, or an HTTP endpoint taking ACVP
 * prompts — and records for every test PASS, FAIL, ACCEPTABLE, UNSUPPORTED, SKIPPED or ERROR, with the
 * meaning of each failing test's flags. Profiles map suites to the standard they evidence and decide the
 * verdict; reports render to JSON, HTML and PDF, and expose the canonical bytes the lab certificate signs.
 * Everything here is functions over explicit inputs, so the CLI, HTTP API and product register only wire.
 */
export { OUTCOMES, judge, type Outcome, type OutcomeCounts, type TestResult, type FlagNote, type Expected } from './outcome.js';
export {
  type ProductAdapter,
  type ProductInfo,
  type OperationName,
  type PublicKeyMaterial,
  type PrivateKeyMaterial,
  unsupported,
  adapterError,
  isUnsupported,
  isAdapterError,
  productHalted,
} from './product.js';
export { parseVectorFile, loadVectorFile, loadVectorDir, type VectorFile, type WycheproofDocument } from './wycheproof/file.js';
export { schemaSet, loadSchemaSet, type SchemaSet } from './wycheproof/schema.js';
export { familyFor, supportedSchemas, FAMILIES } from './wycheproof/families.js';
export {
  runSuite,
  meaningOf,
  WYCHEPROOF_SOURCE,
  vectorSources,
  isRunHalt,
  type PartialRun,
  type PartialReason,
  type RunOptions,
  type RunResult,
  type SuiteResult,
  type ProgressEvent,
  type SkipPolicy,
  type VectorSource,
} from './runner.js';
export { acvpSuite, loadAcvpSet, parseVectorSet, type AcvpSuiteInput, type AcvpVectorSet } from './acvp/vector-set.js';
export { ACVP_ALGORITHMS, runAcvp, runAcvpSets, type AcvpRunOptions } from './acvp/run.js';
export { NIST_ACVP_REPOSITORY, NIST_ACVP_SETS, nistSource } from './acvp/nist.js';
export { nodeCryptoProduct } from './adapters/node.js';
export { nobleProduct } from './adapters/noble.js';
export { openPkcs11Product, type Pkcs11ProductOptions } from './adapters/pkcs11.js';
export { openStdioProduct, DEFAULT_MAX_OUTPUT_BYTES, type StdioProductOptions } from './adapters/stdio.js';
export { openHttpProduct, type HttpProductOptions } from './adapters/http.js';
export { encodeFrame, FrameReader, MAX_FRAME } from './adapters/frame.js';
export { parseProfile, loadProfile, listProfiles, evaluateProfile, type Profile, type ProfileVerdict } from './profile.js';
export { buildReport, partialSummary, REPORT_FORMAT, type LabReport, type ReportInput, type FlagCoverage } from './report/model.js';
export { canonicalJson, canonicalReportBytes } from './report/canonical.js';
export { renderJson } from './report/json.js';
export { renderHtml } from './report/html.js';
export { renderPdf, asciiFold } from './report/pdf.js';
export { resolveSuites, schemasFor, DEFAULT_VECTOR_DIR } from './suites.js';
export { openProduct, productKind, type OpenProductOptions } from './adapters/open.js';
