/**
 * xadesjs computes digests and canonical forms with WebCrypto and asks WebCrypto to sign. To keep the
 * signer external ("hash in, signature out"), the engine given to xadesjs is node's WebCrypto with one
 * change: a key made by `externalKey` is not a real key — signing with it calls the ExternalSigner and
 * turns its DER ECDSA answer into the r‖s form XML-DSig uses. The XML DOM is @xmldom/xmldom.
 */
import { webcrypto } from 'node:crypto';
import * as xmldom from '@xmldom/xmldom';
import xpath from 'xpath';
import * as xadesjs from 'xadesjs';
import { children, readElement } from '../../asn1/reader.js';
import { SCHEMES } from '../../crypto/algorithms.js';
import type { ExternalSigner } from '../signer.js';

const SIGNER = Symbol('truc.externalSigner');

interface ExternalKey {
  type: 'private';
  extractable: false;
  usages: ['sign'];
  algorithm: { name: string; hash: { name: string }; namedCurve?: string };
  [SIGNER]: ExternalSigner;
}

/** DER ECDSA-Sig-Value to the fixed-width r‖s of XML-DSig (RFC 4050 / XML-DSig 1.1). */
function derToRaw(der: Buffer, size: number): Buffer {
  const [r, s] = children(readElement(der));
  const fix = (v: Buffer) => {
    let i = 0;
    while (i < v.length - 1 && v[i] === 0) i++;
    const t = v.subarray(i);
    return Buffer.concat([Buffer.alloc(Math.max(0, size - t.length)), t]);
  };
  return Buffer.concat([fix(r.value), fix(s.value)]);
}

const subtle = webcrypto.subtle;
const proxied = new Proxy(subtle, {
  get(target, prop) {
    if (prop === 'sign')
      return async (alg: unknown, key: unknown, data: ArrayBuffer | ArrayBufferView) => {
        const ext = (key as Partial<ExternalKey>)[SIGNER];
        if (!ext) return target.sign(alg as never, key as never, data as never);
        const bytes = Buffer.from(ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data));
        const sig = await ext.sign(bytes);
        if (SCHEMES[ext.scheme].family !== 'ecdsa') return sig;
        const size = { 'P-256': 32, 'P-384': 48, 'P-521': 66 }[(key as ExternalKey).algorithm.namedCurve ?? 'P-256'] ?? 32;
        return derToRaw(sig, size);
      };
    const v = Reflect.get(target, prop);
    return typeof v === 'function' ? v.bind(target) : v;
  },
});

let ready = false;
export function xades(): typeof xadesjs {
  if (!ready) {
    xadesjs.setNodeDependencies({ XMLSerializer: xmldom.XMLSerializer, DOMParser: xmldom.DOMParser, DOMImplementation: xmldom.DOMImplementation, xpath } as never);
    xadesjs.Application.setEngine('NodeJS', { ...webcrypto, subtle: proxied, getRandomValues: webcrypto.getRandomValues.bind(webcrypto) } as never);
    ready = true;
  }
  return xadesjs;
}

/** The WebCrypto algorithm and a stand-in key for an external signer. */
export function externalKey(signer: ExternalSigner, namedCurve: string | undefined): { algorithm: Record<string, unknown>; key: CryptoKey } {
  const info = SCHEMES[signer.scheme];
  const hash = { name: (info.hash ?? 'sha256').toUpperCase().replace('SHA', 'SHA-') };
  const name = info.family === 'ecdsa' ? 'ECDSA' : info.family === 'rsa-pss' ? 'RSA-PSS' : info.family === 'rsa-pkcs1' ? 'RSASSA-PKCS1-v1_5' : 'Ed25519';
  const algorithm = { name, hash, ...(namedCurve ? { namedCurve } : {}), ...(info.family === 'rsa-pss' ? { saltLength: 32 } : {}) };
  const key: ExternalKey = { type: 'private', extractable: false, usages: ['sign'], algorithm: algorithm as ExternalKey['algorithm'], [SIGNER]: signer };
  return { algorithm, key: key as unknown as CryptoKey };
}
