/**
 * `truc central …` on an embedded data folder: a member (and a conflict's exit code), settings, generating,
 * exporting an anchor that parses. Each invocation opens the whole platform, so they are few; the registry
 * and registrations are tested through the API they share.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAnchor } from '../../../src/exchange/conf/index.js';
import { tmp } from '../../helpers/openssl.js';

const dataDir = tmp('truc-cli-central-');
const env = { ...process.env, TRUC_DATA_DIR: dataDir, TRUC_KEY_PASSPHRASE: 'cli central passphrase', TRUC_LOG_LEVEL: 'warn' };
delete (env as any).TRUC_DATABASE_URL;

function truc(...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/truc.js', ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('truc central', () => {
  it('keeps the registry, generates and exports an anchor', () => {
    let r = truc('central', 'member', 'add', 'GOV', '000.00.00.G22', 'Văn phòng Chính phủ');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('MEMBER:VN/GOV/000.00.00.G22');
    r = truc('central', 'member', 'add', 'GOV', '000.00.00.G22', 'Văn phòng Chính phủ');
    expect(r.status).toBe(5); // conflict
    expect(r.stderr).toContain('[conflict]');
    r = truc('--json', 'central', 'settings', '--set', 'validitySeconds=900', '--set', 'confBaseUrl=http://127.0.0.1:8080');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ validitySeconds: 900, autoApprove: false });
    r = truc('--json', 'central', 'generate');
    expect(r.status, r.stderr).toBe(0);
    const v = JSON.parse(r.stdout);
    expect(Date.parse(v.expiresAt) - Date.parse(v.generatedAt)).toBe(900_000);
    const file = join(dataDir, 'anchor.json');
    r = truc('central', 'anchor', 'export', '--out', file);
    expect(r.status, r.stderr).toBe(0);
    const anchor = parseAnchor(readFileSync(file));
    expect(anchor.sources[0].url).toBe('http://127.0.0.1:8080/conf/VN');
  }, 120_000);
});
