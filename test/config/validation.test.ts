/**
 * The configuration is validated section by section, only the sections given (src/config.ts): the errors
 * read as a validation of the whole document would, and a file's sections are checked as the
 * environment's are.
 */
import { describe, it, expect } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { tmp } from '../helpers/openssl.js';

const load = (o: Parameters<typeof loadConfig>[0]) => loadConfig({ env: {}, ...o });

describe('configuration validation', () => {
  it('accepts the embedded default and a file with several sections, defaults filled in', () => {
    expect(load({}).database.url).toMatch(/data[\\/]db$/);
    const file = join(tmp('truc-config-'), 'truc.yaml');
    writeFileSync(file, 'http: { port: 9090 }\nmonitor: { retentionDays: 30 }\nlog: { level: warn }\n');
    const c = load({ file });
    expect(c.http.port).toBe(9090);
    expect(c.publicUrl).toBe('http://127.0.0.1:9090');
    expect(c.monitor?.retentionDays).toBe(30);
  });

  it('names what is wrong by its path, in every section given, and refuses unknown sections', () => {
    expect(() => load({ overrides: { http: { port: 70000 } } })).toThrow(
      'invalid configuration: /http/port must be <= 65535',
    );
    expect(() => load({ overrides: { monitor: { retentionDays: 0 } } as never })).toThrow(
      '/monitor/retentionDays must be >= 1',
    );
    expect(() => load({ env: { TRUC_MODE: 'staging' } })).toThrow(
      '/mode must be equal to one of the allowed values',
    );
    expect(() => load({ overrides: { bogus: 1 } as never })).toThrow('/ must NOT have additional properties');
    expect(() => load({ overrides: { http: { port: 70000 }, log: { level: 'loud' } } as never })).toThrow(
      /\/http\/port must be <= 65535; \/log\/level must be equal to one of the allowed values/,
    );
    const file = join(tmp('truc-config-'), 'list.yaml');
    writeFileSync(file, '- a\n- b\n');
    expect(() => load({ file })).toThrow(/invalid configuration/);
  });
});
