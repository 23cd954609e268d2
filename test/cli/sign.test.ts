import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { TrucLanes, trucDataDir, trucSync, type TrucResult } from '../helpers/truc-cli.js';
import { formPdf, samplePdf } from '../sign/fixtures.js';

// the data folder (its database made beforehand: ../helpers/truc-cli.ts) is set by the first test
const env: NodeJS.ProcessEnv = { ...process.env, TRUC_KEY_PASSPHRASE: 'cli sign passphrase', TRUC_LOG_LEVEL: 'warn' };
delete env.TRUC_DATABASE_URL;

const truc = (...args: string[]): TrucResult => trucSync(env, args);

describe('truc sign and truc verify', () => {
  const dir = tmp();
  /** what the first test issued and signed, for the second */
  let made: { keyPath: string; cert: string; pdf: string; content: string; signedDir: string } | undefined;
  /** copies of the data folder once the CA has issued the certificate: commands that do not depend on each other run side by side */
  let lanes: TrucLanes;

  it('signs a PDF at B-B and B-LTA and a CAdES at B-LT with PEM files; verify exits 0, 1 on tampering, and walks a folder', async () => {
    env.TRUC_DATA_DIR = await trucDataDir('truc-cli-sign-');
    expect(truc('ca', 'init').status).toBe(0);
    const { csrPath, keyPath } = opensslCsr(dir, '/C=VN/O=Bộ Tư pháp/CN=Ngô Thị Mai');
    const cert = join(dir, 'cert.pem');
    const issued = truc('ca', 'issue', '--csr', csrPath, '--profile', 'official-signing', '--out', cert, '--chain');
    expect(issued.status, issued.stderr).toBe(0);
    lanes = new TrucLanes(env);
    const pdf = join(dir, 'doc.pdf');
    writeFileSync(pdf, await samplePdf(true));
    const signedDir = join(dir, 'signed');
    mkdirSync(signedDir);
    const content = join(dir, 'decision.txt');
    writeFileSync(content, 'Quyết định số 9\n');

    const [bb, lta, lt] = await Promise.all([
      lanes.run('--json', 'sign', 'pdf', pdf, '--out', join(signedDir, 'bb.pdf'), '--key-pem', keyPath, '--cert-pem', cert),
      lanes.run('sign', 'pdf', pdf, '--out', join(signedDir, 'lta.pdf'), '--key-pem', keyPath, '--cert-pem', cert, '--level', 'B-LTA'),
      lanes.run('sign', 'cades', content, '--out', join(dir, 'decision.p7s'), '--key-pem', keyPath, '--cert-pem', cert, '--level', 'B-LT'),
    ]);
    expect(bb.status, bb.stderr).toBe(0);
    expect(JSON.parse(bb.stdout)).toMatchObject({ level: 'B-B' });
    expect(lta.status, lta.stderr).toBe(0);
    expect(lt.status, lt.stderr).toBe(0);

    const tampered = readFileSync(join(signedDir, 'bb.pdf'));
    tampered[tampered.indexOf('\n%', 0, 'latin1') + 2] ^= 1;
    writeFileSync(join(signedDir, 'tampered.pdf'), tampered);
    const [v, j, t, folder] = await Promise.all([
      lanes.run('verify', join(signedDir, 'lta.pdf')),
      lanes.run('verify', join(dir, 'decision.p7s'), '--content', content, '--report', 'json', '--hard-fail'),
      lanes.run('verify', join(signedDir, 'tampered.pdf')),
      lanes.run('--json', 'verify', signedDir),
    ]);
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/PAdES B-LTA/);
    expect(v.stdout).toMatch(/Kết quả: TOTAL-PASSED/);
    expect(j.status, j.stdout + j.stderr).toBe(0);
    expect(JSON.parse(j.stdout).signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LT' });
    made = { keyPath, cert, pdf, content, signedDir };
    expect(t.status).toBe(1);
    expect(folder.status).toBe(1);
    expect(JSON.parse(folder.stdout).map((r: any) => [r.file.split('/').pop(), r.exit])).toEqual([
      ['bb.pdf', 0],
      ['lta.pdf', 0],
      ['tampered.pdf', 1],
    ]);
  });

  it('reports as ETSI XML and HTML; signs CAdES B-LTA, XAdES B-LTA, a DocMDP certification and a FieldMDP lock', async () => {
    expect(made, 'the first test issues the certificate').toBeDefined();
    const { keyPath, cert, pdf, content, signedDir } = made!;
    const xml = join(dir, 'edxml.xml');
    writeFileSync(xml, '<edXML xmlns="urn:vn:edxml"><Subject>Thông báo</Subject></edXML>');
    const form = join(dir, 'form.pdf');
    writeFileSync(form, await formPdf(false));
    // each file signed and verified on a lane of its own, the files side by side
    await Promise.all([
      lanes.lane(async (truc) => {
        const x = await truc('verify', join(dir, 'decision.p7s'), '--content', content, '--report', 'xml');
        expect(x.status, x.stderr).toBe(0);
        expect(x.stdout).toMatch(/^<\?xml[\s\S]*urn:etsi:019102:mainindication:total-passed/);
      }),
      lanes.lane(async (truc) => {
        const ltaCades = await truc('sign', 'cades', content, '--out', join(dir, 'decision-lta.p7s'), '--key-pem', keyPath, '--cert-pem', cert, '--level', 'B-LTA');
        expect(ltaCades.status, ltaCades.stderr).toBe(0);
        const jl = await truc('verify', join(dir, 'decision-lta.p7s'), '--content', content, '--report', 'json');
        expect(JSON.parse(jl.stdout).signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
      }),
      lanes.lane(async (truc) => {
        const xl = await truc('sign', 'xades', xml, '--out', join(dir, 'edxml-lta.xml'), '--key-pem', keyPath, '--cert-pem', cert, '--level', 'B-LTA');
        expect(xl.status, xl.stderr).toBe(0);
        const jx = await truc('verify', join(dir, 'edxml-lta.xml'), '--report', 'json', '--hard-fail');
        expect(JSON.parse(jx.stdout).signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
      }),
      // XAdES enveloping, and detached over the PDF (named by its file name): verify takes the content
      lanes.lane(async (truc) => {
        const xe = await truc('sign', 'xades', xml, '--out', join(dir, 'edxml-enveloping.xml'), '--key-pem', keyPath, '--cert-pem', cert, '--enveloping');
        expect(xe.status, xe.stderr).toBe(0);
        expect(readFileSync(join(dir, 'edxml-enveloping.xml'), 'utf8')).toMatch(/^<ds:Signature [\s\S]*<ds:Object[^>]* Id="content-/);
        expect((await truc('verify', join(dir, 'edxml-enveloping.xml'))).status).toBe(0);
      }),
      lanes.lane(async (truc) => {
        // with a data time-stamp: the PDF's bytes time-stamped before signing (AllDataObjectsTimeStamp), a proof the report gives on the reference
        const xd = await truc('sign', 'xades', pdf, '--out', join(dir, 'pdf-detached.xml'), '--key-pem', keyPath, '--cert-pem', cert, '--detached', '--level', 'B-T', '--data-timestamp');
        expect(xd.status, xd.stderr).toBe(0);
        expect(readFileSync(join(dir, 'pdf-detached.xml'), 'utf8')).toContain(`<ds:Reference URI="${basename(pdf)}">`);
        const vd = await truc('verify', join(dir, 'pdf-detached.xml'), '--content', pdf, '--report', 'json');
        expect(vd.status, vd.stdout).toBe(0);
        const sd = JSON.parse(vd.stdout).signatures[0];
        expect(sd).toMatchObject({ format: 'XAdES', level: 'B-T', indication: 'TOTAL-PASSED', timestamps: [{ type: 'content', property: 'AllDataObjectsTimeStamp', valid: true }, { type: 'signature', valid: true }] });
        expect(sd.signedData[0].poe).toBe(sd.timestamps[0].genTime);
        const alone = await truc('verify', join(dir, 'pdf-detached.xml'));
        expect(alone.status).toBe(2);
        expect(alone.stdout).toMatch(/SIGNED_DATA_NOT_FOUND/);
      }),
      lanes.lane(async (truc) => {
        const wrongFlag = await truc('sign', 'pdf', pdf, '--out', join(dir, 'x.pdf'), '--key-pem', keyPath, '--cert-pem', cert, '--detached');
        expect(wrongFlag.status).toBe(3);
        expect(wrongFlag.stderr).toMatch(/--detached is for XAdES/);
      }),
      lanes.lane(async (truc) => {
        const cert1 = await truc('sign', 'pdf', pdf, '--out', join(dir, 'certified.pdf'), '--key-pem', keyPath, '--cert-pem', cert, '--certify', '2');
        expect(cert1.status, cert1.stderr).toBe(0);
        const vc = await truc('verify', join(dir, 'certified.pdf'), '--lang', 'en');
        expect(vc.stdout).toMatch(/Certification: DocMDP P=2/);
      }),
      lanes.lane(async (truc) => {
        const locked = await truc('sign', 'pdf', form, '--out', join(dir, 'locked.pdf'), '--key-pem', keyPath, '--cert-pem', cert, '--lock', 'Include:soHieu,nguoiNhan');
        expect(locked.status, locked.stderr).toBe(0);
        const vl = await truc('verify', join(dir, 'locked.pdf'), '--lang', 'en');
        expect(vl.status, vl.stdout).toBe(0);
        expect(vl.stdout).toMatch(/Field lock: FieldMDP Include \[soHieu, nguoiNhan\]/);
      }),
      lanes.lane(async (truc) => {
        const h = await truc('verify', join(signedDir, 'lta.pdf'), '--report', 'html');
        expect(h.stdout).toMatch(/<!DOCTYPE html>[\s\S]*Hợp lệ/);
      }),
    ]);
  });

  it('two-phase: prepare writes the data to be signed, a key outside the platform signs it (openssl), complete writes a PDF that verifies; a used handle and a changed document are refused', () => {
    expect(made, 'the first test issues the certificate').toBeDefined();
    const { keyPath, cert, pdf, content } = made!;
    const dtbs = join(dir, 'two-phase.dtbs');
    const prep = truc('--json', 'sign', 'prepare', pdf, '--cert-pem', cert, '--level', 'B-T', '--reason', 'Phê duyệt', '--dtbs-out', dtbs);
    expect(prep.status, prep.stderr).toBe(0);
    const item = JSON.parse(prep.stdout).items[0];
    expect(item).toMatchObject({ handle: expect.any(String), params: { format: 'pades', level: 'B-T' } });
    expect(readFileSync(dtbs).equals(Buffer.from(item.dataToBeSigned, 'base64'))).toBe(true);
    // the "token": openssl with the official's key, hashing as the prepared item says
    const sig = join(dir, 'two-phase.sig');
    const o = spawnSync('openssl', ['dgst', `-${String(item.hash).toLowerCase().replace('-', '')}`, '-sign', keyPath, '-out', sig, dtbs], { encoding: 'utf8' });
    expect(o.status, o.stderr).toBe(0);
    const out = join(dir, 'two-phase.pdf');
    const done = truc('--json', 'sign', 'complete', item.handle, '--signature', sig, '--out', out, '--document', pdf);
    expect(done.status, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ format: 'pades', level: 'B-T' });
    const v = truc('verify', out, '--report', 'json');
    expect(v.status, v.stdout).toBe(0);
    expect(JSON.parse(v.stdout).signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-T' });
    expect(spawnSync('pdfsig', [out], { encoding: 'utf8' }).stdout).toMatch(/Signature is Valid/);
    const again = truc('sign', 'complete', item.handle, '--signature', sig, '--out', join(dir, 'again.pdf'));
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/handle/i);
    // a CAdES handle completed with another document than the one prepared
    const prep2 = truc('--json', 'sign', 'prepare', content, '--cert-pem', cert, '--format', 'cades', '--dtbs-out', dtbs);
    expect(prep2.status, prep2.stderr).toBe(0);
    const item2 = JSON.parse(prep2.stdout).items[0];
    expect(spawnSync('openssl', ['dgst', `-${String(item2.hash).toLowerCase().replace('-', '')}`, '-sign', keyPath, '-out', sig, dtbs]).status).toBe(0);
    const changed = join(dir, 'changed.txt');
    writeFileSync(changed, 'Quyết định số 10\n');
    const refused = truc('sign', 'complete', item2.handle, '--signature', sig, '--out', join(dir, 'changed.p7s'), '--document', changed);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/document/i);
  });

  it('signs a folder of PDFs into another folder with a progress bar, passing over a file that is not a PDF', async () => {
    const { keyPath, cert } = made!;
    const inbox = join(dir, 'inbox');
    mkdirSync(inbox);
    for (const name of ['cv-01.pdf', 'cv-02.pdf', 'cv-03.PDF']) writeFileSync(join(inbox, name), await samplePdf(name !== 'cv-02.pdf'));
    writeFileSync(join(inbox, 'broken.pdf'), '%PDF-1.7\nnot really\n');
    writeFileSync(join(inbox, 'notes.txt'), 'not signed: not a PDF name');
    const before = readFileSync(join(inbox, 'cv-01.pdf'));
    const outbox = join(dir, 'outbox');
    const r = truc('--json', 'sign', 'pdf', inbox, '--out', outbox, '--key-pem', keyPath, '--cert-pem', cert);
    expect(r.status, r.stderr).toBe(3); // one file could not be signed
    const res = JSON.parse(r.stdout);
    expect(res).toMatchObject({ signed: 3, failed: 1 });
    expect(res.files.find((f: any) => f.error).file).toMatch(/broken\.pdf$/);
    expect(readdirSync(outbox).sort()).toEqual(['cv-01.pdf', 'cv-02.pdf', 'cv-03.PDF']);
    expect(readFileSync(join(inbox, 'cv-01.pdf')).equals(before)).toBe(true);
    const v = truc('--json', 'verify', outbox);
    expect(v.status, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout).map((x: any) => x.exit)).toEqual([0, 0, 0]);
    // never into the input folder
    const same = truc('sign', 'pdf', inbox, '--out', inbox, '--key-pem', keyPath, '--cert-pem', cert);
    expect(same.status).toBe(3);
    expect(same.stderr).toMatch(/another folder/);
  });
});

