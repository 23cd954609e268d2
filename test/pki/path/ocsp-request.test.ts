import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toPem } from '../../../src/asn1/der.js';
import { buildOcspRequest } from '../../../src/pki/path/index.js';
import { hierarchy } from './scenarios.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

describe.skipIf(!hasOpenssl)('OCSP request', () => {
  const h = hierarchy();
  const dir = mkdtempSync(join(tmpdir(), 'truc-ocspreq-'));
  writeFileSync(join(dir, 'int.pem'), toPem('CERTIFICATE', h.int));
  writeFileSync(join(dir, 'leaf.pem'), toPem('CERTIFICATE', h.leaf));

  for (const hash of ['sha1', 'sha256'] as const) {
    it(`is byte-equal to what openssl ocsp writes, ${hash} CertID`, () => {
      const out = join(dir, `req-${hash}.der`);
      const r = spawnSync(
        'openssl',
        [
          'ocsp',
          `-${hash}`,
          '-issuer',
          join(dir, 'int.pem'),
          '-cert',
          join(dir, 'leaf.pem'),
          '-no_nonce',
          '-reqout',
          out,
        ],
        { encoding: 'utf8' },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(buildOcspRequest(h.leaf, h.int, { hash }).toString('hex')).toBe(
        readFileSync(out).toString('hex'),
      );
    });
  }

  it('carries a nonce when asked, and openssl reads it', () => {
    const req = buildOcspRequest(h.leaf, h.int, { nonce: Buffer.alloc(16, 7) });
    const p = join(dir, 'nonce.der');
    writeFileSync(p, req);
    const r = spawnSync('openssl', ['ocsp', '-reqin', p, '-req_text'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/OCSP Nonce/);
    expect(r.stdout.replace(/\s/g, '')).toMatch(/07070707070707070707070707070707/);
  });
});
