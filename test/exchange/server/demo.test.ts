/**
 * `truc start` on the embedded default runs the demonstration axis: one agency's information system calls
 * another's service through both security servers, as the README shows, and again after a restart; its
 * document desks exchange a sample signed decision on the first start, and its receipts flow back; each
 * agency's encryption certificate is registered in the global configuration.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import * as nodeSoap from 'soap';
import { tmp } from '../../helpers/openssl.js';
import { freePorts } from '../../helpers/ports.js';

/** README's SOAP example is called as written */
const readme = readFileSync(resolve('README.md'), 'utf8');

const ROOT = resolve(__dirname, '../../..');


let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
});

async function start(dataDir: string, config: string): Promise<string> {
  child = spawn(process.execPath, [join(ROOT, 'bin/truc.js'), '--config', config, '--data-dir', dataDir, 'start'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  return new Promise((resolvePromise, reject) => {
    const t = setTimeout(() => reject(new Error(`the demonstration axis did not start: ${buf.slice(-3000)}`)), 150_000);
    const on = (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('demonstration axis running')) {
        clearTimeout(t);
        resolvePromise(buf);
      }
      if (buf.includes('demonstration axis did not start')) {
        clearTimeout(t);
        reject(new Error(buf.slice(-3000)));
      }
    };
    child!.stdout!.on('data', on);
    child!.stderr!.on('data', on);
    child!.once('exit', (code) => reject(new Error(`truc start exited ${code}: ${buf.slice(-3000)}`)));
  });
}

/**
 * Starts without watching the log: polls /readyz from the moment the process runs until it says ready, and
 * returns what it answered while the axis was starting.
 */
async function startReady(dataDir: string, config: string, http: number): Promise<{ starting: { status: string; parts: Record<string, string>; en?: string }[] }> {
  child = spawn(process.execPath, [join(ROOT, 'bin/truc.js'), '--config', config, '--data-dir', dataDir, 'start'], { stdio: ['ignore', 'pipe', 'pipe'] });
  // what the process printed is kept for the failure message: a part that failed says why in the log
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => (buf = (buf + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (buf = (buf + d.toString()).slice(-20_000)));
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const starting: { status: string; parts: Record<string, string>; en?: string }[] = [];
  for (let i = 0; i < 1500; i++) {
    if (exited !== undefined) throw new Error(`truc start exited ${exited}: ${buf.slice(-3000)}`);
    const r = await fetch(`http://127.0.0.1:${http}/readyz`).catch(() => undefined);
    if (r?.status === 200) {
      expect(await r.json(), buf.slice(-6000)).toEqual({ status: 'ready', parts: { axis: 'running', desks: 'running' } });
      return { starting };
    }
    if (r) {
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('2');
      starting.push(await r.json());
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('/readyz never said ready');
}

async function stop(): Promise<void> {
  const c = child!;
  c.removeAllListeners('exit');
  const done = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await done;
}

describe('truc start: the demonstration axis', () => {
  it('calls Hồ Chí Minh’s service from Văn phòng Chính phủ, before and after a restart', async () => {
    const dataDir = tmp('truc-demo-');
    const http = await freePorts(1);
    const is = await freePorts(3);
    const peer = await freePorts(3);
    const config = join(dataDir, 'config.json');
    writeFileSync(config, JSON.stringify({ http: { port: http }, exchange: { demoIsPort: is, demoPeerPort: peer } }));
    const encryptionCerts: Buffer[][] = [];
    for (const round of [1, 2]) {
      if (round === 2) await start(dataDir, config);
      else {
        // the first start is awaited as a script would: /readyz answers 503 while the axis starts (the
        // console and API already answer, /healthz says which part is starting), and once it says ready the
        // README's call goes through at once
        const { starting } = await startReady(dataDir, config, http);
        expect(starting.length).toBeGreaterThan(0);
        expect(starting[0]).toMatchObject({ status: 'starting', parts: { axis: 'starting' } });
        expect(starting[0]!.en).toContain('axis');
        expect(await (await fetch(`http://127.0.0.1:${http}/healthz`)).json()).toEqual({ status: 'ok', parts: { axis: 'running', desks: 'running' } });
        for (const [k, port] of [[0, is], [1, is + 1], [2, is + 2]] as const) {
          const h = await fetch(`http://127.0.0.1:${port}/healthcheck`);
          const hj = await h.json();
          expect(h.status, `${k}: ${JSON.stringify(hj)}`).toBe(200);
          expect(hj.checks.find((c: { check: string }) => c.check === 'registration')).toEqual({ check: 'registration', ok: true });
          expect(hj.clients).toEqual([{ client: `SUBSYSTEM:VN/${['GOV/000.00.00.G22', 'GOV/000.00.00.G09', 'PROV/000.00.31.H29'][k]}/vanthu`, registered: true }]);
        }
      }
      // each agency's desk has its encryption certificate (agency-encryption), made once and kept
      // (the desks open just after the axis)
      const certPaths = ['000.00.00.G22', '000.00.00.G09', '000.00.31.H29'].map((c) => join(dataDir, 'axis', c, 'desk', 'encryption.cer'));
      for (let i = 0; i < 240 && !certPaths.every((f) => existsSync(f)); i++) await new Promise((res) => setTimeout(res, 250));
      encryptionCerts.push(certPaths.map((f) => readFileSync(f)));
      // ... and registered with the central server: the global configuration lists each under its member,
      // in the part the signed directory names by its SHA-512
      const codes = ['000.00.00.G22', '000.00.00.G09', '000.00.31.H29'];
      let listed: string[][] = [];
      for (let i = 0; i < 240; i++) {
        const signed = await (await fetch(`http://127.0.0.1:${http}/conf/VN/directory`)).json();
        const dir = JSON.parse(Buffer.from(signed.directory, 'base64').toString('utf8'));
        const ref = dir.parts.find((x: { name: string }) => x.name === 'shared-params');
        const part = Buffer.from(await (await fetch(`http://127.0.0.1:${http}/conf/VN/${ref.path}`)).arrayBuffer());
        expect(createHash('sha512').update(part).digest('hex')).toBe(ref.hash);
        const members = JSON.parse(part.toString('utf8')).members as { memberCode: string; encryptionCertificates?: { certificate: string }[] }[];
        listed = codes.map((c) => (members.find((m) => m.memberCode === c)?.encryptionCertificates ?? []).map((e) => e.certificate));
        if (listed.every((l) => l.length)) break;
        await new Promise((res) => setTimeout(res, 250));
      }
      expect(listed).toEqual(encryptionCerts.at(-1)!.map((b) => [b.toString('base64')]));
      const res = await fetch(`http://127.0.0.1:${is}/r1/VN/PROV/000.00.31.H29/vanthu/thong-tin`, { headers: { 'X-Road-Client': 'VN/GOV/000.00.00.G22/vanthu' } });
      const text = await res.text();
      expect(res.status, `round ${round}: ${text}`).toBe(200);
      const body = JSON.parse(text);
      expect(body.co_quan).toBe('UBND Thành phố Hồ Chí Minh');
      expect(body.ben_goi).toBe('VN/GOV/000.00.00.G22/vanthu');
      // Bộ Nội vụ's system may call it too; a client foreign to the server is refused with the reason
      const foreign = await fetch(`http://127.0.0.1:${is}/r1/VN/PROV/000.00.31.H29/vanthu/thong-tin`, { headers: { 'X-Road-Client': 'VN/GOV/000.00.00.G09/vanthu' } });
      expect(foreign.status).toBe(500);
      expect(foreign.headers.get('x-road-error')).toBe('Server.ClientProxy.UnknownMember');
      // the same agency's service in X-Road's SOAP protocol, as README shows it
      const soap = readme.match(/<SOAP-ENV:Envelope[\s\S]*?<\/SOAP-ENV:Envelope>/)![0].replace('$(cat /proc/sys/kernel/random/uuid)', randomUUID());
      const s = await fetch(`http://127.0.0.1:${is}/`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: soap });
      const st = await s.text();
      expect(s.status, st).toBe(200);
      expect(st).toContain('<coQuan>UBND Thành phố Hồ Chí Minh</coQuan>');
      expect(st).toContain(`>${createHash('sha512').update(soap).digest('base64')}</xrd:requestHash>`);
      // its WSDL through the axis, as README says (getWsdl), and a SOAP toolkit's client built from it
      const getWsdl = soap
        .replace(/<xrd:id>[^<]*<\/xrd:id>/, `<xrd:id>${randomUUID()}</xrd:id>`)
        .replace('<id:serviceCode>thongTin</id:serviceCode>', '<id:serviceCode>getWsdl</id:serviceCode>')
        .replace('<ns1:thongTin/>', readme.match(/<xrd:getWsdl>.*?<\/xrd:getWsdl>/)![0]);
      const w = await fetch(`http://127.0.0.1:${is}/`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: getWsdl });
      const wt = await w.text();
      expect(w.status, wt).toBe(200);
      const boundary = /boundary="?([^";]+)"?/.exec(w.headers.get('content-type')!)![1]!;
      const wsdl = wt.split(`--${boundary}`)[2]!.split('\r\n\r\n').slice(1).join('\r\n\r\n').slice(0, -2);
      expect(wsdl).toContain('<soap:address location="http://example.org/xroad-endpoint"/>');
      const wsdlFile = join(tmp('truc-demo-wsdl-'), 'thongTin.wsdl');
      writeFileSync(wsdlFile, wsdl);
      const client = await nodeSoap.createClientAsync(wsdlFile, { endpoint: `http://127.0.0.1:${is}/` });
      const X = 'xmlns:xrd="http://x-road.eu/xsd/xroad.xsd" xmlns:id="http://x-road.eu/xsd/identifiers"';
      const ident = (tag: string, type: string, parts: string[][]) => `<xrd:${tag} ${X} id:objectType="${type}">${parts.map(([k, v]) => `<id:${k}>${v}</id:${k}>`).join('')}</xrd:${tag}>`;
      client.addSoapHeader(
        ident('client', 'SUBSYSTEM', [['xRoadInstance', 'VN'], ['memberClass', 'GOV'], ['memberCode', '000.00.00.G22'], ['subsystemCode', 'vanthu']]) +
          ident('service', 'SERVICE', [['xRoadInstance', 'VN'], ['memberClass', 'PROV'], ['memberCode', '000.00.31.H29'], ['subsystemCode', 'vanthu'], ['serviceCode', 'thongTin']]) +
          `<xrd:id ${X}>${randomUUID()}</xrd:id><xrd:protocolVersion ${X}>4.0</xrd:protocolVersion>`,
      );
      const [answer] = await client.thongTinAsync({});
      expect(answer).toMatchObject({ coQuan: 'UBND Thành phố Hồ Chí Minh', benGoi: 'VN/GOV/000.00.00.G22/vanthu' });
      if (round === 1) {
        // the document desks: the first start sends a sample decision from Văn phòng Chính phủ to the two
        // others; each takes it (01), validates its signatures and registers it (03)
        const token = readFileSync(join(dataDir, 'bootstrap-tokens.txt'), 'utf8').match(/^doc-clerk\t(\S+)$/m)![1]!;
        const api = async (path: string) => {
          for (let i = 0; ; i++) {
            const r = await fetch(`http://127.0.0.1:${http}${path}`, { headers: { authorization: `Bearer ${token}` } });
            if (r.status !== 503 || i > 120) return r;
            await new Promise((res) => setTimeout(res, 500)); // the desks open just after the axis
          }
        };
        const recipients = await (await api('/api/v1/doc/recipients')).json();
        expect(recipients.map((r: { id: string }) => r.id).sort()).toEqual(['000.00.00.G09', '000.00.31.H29']);
        let statuses: { organId: string; status: string | null }[] = [];
        for (let i = 0; i < 240; i++) {
          const outbox = await (await api('/api/v1/doc/outbox')).json();
          const sample = (outbox.documents ?? outbox)[0];
          if (sample) statuses = await (await api(`/api/v1/doc/documents/${sample.id}/recipients`)).json();
          if (statuses.length === 2 && statuses.every((x) => x.status === '03')) break;
          await new Promise((res) => setTimeout(res, 500));
        }
        expect(statuses.map((x) => [x.organId, x.status]).sort()).toEqual([
          ['000.00.00.G09', '03'],
          ['000.00.31.H29', '03'],
        ]);
      }
      await stop();
    }
    expect(encryptionCerts[1]!.map((b) => b.toString('hex'))).toEqual(encryptionCerts[0]!.map((b) => b.toString('hex')));
  }, 400_000);
});
