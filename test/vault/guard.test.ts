import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { loadConfig } from '../../src/config.js';
import { openPlatform } from '../../src/platform.js';
import { keyProtection, assertKeyProtection } from '../../src/vault/guard.js';
import { signCades, prepareCades } from '../../src/sign/cades/sign.js';
import { securityLabelAttribute, readSecurityLabel } from '../../src/vault/index.js';
import { tmp, openssl } from '../helpers/openssl.js';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, sign as nodeSign } from 'node:crypto';

const cfg = (env: Record<string, string>, extra: Record<string, unknown> = {}) => {
  const dataDir = tmp('truc-guard-');
  return loadConfig({ env, overrides: { dataDir, keys: { software: { dir: `${dataDir}/keys` } }, database: { url: 'memory://' }, log: { level: 'silent' }, ...extra } as any });
};

describe('production guard for the key-encryption key', () => {
  it('development warns loudly when kek.bin sits in the data folder', () => {
    const p = keyProtection(cfg({}));
    expect(p.mode).toBe('development');
    expect(p.secret).toBe('kek-file-in-data-dir');
    expect(p.warnings.join()).toMatch(/CẢNH BÁO.*WARNING/s);
  });

  it('production (TRUC_MODE or config) refuses to start without a passphrase or a token', async () => {
    expect(() => assertKeyProtection(cfg({ TRUC_MODE: 'production' }))).toThrow(/production/);
    expect(() => assertKeyProtection(cfg({}, { mode: 'production' }))).toThrow(/production/);
    await expect(openPlatform(cfg({ TRUC_MODE: 'production' }))).rejects.toMatchObject({ code: 'invalid_config' });
    const ok = assertKeyProtection(cfg({ TRUC_MODE: 'production', TRUC_KEY_PASSPHRASE: 'a long operator passphrase' }));
    expect(ok.warnings).toEqual([]);
    expect(ok.secret).toBe('passphrase');
  });
});

describe('the ESS security label inside a CAdES signature', () => {
  it('is covered by the signature and read back; openssl verifies the signature', async () => {
    const dir = tmp('truc-label-');
    const key = join(dir, 's.key');
    const cert = join(dir, 's.crt');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=Van thu', '-days', '1']);
    const certDer = Buffer.from(readFileSync(cert, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const pk = createPrivateKey(readFileSync(key));
    const content = Buffer.from('Công văn TỐI MẬT');
    const p7s = await signCades(content, { certificate: certDer, scheme: 'ecdsa-sha256', sign: async (d: Uint8Array) => nodeSign('sha256', d, pk) } as any, { extraAttributes: [securityLabelAttribute('toi-mat')] });
    writeFileSync(join(dir, 'doc.txt'), content);
    writeFileSync(join(dir, 'doc.p7s'), p7s);
    openssl(['cms', '-verify', '-binary', '-inform', 'DER', '-in', join(dir, 'doc.p7s'), '-content', join(dir, 'doc.txt'), '-noverify', '-out', '/dev/null']);
    // the signed attributes as printed by openssl carry the label OID
    expect(openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', join(dir, 'doc.p7s')])).toMatch(/id-smime-aa-securityLabel|1\.2\.840\.113549\.1\.9\.16\.2\.2/);
    // what the signer signs carries the label, and it reads back
    const prepared = prepareCades(content, { certificate: certDer, scheme: 'ecdsa-sha256' } as any, { extraAttributes: [securityLabelAttribute('toi-mat')] });
    expect(readSecurityLabel(prepared.signedAttributes)).toMatchObject({ level: 'toi-mat', policy: '2.16.704.1.101.1', privacyMark: 'TỐI MẬT' });
    void createHash;
  });
});
