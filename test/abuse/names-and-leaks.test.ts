/**
 * The smaller holes of the hardening issue, against a real server: an RA officer cannot issue an end-entity
 * certificate under a CA's name, nor tls-server names off the allow-list (localhost, *.gov.vn); problem
 * documents carry no local file paths; the README's role table says what the code enforces for
 * certificate search and scanning. Each refusal is a problem document, issues nothing, and the honest
 * client is answered meanwhile.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createToken } from '../../src/http/auth/store.js';
import { PERMISSIONS } from '../../src/http/auth/roles.js';
import { listCas, searchCerts } from '../../src/pki/index.js';
import { call, isProblem, startRig, type Rig } from './helpers.js';

const BOUND_MS = 15_000;

describe('abuse: names an RA officer may not certify, and what problem documents may not say', () => {
  let rig: Rig;
  const saved = process.env.TRUC_LAB_VECTORS;
  const missing = join(tmpdir(), `truc-abuse-no-vectors-${process.pid}`);

  beforeAll(async () => {
    process.env.TRUC_LAB_VECTORS = missing; // read when the lab routes are registered
    rig = await startRig();
    expect((await rig.issue()).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    if (saved === undefined) delete process.env.TRUC_LAB_VECTORS;
    else process.env.TRUC_LAB_VECTORS = saved;
    await rig?.close();
  });

  const issueAs = (body: Record<string, unknown>) =>
    call(rig.url, {
      method: 'POST',
      path: '/api/v1/certificates',
      headers: { authorization: `Bearer ${rig.ra}`, 'content-type': 'application/json' },
      body: JSON.stringify({ csr: rig.csrs[0], ...body }),
    });

  it('refuses a CA’s name as an end entity’s subject and tls-server names off the allow-list', async () => {
    const before = (await searchCerts(rig.p.db, { limit: 10_000 })).length;
    const cas = await listCas(rig.p.db);
    const refused = [
      ...cas.map((c) => ({ profile: 'official-signing', subject: c.subject })),
      ...cas.map((c) => ({ profile: 'official-signing', subject: c.subject.split(', ').reverse().join(', ').toLowerCase() })),
      { profile: 'tls-server', subject: 'CN=localhost', altNames: { dns: ['localhost'] } },
      { profile: 'tls-server', subject: 'CN=gov.vn', altNames: { dns: ['*.gov.vn'] } },
      { profile: 'tls-server', subject: 'CN=portal.gov.vn', altNames: { dns: ['portal.gov.vn'], ip: ['127.0.0.1'] } },
      { profile: 'tls-server', subject: 'CN=login.example.com', altNames: { dns: ['login.example.com'] } },
    ];
    for (const body of refused) {
      const r = await issueAs(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(isProblem(r)).toBe(true);
      const problem = JSON.parse(r.body.toString());
      expect(problem.code).toBe('subject_not_allowed');
      expect(problem.detail).toMatch(body.profile === 'tls-server' ? /allowed names|allowed addresses|wildcard/ : /cannot carry it/);
      const honest = await rig.ocsp();
      expect(honest.status).toBe(200);
      expect(honest.ms).toBeLessThan(BOUND_MS);
    }
    // nothing was issued for any of them; a name under .gov.vn still is
    expect((await searchCerts(rig.p.db, { limit: 10_000 })).length).toBe(before);
    const ok = await issueAs({ profile: 'tls-server', subject: 'CN=dichvucong.gov.vn', altNames: { dns: ['dichvucong.gov.vn'], ip: ['10.1.2.3'] } });
    expect(ok.status).toBe(201);
  });

  it('answers a failure that names a local folder without the folder', async () => {
    const lab = (await createToken(rig.p.db, 'lab', ['lab-officer'])).token;
    const r = await call(rig.url, {
      method: 'POST',
      path: '/api/v1/lab/runs',
      headers: { authorization: `Bearer ${lab}`, 'content-type': 'application/json' },
      body: JSON.stringify({ product: 'node', suites: ['aes_gcm_test'] }),
    });
    expect(r.status).toBe(404);
    expect(isProblem(r)).toBe(true);
    const text = r.body.toString();
    expect(text).not.toContain(tmpdir());
    expect(text).not.toContain(process.cwd());
    expect(text).toContain('…/');
  });

  it('the README’s role table agrees with the code for certificate search and scanning', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const rolesOf = (path: string): string[] => {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${path}`));
      expect(row, path).toBeDefined();
      return row!.split('|')[2]!.split(',').map((s) => s.trim()).sort();
    };
    expect(rolesOf('GET /api/v1/certificates?')).toEqual([...PERMISSIONS['ca.read']].sort());
    expect(rolesOf('GET /api/v1/certificates/{serial}')).toEqual([...PERMISSIONS['ca.read']].sort());
    expect(rolesOf('POST /api/v1/scan')).toEqual([...PERMISSIONS['monitor.scan']].sort());
  });
});
