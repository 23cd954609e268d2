/**
 * The crypto lab API. Lab officers start runs — against a product behind an HTTP endpoint or a built-in
 * reference (node:crypto, @noble) — and keep the register; auditors read everything. A run answers 202
 * with its id and is followed at GET /runs/:id (or waits, with `wait: true`, and answers 201); its report
 * is served as the signed canonical JSON, HTML or PDF, and its detached signature as a `.p7s`.
 * Processes and PKCS#11 libraries are never opened on a caller's word: those products run from the CLI.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TrucError } from '../../errors.js';
import { DEFAULT_VECTOR_DIR, loadProfile, openProduct, renderHtml, renderPdf, resolveSuites, schemasFor, type LabReport } from '../../lab/index.js';
import {
  addProduct,
  addVendor,
  addVersion,
  changeCertificateStatus,
  changeLicenceStatus,
  findCertificate,
  findLicence,
  findProduct,
  findRun,
  issueCertificate,
  issueLicence,
  listVendors,
  runAndRecord,
  runArtifacts,
  searchCertificates,
  searchLicences,
  searchProducts,
  searchRuns,
  searchVersions,
  type RunRow,
  type StatusAction,
} from '../../lab/register/index.js';
import type { Platform } from '../../platform.js';
import { guard } from '../auth/guard.js';

const security = [{ bearer: [] }];
const tags = ['lab'];
const actor = (req: FastifyRequest) => req.principal!.name;
const MAX_RUNNING = 4;

interface Job {
  id: string;
  status: 'running' | 'failed';
  product: string;
  startedAt: Date;
  done: number;
  total: number;
  suitesDone: number;
  suites: number;
  error?: { code: string; message: string };
  controller: AbortController;
}

const str = (max = 200) => ({ type: 'string', minLength: 1, maxLength: max });
const date = { type: 'string', format: 'date-time' };
const limit = { type: 'integer', minimum: 1, maximum: 1000 };
const asDate = (s?: string) => (s ? new Date(s) : undefined);
const statusBody = { type: 'object', additionalProperties: false, properties: { reason: str(500) } };

export async function labRoutes(app: FastifyInstance, p: Platform): Promise<void> {
  const jobs = new Map<string, Job>();
  const vectors = resolve(process.env.TRUC_LAB_VECTORS ?? DEFAULT_VECTOR_DIR);
  app.addHook('onClose', async () => {
    for (const j of jobs.values()) j.controller.abort();
  });

  app.post<{ Body: { product: string; suites?: string[]; profile?: string; productVersionId?: string; wait?: boolean; runTimeoutMs?: number } }>(
    '/api/v1/lab/runs',
    {
      onRequest: guard(p, 'lab.run'),
      schema: {
        tags,
        summary: 'Start a run against an HTTP product (http:<url>) or a reference adapter (node, noble)',
        security,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['product'],
          properties: {
            product: str(2000),
            // names, globs and family names in the lab's vector folder; never paths
            suites: { type: 'array', maxItems: 100, items: { type: 'string', pattern: '^[A-Za-z0-9_.*?-]{1,100}$' } },
            profile: str(64),
            productVersionId: str(64),
            wait: { type: 'boolean' },
            // the whole run's limit: reached, the report is partial (never PASS), still signed and recorded
            runTimeoutMs: { type: 'integer', minimum: 1, maximum: 7 * 24 * 3_600_000 },
          },
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const busy = () => [...jobs.values()].filter((j) => j.status === 'running').length >= MAX_RUNNING;
      const refuse = () => new TrucError('conflict', `${MAX_RUNNING} runs are in progress; try again when one finishes`);
      if (busy()) throw refuse();
      const profile = b.profile ? await loadProfile(b.profile) : undefined;
      const files = await resolveSuites(b.suites ?? [], { dir: vectors, profile });
      const schemas = await schemasFor(vectors);
      const adapter = await openProduct(b.product, { allow: ['node', 'noble', 'http'] });
      // checked again: other requests may have started runs while this one read its suites
      if (busy()) {
        await adapter.close?.().catch(() => {});
        throw refuse();
      }
      const id = `run_${randomBytes(6).toString('hex')}`;
      const job: Job = {
        id,
        status: 'running',
        product: `${adapter.info.name} ${adapter.info.version}`,
        startedAt: new Date(),
        done: 0,
        total: files.reduce((n, f) => n + (f.doc.testGroups ?? []).reduce((m, g) => m + (g.tests?.length ?? 0), 0), 0),
        suitesDone: 0,
        suites: files.length,
        controller: new AbortController(),
      };
      jobs.set(id, job);
      let base = 0;
      const running = runAndRecord(
        p,
        {
          id,
          adapter,
          files,
          schemas,
          profile,
          productVersionId: b.productVersionId,
          signal: job.controller.signal,
          ...(b.runTimeoutMs !== undefined ? { runTimeoutMs: b.runTimeoutMs } : {}),
          onProgress: (e) => {
            if (e.type === 'progress') job.done = base + e.done;
            else if (e.type === 'suite-end') {
              job.suitesDone++;
              base = job.done = base + (files.find((f) => f.name === e.file)?.doc.testGroups?.reduce((m, g) => m + (g.tests?.length ?? 0), 0) ?? 0);
            }
          },
        },
        actor(req),
      )
        .then((r) => {
          jobs.delete(id);
          return r.run;
        })
        .catch((e) => {
          job.status = 'failed';
          job.error = { code: e instanceof TrucError ? e.code : 'internal', message: e instanceof TrucError ? e.message : 'the run failed' };
          if (!(e instanceof TrucError)) p.log.error({ err: e, run: id }, 'lab run failed');
          setTimeout(() => jobs.delete(id), 3_600_000).unref();
          throw e;
        })
        .finally(() => adapter.close?.().catch(() => {}));
      if (b.wait) return reply.status(201).header('location', `/api/v1/lab/runs/${id}`).send({ status: 'recorded', ...(await running) });
      running.catch(() => {});
      return reply.status(202).header('location', `/api/v1/lab/runs/${id}`).send(jobJson(job));
    },
  );

  app.get<{ Querystring: { productVersionId?: string; verdict?: 'PASS' | 'FAIL'; profile?: string; limit?: number } }>(
    '/api/v1/lab/runs',
    {
      onRequest: guard(p, 'lab.read'),
      schema: {
        tags,
        summary: 'Recorded runs, newest first',
        security,
        querystring: { type: 'object', additionalProperties: false, properties: { productVersionId: str(64), verdict: { enum: ['PASS', 'FAIL'] }, profile: str(64), limit } },
      },
    },
    async (req) => searchRuns(p.db, req.query),
  );

  const runOr404 = async (id: string): Promise<RunRow> => {
    const r = await findRun(p.db, id);
    if (!r) throw new TrucError('not_found', `no recorded run "${id}"`);
    return r;
  };

  app.get<{ Params: { id: string } }>(
    '/api/v1/lab/runs/:id',
    { onRequest: guard(p, 'lab.read'), schema: { tags, summary: 'A run: the record, or the progress while it runs', security } },
    async (req) => {
      const job = jobs.get(req.params.id);
      if (job) return jobJson(job);
      return { status: 'recorded', ...(await runOr404(req.params.id)) };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { format?: 'json' | 'html' | 'pdf' } }>(
    '/api/v1/lab/runs/:id/report',
    {
      onRequest: guard(p, 'lab.read'),
      schema: {
        tags,
        summary: 'The report: JSON (the exact bytes signed), HTML or PDF',
        security,
        querystring: { type: 'object', additionalProperties: false, properties: { format: { enum: ['json', 'html', 'pdf'] } } },
      },
    },
    async (req, reply) => {
      const a = await runArtifacts(p.db, req.params.id);
      if (!a) throw new TrucError('not_found', `no recorded run "${req.params.id}"`);
      const format = req.query.format ?? 'json';
      if (format === 'json') return reply.type('application/json').send(a.report);
      const report = JSON.parse(a.report.toString('utf8')) as LabReport;
      if (format === 'html') return reply.type('text/html; charset=utf-8').send(renderHtml(report));
      return reply.type('application/pdf').send(Buffer.from(await renderPdf(report)));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/lab/runs/:id/signature',
    { onRequest: guard(p, 'lab.read'), schema: { tags, summary: "The report's detached CMS signature (.p7s, DER)", security } },
    async (req, reply) => {
      const a = await runArtifacts(p.db, req.params.id);
      if (!a?.signature) throw new TrucError('not_found', `no signature for run "${req.params.id}"`);
      return reply.type('application/pkcs7-signature').header('content-disposition', `attachment; filename="${req.params.id}.p7s"`).send(a.signature);
    },
  );

  // ---- register
  app.post<{ Body: { name: string; country?: string; taxId?: string; contact?: string } }>(
    '/api/v1/lab/vendors',
    {
      onRequest: guard(p, 'lab.manage'),
      schema: {
        tags,
        summary: 'Register a vendor',
        security,
        body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: str(), country: { type: 'string', pattern: '^[A-Z]{2}$' }, taxId: str(50), contact: str(500) } },
      },
    },
    async (req, reply) => reply.status(201).send(await addVendor(p, req.body, actor(req))),
  );
  app.get<{ Querystring: { name?: string; limit?: number } }>(
    '/api/v1/lab/vendors',
    { onRequest: guard(p, 'lab.read'), schema: { tags, summary: 'Vendors', security, querystring: { type: 'object', additionalProperties: false, properties: { name: str(), limit } } } },
    async (req) => listVendors(p.db, req.query),
  );

  app.post<{ Body: { vendor: string; name: string; kind?: string; description?: string } }>(
    '/api/v1/lab/products',
    {
      onRequest: guard(p, 'lab.manage'),
      schema: {
        tags,
        summary: 'Register a product of a vendor',
        security,
        body: { type: 'object', additionalProperties: false, required: ['vendor', 'name'], properties: { vendor: str(), name: str(), kind: str(50), description: str(2000) } },
      },
    },
    async (req, reply) => reply.status(201).send(await addProduct(p, req.body, actor(req))),
  );
  const searchQuery = { type: 'object', additionalProperties: false, properties: { vendor: str(), name: str(), algorithm: str(64), limit } };
  app.get<{ Querystring: { vendor?: string; name?: string; algorithm?: string; limit?: number } }>(
    '/api/v1/lab/products',
    { onRequest: guard(p, 'lab.read'), schema: { tags, summary: 'Search products by vendor, name (contains) and claimed algorithm', security, querystring: searchQuery } },
    async (req) => searchProducts(p.db, req.query),
  );
  app.get<{ Params: { id: string } }>(
    '/api/v1/lab/products/:id',
    {
      onRequest: guard(p, 'lab.read'),
      schema: { tags, summary: "A product with its versions (each with its runs and certificates of conformity) and the product's licences", security },
    },
    async (req) => {
      const product = await findProduct(p.db, req.params.id);
      if (!product) throw new TrucError('not_found', `no product "${req.params.id}"`);
      const versions = [];
      for (const v of await searchVersions(p.db, { productId: product.id, limit: 1000 }))
        versions.push({
          ...v,
          runs: await searchRuns(p.db, { productVersionId: v.id, limit: 100 }),
          certificates: await searchCertificates(p.db, { productVersionId: v.id, limit: 1000 }),
        });
      // licences are searched by vendor; those naming this product are its own
      const licences = (await searchLicences(p.db, { vendor: product.vendorId, limit: 1000 })).filter((l) => l.productId === product.id);
      return { ...product, versions, licences };
    },
  );
  app.post<{ Params: { id: string }; Body: { version: string; algorithms?: string[] } }>(
    '/api/v1/lab/products/:id/versions',
    {
      onRequest: guard(p, 'lab.manage'),
      schema: {
        tags,
        summary: 'Register a version of a product, with the algorithms it claims',
        security,
        body: { type: 'object', additionalProperties: false, required: ['version'], properties: { version: str(100), algorithms: { type: 'array', maxItems: 200, items: str(64) } } },
      },
    },
    async (req, reply) => reply.status(201).send(await addVersion(p, { productId: req.params.id, ...req.body }, actor(req))),
  );
  app.get<{ Querystring: { vendor?: string; name?: string; algorithm?: string; limit?: number } }>(
    '/api/v1/lab/versions',
    { onRequest: guard(p, 'lab.read'), schema: { tags, summary: 'Search product versions', security, querystring: searchQuery } },
    async (req) => searchVersions(p.db, req.query),
  );

  const conformityQuery = {
    type: 'object',
    additionalProperties: false,
    properties: { vendor: str(), product: str(), algorithm: str(64), profile: str(64), kind: str(50), status: { enum: ['issued', 'suspended', 'revoked'] }, validAt: date, expiresBefore: date, limit },
  };
  type ConformityQs = { vendor?: string; product?: string; algorithm?: string; profile?: string; kind?: string; status?: 'issued' | 'suspended' | 'revoked'; validAt?: string; expiresBefore?: string; limit?: number };

  app.post<{ Body: { productVersionId: string; profile: string; runId?: string; number?: string; validUntil?: string; validityDays?: number } }>(
    '/api/v1/lab/certificates',
    {
      onRequest: guard(p, 'lab.manage'),
      schema: {
        tags,
        summary: 'Issue a certificate of conformity (needs a PASS run of the version under the profile)',
        security,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['productVersionId', 'profile'],
          properties: { productVersionId: str(64), profile: str(64), runId: str(64), number: str(64), validUntil: date, validityDays: { type: 'integer', minimum: 1, maximum: 3660 } },
        },
      },
    },
    async (req, reply) => reply.status(201).send(await issueCertificate(p, { ...req.body, validUntil: asDate(req.body.validUntil) }, actor(req))),
  );
  app.get<{ Querystring: ConformityQs }>(
    '/api/v1/lab/certificates',
    { onRequest: guard(p, 'lab.read'), schema: { tags, summary: 'Search certificates of conformity', security, querystring: conformityQuery } },
    async (req) => searchCertificates(p.db, { ...req.query, validAt: asDate(req.query.validAt), expiresBefore: asDate(req.query.expiresBefore) }),
  );
  app.get<{ Params: { number: string } }>(
    '/api/v1/lab/certificates/:number',
    { onRequest: guard(p, 'lab.read'), schema: { tags, summary: 'A certificate of conformity', security } },
    async (req) => (await findCertificate(p.db, req.params.number)) ?? Promise.reject(new TrucError('not_found', `no certificate of conformity "${req.params.number}"`)),
  );

  app.post<{ Body: { vendor: string; productId?: string; kind: string; scope?: string; number?: string; validUntil?: string; validityDays?: number } }>(
    '/api/v1/lab/licences',
    {
      onRequest: guard(p, 'lab.manage'),
      schema: {
        tags,
        summary: 'Issue a licence to a vendor',
        security,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['vendor', 'kind'],
          properties: { vendor: str(), productId: str(64), kind: str(50), scope: str(2000), number: str(64), validUntil: date, validityDays: { type: 'integer', minimum: 1, maximum: 3660 } },
        },
      },
    },
    async (req, reply) => reply.status(201).send(await issueLicence(p, { ...req.body, validUntil: asDate(req.body.validUntil) }, actor(req))),
  );
  app.get<{ Querystring: ConformityQs }>(
    '/api/v1/lab/licences',
    { onRequest: guard(p, 'lab.read'), schema: { tags, summary: 'Search licences', security, querystring: conformityQuery } },
    async (req) => searchLicences(p.db, { ...req.query, validAt: asDate(req.query.validAt), expiresBefore: asDate(req.query.expiresBefore) }),
  );
  app.get<{ Params: { number: string } }>(
    '/api/v1/lab/licences/:number',
    { onRequest: guard(p, 'lab.read'), schema: { tags, summary: 'A licence', security } },
    async (req) => (await findLicence(p.db, req.params.number)) ?? Promise.reject(new TrucError('not_found', `no licence "${req.params.number}"`)),
  );

  for (const action of ['suspend', 'reinstate', 'revoke'] as StatusAction[]) {
    app.post<{ Params: { number: string }; Body: { reason?: string } }>(
      `/api/v1/lab/certificates/:number/${action}`,
      { onRequest: guard(p, 'lab.manage'), schema: { tags, summary: `${action} a certificate of conformity`, security, body: statusBody } },
      async (req) => changeCertificateStatus(p, req.params.number, action, req.body?.reason, actor(req)),
    );
    app.post<{ Params: { number: string }; Body: { reason?: string } }>(
      `/api/v1/lab/licences/:number/${action}`,
      { onRequest: guard(p, 'lab.manage'), schema: { tags, summary: `${action} a licence`, security, body: statusBody } },
      async (req) => changeLicenceStatus(p, req.params.number, action, req.body?.reason, actor(req)),
    );
  }
}

function jobJson(j: Job) {
  return {
    id: j.id,
    status: j.status,
    product: j.product,
    startedAt: j.startedAt.toISOString(),
    progress: { done: j.done, total: j.total, suitesDone: j.suitesDone, suites: j.suites },
    ...(j.error ? { error: j.error } : {}),
  };
}
