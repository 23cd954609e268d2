/**
 * `crl.publishOnRevocation`: by the time a revocation is acknowledged, the published CRL names it — no
 * window in which OCSP says revoked and the CRL still says nothing. Checked with openssl's CRL parser.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Platform } from '../../src/platform.js';
import { latestCrl, revoke } from '../../src/pki/index.js';
import { openssl, opensslCsr, tmp } from '../helpers/openssl.js';
import { testPlatform } from '../helpers/platform.js';

describe('a CRL published on every revocation', () => {
  let p: Platform | undefined;
  afterAll(async () => p?.close());

  it('names the certificate as soon as its revocation is acknowledged', async () => {
    p = await testPlatform('memory://', {
      record: false,
      overrides: {
        crl: { publishOnRevocation: true },
      },
    });
    const dir = tmp();
    const { csr } = opensslCsr(dir, '/C=VN/O=Bộ Nội vụ/CN=CRL now');
    const c = await p.issuer.issue({ profile: 'agency-signing', csr }, 'ra');
    const before = (await latestCrl(p.db, 'issuing', false))?.number ?? 0;
    await revoke(p.pki, { serial: c.serial, reason: 'keyCompromise' }, 'ra');
    const crl = (await latestCrl(p.db, 'issuing', false))!;
    expect(crl.number).toBeGreaterThan(before);
    writeFileSync(join(dir, 'now.crl'), crl.der);
    const text = openssl(['crl', '-inform', 'DER', '-in', join(dir, 'now.crl'), '-noout', '-text']);
    expect(text.toLowerCase().replace(/[^0-9a-f\n]/g, '')).toContain(c.serial.toLowerCase().replace(/^0+/, ''));
    expect(text).toMatch(/Key Compromise/);
  }, 60_000);
});
