import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPlatform, type TestPlatform } from '../../helpers/platform.js';
import { buildApp } from '../../../src/http/app.js';
import { OcspResponder } from '../../../src/pki/ocsp/index.js';
import { TimeStampAuthority } from '../../../src/pki/tsa/index.js';
import { openCentral, startAxis, type Axis } from '../../../src/exchange/axis.js';
import { tmp } from '../../helpers/openssl.js';
import { memoryLog } from './memory-log.js';
import type { FastifyInstance } from 'fastify';

let p: TestPlatform;
let app: FastifyInstance;
let axis: Axis;

beforeAll(async () => {
  p = await testPlatform('memory://');
  const ocsp = new OcspResponder(p.pki, p.issuer, p.config.ocsp, p.log);
  await ocsp.start();
  const tsa = new TimeStampAuthority(p.pki, p.issuer, p.config.tsa, p.log);
  await tsa.start();
  // the base URL is known only once listening: listen first, then open the central server on it
  let central: Awaited<ReturnType<typeof openCentral>> | undefined;
  app = await buildApp(p, { ocsp, tsa, central: new Proxy({} as any, { get: (_t, k) => (central as any)[k] }) });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  central = await openCentral(p, url);
  axis = await startAxis(p, central, { baseUrl: url, dir: tmp('axis-'), storage: 'memory', openLog: async () => memoryLog() });
}, 120_000);

afterAll(async () => {
  await axis?.close();
  await app?.close();
  await p?.close();
});

describe('axis', () => {
  it('calls another agency service through two security servers', async () => {
    const [a, , c] = axis.members;
    const res = await fetch(`${a!.isUrl}/r1/VN/PROV/000.00.31.H29/vanthu/thong-tin`, { headers: { 'x-road-client': 'VN/GOV/000.00.00.G22/vanthu' } });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    const body = JSON.parse(text);
    expect(body.co_quan).toBe('UBND Thành phố Hồ Chí Minh');
    expect(body.ben_goi).toBe('VN/GOV/000.00.00.G22/vanthu');
    expect(res.headers.get('x-road-request-hash')).toBeTruthy();
    void c;
  });
});
