/**
 * A product adapter from a one-word description: `node`, `noble`, `pkcs11` (module, token and PIN given
 * separately), `stdio:<command line>` or `http:<url>`. The CLI accepts all of them; the HTTP API only the
 * in-process references and `http:` (it must not start processes or load libraries on a caller's word).
 */
import { TrucError } from '../../errors.js';
import type { ProductAdapter } from '../product.js';
import { openHttpProduct } from './http.js';
import { nobleProduct } from './noble.js';
import { nodeCryptoProduct } from './node.js';
import { openPkcs11Product, type Pkcs11ProductOptions } from './pkcs11.js';
import { openStdioProduct } from './stdio.js';

export interface OpenProductOptions {
  pkcs11?: Partial<Pkcs11ProductOptions>;
  /** Limits for a process product (the whole run's output). */
  stdio?: { maxOutputBytes?: number };
  /** kinds this caller may open; default all */
  allow?: readonly ('node' | 'noble' | 'pkcs11' | 'stdio' | 'http')[];
}

export function productKind(spec: string): 'node' | 'noble' | 'pkcs11' | 'stdio' | 'http' {
  if (spec === 'node' || spec === 'noble' || spec === 'pkcs11') return spec;
  if (spec.startsWith('stdio:')) return 'stdio';
  if (spec.startsWith('http:') || spec.startsWith('https:')) return 'http';
  throw new TrucError('bad_request', `unknown product "${spec}": node, noble, pkcs11, stdio:<command>, http:<url>`);
}

/** Splits a command line on spaces, keeping quoted parts together (no shell is involved). */
function words(cmd: string): string[] {
  return [...cmd.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
}

export async function openProduct(spec: string, o: OpenProductOptions = {}): Promise<ProductAdapter> {
  const kind = productKind(spec);
  if (o.allow && !o.allow.includes(kind)) throw new TrucError('bad_request', `product kind ${kind} is not allowed here (allowed: ${o.allow.join(', ')})`);
  switch (kind) {
    case 'node':
      return nodeCryptoProduct();
    case 'noble':
      return nobleProduct();
    case 'pkcs11': {
      const p = o.pkcs11 ?? {};
      if (!p.library || p.pin === undefined) throw new TrucError('bad_request', 'a PKCS#11 product needs the module path and the PIN');
      return openPkcs11Product({ library: p.library, pin: p.pin, tokenLabel: p.tokenLabel, name: p.name });
    }
    case 'stdio': {
      const [command, ...args] = words(spec.slice('stdio:'.length));
      if (!command) throw new TrucError('bad_request', 'stdio: needs a command');
      return openStdioProduct({ command, args, ...(o.stdio?.maxOutputBytes !== undefined ? { maxOutputBytes: o.stdio.maxOutputBytes } : {}) });
    }
    case 'http': {
      const url = spec.startsWith('http:http') ? spec.slice('http:'.length) : spec;
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        throw new TrucError('bad_request', `not a URL: ${url}`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TrucError('bad_request', 'http products need an http(s) URL');
      return openHttpProduct({ url: u.toString() });
    }
  }
}
