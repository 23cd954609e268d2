/**
 * Exchanges through two security servers on a real axis (CA, OCSP, central server, three agencies): what
 * passes, and every refusal with its X-Road-Error code, checked before anything reaches the provider's
 * information system.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import https from 'node:https';
import { connect } from 'node:net';
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestAxis, CLIENT_BNV, CLIENT_HCM, CLIENT_VPCP, type TestAxis } from './setup.js';
import { GlobalConf } from '../../../src/exchange/conf/global.js';
import { FRAME_BODY, FRAME_HEADER, FRAME_MATERIAL, FRAME_SIGNATURE, MESSAGE_CONTENT_TYPE, encodeHeader, frame, frameHead, messageDigest, type MessageHeader } from '../../../src/exchange/server/message.js';
import { revoke } from '../../../src/pki/index.js';
import { parseCertificate } from '../../../src/pki/path/index.js';
import { tmp } from '../../helpers/openssl.js';
import { scanSegment, type MessageLog } from '../../../src/exchange/log/index.js';
import { segPath } from '../../../src/exchange/log/reader.js';
import { checkEvidence } from '../../../src/exchange/log/index.js';
import { localTimeStamper } from '../../../src/sign/timestamp/tsa-local.js';
import { listCas } from '../../../src/pki/index.js';
import { toPem } from '../../../src/asn1/der.js';
import { PROJECT_ROOT } from '../../../src/config.js';
import { pipeline } from 'node:stream/promises';
import { OwnStatus, httpOcspFetcher, type OcspFetcher } from '../../../src/exchange/server/own-status.js';
import { PeerTrust } from '../../../src/exchange/server/trust.js';
import { ownMaterial } from '../../../src/exchange/server/context.js';
import { encodeMaterial } from '../../../src/exchange/server/material.js';
import { FrameReader } from '../../../src/exchange/log/frames.js';
import { T_MATERIAL, T_RECORD } from '../../../src/exchange/log/format.js';
import { listSegments } from '../../../src/exchange/log/reader.js';
import { OCSP_STATUS, errorResponse } from '../../../src/pki/ocsp/respond.js';

let t: TestAxis;

/** the log's index is written behind the log itself: wait for it */
async function until<T>(fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  t = await startTestAxis();
}, 180_000);

afterAll(async () => {
  await t?.close();
});

const HCM = '/r1/VN/PROV/000.00.31.H29/vanthu';
const VPCP = '/r1/VN/GOV/000.00.00.G22/vanthu';
const CLIENT_VPCP_SUB = 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu';

async function call(memberIndex: number, path: string, init: { client?: string; method?: string; body?: Buffer | string; headers?: Record<string, string> } = {}) {
  const m = t.axis.members[memberIndex]!;
  const res = await fetch(`${m.isUrl}${path}`, {
    method: init.method ?? (init.body ? 'POST' : 'GET'),
    headers: { ...(init.client !== undefined ? (init.client ? { 'x-road-client': init.client } : {}) : { 'x-road-client': CLIENT_VPCP }), ...init.headers },
    ...(init.body !== undefined ? { body: typeof init.body === 'string' ? init.body : new Uint8Array(init.body) } : {}),
  });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, error: res.headers.get('x-road-error'), headers: res.headers, body, json: () => JSON.parse(body.toString()) };
}

