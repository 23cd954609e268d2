/**
 * The one place a security server opens its message log (the exchange's log part), in a folder, with its
 * database for the index: the CLI, `truc start`'s demonstration axis and the benchmark all come here.
 */
import type { Db } from '../../store/index.js';
import type { LogMode, MessageLogApi } from '../log/types.js';
import { MessageLog } from '../log/index.js';

export async function openMessageLog(db: Db, dir: string, opts: { mode?: LogMode } = {}): Promise<MessageLogApi> {
  return MessageLog.open({ db, dir, mode: opts.mode ?? 'full' });
}
