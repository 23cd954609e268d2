/**
 * A real axis for tests: a platform (CA, OCSP responder and TSA over HTTP on loopback), the central server
 * on it, and the agencies' security servers with their own databases, each registered and approved.
 */
import type { FastifyInstance } from 'fastify';
import { testPlatform, type TestPlatform } from '../../helpers/platform.js';
import { buildApp } from '../../../src/http/app.js';
import { OcspResponder } from '../../../src/pki/ocsp/index.js';
import { TimeStampAuthority } from '../../../src/pki/tsa/index.js';
import { openCentral, startAxis, type Axis, type AxisOptions } from '../../../src/exchange/axis.js';
import type { CentralServer } from '../../../src/exchange/central/index.js';
import { tmp } from '../../helpers/openssl.js';
import { migratedPgliteDir } from '../../helpers/pglite-template.js';
import { serverMigrations } from '../../../src/exchange/server/store.js';
import { rmSync } from 'node:fs';
import { openMessageLog } from '../../../src/exchange/server/log-open.js';
import tls from 'node:tls';
import type { KeyObject } from 'node:crypto';
import { certChainPem, keyPem, splitAddress } from '../../../src/exchange/server/peers.js';

export interface TestAxis {
  p: TestPlatform;
  app: FastifyInstance;
  axis: Axis;
  baseUrl: string;
  tsa: TimeStampAuthority;
  ocsp: OcspResponder;
  close(): Promise<void>;
}

export async function startTestAxis(o: Partial<AxisOptions> & { dbUrl?: string; centralSettings?: Record<string, unknown> } = {}): Promise<TestAxis> {
  const p = await testPlatform(o.dbUrl ?? 'memory://');
  const ocsp = new OcspResponder(p.pki, p.issuer, p.config.ocsp, p.log);
  await ocsp.start();
  const tsa = new TimeStampAuthority(p.pki, p.issuer, p.config.tsa, p.log);
  await tsa.start();
  const ref: { central?: CentralServer } = {};
  // the configuration's URLs need the listening port: listen first, open the central server after
  const app = await buildApp(p, { ocsp, tsa, central: new Proxy({} as CentralServer, { get: (_t, k) => (ref.central as any)[k] }) });
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  const central = (ref.central = await openCentral(p, baseUrl, 'VN', o.centralSettings ?? {}));
  // each server's database a copy of a migrated template (as testPlatform's): a new in-memory PGlite runs
  // initdb, ≈4 s of CPU each on this machine, three per axis
  const folders: string[] = [];
  const storage = async () => {
    const dir = await migratedPgliteDir(serverMigrations);
    folders.push(dir);
    return dir;
  };
  const axis = await startAxis(p, central, { baseUrl, dir: tmp('axis-'), storage, openLog: (db, dir, lo) => openMessageLog(db, dir, lo), ...o });
  return {
    p,
    app,
    axis,
    baseUrl,
    tsa,
    ocsp,
    async close() {
      await axis.close();
      await app.close();
      await ocsp.stop();
      await p.close();
      for (const dir of folders) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const CLIENT_VPCP = 'VN/GOV/000.00.00.G22/vanthu';
export const CLIENT_BNV = 'VN/GOV/000.00.00.G09/vanthu';
export const CLIENT_HCM = 'VN/PROV/000.00.31.H29/vanthu';

/** What a member's peer listener picks in the TLS handshake (ALPN) from `offer`, asked with Văn phòng Chính phủ's server's own credentials. */
export async function alpnOf(t: TestAxis, memberIndex: number, offer: string[]): Promise<string | false> {
  const m = t.axis.members[memberIndex]!;
  const { host, port } = splitAddress(m.peerAddress);
  const creds = (t.axis.members[0]!.server.ctx.peers as unknown as { creds: { key: KeyObject; cert: Buffer; chain: Buffer[] } }).creds;
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, key: keyPem(creds.key), cert: certChainPem(creds), rejectUnauthorized: false, minVersion: 'TLSv1.3', ALPNProtocols: offer });
    s.once('secureConnect', () => {
      resolve(s.alpnProtocol ?? false);
      s.destroy();
    });
    s.once('error', reject);
  });
}
