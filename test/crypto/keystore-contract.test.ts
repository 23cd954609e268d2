import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SoftwareKeyStore } from '../../src/crypto/software-keystore.js';
import { Pkcs11KeyStore } from '../../src/crypto/pkcs11-keystore.js';
import { softHsmMissing, softHsmToken } from '../helpers/softhsm.js';
import { keyStoreContract } from './keystore-contract.js';

keyStoreContract('software', () => {
  const dir = mkdtempSync(join(tmpdir(), 'truc-ks-'));
  return {
    open: () => SoftwareKeyStore.open({ dir, kek: Buffer.alloc(32, 9) }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
});

const missing = softHsmMissing();
keyStoreContract(
  'pkcs11 (SoftHSM2)',
  () => {
    // a fresh token per test; stores on the previous one are closed by then, so the module re-reads the config
    const t = softHsmToken();
    return {
      open: () =>
        Pkcs11KeyStore.open({
          module: t.modulePath,
          slot: { tokenLabel: t.tokenLabel },
          pin: t.pin,
          sessions: 2,
        }),
      cleanup: t.cleanup,
    };
  },
  missing ? { skip: missing } : {},
);
