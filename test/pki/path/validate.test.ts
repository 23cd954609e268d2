import { describe, it, expect } from 'vitest';
import { validatePath } from '../../../src/pki/path/index.js';
import { buildScenarios, inputOf } from './scenarios.js';

const scenarios = buildScenarios();

describe('validatePath over built chains', () => {
  for (const s of scenarios) {
    it(`${s.name} → ${s.expect}`, async () => {
      const r = await validatePath(inputOf(s));
      if (s.expect === 'valid') {
        expect(r, r.valid ? '' : `${r.reason}: ${r.message}`).toMatchObject({ valid: true });
      } else {
        expect(r.valid, 'expected a rejection').toBe(false);
        if (!r.valid) expect(r.reason, r.message).toBe(s.expect);
      }
    });
  }
});
