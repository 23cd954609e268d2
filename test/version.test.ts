/** The release the platform reports (OpenAPI document, X-Road's proxyVersion metric) is package.json's. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TRUC_VERSION } from '../src/version.js';

describe('the release', () => {
  it('is the one package.json names', () => {
    expect(TRUC_VERSION).toBe((JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string }).version);
  });
});
