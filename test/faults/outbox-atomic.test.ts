/**
 * With the outbox (NATS of the test's own), a CA's creation and a CRL are written together with their
 * audit records and their events, in one transaction: when the event cannot be written (a trigger stands in
 * for any failure of the outbox table) the operation does not happen either — no CA or CRL without the event
 * that tells the monitor of it — and once it can, the event is relayed and arrives. A refusal's audit
 * record and event are written together too, and the record is kept on its own when the outbox refuses.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { Platform } from '../../src/platform.js';
import { addCa, generateCrl, getCa, listCas, revoke } from '../../src/pki/index.js';
import { searchAudit } from '../../src/audit/index.js';
import type { SecurityEvent } from '../../src/bus/index.js';
import { testPlatform } from '../helpers/platform.js';
import { OwnNats, NATS_SERVER } from './nats-server.js';

const until = async (what: string, cond: () => boolean, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe.skipIf(!NATS_SERVER && process.env.CI !== 'true')('operations and their events in one transaction', () => {
  let nats: OwnNats;
  let p: Platform;
  const seen: SecurityEvent[] = [];

  beforeAll(async () => {
    nats = await OwnNats.start();
    p = await testPlatform('memory://', {
      record: false,
      overrides: {
        bus: { kind: 'nats', url: nats.url, stream: `TRUC_A_${randomBytes(3).toString('hex').toUpperCase()}`, subjectPrefix: `ta${randomBytes(3).toString('hex')}` },
        instance: 'site-atomic',
      },
    });
    p.bus.subscribe('truc.pki.>', (_s, e) => void seen.push(e));
    await new Promise((r) => setTimeout(r, 300)); // the subscription attached
    // the outbox refuses what the test names (a stand-in for a full disk, a lost connection, a bug)
    await p.db.exec(`
      CREATE TABLE t_refuse (action text PRIMARY KEY);
      CREATE FUNCTION t_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF EXISTS (SELECT 1 FROM t_refuse WHERE action = NEW.event #>> '{event,action}') THEN
        RAISE EXCEPTION 'outbox refused' USING ERRCODE = '53100'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER t_refuse BEFORE INSERT ON bus_outbox FOR EACH ROW EXECUTE FUNCTION t_refuse();`);
  }, 60_000);
  afterAll(async () => {
    await p?.close();
    await nats?.stop();
  });

  const crls = async () => (await p.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM pki_crl WHERE ca_id = 'issuing'`))[0]!.n;
  const events = (action: string) => seen.filter((e) => e.event.action === action);

  it('a CRL: with its event or not at all', async () => {
    const before = await crls();
    const audited = (await searchAudit(p.db, { action: 'ca.crl', limit: 1000 })).filter((r) => r.outcome === 'success').length;
    await p.db.query(`INSERT INTO t_refuse VALUES ('crl.generated')`);
    await expect(generateCrl(p.pki, 'issuing', 'ra')).rejects.toThrow(/outbox refused/);
    expect(await crls()).toBe(before);
    expect((await searchAudit(p.db, { action: 'ca.crl', limit: 1000 })).filter((r) => r.outcome === 'success')).toHaveLength(audited);

    await p.db.query(`DELETE FROM t_refuse`);
    const crl = await generateCrl(p.pki, 'issuing', 'ra');
    await until('the CRL event', () => events('crl.generated').some((e) => (e.truc as { number?: number }).number === crl.number));
    expect(events('crl.generated').find((e) => (e.truc as { number?: number }).number === crl.number)!.truc).toMatchObject({ ca: 'issuing', instance: 'site-atomic' });
  });

  it('a refusal: its audit record and its event together; the record kept even when the outbox refuses', async () => {
    const refusedFor = async (serial: string) => (await searchAudit(p.db, { action: 'ca.revoke', limit: 1000 })).filter((r) => r.outcome === 'failure' && r.target === serial);
    await expect(revoke(p.pki, { serial: '0badc0de01', reason: 'keyCompromise' }, 'ra')).rejects.toMatchObject({ code: 'unknown_serial' });
    expect(await refusedFor('0badc0de01')).toHaveLength(1);
    await until('the refusal event', () => events('revocation.refused').some((e) => (e.truc as { serial?: string }).serial === '0badc0de01'));

    await p.db.query(`INSERT INTO t_refuse VALUES ('revocation.refused')`);
    await expect(revoke(p.pki, { serial: '0badc0de02', reason: 'keyCompromise' }, 'ra')).rejects.toMatchObject({ code: 'unknown_serial' });
    expect(await refusedFor('0badc0de02')).toHaveLength(1); // written on its own when the two together could not be
    await p.db.query(`DELETE FROM t_refuse`);
  });

  it('a CA: with its event or not at all', async () => {
    const spec = { id: 'bonoivu', subject: 'C=VN, O=Bộ Nội vụ, CN=Bộ Nội vụ Issuing CA', keyAlgorithm: 'EC-P256' as const, validityDays: 365, pathLen: 0 };
    await p.db.query(`INSERT INTO t_refuse VALUES ('ca.created')`);
    await expect(addCa(p.pki, 'root', spec, 'admin')).rejects.toThrow(/outbox refused/);
    expect(await getCa(p.db, 'bonoivu')).toBeNull();
    expect((await listCas(p.db)).map((c) => c.id).sort()).toEqual(['issuing', 'root']);

    await p.db.query(`DELETE FROM t_refuse`);
    await addCa(p.pki, 'root', spec, 'admin');
    await until('the CA event', () => events('ca.created').some((e) => (e.truc as { ca?: string }).ca === 'bonoivu'));
  });
});
