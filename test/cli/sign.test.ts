import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { formPdf, samplePdf } from '../sign/fixtures.js';

const dataDir = tmp('truc-cli-sign-');
const env = { ...process.env, TRUC_DATA_DIR: dataDir, TRUC_KEY_PASSPHRASE: 'cli sign passphrase', TRUC_LOG_LEVEL: 'warn' };
delete (env as any).TRUC_DATABASE_URL;

function truc(...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/truc.js', ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('truc sign and truc verify', () => {
  const dir = tmp();
  /** what the first test issued and signed, for the second */
  let made: { keyPath: string; cert: string; pdf: string; content: string; signedDir: string } | undefined;

  it('signs a PDF at B-B and B-LTA and a CAdES at B-LT with PEM files; verify exits 0, 1 on tampering, and walks a folder', async () => {
    expect(truc('ca', 'init').status).toBe(0);
    const { csrPath, keyPath } = opensslCsr(dir, '/C=VN/O=Bộ Tư pháp/CN=Ngô Thị Mai');
    const cert = join(dir, 'cert.pem');
    const issued = truc('ca', 'issue', '--csr', csrPath, '--profile', 'official-signing', '--out', cert, '--chain');
    expect(issued.status, issued.stderr).toBe(0);
    const pdf = join(dir, 'doc.pdf');
    writeFileSync(pdf, await samplePdf(true));
    const signedDir = join(dir, 'signed');
    mkdirSync(signedDir);

    const bb = truc('--json', 'sign', 'pdf', pdf, '--out', join(signedDir, 'bb.pdf'), '--key-pem', keyPath, '--cert-pem', cert);
    expect(bb.status, bb.stderr).toBe(0);
    expect(JSON.parse(bb.stdout)).toMatchObject({ level: 'B-B' });
    const lta = truc('sign', 'pdf', pdf, '--out', join(signedDir, 'lta.pdf'), '--key-pem', keyPath, '--cert-pem', cert, '--level', 'B-LTA');
    expect(lta.status, lta.stderr).toBe(0);
    const content = join(dir, 'decision.txt');
    writeFileSync(content, 'Quyết định số 9\n');
    const lt = truc('sign', 'cades', content, '--out', join(dir, 'decision.p7s'), '--key-pem', keyPath, '--cert-pem', cert, '--level', 'B-LT');
    expect(lt.status, lt.stderr).toBe(0);

    const v = truc('verify', join(signedDir, 'lta.pdf'));
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/PAdES B-LTA/);
    expect(v.stdout).toMatch(/Kết quả: TOTAL-PASSED/);
    const j = truc('verify', join(dir, 'decision.p7s'), '--content', content, '--report', 'json', '--hard-fail');
    expect(j.status, j.stdout + j.stderr).toBe(0);
    expect(JSON.parse(j.stdout).signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LT' });
    made = { keyPath, cert, pdf, content, signedDir };
    const tampered = readFileSync(join(signedDir, 'bb.pdf'));
    tampered[tampered.indexOf('\n%', 0, 'latin1') + 2] ^= 1;
    writeFileSync(join(signedDir, 'tampered.pdf'), tampered);
    expect(truc('verify', join(signedDir, 'tampered.pdf')).status).toBe(1);
    const folder = truc('--json', 'verify', signedDir);
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
    const x = truc('verify', join(dir, 'decision.p7s'), '--content', content, '--report', 'xml');
    expect(x.status, x.stderr).toBe(0);
    expect(x.stdout).toMatch(/^<\?xml[\s\S]*urn:etsi:019102:mainindication:total-passed/);
    const ltaCades = truc('sign', 'cades', content, '--out', join(dir, 'decision-lta.p7s'), '--key-pem', keyPath, '--cert-pem', cert, '--level', 'B-LTA');
    expect(ltaCades.status, ltaCades.stderr).toBe(0);
    const jl = truc('verify', join(dir, 'decision-lta.p7s'), '--content', content, '--report', 'json');
    expect(JSON.parse(jl.stdout).signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
    const xml = join(dir, 'edxml.xml');
    writeFileSync(xml, '<edXML xmlns="urn:vn:edxml"><Subject>Thông báo</Subject></edXML>');
    const xl = truc('sign', 'xades', xml, '--out', join(dir, 'edxml-lta.xml'), '--key-pem', keyPath, '--cert-pem', cert, '--level', 'B-LTA');
    expect(xl.status, xl.stderr).toBe(0);
    const jx = truc('verify', join(dir, 'edxml-lta.xml'), '--report', 'json', '--hard-fail');
    expect(JSON.parse(jx.stdout).signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
    // XAdES enveloping, and detached over the PDF (named by its file name): verify takes the content
    const xe = truc('sign', 'xades', xml, '--out', join(dir, 'edxml-enveloping.xml'), '--key-pem', keyPath, '--cert-pem', cert, '--enveloping');
    expect(xe.status, xe.stderr).toBe(0);
    expect(readFileSync(join(dir, 'edxml-enveloping.xml'), 'utf8')).toMatch(/^<ds:Signature [\s\S]*<ds:Object[^>]* Id="content-/);
    expect(truc('verify', join(dir, 'edxml-enveloping.xml')).status).toBe(0);
    const xd = truc('sign', 'xades', pdf, '--out', join(dir, 'pdf-detached.xml'), '--key-pem', keyPath, '--cert-pem', cert, '--detached', '--level', 'B-T');
    expect(xd.status, xd.stderr).toBe(0);
    expect(readFileSync(join(dir, 'pdf-detached.xml'), 'utf8')).toContain(`<ds:Reference URI="${basename(pdf)}">`);
    const vd = truc('verify', join(dir, 'pdf-detached.xml'), '--content', pdf, '--report', 'json');
    expect(vd.status, vd.stdout).toBe(0);
    expect(JSON.parse(vd.stdout).signatures[0]).toMatchObject({ format: 'XAdES', level: 'B-T', indication: 'TOTAL-PASSED' });
    const alone = truc('verify', join(dir, 'pdf-detached.xml'));
    expect(alone.status).toBe(2);
    expect(alone.stdout).toMatch(/SIGNED_DATA_NOT_FOUND/);
    const wrongFlag = truc('sign', 'pdf', pdf, '--out', join(dir, 'x.pdf'), '--key-pem', keyPath, '--cert-pem', cert, '--detached');
    expect(wrongFlag.status).toBe(3);
    expect(wrongFlag.stderr).toMatch(/--detached is for XAdES/);
    const cert1 = truc('sign', 'pdf', pdf, '--out', join(dir, 'certified.pdf'), '--key-pem', keyPath, '--cert-pem', cert, '--certify', '2');
    expect(cert1.status, cert1.stderr).toBe(0);
    const vc = truc('verify', join(dir, 'certified.pdf'), '--lang', 'en');
    expect(vc.stdout).toMatch(/Certification: DocMDP P=2/);
    const form = join(dir, 'form.pdf');
    writeFileSync(form, await formPdf(false));
    const locked = truc('sign', 'pdf', form, '--out', join(dir, 'locked.pdf'), '--key-pem', keyPath, '--cert-pem', cert, '--lock', 'Include:soHieu,nguoiNhan');
    expect(locked.status, locked.stderr).toBe(0);
    const vl = truc('verify', join(dir, 'locked.pdf'), '--lang', 'en');
    expect(vl.status, vl.stdout).toBe(0);
    expect(vl.stdout).toMatch(/Field lock: FieldMDP Include \[soHieu, nguoiNhan\]/);
    const h = truc('verify', join(signedDir, 'lta.pdf'), '--report', 'html');
    expect(h.stdout).toMatch(/<!DOCTYPE html>[\s\S]*Hợp lệ/);
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

