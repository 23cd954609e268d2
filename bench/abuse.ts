/**
 * Latency of a normal issuance and an OCSP request while each abuse of the hardening issue runs, beside the
 * same without abuse, in one run on one server (`truc start`'s HTTP app on PGlite, loopback).
 *
 * The honest client (127.0.0.1) makes BENCH_ABUSE_ROUNDS rounds (default 20) of one issuance
 * (official-signing, P-256) then one OCSP POST, one after the other, while an attacker loops:
 * - flood: requests without or with a wrong token to the issuance route, 40 at a time, from 127.0.0.2;
 * - regex hunt: `^(a+)+$` and `(a|aa)*b` hunts over 200 stored events with 20,000-character fields;
 * - deep XML: a Windows export nested a million elements deep (7 MB);
 * - huge XML: a 22,000-event Windows export (~25 MB), beyond the request's event bound;
 * - slowloris: 200 connections sending a header line every second, never finishing;
 * - hostile JSON on every route: the router's every POST/PUT/PATCH/DELETE route, in turn, gets each body of
 *   the abuse suite's JSON corpus (100,000 deep, 50 MB of values, a 50 MB string, 150,000 members,
 *   repeated members, `__proto__`), two at a time, with a token holding every role;
 * - hostile DER and PDF: the suite's DER corpus to OCSP, TSA, CMS validation, certificate requests and path
 *   validation, and its PDF corpus — with a content stream inflating to a gigabyte — to validation and
 *   augmentation, two at a time.
 * The attacker's requests share the server's one event loop with the honest client's (same process, as in
 * `truc start`); the figures are what the honest client waits.
 */
import { connect, type Socket } from 'node:net';
import { PDFDocument } from 'pdf-lib';
import { createToken } from '../src/http/auth/store.js';
import { ROLES } from '../src/http/auth/roles.js';
import { listCas } from '../src/pki/index.js';
import { routeTable } from '../src/http/app.js';
import { call, sendStreamed, startRig, type Rig } from '../test/abuse/helpers.js';
import { der, hostileDer, hostileJson, hostilePdfs } from '../test/abuse/corpus.js';
import { quantile } from './stats.js';

export const title = 'Issuance and OCSP latency under abuse (hardening)';

const ROUNDS = Number(process.env.BENCH_ABUSE_ROUNDS ?? 20);

interface Figures {
  scenario: string;
  issueP50: number;
  issueP95: number;
  issueMax: number;
  ocspP50: number;
  ocspP95: number;
  ocspMax: number;
  attackRequests: number;
  attackStatuses: string;
  failures: number;
}

