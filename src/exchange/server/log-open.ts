/**
 * The one place a security server opens its message log (the exchange's log part), in a folder, with its
 * database for the index: the CLI, `truc start`'s demonstration axis and the benchmark all come here.
 * With a body cipher (the vault's, src/vault/envelope/log-cipher.ts) bodies are stored encrypted.
 */
import type { Db } from '../../store/index.js';
import type { LogMode, MessageLogApi } from '../log/types.js';
import type { BodyCipher } from '../log/cipher.js';
import { MessageLog } from '../log/index.js';

export interface LogOpenOptions {
  mode?: LogMode;
  cipher?: BodyCipher;
  /** a view of the log another process writes (MessageLogOptions.readOnly) */
  readOnly?: boolean;
  /** the time-stamping grace period (a view's health says whether the writer refuses by it) */
  graceMs?: number;
}

export async function openMessageLog(db: Db, dir: string, opts: LogOpenOptions = {}): Promise<MessageLogApi> {
  return MessageLog.open({ db, dir, mode: opts.mode ?? 'full', ...(opts.cipher ? { cipher: opts.cipher } : {}), ...(opts.readOnly ? { readOnly: true } : {}), ...(opts.graceMs ? { graceMs: opts.graceMs } : {}) });
}