describe('exchange through two security servers', () => {
  it('carries a request and its response, bound by the request hash, and logs both on both sides', async () => {
    const id = `test-${randomUUID()}`;
    const r = await call(0, `${HCM}/thong-tin/so-lieu?nam=2026`, { headers: { 'x-road-id': id, 'x-road-userid': 'VN123456789' } });
    expect(r.status, r.body.toString()).toBe(200);
    const j = r.json();
    expect(j.co_quan).toBe('UBND Thành phố Hồ Chí Minh');
    expect(j.ben_goi).toBe(CLIENT_VPCP);
    expect(j.x_road_id).toBe(id);
    expect(j.path).toBe('/so-lieu?nam=2026');
    // a GET without content reaches the service as one: no Content-Length (RFC 9110 §8.6)
    expect(j.method).toBe('GET');
    expect(j.content_length).toBeNull();
    const posted = (await call(0, `${HCM}/thong-tin`, { method: 'POST', body: 'năm' })).json();
    expect([posted.method, posted.content_length]).toEqual(['POST', String(Buffer.byteLength('năm'))]);
    const emptyPost = (await call(0, `${HCM}/thong-tin`, { method: 'POST', body: '' })).json();
    expect([emptyPost.method, emptyPost.content_length]).toEqual(['POST', '0']);
    expect(r.headers.get('x-road-id')).toBe(id);
    expect(Buffer.from(r.headers.get('x-road-request-hash')!, 'base64')).toHaveLength(64);
    const search = (i: number) => (t.axis.members[i]!.log as MessageLog).search({ messageId: id });
    const consumerLog = await until(async () => ((await search(0)).length === 2 ? search(0) : undefined));
    const providerLog = await until(async () => ((await search(2)).length === 2 ? search(2) : undefined));
    expect(consumerLog.map((x) => `${x.side}:${x.kind}`).sort()).toEqual(['consumer:request', 'consumer:response']);
    expect(providerLog.map((x) => `${x.side}:${x.kind}`).sort()).toEqual(['provider:request', 'provider:response']);
    // one operational record per side, found by the message id (a hash index since server_003)
    for (const [i, side] of [[0, 'consumer'], [2, 'provider']] as const) {
      const ops = await t.axis.members[i]!.server.ctx.ops.search({ messageId: id });
      expect(ops.map((o) => [o.message_id, o.side, o.status])).toEqual([[id, side, 200]]);
    }
    expect(await t.axis.members[0]!.server.ctx.ops.search({ messageId: `${id}-not-sent` })).toEqual([]);
    // both sides logged the same signed request, with the user the consumer named
    const req = (l: typeof consumerLog) => l.find((x) => x.kind === 'request')!;
    expect(req(consumerLog).bodyHash.equals(req(providerLog).bodyHash)).toBe(true);
    const read = async (i: number, seq: number) => {
      const dir = (t.axis.members[i]!.log as unknown as { dir: string }).dir;
      const scan = await scanSegment(segPath(dir, req(i === 0 ? consumerLog : providerLog).segment));
      try {
        for await (const r of scan.records) if (r.meta.seq === seq) return r.meta;
      } finally {
        await scan.close();
      }
      throw new Error(`record ${seq} not found`);
    };
    const [c, p] = [await read(0, req(consumerLog).seq), await read(2, req(providerLog).seq)];
    expect(p.userId).toBe('VN123456789');
    expect(c.header.equals(p.header)).toBe(true);
    expect(c.signature.equals(p.signature)).toBe(true);
    // protocol v2: the header names the sender's certificate and OCSP responses by hash; both logs keep
    // the hashes with the record and the items themselves in the segment
    const h = JSON.parse(c.header.toString());
    expect(h.v).toBe(2);
    expect(h.signCert).toBeUndefined();
    const own = ownMaterial(t.axis.members[0]!.server.ctx);
    expect([h.signCertHash, h.signOcspHash, h.authOcspHash]).toEqual([own.fields.signCertHash, own.fields.signOcspHash, own.fields.authOcspHash]);
    expect(c.header.length).toBeLessThan(1200);
    for (const [i, meta] of [[0, c], [2, p]] as const) {
      expect(meta.material?.map((x) => x.toString('hex'))).toEqual([h.signCertHash, h.signOcspHash, h.authOcspHash]);
      const dir = (t.axis.members[i]!.log as unknown as { dir: string }).dir;
      const scan = await scanSegment(segPath(dir, req(i === 0 ? consumerLog : providerLog).segment));
      try {
        for await (const r of scan.records) void r;
        for (const x of meta.material!) expect(createHash('sha256').update(scan.material.get(x.toString('hex'))!).digest().equals(x)).toBe(true);
      } finally {
        await scan.close();
      }
    }
    // bodies at rest are encrypted, each server under its own log key in the vault
    expect(c.body.cipher).toBe('vault:xlog:SERVER:VN/GOV/000.00.00.G22/ss-vpcp');
    expect(p.body.cipher).toBe('vault:xlog:SERVER:VN/PROV/000.00.31.H29/ss-hcm');
  });

  it('streams a body larger than the inline limit both ways, unchanged', async () => {
    const body = Buffer.alloc(5 * 1024 * 1024 + 17);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
    const r = await call(1, `${HCM}/echo`, { client: CLIENT_BNV, body, headers: { 'content-type': 'application/octet-stream' } });
    expect(r.status, r.body.subarray(0, 300).toString()).toBe(200);
    expect(r.body.length).toBe(body.length);
    expect(createHash('sha256').update(r.body).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('carries many concurrent exchanges, each answered with its own body', async () => {
    const n = 200;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => call(0, `${HCM}/echo`, { body: `tin nhắn ${i}` })));
    expect(results.filter((r) => r.status !== 200).map((r) => r.body.toString()).slice(0, 3)).toEqual([]);
    expect(results.map((r) => r.body.toString())).toEqual(Array.from({ length: n }, (_, i) => `tin nhắn ${i}`));
    // the certificates and OCSP responses went once per connection, and each log holds each item once per
    // segment, not once per message
    for (const i of [0, 2]) {
      const dir = (t.axis.members[i]!.log as unknown as { dir: string }).dir;
      let records = 0;
      const items = new Map<string, number>();
      for (const no of await listSegments(join(dir, 'segments'))) {
        const fr = await FrameReader.open(segPath(dir, no));
        try {
          for (let f = await fr.next(); f; f = await fr.next()) {
            if (f.type === T_RECORD) records++;
            if (f.type === T_MATERIAL) {
              const k = `${no}:${createHash('sha256').update(f.payload).digest('hex')}`;
              items.set(k, (items.get(k) ?? 0) + 1);
            }
          }
        } finally {
          await fr.close();
        }
      }
      expect(records).toBeGreaterThanOrEqual(2 * n);
      expect([...items.values()].every((c) => c === 1)).toBe(true);
      expect(items.size).toBeLessThan(records / 20);
    }
  });
});

describe('refusals toward the information system', () => {
  it('a request without X-Road-Client', async () => {
    const r = await call(0, `${HCM}/thong-tin`, { client: '' });
    expect(r.status).toBe(400);
    expect(r.error).toBe('Client.InvalidClientIdentifier');
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    // X-Road's members, Trục's stable code and texts beside them
    const j = r.json();
    expect(j.type).toBe('Client.InvalidClientIdentifier');
    expect(j.message).toMatch(/X-Road-Client/);
    expect(j.detail).toMatch(/^[0-9a-f-]{36}$/);
    expect(j.code).toBe('unknown_client');
    expect(j.status).toBe(400);
    expect(j.message_vi).toMatch(/X-Road-Client/);
  });

  it('a malformed client identifier', async () => {
    const r = await call(0, `${HCM}/thong-tin`, { client: 'VN/GOV' });
    expect(r.status).toBe(400);
    expect(r.error).toBe('Client.InvalidClientIdentifier');
    expect(r.json().code).toBe('bad_identifier');
  });

  it('a client that is not this server’s', async () => {
    const r = await call(0, `${HCM}/thong-tin`, { client: CLIENT_HCM });
    expect(r.status).toBe(500);
    expect(r.error).toBe('Server.ClientProxy.UnknownMember');
    expect(r.json()).toMatchObject({ type: 'Server.ClientProxy.UnknownMember', code: 'client_not_owned', status: 403 });
  });

  it('an unknown member and an unknown subsystem', async () => {
    const a = await call(0, '/r1/VN/GOV/999.99.99.Z99/vanthu/thong-tin');
    expect(a.error).toBe('Server.ClientProxy.UnknownMember');
    expect(a.json().code).toBe('unknown_member');
    // X-Road: "Could not find addresses for service provider", for a subsystem as for a member
    const b = await call(0, '/r1/VN/PROV/000.00.31.H29/khong-co/thong-tin');
    expect(b.error).toBe('Server.ClientProxy.UnknownMember');
  });

  it('a service the provider does not have', async () => {
    const r = await call(0, `${HCM}/khong-ton-tai`);
    expect(r.status).toBe(500);
    expect(r.error).toBe('Server.ServerProxy.UnknownService');
    expect(r.json()).toMatchObject({ code: 'unknown_service', status: 404 });
  });

  it('access rights: denied by default, granted per method and path, by local group', async () => {
    const hcm = t.axis.members[2]!;
    const vpcpSub = 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu';
    const svc = 'SERVICE:VN/PROV/000.00.31.H29/vanthu/bao-cao';
    await hcm.server.store.putService((await import('../../../src/exchange/ids.js')).parseService(svc), hcm.serviceUrl!);
    const denied = await call(0, `${HCM}/bao-cao/cong-khai/1`);
    expect(denied.status).toBe(500);
    expect(denied.error).toBe('Server.ServerProxy.AccessDenied');
    expect(denied.json()).toMatchObject({ type: 'Server.ServerProxy.AccessDenied', code: 'access_denied', status: 403 });
    // the provider's reason, in Vietnamese too, reaches the caller
    expect(denied.json().message_vi).toBe(`Không có quyền truy cập dịch vụ: ${vpcpSub} không có quyền GET ${svc}/cong-khai/1`);
    await hcm.server.store.grant({ service: svc, subject: vpcpSub, method: 'GET', path: '/cong-khai/*' });
    expect((await call(0, `${HCM}/bao-cao/cong-khai/1`)).status).toBe(200);
    expect((await call(0, `${HCM}/bao-cao/mat/1`)).error).toBe('Server.ServerProxy.AccessDenied');
    expect((await call(0, `${HCM}/bao-cao/cong-khai/1`, { method: 'POST', body: 'x' })).error).toBe('Server.ServerProxy.AccessDenied');
    // Bộ Nội vụ through a local group
    expect((await call(1, `${HCM}/bao-cao/mat/2`, { client: CLIENT_BNV })).error).toBe('Server.ServerProxy.AccessDenied');
    await hcm.server.store.addToLocalGroup('bo-nganh', (await import('../../../src/exchange/ids.js')).parseSubsystem('SUBSYSTEM:VN/GOV/000.00.00.G09/vanthu'));
    await hcm.server.store.grant({ service: svc, subject: 'LOCALGROUP:bo-nganh', method: '*', path: '*' });
    expect((await call(1, `${HCM}/bao-cao/mat/2`, { client: CLIENT_BNV })).status).toBe(200);
  });

  it('a path that climbs out of the granted one is refused, plain or percent-encoded, before it leaves the caller’s server', async () => {
    const hcm = t.axis.members[2]!;
    const { parseService } = await import('../../../src/exchange/ids.js');
    const svc = 'SERVICE:VN/PROV/000.00.31.H29/vanthu/ho-so';
    await hcm.server.store.putService(parseService(svc), hcm.serviceUrl!);
    await hcm.server.store.grant({ service: svc, subject: CLIENT_VPCP_SUB, method: 'GET', path: '/cong-khai/*' });
    // sent as written (fetch would resolve the dot segments itself)
    const raw = (path: string) =>
      new Promise<{ status: number; error: string | undefined; body: any }>((resolve, reject) => {
        const u = new URL(t.axis.members[0]!.isUrl);
        const req = http.request({ host: u.hostname, port: u.port, path, headers: { 'x-road-client': CLIENT_VPCP } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => resolve({ status: res.statusCode!, error: res.headers['x-road-error'] as string | undefined, body: JSON.parse(Buffer.concat(chunks).toString()) }));
        });
        req.on('error', reject);
        req.end();
      });
    const granted = await raw(`${HCM}/ho-so/cong-khai/1`);
    expect(granted.status).toBe(200);
    expect(granted.body.path).toBe('/cong-khai/1');
    // the demonstration service resolves dot segments as many frameworks do: matched as /cong-khai/…, it
    // would have served /mat/1
    for (const p of ['/cong-khai/../mat/1', '/cong-khai/%2e%2e/mat/1', '/cong-khai/..%2Fmat/1', '/cong-khai/..;/mat/1', '/cong-khai/%252E%252E/mat/1', '/cong-khai/./1']) {
      const r = await raw(`${HCM}/ho-so${p}`);
      expect([r.status, r.error, r.body.code], p).toEqual([400, 'Client.BadRequest', 'bad_request']);
      expect(r.body.message_en, p).toMatch(/dot segments/);
      expect(r.body.message_vi, p).toMatch(/^Yêu cầu không đúng .*: đường dẫn dưới dịch vụ có đoạn/);
    }
    // dots inside a name are names
    expect((await raw(`${HCM}/ho-so/cong-khai/..ban-nhap.v2`)).status).toBe(200);
    // endpoints as X-Road writes them: * within one segment, ** for anything
    await hcm.server.store.grant({ service: svc, subject: CLIENT_VPCP_SUB, method: 'GET', path: '/nop/*/tep' });
    expect((await raw(`${HCM}/ho-so/nop/HS-1/tep`)).status).toBe(200);
    expect((await raw(`${HCM}/ho-so/nop/HS-1/phu/tep`)).error).toBe('Server.ServerProxy.AccessDenied');
    await expect(hcm.server.store.grant({ service: svc, subject: CLIENT_VPCP_SUB, method: 'GET', path: '/a/***' })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(hcm.server.store.grant({ service: svc, subject: CLIENT_VPCP_SUB, method: 'GET', path: `/${'a'.repeat(1000)}` })).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('a replayed message id', async () => {
    const id = `replay-${randomUUID()}`;
    expect((await call(0, `${HCM}/thong-tin`, { headers: { 'x-road-id': id } })).status).toBe(200);
    const again = await call(0, `${HCM}/thong-tin`, { headers: { 'x-road-id': id } });
    expect(again.status).toBe(500);
    expect(again.error).toBe('Server.ServerProxy.InvalidMessage');
    expect(again.json().code).toBe('replayed_message');
  });

  it("the caller's X-Road-Id: kept byte for byte, or refused when it cannot be carried (not replaced)", async () => {
    // a UTF-8 id, sent as raw bytes: the answer echoes the same bytes
    const raw = `mã-${randomUUID()} số 1`;
    const r = await new Promise<{ status: number; id: string | undefined }>((resolve, reject) => {
      const req = http.request(`${t.axis.members[0]!.isUrl}${HCM}/thong-tin`, { headers: { 'x-road-client': CLIENT_VPCP, 'x-road-id': Buffer.from(raw, 'utf8').toString('latin1') } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, id: res.headers['x-road-id'] as string | undefined }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(r.status).toBe(200);
    expect(Buffer.from(r.id!, 'latin1').toString('utf8')).toBe(raw);
    const long = await call(0, `${HCM}/thong-tin`, { headers: { 'x-road-id': 'a'.repeat(256) } });
    expect([long.status, long.error, long.json().code]).toEqual([400, 'Client.BadRequest', 'bad_request']);
    expect(long.json().message_vi).toMatch(/X-Road-Id tối đa 255 ký tự/);
    const tab = await call(0, `${HCM}/thong-tin`, { headers: { 'x-road-id': 'a\tb' } });
    expect([tab.status, tab.json().code]).toEqual([400, 'bad_request']);
  });

  it("a message's sealed evidence checks offline (truc log check-evidence): records, chain, tree, TSA token, bodies, signatures, seal; an altered byte is found", async () => {
    const id = `evidence-${randomUUID()}`;
    const body = `nội dung kiểm tra bằng chứng ${id}`;
    const sent = await call(0, `${HCM}/thong-tin/bang-chung`, { body, headers: { 'x-road-id': id } });
    expect(sent.status, sent.body.toString()).toBe(200);
    const m = t.axis.members[0]!;
    const log = m.server.ctx.log as MessageLog;
    await log.timestampNow(localTimeStamper(t.tsa));
    const dir = tmp('truc-evidence-check-');
    const file = join(dir, 'e.asice');
    await pipeline(await log.evidence(id, { seal: await m.server.evidenceSeal() }), createWriteStream(file));
    const cas = await listCas(t.p.db);
    const root = Buffer.from(cas.find((c) => c.id === 'root')!.certificate);
    const issuing = cas.filter((c) => c.parentId).map((c) => Buffer.from(c.certificate));
    // the root alone: the seal's signature carries the issuing CA's certificate
    const good = await checkEvidence(file, { trust: [root] });
    expect(good.problems).toEqual([]);
    expect(good.incomplete).toEqual([]);
    expect(good.messageId).toBe(id);
    expect(good.records.map((r) => `${r.side} ${r.kind} ${r.body}`)).toEqual(['consumer request checked', 'consumer response checked']);
    expect(good.records.every((r) => r.stampedAt && /serialNumber=VN\/GOV\/000\.00\.00\.G22|VN\/PROV\/000\.00\.31\.H29/.test(r.signer ?? ''))).toBe(true);
    // each signer's status at the message's time, from the OCSP response its server sent with the message
    expect(good.records.map((r) => r.signerStatus)).toEqual(['good (OCSP)', 'good (OCSP)']);
    expect(good.seal?.signer).toMatch(/000\.00\.00\.G22/);
    // the command line says the same, with its exit status
    writeFileSync(join(dir, 'root.pem'), toPem('CERTIFICATE', root));
    writeFileSync(join(dir, 'issuing.pem'), issuing.map((c) => toPem('CERTIFICATE', c)).join(''));
    const cli = spawnSync(process.execPath, ['bin/truc.js', 'log', 'check-evidence', file, '--trust', join(dir, 'root.pem')], { encoding: 'utf8', cwd: PROJECT_ROOT });
    expect(cli.status, cli.stdout + cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/bằng chứng hợp lệ \/ evidence valid/);
    // one byte of the request's body changed inside the container: the body and the seal no longer match
    const bytes = readFileSync(file);
    const at = bytes.indexOf(Buffer.from(body, 'utf8'));
    expect(at).toBeGreaterThan(0);
    bytes[at] = bytes[at]! ^ 1;
    const altered = join(dir, 'altered.asice');
    writeFileSync(altered, bytes);
    const bad = await checkEvidence(altered, { trust: [root], intermediates: issuing });
    expect(bad.problems.join('\n')).toMatch(/-request: body\.bin không phải nội dung bản ghi lưu .* \/ body\.bin is not the body the record holds/);
    expect(bad.problems.join('\n')).toMatch(/request\/body\.bin is not the file the seal covers/);
    const cliBad = spawnSync(process.execPath, ['bin/truc.js', 'log', 'check-evidence', altered, '--trust', join(dir, 'root.pem'), '--untrusted', join(dir, 'issuing.pem')], { encoding: 'utf8', cwd: PROJECT_ROOT });
    expect(cliBad.status).toBe(1);
    expect(cliBad.stdout).toMatch(/EVIDENCE BROKEN/);
    // without the CA, nothing is claimed valid: the certificates and tokens cannot be checked
    const untrusted = await checkEvidence(file, { trust: [] });
    expect(untrusted.problems.length + untrusted.incomplete.length).toBeGreaterThan(0);
  });

  it('an oversized body', async () => {
    const m = t.axis.members[0]!;
    const old = m.server.ctx.limits.maxBodyBytes;
    m.server.ctx.limits.maxBodyBytes = 64 * 1024;
    try {
      const r = await call(0, `${HCM}/echo`, { body: Buffer.alloc(100 * 1024) });
      expect(r.status).toBe(400);
      expect(r.error).toBe('Client.InvalidRequest');
      expect(r.json()).toMatchObject({ code: 'too_large', status: 413 });
    } finally {
      m.server.ctx.limits.maxBodyBytes = old;
    }
  });

  it('an information system that goes away mid-body: the message is aborted, the provider refuses it, and the connection between the servers carries the next one', async () => {
    const consumer = t.axis.members[0]!;
    const provider = t.axis.members[2]!;
    const { port, hostname } = new URL(consumer.isUrl);
    expect((await call(0, `${HCM}/echo`, { body: 'warm' })).status).toBe(200);
    const opened = consumer.server.ctx.peers.framedOpened;
    const events: any[] = [];
    const off = t.p.bus.subscribe('truc.exchange.message.refused', (_s, e: any) => void events.push(e));
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const id = randomUUID();
        ids.push(id);
        // 1 MiB announced (streamed: over the inline limit), 256 KiB sent, then the connection dropped
        await new Promise<void>((resolve) => {
          const s = connect(Number(port), hostname, () => {
            s.write(`POST ${HCM}/echo HTTP/1.1\r\nHost: x\r\nX-Road-Client: ${CLIENT_VPCP}\r\nX-Road-Id: ${id}\r\nContent-Length: ${1 << 20}\r\n\r\n`);
            s.write(Buffer.alloc(256 * 1024, 7), () => setTimeout(() => s.destroy(), 300));
          });
          s.on('close', () => resolve());
          s.on('error', () => {});
        });
        // the consumer's refusal is published once its exchange is over (the connection released or closed)
        await until(async () => (events.some((e) => e.truc.message_id === id && e.truc.side === 'consumer') ? true : undefined), 10_000);
      }
      // both sides say what happened: the consumer's client broke off, the provider's server had the message aborted
      const both = await until(async () => {
        const c = events.filter((e) => ids.includes(e.truc.message_id) && e.truc.side === 'consumer');
        const p = events.filter((e) => ids.includes(e.truc.message_id) && e.truc.side === 'provider');
        return c.length === 3 && p.length === 3 ? { c, p } : undefined;
      }, 10_000);
      expect(both.c.map((e) => e.truc.code)).toEqual(['bad_request', 'bad_request', 'bad_request']);
      expect(both.c[0].message).toMatch(/broke off/);
      expect(both.p.every((e) => e.truc.code === 'peer_failed' && /aborted/.test(e.message))).toBe(true);
      for (let i = 0; i < 3; i++) expect((await call(0, `${HCM}/echo`, { body: `after ${i}` })).body.toString()).toBe(`after ${i}`);
      // no new TLS connection between the servers: the aborted messages' connections went back to the pool
      expect(consumer.server.ctx.peers.framedOpened).toBe(opened);
      // nothing of the cut-off bodies is left in either spool, and nothing of them was logged
      for (const m of [consumer, provider]) {
        const spool = join((m.log as MessageLog).dir, 'spool');
        expect(readdirSync(spool)).toEqual([]);
        for (const id of ids) expect(await m.log.search!({ messageId: id })).toEqual([]);
      }
    } finally {
      off();
    }
  });

  it("what the HTTP parser refuses (headers too large, not HTTP), a CONNECT and an unmet Expect are answered in X-Road's form and published", async () => {
    const m = t.axis.members[0]!;
    const { port, hostname } = new URL(m.isUrl);
    const events: any[] = [];
    // only the parser's refusals (other tests' refusals may still be on their way)
    const off = t.p.bus.subscribe('truc.exchange.message.refused', (_s, e: any) => void ((e.truc?.parser || e.truc?.method === 'CONNECT' || e.truc?.expect) && events.push(e)));
    const raw = (bytes: string) =>
      new Promise<string>((resolve, reject) => {
        const s = connect(Number(port), hostname, () => s.end(bytes));
        let got = '';
        s.setEncoding('utf8');
        s.on('data', (d: string) => (got += d));
        s.on('close', () => resolve(got));
        s.on('error', reject);
      });
    try {
      const split = (answer: string) => {
        const [head, body] = answer.split('\r\n\r\n') as [string, string];
        return { statusLine: head.split('\r\n')[0], head: head.toLowerCase(), json: JSON.parse(body) };
      };
      const big = split(await raw(`GET ${HCM}/thong-tin HTTP/1.1\r\nHost: x\r\nX-Road-Client: ${CLIENT_VPCP}\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`));
      expect(big.statusLine).toBe('HTTP/1.1 431 Request Header Fields Too Large');
      expect(big.head).toContain('x-road-error: client.invalidrequest');
      expect(big.json).toMatchObject({ type: 'Client.InvalidRequest', code: 'too_large' });
      expect(big.json.message_vi).toMatch(/vượt quá/);
      const junk = split(await raw('NOT HTTP AT ALL\r\n\r\n'));
      expect(junk.statusLine).toBe('HTTP/1.1 400 Bad Request');
      expect(junk.head).toContain('x-road-error: client.badrequest');
      expect(junk.json).toMatchObject({ type: 'Client.BadRequest', code: 'bad_request' });
      // a CONNECT reaches no handler in Node: it is answered here too, not dropped
      const tunnel = split(await raw(`CONNECT intranet.local:22 HTTP/1.1\r\nHost: intranet.local:22\r\n\r\n`));
      expect(tunnel.statusLine).toBe('HTTP/1.1 400 Bad Request');
      expect(tunnel.head).toContain('x-road-error: client.badrequest');
      expect(tunnel.json).toMatchObject({ type: 'Client.BadRequest', code: 'bad_request' });
      expect(tunnel.json.message_vi).toMatch(/không phải là proxy/);
      // an expectation the server does not meet (Node's own answer would be a bare 417)
      const expectation = split(await raw(`POST ${HCM}/thong-tin HTTP/1.1\r\nHost: x\r\nX-Road-Client: ${CLIENT_VPCP}\r\nExpect: 200-ok\r\nContent-Length: 3\r\n\r\nabc`));
      expect(expectation.statusLine).toBe('HTTP/1.1 400 Bad Request');
      expect(expectation.head).toContain('x-road-error: client.badrequest');
      expect(expectation.json.message).toMatch(/100-continue/);
      expect(expectation.json.message_vi).toMatch(/: yêu cầu đòi "Expect: 200-ok"; máy chủ an ninh chỉ đáp ứng "100-continue"$/);
      await until(async () => (events.length >= 4 ? true : undefined), 5_000);
      expect(events.map((e) => e.truc.code).sort()).toEqual(['bad_request', 'bad_request', 'bad_request', 'too_large']);
      expect(events.every((e) => e.truc.side === 'consumer' && e.truc.server === m.server.ctx.idText)).toBe(true);
      // the server still answers on a new connection
      expect((await call(0, `${HCM}/thong-tin`)).status).toBe(200);
    } finally {
      off();
    }
  });

  it('an expired configuration stops traffic, with the reason', async () => {
    const m = t.axis.members[0]!;
    const conf = m.conf.current()!;
    const expired = new GlobalConf(conf.shared, { version: conf.version, generatedAt: new Date(Date.now() - 7_200_000).toISOString(), expiresAt: new Date(Date.now() - 1000).toISOString() });
    const orig = m.conf.current.bind(m.conf);
    m.conf.current = () => expired;
    try {
      const r = await call(0, `${HCM}/thong-tin`);
      expect(r.status).toBe(500);
      expect(r.error).toBe('Server.ClientProxy.OutdatedGlobalConf');
      expect(r.json()).toMatchObject({ code: 'conf_expired', status: 503 });
      expect(r.json().message).toContain('expired');
      expect(r.json().message_vi).toMatch(/^Cấu hình toàn cục đã hết hạn: cấu hình toàn cục \(phiên bản \d+\) đã hết hạn lúc .*; máy chủ từ chối trao đổi/);
      // the health check says so, for load balancers and operators
      const h = await fetch(`${m.isUrl}/healthcheck`);
      expect(h.status).toBe(503);
      const hj = await h.json();
      expect(hj.status).toBe('failing');
      expect(hj.checks.find((c: { check: string }) => c.check === 'configuration')).toMatchObject({ ok: false, vi: 'Không có cấu hình toàn cục dùng được' });
    } finally {
      m.conf.current = orig;
    }
    expect((await call(0, `${HCM}/thong-tin`)).status).toBe(200);
    const healthy = await fetch(`${m.isUrl}/healthcheck`);
    expect(healthy.status).toBe(200);
    expect((await healthy.json()).checks.map((c: { check: string; ok: boolean }) => `${c.check}:${c.ok}`).sort()).toEqual(['clients:true', 'configuration:true', 'message-log:true', 'ocsp:auth:true', 'ocsp:sign:true', 'registration:true']);
  });

  it('the health check fails while the server or its clients are not in the configuration it holds', async () => {
    const m = t.axis.members[0]!;
    const conf = m.conf.current()!;
    const dir = { version: conf.version, generatedAt: conf.generatedAt.toISOString(), expiresAt: conf.expiresAt.toISOString() };
    const orig = m.conf.current.bind(m.conf);
    const own = (s: { owner: { memberCode: string }; serverCode: string }) => s.owner.memberCode === m.id.memberCode && s.serverCode === m.id.serverCode;
    try {
      // registered, but its client not yet (a client registration still pending)
      m.conf.current = () => new GlobalConf({ ...conf.shared, securityServers: conf.shared.securityServers.map((s) => (own(s) ? { ...s, clients: [] } : s)) }, dir);
      let h = await fetch(`${m.isUrl}/healthcheck`);
      let hj = await h.json();
      expect(h.status).toBe(503);
      expect(hj.clients).toEqual([{ client: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu', registered: false }]);
      expect(hj.checks.find((c: { check: string }) => c.check === 'clients')).toMatchObject({ ok: false, vi: expect.stringContaining('Chưa thành viên con nào') });
      expect(hj.checks.find((c: { check: string }) => c.check === 'registration')).toEqual({ check: 'registration', ok: true });
      // another authentication certificate registered under its name
      m.conf.current = () => new GlobalConf({ ...conf.shared, securityServers: conf.shared.securityServers.map((s) => (own(s) ? { ...s, authCertHashes: ['00'.repeat(32)] } : s)) }, dir);
      hj = await (await fetch(`${m.isUrl}/healthcheck`)).json();
      expect(hj.checks.find((c: { check: string }) => c.check === 'registration')).toMatchObject({ ok: false, en: expect.stringContaining('authentication certificate') });
      // not in the configuration at all (not yet approved)
      m.conf.current = () => new GlobalConf({ ...conf.shared, securityServers: conf.shared.securityServers.filter((s) => !own(s)) }, dir);
      h = await fetch(`${m.isUrl}/healthcheck`);
      hj = await h.json();
      expect(h.status).toBe(503);
      expect(hj.status).toBe('failing');
      expect(hj.checks.find((c: { check: string }) => c.check === 'registration')).toMatchObject({ ok: false, vi: expect.stringContaining('chưa có trong cấu hình toàn cục') });
    } finally {
      m.conf.current = orig;
    }
    expect((await fetch(`${m.isUrl}/healthcheck`)).status).toBe(200);
  });
});

describe('refusals between servers', () => {
  /** A message from Văn phòng Chính phủ's server, built by hand, to Hồ Chí Minh's peer listener. */
  async function sendRaw(mutate: (parts: { header: MessageHeader; body: Buffer }) => void, tamper?: (wire: { body: Buffer }) => void, agentOverride?: https.Agent, material?: Buffer[]) {
    const a = t.axis.members[0]!;
    const c = t.axis.members[2]!;
    const ctx = a.server.ctx;
    const header: MessageHeader = {
      v: 1,
      kind: 'request',
      id: `raw-${randomUUID()}`,
      time: new Date().toISOString(),
      client: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu',
      service: 'SERVICE:VN/PROV/000.00.31.H29/vanthu/echo',
      method: 'POST',
      path: '/',
      headers: { 'content-type': 'text/plain' },
      sender: ctx.idText,
      signCert: ctx.signCertB64,
      signOcsp: ctx.own.base64('sign'),
      authOcsp: ctx.own.base64('auth'),
    };
    const parts = { header, body: Buffer.from('nội dung gốc') };
    mutate(parts);
    const hb = encodeHeader(parts.header);
    const bodyHash = createHash('sha256').update(parts.body).digest();
    const bs = await ctx.signer.signDigest(messageDigest(hb, bodyHash, parts.body.length));
    const sig = Buffer.from(JSON.stringify({ scheme: ctx.signer.scheme, bodyHash: bodyHash.toString('hex'), bodyLength: parts.body.length, index: bs.index, count: bs.count, path: bs.path, value: bs.value.toString('base64') }));
    const sent = { body: Buffer.from(parts.body) };
    tamper?.(sent);
    const wire = Buffer.concat([...(material ? [frame(FRAME_MATERIAL, encodeMaterial(material))] : []), frame(FRAME_HEADER, hb), frameHead(FRAME_BODY, sent.body.length), sent.body, frame(FRAME_SIGNATURE, sig)]);
    const [host, port] = c.peerAddress.split(':') as [string, string];
    return new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = https.request({ host, port: Number(port), method: 'POST', path: '/truc/v1/message', agent: agentOverride ?? ctx.peers.agent(c.peerAddress), headers: { 'content-type': MESSAGE_CONTENT_TYPE, 'content-length': wire.length } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          resolve({ status: res.statusCode!, body: res.headers['content-type']?.includes('json') ? JSON.parse(b.toString()) : b });
        });
      });
      req.on('error', reject);
      req.end(wire);
    });
  }

  it('an intact hand-built message passes (the harness itself is sound)', async () => {
    const r = await sendRaw(() => {});
    expect(r.status).toBe(200);
  });

  it('a v2 header finds its certificate and OCSP responses by hash among what the connection brought; a hash never sent is refused', async () => {
    const ctx = t.axis.members[0]!.server.ctx;
    const own = ownMaterial(ctx);
    const v2 = (p: { header: MessageHeader }) => {
      const { signCert: _a, signOcsp: _b, authOcsp: _c, ...rest } = p.header;
      p.header = { ...rest, v: 2, ...own.fields };
    };
    const fresh = () => new https.Agent({ ...(ctx.peers.agent(t.axis.members[2]!.peerAddress).options as https.AgentOptions), keepAlive: true, maxSockets: 1 });
    // on a new connection without the M frame: nothing to find
    const lone = fresh();
    const r1 = await sendRaw(v2, undefined, lone);
    expect(r1.status).toBe(400);
    expect(r1.body.code).toBe('bad_message');
    expect(r1.body.detail ?? r1.body.title).toMatch(/not sent on this connection/);
    lone.destroy();
    // with it: accepted, and the next message on the same connection needs it no more
    const kept = fresh();
    expect((await sendRaw(v2, undefined, kept, own.items)).status).toBe(200);
    expect((await sendRaw(v2, undefined, kept)).status).toBe(200);
    // items other than those the signed header names do not stand in for them
    const other = fresh();
    const wrong = await sendRaw(v2, undefined, other, [t.axis.members[1]!.server.ctx.signCert]);
    expect(wrong.status).toBe(400);
    expect(wrong.body.code).toBe('bad_message');
    kept.destroy();
    other.destroy();
  });

  it('a signed request whose path climbs out with dot segments is refused by the provider’s server, whatever the right', async () => {
    // a caller's server that let it through (not Trục's): the echo service grants every path, yet the
    // provider does not deliver a path its system could resolve elsewhere
    for (const path of ['/a/../b', '/a/%2e%2e/b']) {
      const r = await sendRaw((p) => (p.header.path = path));
      expect([r.status, r.body.code], path).toEqual([403, 'access_denied']);
    }
    expect((await sendRaw((p) => (p.header.path = '/a/b.c'))).status).toBe(200);
  });

  it('a body altered after signing', async () => {
    const r = await sendRaw(() => {}, (w) => (w.body[0] ^= 1));
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('bad_message_signature');
  });

  it('a header altered after signing is refused by the signature, not trusted', async () => {
    // sign one header, send another: re-encode by mutating the signed bytes is covered by the digest
    const r = await sendRaw((p) => (p.header.time = new Date(Date.now() - 3_600_000).toISOString()));
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('bad_message');
  });

  it('a client that is not the sending server’s', async () => {
    const r = await sendRaw((p) => (p.header.client = 'SUBSYSTEM:VN/GOV/000.00.00.G09/vanthu'));
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('client_not_owned');
  });

  it('a TLS certificate registered for no server', async () => {
    const dir = tmp('rogue-');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    writeFileSync(join(dir, 'k.pem'), keyPem);
    execFileSync('openssl', ['req', '-new', '-x509', '-key', join(dir, 'k.pem'), '-subj', '/CN=rogue', '-days', '1', '-out', join(dir, 'c.pem')]);
    const agent = new https.Agent({ key: keyPem, cert: readFileSync(join(dir, 'c.pem')), rejectUnauthorized: false, maxCachedSessions: 0 } as https.AgentOptions);
    const r = await sendRaw(() => {}, undefined, agent);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('cert_invalid');
  });

  it('a revoked authentication certificate: its server’s traffic is refused', async () => {
    const bnv = t.axis.members[1]!;
    const serial = parseCertificate(bnv.server.ctx.authCert).serialHex;
    await revoke(t.p.pki, { serial, reason: 'keyCompromise' } as any, 'test');
    await new Promise((r) => setTimeout(r, 300));
    await bnv.server.tick(true); // the server fetches its own status again: now revoked
    const r = await call(1, `${HCM}/thong-tin`, { client: CLIENT_BNV });
    expect(r.status).toBe(500);
    expect(r.error).toBe('Server.ServerProxy.CertValidation');
    expect(r.json().code).toBe('cert_revoked');
    // the provider's reason reaches the information system in Vietnamese too
    expect(r.json().message_vi).toBe('Chứng thư số đã bị thu hồi: chứng thư xác thực của máy chủ an ninh bên gọi đã bị thu hồi');
    // the other agencies are not affected
    expect((await call(0, `${HCM}/thong-tin`)).status).toBe(200);
  });
});

void VPCP;

describe("a server's own OCSP answers", () => {
  it('holds only answers peers accept: tryLater, an answer about another certificate or an unknown status are refused and fetched again, the last good one kept meanwhile', async () => {
    const m = t.axis.members[0]!;
    const ctx = m.server.ctx;
    const conf = m.conf.current()!;
    // the platform's responder over HTTP, and a responder that misbehaves in turn
    const real = httpOcspFetcher;
    let mode: 'tryLater' | 'other' | 'real' = 'tryLater';
    const fetcher: OcspFetcher = async (url, req) => {
      if (mode === 'tryLater') return errorResponse(OCSP_STATUS.tryLater);
      if (mode === 'other') return Buffer.from(ctx.own.response('sign')); // a good answer, but about the signing certificate
      return real(url, req);
    };
    const silent = { warn: () => {} } as never;
    const own = new OwnStatus(fetcher, silent);
    own.set('auth', ctx.authCert);
    await own.refresh(conf, true);
    expect(own.response('auth').length).toBe(0);
    expect(own.status()[0]!.lastError).toMatch(/no usable answer: OCSP responder answered status 3/);

    mode = 'real';
    await own.refresh(conf, true);
    const good = own.response('auth');
    expect(good.length).toBeGreaterThan(0);
    expect(own.status()[0]!.lastError).toBeUndefined();
    // what a peer does with it
    await expect(new PeerTrust().check(conf, ctx.authCert, good, 'auth-client')).resolves.toMatchObject({ hash: expect.any(String) });

    mode = 'other';
    await own.refresh(conf, true);
    expect(own.response('auth').equals(good)).toBe(true);
    expect(own.status()[0]!.lastError).toMatch(/no response for this certificate/);
    // and the answer it refused is one a peer would refuse too
    await expect(new PeerTrust().check(conf, ctx.authCert, ctx.own.response('sign'), 'auth-client')).rejects.toMatchObject({ code: 'ocsp_stale' });
  });
});

describe("X-Road's message protocol for REST (PR-REST, PR-MREST)", () => {
  const HCM_SUB = 'VN/PROV/000.00.31.H29/vanthu';
  const VPCP_SUB = 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu';
  let seen: { method: string; url: string; headers: Record<string, string | string[] | undefined> }[] = [];
  let is: import('node:http').Server;
  const ids = () => import('../../../src/exchange/ids.js');

  beforeAll(async () => {
    const http = await import('node:http');
    // an information system that reports what reached it and answers with headers of its own, some of
    // which the protocol says the servers replace or drop
    is = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url?.startsWith('/dut-giua')) {
          // an information system that fails mid-answer: 1 MiB announced, 200 KiB sent, the connection cut
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 1 << 20 });
          res.write(Buffer.alloc(200 * 1024, 1), () => setTimeout(() => res.destroy(), 50));
          return;
        }
        if (req.url?.startsWith('/banh-quy')) {
          // two cookies (an Expires date holds a comma) and a body of ?size= bytes (over the inline limit: streamed)
          const size = Number(new URL(req.url, 'http://x').searchParams.get('size') ?? 2);
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': size, 'set-cookie': ['phien=abc; Path=/; HttpOnly', 'ngon-ngu=vi; Expires=Wed, 09 Jun 2027 10:18:14 GMT'] });
          res.end(Buffer.alloc(size, 0x6f));
          return;
        }
        if (req.url?.startsWith('/cham')) {
          // a slow information system: answers after ?ms=
          const ms = Number(new URL(req.url, 'http://x').searchParams.get('ms') ?? 0);
          setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('cham'), ms);
          return;
        }
        seen.push({ method: req.method!, url: req.url!, headers: req.headers });
        const body = req.method === 'HEAD' ? '' : JSON.stringify({ method: req.method, url: req.url });
        // HEAD: the Content-Length a GET of the same resource would have (RFC 9110 §9.3.2)
        const length = req.method === 'HEAD' ? Buffer.byteLength(JSON.stringify({ method: 'GET', url: req.url })) : Buffer.byteLength(body);
        res.writeHead(req.method === 'DELETE' ? 204 : 201, {
          'content-type': 'application/vnd.truc-test+json; charset=utf-8',
          'x-custom-answer': 'gia-tri',
          server: 'leaky-origin/1.0',
          'x-road-error': 'Server.Fake.Error',
          'x-road-request-hash': 'bogus',
          'cache-control': 'no-store',
          ...(req.method === 'DELETE' ? {} : { 'content-length': length }),
        });
        res.end(req.method === 'DELETE' ? undefined : body);
      });
    });
    await new Promise<void>((r) => is.listen(0, '127.0.0.1', r));
    const hcm = t.axis.members[2]!;
    const { parseService } = await ids();
    const url = `http://127.0.0.1:${(is.address() as import('node:net').AddressInfo).port}`;
    await hcm.server.store.putService(parseService(`SERVICE:${HCM_SUB}/vong`), url);
    await hcm.server.store.grant({ service: `SERVICE:${HCM_SUB}/vong`, subject: VPCP_SUB, method: '*', path: '*' });
    // a service nobody was granted: listed by listMethods, not by allowedMethods
    await hcm.server.store.putService(parseService(`SERVICE:${HCM_SUB}/kin`), url);
    await hcm.server.store.grant({ service: `SERVICE:${HCM_SUB}/kin`, subject: 'SUBSYSTEM:VN/GOV/000.00.00.G09/vanthu', method: 'GET', path: '/ho-so/*' });
    // a service whose information system cannot be reached
    await hcm.server.store.putService(parseService(`SERVICE:${HCM_SUB}/hong`), 'http://127.0.0.1:1');
    await hcm.server.store.grant({ service: `SERVICE:${HCM_SUB}/hong`, subject: VPCP_SUB, method: '*', path: '*' });
  });

  afterAll(async () => {
    await new Promise((r) => is?.close(r));
  });

  it('each Set-Cookie line of the service reaches the client as its own line, small answer or streamed', async () => {
    for (const size of [2, 200 << 10]) {
      const r = await call(0, `${HCM}/vong/banh-quy?size=${size}`);
      expect(r.status).toBe(200);
      expect(r.body.length).toBe(size);
      // joined into one line with a comma, the second cookie would be read as part of the first
      expect(r.headers.getSetCookie()).toEqual(['phien=abc; Path=/; HttpOnly', 'ngon-ngu=vi; Expires=Wed, 09 Jun 2027 10:18:14 GMT']);
    }
  });

  it('a request body that stops flowing is cut off after the idle limit; an answer slower than it is waited for', async () => {
    const m = t.axis.members[0]!;
    const limits = m.server.ctx.limits;
    const old = limits.timeoutMs;
    limits.timeoutMs = 1500;
    const events: any[] = [];
    const off = t.p.bus.subscribe('truc.exchange.message.refused', (_s, e: any) => void (/sent no byte/.test(e.message ?? '') && events.push(e)));
    try {
      // the body is complete: the service's 3 s are the provider's time, not a stall
      const slow = await call(0, `${HCM}/vong/cham?ms=3000`);
      expect([slow.status, slow.body.toString()]).toEqual([200, 'cham']);
      const slowPost = await call(0, `${HCM}/vong/cham?ms=3000`, { method: 'POST', body: 'năm' });
      expect(slowPost.status).toBe(200);
      // part of a body, then nothing: streamed (over the inline limit) and held whole (under it)
      const { port, hostname } = new URL(m.isUrl);
      const stall = (declared: number, sent: number, soap = false) =>
        new Promise<string>((resolve, reject) => {
          const sock = connect(Number(port), hostname, () => {
            sock.write(
              soap
                ? `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: ""\r\nContent-Length: ${declared}\r\n\r\n<SOAP-ENV:Envelope `
                : `POST ${HCM}/vong/x HTTP/1.1\r\nHost: x\r\nX-Road-Client: ${CLIENT_VPCP}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`,
            );
            sock.write(Buffer.alloc(sent, 0x61));
          });
          let got = '';
          sock.setEncoding('latin1');
          sock.on('data', (d: string) => (got += d));
          sock.on('close', () => resolve(got));
          sock.on('error', reject);
        });
      // answered in X-Road's form, then the connection closes
      for (const got of [await stall(10_000_000, 200_000), await stall(1000, 10)]) {
        expect(got).toMatch(/^HTTP\/1\.1 400 /);
        expect(got).toMatch(/\r\nx-road-error: Client\.BadRequest\r\n/i);
        expect(got).toMatch(/\r\nconnection: close\r\n/i);
        const body = JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4));
        expect(body.message).toBe('the information system sent no byte of its request body for 1.5 s');
        expect(Buffer.from(body.message_vi, 'latin1').toString('utf8')).toMatch(/: hệ thống thông tin không gửi thêm byte nào của thân yêu cầu trong 1,5 giây$/);
      }
      // a SOAP message: a SOAP fault
      const fault = await stall(5000, 100, true);
      expect(fault).toMatch(/^HTTP\/1\.1 500 /);
      expect(fault).toContain('<faultcode>Client.BadRequest</faultcode>');
      expect(Buffer.from(fault, 'latin1').toString('utf8')).toContain('không gửi thêm byte nào của thân yêu cầu');
      await until(async () => (events.length >= 3 ? true : undefined));
      expect(events.every((e) => e.truc.code === 'bad_request' && e.truc.side === 'consumer')).toBe(true);
      // the server carries the next message
      expect((await call(0, `${HCM}/vong/sau`)).status).toBe(201);
    } finally {
      off();
      limits.timeoutMs = old;
    }
  });

  it('passes method, percent-encoded path and query intact; sets, filters and passes headers as the protocol says', async () => {
    seen = [];
    const path = '/h%E1%BB%93%20s%C6%A1/a%2Fb/c%2E%2F?q=%C3%A9%26x&q=2&empty=&raw=a+b';
    const r = await call(0, `${HCM}/vong${path}`, {
      method: 'PUT',
      body: '{"a":1}',
      headers: {
        'content-type': 'application/merge-patch+json; charset=utf-8',
        accept: 'application/xml',
        'x-road-userid': 'VN001234567890',
        'x-road-issue': 'CV-123/VPCP',
        'x-road-represented-party': 'COM/0101234567',
        'x-custom-header': 'mot hai',
        'user-agent': 'internal-host/9',
        'x-road-request-hash': 'from-the-client',
        'cache-control': 'no-cache',
      },
    });
    expect(r.status, r.body.toString()).toBe(201);
    expect(seen).toHaveLength(1);
    const s = seen[0]!;
    expect(s.method).toBe('PUT');
    expect(s.url).toBe(path);
    // X-Road's own headers toward the provider's system; the client's X-Road-Id was absent: generated
    expect(s.headers['x-road-client']).toBe(CLIENT_VPCP);
    expect(s.headers['x-road-service']).toBe(`${HCM_SUB}/vong`);
    expect(s.headers['x-road-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(s.headers['x-road-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(s.headers['x-road-request-id']).not.toBe(s.headers['x-road-id']);
    // passed unmodified: Content-Type, Accept, cache headers, X-Road-UserId/Issue/Represented-Party, user headers
    expect(s.headers['content-type']).toBe('application/merge-patch+json; charset=utf-8');
    expect(s.headers.accept).toBe('application/xml');
    expect(s.headers['cache-control']).toBe('no-cache');
    expect(s.headers['x-road-userid']).toBe('VN001234567890');
    expect(s.headers['x-road-issue']).toBe('CV-123/VPCP');
    expect(s.headers['x-road-represented-party']).toBe('COM/0101234567');
    expect(s.headers['x-custom-header']).toBe('mot hai');
    // filtered: User-Agent (leaks the origin host); replaced: X-Road-Request-Hash
    expect(s.headers['user-agent']).toBeUndefined();
    expect(s.headers['x-road-request-hash']).not.toBe('from-the-client');
    // the response: the system's headers through, Server and its X-Road-* replaced, the protocol's set
    expect(r.headers.get('content-type')).toBe('application/vnd.truc-test+json; charset=utf-8');
    expect(r.headers.get('x-custom-answer')).toBe('gia-tri');
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('server')).toBeNull();
    expect(r.error).toBeNull();
    expect(r.headers.get('x-road-id')).toBe(s.headers['x-road-id']);
    expect(r.headers.get('x-road-client')).toBe(CLIENT_VPCP);
    expect(r.headers.get('x-road-service')).toBe(`${HCM_SUB}/vong`);
    expect(r.headers.get('x-road-request-id')).toBe(s.headers['x-road-request-id']);
    const hash = r.headers.get('x-road-request-hash')!;
    expect(hash).toMatch(/^[A-Za-z0-9+/]{86}==$/); // SHA-512, base64
    expect(hash).toBe(s.headers['x-road-request-hash']);
  });

  it('every method of RFC 7231 goes through: GET, POST, PATCH, DELETE, OPTIONS, HEAD', async () => {
    for (const method of ['GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD']) {
      seen = [];
      const r = await call(0, `${HCM}/vong/m?x=1`, { method, ...(method === 'POST' || method === 'PATCH' ? { body: 'b' } : {}) });
      expect(r.status, `${method} ${r.body.toString()}`).toBe(method === 'DELETE' ? 204 : 201);
      expect(seen.map((x) => `${x.method} ${x.url}`)).toEqual([`${method} /m?x=1`]);
      if (method === 'GET') expect(r.json()).toEqual({ method: 'GET', url: '/m?x=1' });
      if (method === 'HEAD' || method === 'DELETE') expect(r.body.length).toBe(0);
      // an answer to HEAD keeps the service's Content-Length: what a GET would bring, not its own empty body
      if (method === 'HEAD') expect(r.headers.get('content-length')).toBe(String(Buffer.byteLength(JSON.stringify({ method: 'GET', url: '/m?x=1' }))));
    }
  });

  it("a provider's information system failing mid-answer: ServiceFailed, nothing of the answer logged, and the connection between the servers carries the next message", async () => {
    const consumer = t.axis.members[0]!;
    const provider = t.axis.members[2]!;
    expect((await call(0, `${HCM}/vong/truoc`)).status).toBe(201);
    const opened = consumer.server.ctx.peers.framedOpened;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = randomUUID();
      ids.push(id);
      const r = await call(0, `${HCM}/vong/dut-giua`, { headers: { 'x-road-id': id } });
      expect([r.status, r.error], r.body.toString()).toEqual([500, 'Server.ServerProxy.ServiceFailed']);
      expect(r.json()).toMatchObject({ code: 'service_failed', message: expect.stringMatching(/aborted the message: service_failed/) });
      expect(r.json().senderAborted).toBeUndefined();
    }
    expect((await call(0, `${HCM}/vong/sau`)).status).toBe(201);
    // the aborted answers left their connections clean: no new TLS connection between the servers
    expect(consumer.server.ctx.peers.framedOpened).toBe(opened);
    // the requests were logged on both sides before delivery; the answers that never came whole on neither
    for (const m of [consumer, provider]) {
      for (const id of ids) {
        const logged = await until(async () => {
          const l = await (m.log as MessageLog).search({ messageId: id });
          return l.length ? l : undefined;
        });
        expect(logged.map((x) => x.kind)).toEqual(['request']);
      }
      expect(readdirSync(join((m.log as MessageLog).dir, 'spool'))).toEqual([]);
    }
  });

  it('a client-chosen X-Road-Id is kept; the X-Road-Client parts may be percent-encoded', async () => {
    seen = [];
    const id = `x-${randomUUID()}`;
    const r = await call(0, `${HCM}/vong`, { client: 'VN/GOV/000%2E00%2E00%2EG22/vanthu', headers: { 'x-road-id': id } });
    expect(r.status).toBe(201);
    expect(r.headers.get('x-road-id')).toBe(id);
    expect(seen[0]!.headers['x-road-id']).toBe(id);
    expect(seen[0]!.headers['x-road-client']).toBe(CLIENT_VPCP);
    // a part sent as raw UTF-8 (the header's bytes, not percent-encoded) reads as the same text as encoded
    const named = async (client: string) => (await call(0, `${HCM}/vong`, { client })).json();
    const raw = await named(Buffer.from('VN/GOV/000.00.00.G22/văn-thư', 'utf8').toString('latin1'));
    const encoded = await named('VN/GOV/000.00.00.G22/v%C4%83n-th%C6%B0');
    expect(raw.code).toBe('client_not_owned');
    expect(raw.message).toBe('VN/GOV/000.00.00.G22/văn-thư is not a registered client of this security server');
    expect(raw.message_vi).toBe('Hệ thống khách không thuộc máy chủ an ninh này: VN/GOV/000.00.00.G22/văn-thư chưa được đăng ký');
    expect(encoded.message).toBe(raw.message);
    // bytes that are not UTF-8 stay the Latin-1 text they are
    expect((await named('VN/GOV/000.00.00.G22/caf\xe9')).message).toMatch(/^VN\/GOV\/000\.00\.00\.G22\/café is not/);
  });

  it("refusals carry X-Road's fault types: Client.BadRequest, Server.ServerProxy.ServiceFailed, Server.ClientProxy.NetworkError", async () => {
    const bad = await call(0, '/r1/VN/GOV');
    expect([bad.status, bad.error]).toEqual([400, 'Client.BadRequest']);
    const version = await call(0, `/r9/${HCM_SUB}/vong`);
    expect([version.status, version.error]).toEqual([400, 'Client.BadRequest']);
    const badService = await call(0, '/r1/VN/GOV/000.00.00.G22/van%3Bthu/x');
    expect([badService.status, badService.error, badService.json().code]).toEqual([400, 'Client.BadRequest', 'bad_identifier']);
    const failed = await call(0, `${HCM}/hong`);
    expect([failed.status, failed.error]).toEqual([500, 'Server.ServerProxy.ServiceFailed']);
    expect(failed.json()).toMatchObject({ type: 'Server.ServerProxy.ServiceFailed', code: 'service_failed', status: 502 });
    expect(failed.headers.get('content-type')).toBe('application/json; charset=utf-8');
    // the provider's server cannot be reached
    const m = t.axis.members[0]!;
    const conf = m.conf.current()!;
    const orig = m.conf.current.bind(m.conf);
    const away = Object.create(conf) as typeof conf;
    away.serversOf = (s) => conf.serversOf(s).map((x) => ({ ...x, address: '127.0.0.1:1' }));
    m.conf.current = () => away;
    try {
      const r = await call(0, `${HCM}/vong`);
      expect([r.status, r.error, r.json().code]).toEqual([500, 'Server.ClientProxy.NetworkError', 'peer_unreachable']);
      expect(r.json().message_vi).toMatch(/^Không kết nối được máy chủ an ninh bên cung cấp: không kết nối được tới 127\.0\.0\.1:1 \(ECONNREFUSED\)$/);
    } finally {
      m.conf.current = orig;
    }
  });

  it('listMethods and allowedMethods, answered by the provider’s server, signed and logged; getOpenAPI as X-Road answers for a service without a description', async () => {
    const id = `meta-${randomUUID()}`;
    const all = await call(0, `/r1/${HCM_SUB}/listMethods`, { headers: { 'x-road-id': id } });
    expect(all.status, all.body.toString()).toBe(200);
    expect(all.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(all.headers.get('x-road-service')).toBe(`${HCM_SUB}/listMethods`);
    const list = all.json().service as Record<string, unknown>[];
    const codes = list.map((s) => s.service_code);
    expect(codes).toEqual(expect.arrayContaining(['thong-tin', 'echo', 'vong', 'kin', 'hong']));
    expect(list.find((s) => s.service_code === 'kin')).toEqual({
      object_type: 'SERVICE',
      xroad_instance: 'VN',
      member_class: 'PROV',
      member_code: '000.00.31.H29',
      subsystem_code: 'vanthu',
      service_code: 'kin',
      service_type: 'REST',
      endpoint_list: [{ method: 'GET', path: '/ho-so/**' }],
    });
    const allowed = (await call(0, `/r1/${HCM_SUB}/allowedMethods`)).json().service as Record<string, unknown>[];
    const allowedCodes = allowed.map((s) => s.service_code);
    expect(allowedCodes).toEqual(expect.arrayContaining(['thong-tin', 'vong']));
    expect(allowedCodes).not.toContain('kin');
    // once granted through a local group, kin is listed with the endpoints granted to this client only
    const hcm = t.axis.members[2]!;
    await hcm.server.store.addToLocalGroup('doc-kin', (await ids()).parseSubsystem(VPCP_SUB));
    await hcm.server.store.grant({ service: `SERVICE:${HCM_SUB}/kin`, subject: 'LOCALGROUP:doc-kin', method: 'POST', path: '/nop' });
    const now = (await call(0, `/r1/${HCM_SUB}/allowedMethods`)).json().service as { service_code: string; endpoint_list: unknown }[];
    expect(now.find((s) => s.service_code === 'kin')?.endpoint_list).toEqual([{ method: 'POST', path: '/nop' }]);
    // both servers logged the metaservice's request and its signed answer
    const search = (i: number) => (t.axis.members[i]!.log as MessageLog).search({ messageId: id });
    await until(async () => ((await search(0)).length === 2 ? true : undefined));
    const provider = await until(async () => ((await search(2)).length === 2 ? search(2) : undefined));
    expect(provider.map((x) => `${x.side}:${x.kind}`).sort()).toEqual(['provider:request', 'provider:response']);
    // getOpenAPI of a service without an OpenAPI description
    const none = await call(0, `/r1/${HCM_SUB}/getOpenAPI?serviceCode=vong`);
    // as X-Road's RestMetadataServiceHandlerImpl answers them: internal errors, "Invalid service type" / "Service not found"
    expect([none.status, none.error]).toEqual([500, 'Server.ServerProxy.InternalError']);
    expect(none.json().message).toMatch(/^Invalid service type: REST/);
    const unknown = await call(0, `/r1/${HCM_SUB}/getOpenAPI?serviceCode=khong-co`);
    expect([unknown.error, unknown.json().message.startsWith('Service not found')]).toEqual(['Server.ServerProxy.InternalError', true]);
    expect((await call(0, `/r1/${HCM_SUB}/getOpenAPI`)).error).toBe('Server.ServerProxy.InvalidRequest');
  });

  it('a service with an OpenAPI 3 description: getOpenAPI answers it as registered, listMethods lists its operations', async () => {
    const hcm = t.axis.members[2]!;
    const { parseService } = await ids();
    const kin = parseService(`SERVICE:${HCM_SUB}/kin`);
    const yaml = 'openapi: 3.0.3\ninfo: { title: Hồ sơ kín, version: "2" }\npaths:\n  /ho-so/{ma}:\n    get: { responses: { "200": { description: ok } } }\n  /nop:\n    post: { responses: { "201": { description: ok } } }\n';
    expect(await hcm.server.store.describeService(kin, yaml)).toMatchObject({ format: 'yaml', endpoints: [{ method: 'GET', path: '/ho-so/*' }, { method: 'POST', path: '/nop' }] });
    const got = await call(0, `/r1/${HCM_SUB}/getOpenAPI?serviceCode=kin`);
    expect([got.status, got.headers.get('content-type'), got.body.toString()]).toEqual([200, 'application/yaml; charset=utf-8', yaml]);
    const listed = ((await call(0, `/r1/${HCM_SUB}/listMethods`)).json().service as Record<string, unknown>[]).find((s) => s.service_code === 'kin');
    expect(listed).toMatchObject({ service_type: 'OPENAPI', endpoint_list: [{ method: 'GET', path: '/ho-so/*' }, { method: 'POST', path: '/nop' }] });
    // allowedMethods still lists what the client's rights open; a service without a description stays REST
    await hcm.server.store.grant({ service: `SERVICE:${HCM_SUB}/kin`, subject: VPCP_SUB, method: 'POST', path: '/nop' });
    const allowed = (await call(0, `/r1/${HCM_SUB}/allowedMethods`)).json().service as Record<string, unknown>[];
    expect(allowed.find((s) => s.service_code === 'kin')).toMatchObject({ service_type: 'OPENAPI', endpoint_list: [{ method: 'POST', path: '/nop' }] });
    expect(allowed.find((s) => s.service_code === 'vong')).toMatchObject({ service_type: 'REST' });
    // a document that is not OpenAPI 3 is refused and the registered one kept; removed, the service is REST again
    await expect(hcm.server.store.describeService(kin, 'swagger: "2.0"\npaths: {}\n')).rejects.toMatchObject({ code: 'bad_request' });
    expect((await call(0, `/r1/${HCM_SUB}/getOpenAPI?serviceCode=kin`)).body.toString()).toBe(yaml);
    await expect(hcm.server.store.describeService(parseService(`SERVICE:${HCM_SUB}/khong-co`), yaml)).rejects.toMatchObject({ code: 'unknown_service' });
    await hcm.server.store.describeService(kin, null);
    expect((await call(0, `/r1/${HCM_SUB}/getOpenAPI?serviceCode=kin`)).error).toBe('Server.ServerProxy.InternalError');
  });
});
