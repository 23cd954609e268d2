/**
 * `truc central …` on an embedded data folder: members, subsystems, approving the platform's CAs,
 * settings, generating, exporting an anchor that parses; errors with their exit codes. (Each invocation opens the platform: few of them, the rest is tested through the API.)
 */
import { describe, it, expect, beforeAll } from 'vitest';
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
  beforeAll(() => {
    const init = truc('ca', 'init');
    expect(init.status, init.stderr).toBe(0);
  }, 120_000);

  it('keeps the registry, generates and exports an anchor', () => {
    let r = truc('central', 'member', 'add', 'GOV', '000.00.00.G22', 'Văn phòng Chính phủ');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('MEMBER:VN/GOV/000.00.00.G22');
    r = truc('central', 'member', 'add', 'GOV', '000.00.00.G22', 'Văn phòng Chính phủ');
    expect(r.status).toBe(5); // conflict
    expect(r.stderr).toContain('[conflict]');
    expect(truc('central', 'subsystem', 'add', 'GOV', '000.00.00.G22', 'vanthu').status).toBe(0);
    r = truc('--json', 'central', 'member', 'list');
    expect(JSON.parse(r.stdout)).toEqual([{ memberClass: 'GOV', memberCode: '000.00.00.G22', name: 'Văn phòng Chính phủ', subsystems: ['vanthu'] }]);
    r = truc('--json', 'central', 'approve-platform-ca');
    expect(JSON.parse(r.stdout).approved).toEqual(['root']);
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
    r = truc('central', 'approve', 'no-such-request');
    expect(r.status).toBe(4);
    expect(r.stderr).toContain('[not_found]');
  }, 120_000);
});
