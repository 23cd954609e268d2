/**
 * Where the key-encryption key sits. On the embedded default the software key store's KEK is a file in
 * the data folder (`kek.bin`) beside the database and the sealed keys it protects: whoever copies the
 * folder has everything. Development mode says so loudly at start; production mode refuses to start until
 * the KEK is out of the folder — an operator passphrase, or keys on a PKCS#11 token.
 */
import { join, resolve, relative, isAbsolute } from 'node:path';
import type { Config } from '../config.js';
import { TrucError } from '../errors.js';

export interface KeyProtection {
  mode: 'development' | 'production';
  /** how the software key store's secret is held */
  secret: 'passphrase' | 'kek-file-in-data-dir' | 'kek-file-elsewhere';
  pkcs11: boolean;
  /** printed at start (Vietnamese first, English beside) */
  warnings: string[];
}

export function keyProtection(config: Config): KeyProtection {
  const mode = config.mode ?? 'development';
  const pkcs11 = !!config.keys.pkcs11;
  let secret: KeyProtection['secret'];
  if (config.keys.software.passphrase) secret = 'passphrase';
  else {
    const file = resolve(config.keys.software.kekFile ?? join(config.dataDir, 'kek.bin'));
    const rel = relative(resolve(config.dataDir), file);
    secret = !rel.startsWith('..') && !isAbsolute(rel) ? 'kek-file-in-data-dir' : 'kek-file-elsewhere';
  }
  const warnings: string[] = [];
  if (secret === 'kek-file-in-data-dir')
    warnings.push(
      'CẢNH BÁO: khoá mã hoá khoá (kek.bin) nằm ngay trong thư mục dữ liệu: ai sao chép thư mục này sẽ có toàn bộ khoá ký và dữ liệu đã mã hoá. ' +
        'Hãy đặt mật khẩu (TRUC_KEY_PASSPHRASE) hoặc dùng PKCS#11. / WARNING: the key-encryption key (kek.bin) sits inside the data folder: ' +
        'a copy of the folder reveals every signing key and every encrypted object. Set a passphrase (TRUC_KEY_PASSPHRASE) or use PKCS#11.',
    );
  return { mode, secret, pkcs11, warnings };
}

/** Throws in production mode when the KEK is beside the data and no token holds the keys. */
export function assertKeyProtection(config: Config): KeyProtection {
  const p = keyProtection(config);
  if (p.mode === 'production' && p.secret === 'kek-file-in-data-dir' && !(p.pkcs11 && config.keys.default === 'pkcs11'))
    throw new TrucError(
      'invalid_config',
      'chế độ production: không khởi động khi khoá mã hoá khoá nằm cạnh dữ liệu — cần mật khẩu (TRUC_KEY_PASSPHRASE) hoặc token PKCS#11 / ' +
        'production mode: refusing to start with the key-encryption key beside the data — set a passphrase (TRUC_KEY_PASSPHRASE) or use a PKCS#11 token',
      { mode: p.mode, secret: p.secret },
    );
  return p;
}