async function measure(rig: Rig, scenario: string, attack?: (stop: () => boolean, count: (status: number) => void) => Promise<void>): Promise<Figures> {
  let stopped = false;
  const statuses = new Map<number, number>();
  const count = (s: number) => statuses.set(s, (statuses.get(s) ?? 0) + 1);
  const running = attack ? attack(() => stopped, count) : Promise.resolve();
  if (attack) await new Promise((r) => setTimeout(r, 300)); // let the attack get going
  const issue: number[] = [];
  const ocsp: number[] = [];
  let failures = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const a = await rig.issue();
    if (a.status !== 201) failures++;
    issue.push(a.ms);
    const o = await rig.ocsp();
    if (o.status !== 200) failures++;
    ocsp.push(o.ms);
  }
  stopped = true;
  await running;
  return {
    scenario,
    issueP50: quantile(issue, 0.5),
    issueP95: quantile(issue, 0.95),
    issueMax: quantile(issue, 1),
    ocspP50: quantile(ocsp, 0.5),
    ocspP95: quantile(ocsp, 0.95),
    ocspMax: quantile(ocsp, 1),
    attackRequests: [...statuses.values()].reduce((a, b) => a + b, 0),
    attackStatuses: [...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s === -1 ? 'open' : s}×${n}`).join(' '),
    failures,
  };
}

/** `make` over and over, `n` at a time, until stopped. */
async function loop(n: number, stop: () => boolean, count: (s: number) => void, make: () => Promise<{ status: number }>): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (!stop()) {
        try {
          count((await make()).status);
        } catch {
          count(0);
        }
      }
    }),
  );
}

export async function run(): Promise<Record<string, unknown>> {
  const rig = await startRig();
  try {
    const sender = (await createToken(rig.p.db, 'sender', ['event-sender'])).token;
    const analyst = (await createToken(rig.p.db, 'analyst', ['monitor-analyst'])).token;
    for (let i = 0; i < 5; i++) await rig.issue(); // warm up
    const events = Array.from({ length: 200 }, (_, i) => ({ '@timestamp': new Date().toISOString(), event: { kind: 'event', action: 'probe' }, message: 'a'.repeat(20_000 + i) + '!' }));
    await call(rig.url, { method: 'POST', path: '/api/v1/events', headers: { authorization: `Bearer ${sender}`, 'content-type': 'application/json' }, body: JSON.stringify(events) });
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const hunt = JSON.stringify({
      yaml: "title: bomb\nlogsource: {product: any}\ndetection:\n  a: {message|re: '^(a+)+$'}\n  b: {message|re: '(a|aa)*b'}\n  condition: a or b\n",
      from: since,
      to: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const deep = '<Events><Event>' + '<a>'.repeat(1_000_000) + '</a>'.repeat(1_000_000) + '</Event></Events>';
    const one = (i: number) =>
      `<Event><System><Provider Name="x"/><EventID>4625</EventID><TimeCreated SystemTime="${new Date().toISOString()}"/><Computer>ws${i}</Computer></System>` +
      `<EventData><Data Name="TargetUserName">u${i}</Data><Data Name="Pad">${'p'.repeat(1000)}</Data></EventData></Event>`;
    const huge = '<Events>' + Array.from({ length: 22_000 }, (_, i) => one(i)).join('') + '</Events>';
    const xml = (body: string) => () => call(rig.url, { method: 'POST', path: '/api/v1/events/windows', headers: { authorization: `Bearer ${sender}`, 'content-type': 'application/xml' }, body, localAddress: '127.0.0.2', timeoutMs: 120_000 });

    const results: Figures[] = [];
    results.push(await measure(rig, 'none'));
    results.push(
      await measure(rig, 'flood without credentials', (stop, count) =>
        loop(40, stop, count, () =>
          call(rig.url, { method: 'POST', path: '/api/v1/certificates', localAddress: '127.0.0.2', headers: { authorization: 'Bearer truc_0123456789abcdef_xxxxxxxxxxxxxxxxxxxx', 'content-type': 'application/json' }, body: '{"profile":"x"}' }),
        ),
      ),
    );
    results.push(
      await measure(rig, 'regular-expression hunt', (stop, count) =>
        loop(2, stop, count, () => call(rig.url, { method: 'POST', path: '/api/v1/hunt', headers: { authorization: `Bearer ${analyst}`, 'content-type': 'application/json' }, body: hunt, timeoutMs: 120_000 })),
      ),
    );
    results.push(await measure(rig, 'XML a million elements deep', (stop, count) => loop(2, stop, count, xml(deep))));
    results.push(await measure(rig, 'XML of 22,000 events (25 MB)', (stop, count) => loop(2, stop, count, xml(huge))));
    // the whole hostile corpora, route after route, while the honest client measures
    const every = (await createToken(rig.p.db, 'every role', [...ROLES])).token;
    const json = hostileJson();
    const bodyRoutes = routeTable(rig.server.app).filter((r) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method));
    let j = 0;
    results.push(
      await measure(rig, `hostile JSON on every route (${bodyRoutes.length} routes × ${json.length} bodies)`, (stop, count) =>
        loop(2, stop, count, () => {
          const k = j++;
          const r = bodyRoutes[k % bodyRoutes.length]!;
          const b = json[Math.floor(k / bodyRoutes.length) % json.length]!;
          return sendStreamed(rig.url, r.method, r.url.replace(/:[^/]+/g, 'x').replace(/\*/g, 'x'), every, b, { localAddress: '127.0.0.2' });
        }),
      ),
    );
    const doc = await PDFDocument.create();
    doc.addPage([595, 842]).drawText('Quyet dinh', { x: 50, y: 800 });
    const realPdf = Buffer.from(await doc.save({ useObjectStreams: false }));
    const caCert = Buffer.from((await listCas(rig.p.db))[0]!.certificate);
    const deepCms = Buffer.concat([Buffer.from('3080', 'hex'), der(0x06, Buffer.from('2a864886f70d010702', 'hex')), Buffer.from('a080' + '3080'.repeat(20_000), 'hex'), Buffer.alloc(40_004)]);
    const auth = { authorization: `Bearer ${every}` };
    const sends: (() => Promise<{ status: number }>)[] = [];
    for (const d of hostileDer(caCert.subarray(0, caCert.length >> 1))) {
      const post = (path: string, type: string, body: Buffer | string) => () => call(rig.url, { method: 'POST', path, localAddress: '127.0.0.2', headers: { ...auth, 'content-type': type }, body, timeoutMs: 120_000 });
      sends.push(
        post('/ocsp', 'application/ocsp-request', d.der),
        post('/tsa', 'application/timestamp-query', d.der),
        post('/api/v1/validate', 'application/pkcs7-signature', d.der),
        post('/api/v1/certificates', 'application/json', JSON.stringify({ profile: 'official-signing', csr: d.der.toString('base64') })),
        post('/api/v1/certificates/validate', 'application/json', JSON.stringify({ certificate: d.der.toString('base64') })),
      );
    }
    for (const f of hostilePdfs(realPdf, deepCms, 1024 * 1024 * 1024))
      for (const path of ['/api/v1/validate', '/api/v1/augment?level=B-T'])
        sends.push(() => call(rig.url, { method: 'POST', path, localAddress: '127.0.0.2', headers: { ...auth, 'content-type': 'application/pdf' }, body: f.pdf, timeoutMs: 120_000 }));
    let d = 0;
    results.push(await measure(rig, `hostile DER and PDF (${sends.length} requests, a 1 GiB inflation among them)`, (stop, count) => loop(2, stop, count, () => sends[d++ % sends.length]!())));
    results.push(
      await measure(rig, 'slowloris (200 connections)', async (stop, count) => {
        const u = new URL(rig.url);
        const socks: Socket[] = [];
        for (let i = 0; i < 200; i++) {
          const s = connect({ host: u.hostname, port: Number(u.port), localAddress: '127.0.0.2' });
          s.on('error', () => {});
          s.on('close', () => {
            if (!stop()) count(0);
          });
          s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
          socks.push(s);
        }
        while (!stop()) {
          for (const s of socks) if (!s.destroyed) s.write(`X-${Math.random().toString(36).slice(2)}: y\r\n`);
          await new Promise((r) => setTimeout(r, 1000));
        }
        for (const s of socks) {
          if (!s.destroyed) count(-1); // still held open, unanswered, when the honest rounds ended
          s.destroy();
        }
      }),
    );
    return { rounds: ROUNDS, results };
  } finally {
    await rig.close();
  }
}

export function describe(r: Record<string, unknown>): string {
  const rows = (r.results as Figures[]).map(
    (f) =>
      `| ${f.scenario} | ${f.issueP50} / ${f.issueP95} / ${f.issueMax} | ${f.ocspP50} / ${f.ocspP95} / ${f.ocspMax} | ${f.failures} | ${f.attackRequests ? `${f.attackRequests}: ${f.attackStatuses}` : '—'} |`,
  );
  return [
    `The honest client's waits in ms (median / p95 / max over ${r.rounds as number} rounds of one issuance then one OCSP request), while each abuse runs on the same server (\`truc start\`'s HTTP app, PGlite, loopback; attacker from another loopback address). "failures" counts honest requests not answered 201 / 200. The attacker's column gives its requests and their statuses (0: connection closed by the server; for slowloris, "open" counts connections still held when the rounds ended — the server cuts headers after 20 s).`,
    '',
    '| abuse | issuance ms | OCSP ms | failures | attacker: requests, statuses |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    'The hostile-corpus rows loop over the abuse suite\'s corpora (test/abuse/corpus.ts): every JSON body on every route of the router, and every DER value and PDF on the routes that read them.',
    '',
    'Before the hardening, issue 14 reported: issuance from a 19 ms median to 8 s under the flood; a one-minute stall of OCSP, CA and TSA under the hunt; 30 s of event loop and 1.2 GB for the deep XML, 17 s and 1.5 GB for the 22,000-event export.',
  ].join('\n');
}
