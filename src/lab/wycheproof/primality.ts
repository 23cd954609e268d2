/**
 * Primality family (primality_test_schema_v1): the product says whether an integer is prime. The value
 * goes as the file writes it (big-endian two's complement), so negative numbers reach the product too;
 * "prime" is accepting, "not prime" or refusing the value is rejecting. Composites built to fool
 * Fermat and fixed-base Miller–Rabin tests must come out not prime; a prime's negative is ACCEPTABLE
 * either way.
 */
import { attempt } from '../outcome.js';
import { type Family, hexField, need } from './family.js';

export const primality: Family<null> = {
  name: 'primality',
  schemas: ['primality_test_schema_v1.json'],
  group: () => null,
  async test(adapter, _g, t) {
    const r = await attempt(() => need(adapter, 'isPrime')({ value: hexField(t, 'value') }));
    if (!r.ok) return { accepted: false, note: `refused the value: ${r.note}` };
    return r.value ? { accepted: true, note: 'said prime' } : { accepted: false, note: 'said not prime' };
  },
};
