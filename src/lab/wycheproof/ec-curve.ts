/**
 * Curve parameters (ec_curve_test_schema): the product is asked for the parameters it holds under a curve's
 * name and OID, and every one of p, a, b, G, n and h must be the listed value. A product with a wrong
 * constant (a mistyped prime, a generator off by a digit) computes on another curve without any other
 * sign of it; one that does not know the curve says so.
 */
import type { EcCurveParams } from '../product.js';
import { attempt, type Observation } from '../outcome.js';
import { ecCurve } from './curves.js';
import { type Family, hexField, need } from './family.js';
import type { WycheproofTest } from './file.js';

const unsigned = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);

function compare(got: EcCurveParams, t: WycheproofTest): Observation {
  for (const k of ['p', 'a', 'b', 'gx', 'gy', 'n'] as const) {
    if (!(got[k] instanceof Uint8Array) || unsigned(got[k]) !== unsigned(hexField(t, k))) return { accepted: false, note: `parameter ${k} differs` };
  }
  if (Number(got.h) !== Number(t.h)) return { accepted: false, note: `cofactor ${String(got.h)} differs` };
  return { accepted: true, note: 'parameters as listed' };
}

export const ecCurveParams: Family<null> = {
  name: 'ec-curve',
  schemas: ['ec_curve_test_schema.json'],
  group: () => null,
  async test(adapter, _g, t) {
    const r = await attempt(() => need(adapter, 'ecCurveParams')({ name: ecCurve(t.name), oid: String(t.oid) }));
    if (!r.ok) return { accepted: false, note: r.note };
    return compare(r.value, t);
  },
};
