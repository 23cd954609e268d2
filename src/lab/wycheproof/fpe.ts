/**
 * Format-preserving encryption (fpe_list_test_schema, fpe_str_test_schema): AES-FF1 of NIST SP 800-38G.
 * A message is a list of digits below the group's radix, or a string over the group's alphabet; both go to
 * the product as the file writes them — digits out of range, characters outside the alphabet, messages
 * below the minimum length included — so that refusing them is the product's doing. A valid test must
 * encrypt to the listed ciphertext and decrypt back; an invalid one must be refused.
 */
import type { FpeInput, FpeText } from '../product.js';
import { labCannotAsk } from '../product.js';
import { attempt, type Observation } from '../outcome.js';
import { type Family, hexField, need } from './family.js';
import type { WycheproofTest } from './file.js';

type Group = Pick<FpeInput, 'alg' | 'radix' | 'alphabet'>;

function text(t: WycheproofTest, field: string): FpeText {
  const v = t[field];
  if (typeof v === 'string' || (Array.isArray(v) && v.every((d) => Number.isInteger(d)))) return v as FpeText;
  throw labCannotAsk(`FPE ${field} of type ${typeof v}`);
}

/** Same kind, same length, same symbols. */
function sameText(got: unknown, want: FpeText, what: string): Observation {
  const same =
    typeof want === 'string'
      ? got === want
      : Array.isArray(got) && got.length === want.length && want.every((d, i) => got[i] === d);
  return same ? { accepted: true } : { accepted: false, note: `${what} differs` };
}

export const fpe: Family<Group> = {
  name: 'fpe',
  schemas: ['fpe_list_test_schema.json', 'fpe_str_test_schema.json'],
  group: (g, file) => ({
    alg: file.doc.algorithm,
    radix: Number(g.radix),
    ...(typeof g.alphabet === 'string' ? { alphabet: g.alphabet } : {}),
  }),
  async test(adapter, g, t) {
    const base: FpeInput = { ...g, key: hexField(t, 'key'), tweak: hexField(t, 'tweak') };
    const msg = text(t, 'msg');
    const enc = await attempt(() => need(adapter, 'fpeEncrypt')({ ...base, msg }));
    if (!enc.ok) return { accepted: false, note: `encrypt: ${enc.note}` };
    if (t.result !== 'valid') return { accepted: true, note: 'encryption succeeded' };
    const ct = text(t, 'ct');
    const c = sameText(enc.value, ct, 'ciphertext');
    if (!c.accepted) return c;
    const dec = await attempt(() => need(adapter, 'fpeDecrypt')({ ...base, ct }));
    if (!dec.ok) return { accepted: false, note: `decrypt: ${dec.note}` };
    return sameText(dec.value, msg, 'plaintext');
  },
};
