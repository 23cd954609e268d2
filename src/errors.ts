/**
 * Typed errors. Every failure a caller can cause carries a stable `code`, an HTTP status and the detail of
 * what was wrong; the HTTP layer turns them into RFC 9457 problem responses and the CLI into a message and
 * an exit code. Domain code throws these and nothing else for expected failures.
 */
export type ErrorCode =
  | 'bad_request'
  | 'malformed_der'
  | 'malformed_pem'
  | 'malformed_csr'
  | 'bad_csr_signature'
  | 'key_not_allowed'
  | 'subject_not_allowed'
  | 'unknown_profile'
  | 'invalid_profile'
  | 'duplicate_request'
  | 'not_found'
  | 'unknown_serial'
  | 'already_revoked'
  | 'not_on_hold'
  | 'unknown_ca'
  | 'ca_exists'
  | 'too_large'
  | 'unauthenticated'
  | 'forbidden'
  | 'invalid_config'
  | 'key_store'
  | 'audit_chain_broken'
  | 'conflict'
  | 'unsupported'
  | 'invalid_path'
  | 'invalid_rule'
  | 'unmapped_field'
  | 'invalid_vector_file'
  | 'lab_unsupported'
  | 'lab_adapter'
  | 'timestamp_failed'
  | 'invalid_signature'
  | 'malformed_pdf'
  | 'malformed_xml'
  | 'malformed_cms'
  | 'malware_detected'
  | 'internal'
  | 'bad_identifier'
  | 'unknown_member'
  | 'unknown_client'
  | 'unknown_service'
  | 'client_not_owned'
  | 'access_denied'
  | 'conf_expired'
  | 'conf_invalid'
  | 'conf_outdated'
  | 'bad_message'
  | 'bad_message_signature'
  | 'replayed_message'
  | 'cert_invalid'
  | 'cert_revoked'
  | 'pop_failed'
  | 'ocsp_stale'
  | 'peer_unreachable'
  | 'peer_failed'
  | 'service_failed'
  | 'timestamp_unavailable'
  | 'log_failure'
  | 'registration_invalid'
  | 'server_maintenance'
  | 'bad_package'
  | 'attachment_mismatch'
  | 'unknown_document'
  | 'decrypt_failed'
  | 'release_denied'
  | 'label_missing'
  | 'classification_refused'
  | 'encryption_required'
  | 'encryption_certificate_missing'
  | 'e2e_wrong_key'
  | 'e2e_tampered'
  | 'key_store_unavailable'
  | 'rate_limited'
  | 'shredded'
  | 'bus_unavailable'
  | 'database_unavailable'
  | 'handle_expired'
  | 'handle_used'
  | 'document_changed'
  | 'desk_unavailable'
  | 'intake_closed';

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  malformed_der: 400,
  malformed_pem: 400,
  malformed_csr: 400,
  bad_csr_signature: 400,
  key_not_allowed: 400,
  subject_not_allowed: 400,
  unknown_profile: 404,
  invalid_profile: 500,
  duplicate_request: 409,
  not_found: 404,
  unknown_serial: 404,
  already_revoked: 409,
  not_on_hold: 409,
  unknown_ca: 404,
  ca_exists: 409,
  too_large: 413,
  unauthenticated: 401,
  forbidden: 403,
  invalid_config: 500,
  key_store: 500,
  audit_chain_broken: 500,
  conflict: 409,
  unsupported: 400,
  invalid_path: 422,
  invalid_rule: 400,
  unmapped_field: 400,
  invalid_vector_file: 400,
  lab_unsupported: 400,
  lab_adapter: 502,
  timestamp_failed: 502,
  invalid_signature: 422,
  malformed_pdf: 400,
  malformed_xml: 400,
  malformed_cms: 400,
  malware_detected: 422,
  internal: 500,
  bad_identifier: 400,
  unknown_member: 404,
  unknown_client: 400,
  unknown_service: 404,
  client_not_owned: 403,
  access_denied: 403,
  conf_expired: 503,
  conf_invalid: 502,
  conf_outdated: 409,
  bad_message: 400,
  bad_message_signature: 422,
  replayed_message: 409,
  cert_invalid: 422,
  cert_revoked: 422,
  pop_failed: 422,
  ocsp_stale: 422,
  peer_unreachable: 502,
  peer_failed: 502,
  service_failed: 502,
  timestamp_unavailable: 503,
  log_failure: 503,
  registration_invalid: 422,
  server_maintenance: 503,
  bad_package: 400,
  attachment_mismatch: 422,
  unknown_document: 404,
  decrypt_failed: 422,
  release_denied: 403,
  label_missing: 400,
  classification_refused: 403,
  encryption_required: 403,
  encryption_certificate_missing: 422,
  e2e_wrong_key: 422,
  e2e_tampered: 422,
  key_store_unavailable: 503,
  rate_limited: 429,
  shredded: 410,
  bus_unavailable: 503,
  database_unavailable: 503,
  handle_expired: 410,
  handle_used: 409,
  document_changed: 409,
  desk_unavailable: 503,
  intake_closed: 503,
};

export class TrucError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, detail?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TrucError';
    this.code = code;
    this.status = STATUS[code];
    this.detail = detail;
  }
}

/**
 * A request Node's HTTP parser refused before any handler saw it (a server's 'clientError'): headers over the
 * limit (431), headers too slow (408), anything else unparsable (400), with the code it is refused under.
 */
export function parserRefusal(err: { code?: string }): { status: 400 | 408 | 431; code: 'too_large' | 'bad_request' } {
  if (err.code === 'HPE_HEADER_OVERFLOW') return { status: 431, code: 'too_large' };
  return { status: err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400, code: 'bad_request' };
}

export function isTrucError(e: unknown): e is TrucError {
  return e instanceof TrucError;
}

/** RFC 9457 problem document for an error; unknown errors become an opaque 500 (the detail goes to logs). */
export function toProblem(e: unknown, instance?: string): {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  [k: string]: unknown;
} {
  if (isTrucError(e)) {
    return {
      type: `urn:truc:error:${e.code}`,
      title: e.code.replace(/_/g, ' '),
      status: e.status,
      detail: e.message,
      code: e.code,
      ...(instance ? { instance } : {}),
      ...(e.detail ?? {}),
    };
  }
  return {
    type: 'urn:truc:error:internal',
    title: 'internal',
    status: 500,
    detail: 'internal error',
    code: 'internal',
    ...(instance ? { instance } : {}),
  };
}
