/**
 * The hook through which bodies at rest can be encrypted (the protection work plugs a key in here; by default
 * there is none and bodies are stored in the clear). A cipher is stream-shaped like node's Cipher: `update`
 * per chunk, `final` at the end — a decryptor's `final` throws when the ciphertext was altered (an AEAD tag).
 * Each protected body gets a random 16-byte id, stored in its record and bound as associated data together
 * with the log's id, so a stored body cannot be swapped for another.
 */
export interface BodyCipherStream {
  update(chunk: Buffer): Buffer;
  final(): Buffer;
}

export interface BodyCipher {
  /** names the key and algorithm; stored with each protected body (≤ 255 bytes, not empty) */
  readonly id: string;
  encryptor(aad: Buffer): BodyCipherStream;
  decryptor(aad: Buffer): BodyCipherStream;
}

export function bodyAad(logId: Buffer, bodyId: Buffer): Buffer {
  return Buffer.concat([Buffer.from('truc-log-body:'), logId, bodyId]);
}
